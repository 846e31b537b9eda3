"""Symbolic ALT alleles never reach the Parquet tables as if they were sequence.

The expected tables are written out by hand from the VCF below: a record whose ALT is symbolic
(``<DEL>``, ``<NON_REF>``) is left out of both tables; ``*`` (an upstream deletion) is VCF's own
marker and stays; the genotypes table holds the calls that carry an ALT allele or are missing
(hom-ref calls are implied), in record then sample order.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from helpers import write_vcf

from genopass.export.parquet import ParquetOptions, vcf_to_parquet

VCF = """##fileformat=VCFv4.2
##ALT=<ID=DEL,Description="Deletion">
##ALT=<ID=NON_REF,Description="Any other allele">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##contig=<ID=chr1,length=300>
#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT S1 S2
chr1 1 . A <DEL> . . . GT 0/1 0/0
chr1 2 . A * . . . GT 0/1 0/1
chr1 3 . A G . . . GT 0/1 1/1
chr1 4 . A <NON_REF> . . . GT 0/0 0/0
chr1 5 . A C . . . GT 0/0 ./."""

VARIANTS = [(2, "A", "*", "chr1-2-A-*"), (3, "A", "G", "chr1-3-A-G"), (5, "A", "C", "chr1-5-A-C")]
GENOTYPES = {
    "S1 S2": [
        ("S1", 2, "A", "*", "0/1"),
        ("S2", 2, "A", "*", "0/1"),
        ("S1", 3, "A", "G", "0/1"),
        ("S2", 3, "A", "G", "1/1"),
        ("S2", 5, "A", "C", "./."),
    ],
    # S1 alone: its hom-ref call at 5 is implied, the site stays in the variants table
    "S1": [("S1", 2, "A", "*", "0/1"), ("S1", 3, "A", "G", "0/1")],
}


def only_first_sample(text: str) -> str:
    return "\n".join(
        line if line.startswith("##") else " ".join(line.split()[:10]) for line in text.splitlines()
    )


@pytest.mark.parametrize("samples", list(GENOTYPES))
def test_records_with_symbolic_alleles_are_left_out(tmp_path: Path, samples: str) -> None:
    text = VCF if samples == "S1 S2" else only_first_sample(VCF)
    vcf = write_vcf(tmp_path / "in.vcf", text)
    summary = vcf_to_parquet([vcf], ParquetOptions(out=tmp_path / "pq"))
    expected = GENOTYPES[samples]
    assert summary == (
        f"wrote 3 variants and {len(expected)} genotype rows (1 contig) to {tmp_path / 'pq'}"
    )
    variants = pq.read_table(tmp_path / "pq" / "variants" / "chrom=chr1").to_pylist()
    assert [(v["pos"], v["ref"], v["alt"], v["variant_key"]) for v in variants] == VARIANTS
    assert {v["chrom"] for v in variants} == {"chr1"}
    genotypes = pq.read_table(tmp_path / "pq" / "genotypes" / "chrom=chr1").to_pylist()
    assert [(g["sample"], g["pos"], g["ref"], g["alt"], g["gt"]) for g in genotypes] == expected
