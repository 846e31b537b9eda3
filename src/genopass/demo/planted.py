"""What the demo's QC must catch, planted in the cohort of centres A-C (docs/qc.md, "Demo"):

- ``WRONG_SEX``: CTR-C reports C-002 as female, but C-002 is male (one chrX, hemizygous there:
  no heterozygous chrX call) -> inferred ``male``, sex check ``mismatch``, the gate's
  ``sex mismatch: reported female, inferred male``;
- ``DUPLICATE``: CTR-C's C-001 is CTR-B's B-003 delivered again under another ID (the same
  genotypes; its own read counts, styles and calls) -> relatedness ``duplicate``, and the gate
  keeps the first listed (B-003);
- ``PARENT_CHILD``: A-002 (CTR-A) is a child of B-001 (CTR-B): at each site one allele from
  B-001 and one drawn from the population -> ``first_degree``; on chrX a son has his mother's
  X only (one of her alleles, hemizygous), a daughter one X from each parent;
- ``CONTAMINATION``: A-001's reads are mixed with B-002's at a known fraction: each read of its
  FORMAT/AD comes from B-002's alleles with that probability (its genotypes stay its own), so
  the AD-based estimate must find it -> ``cross_contamination_rate`` above the permissive 5%.

The low-coverage sample (CTR-D's D-002 at about 8x, under the permissive 10x) is made with the
reads of :mod:`genopass.demo.reads` (``LOW_COVERAGE`` there).

The population's true allele frequencies go to ``panel.vcf.gz`` (INFO/AF at the biallelic SNV
sites, on the target's names), the demo's ``qc.panel``. Planting draws from its own
``random.Random`` seeded from the demo seed, never from the main stream.
"""

from __future__ import annotations

import random
from pathlib import Path

from genopass.demo.cohort import (
    CONTIG_LENGTHS,
    PERSON_BY_SAMPLE,
    X_CONTIG,
    Cohort,
    Person,
    draw_haplotype,
    hemizygous,
)
from genopass.demo.writers import write_vcf

WRONG_SEX = {"C-002": "female"}  # sample -> the sex its centre reports (the person is male)
DUPLICATE = ("B-003", "C-001")  # (the original, the same person again)
PARENT_CHILD = ("B-001", "A-002")  # (parent, child)
CONTAMINATION = {"A-001": ("B-002", 0.10)}  # sample -> (contaminant, fraction of its reads)
PANEL_NAME = "panel.vcf.gz"


def reported_sex(person: Person) -> str:
    """The sex samples.tsv gives ``person``: the centre's report, wrong for ``WRONG_SEX``."""
    return WRONG_SEX.get(person.sample, person.sex)


def plant(cohort: Cohort, seed: int) -> None:
    """Make C-001 B-003's duplicate, A-002 B-001's child and A-001 contaminated (in place);
    C-002's wrong sex is in the sheet only (:func:`reported_sex`)."""
    cohort.contamination.update(CONTAMINATION)
    rng = random.Random(f"genopass demo planted problems, seed {seed}")
    original, again = DUPLICATE
    cohort.genotypes[again] = list(cohort.genotypes[original])
    parent, child = (PERSON_BY_SAMPLE[sample] for sample in PARENT_CHILD)
    genotypes = []
    for site, parental in zip(cohort.sites, cohort.genotypes[parent.sample], strict=True):
        inherited = rng.choice(parental)
        other = draw_haplotype(rng, site.freqs)
        if hemizygous(site.chrom, child.genetic_sex):
            # a son's one X: his mother's, or (a father's child) one drawn from the population
            other = inherited if parent.genetic_sex == "female" else other
            inherited = other
        elif site.chrom == X_CONTIG and parent.genetic_sex == "male":
            inherited = parental[0]  # a father passes his one X to a daughter
        genotypes.append((inherited, other))
    cohort.genotypes[child.sample] = genotypes


def write_panel(outdir: Path, cohort: Cohort) -> list[Path]:
    """The population's ALT frequency at every biallelic SNV site (minimal, on the target's
    contigs; the contamination estimate reads the autosomes' only)."""
    lines = []
    for site in cohort.sites:
        if len(site.alleles) != 1 or site.alleles[0].is_indel:
            continue
        edit = site.alleles[0]
        ref = cohort.contigs[site.chrom].seq[edit.start]
        info = f"AF={site.freqs[0]:.4f}"
        lines.append(
            "\t".join([site.chrom, str(edit.start + 1), ".", ref, edit.ins, ".", "PASS", info])
        )
    header = [
        "##fileformat=VCFv4.2",
        '##FILTER=<ID=PASS,Description="All filters passed">',
        '##INFO=<ID=AF,Number=A,Type=Float,Description="ALT allele frequency in the population">',
        *[f"##contig=<ID={name},length={length}>" for name, length in CONTIG_LENGTHS.items()],
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
    ]
    path = outdir / PANEL_NAME
    write_vcf(path, header, lines)
    return [path, Path(f"{path}.tbi")]
