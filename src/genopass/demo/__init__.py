"""The demo: seeded, deterministic inputs of five centres, made by project code.

- :mod:`cohort`: the demo GRCh38-like reference, the people, centres A-C and their VCFs + truth;
- :mod:`reads`: centre D's FASTQ (simulated reads of one person) and its truth;
- :mod:`grch37`: centre E, a GRCh37-like reference, the chain to GRCh38 and VCFs on GRCh37;
- :mod:`make`: ``genopass demo-data``, all of it with the sheets and the demo key;
- :mod:`writers`: the FASTA and bgzipped-VCF writers all of them use;
- :mod:`synthetic`: large synthetic references and VCFs for the benchmark (scripts/bench.py).
"""
