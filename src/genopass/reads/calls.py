"""Compare variant calls with a truth set, on normalised alleles.

Both sides go through the same ``bcftools norm -m-any -f REF`` (multiallelics split, indels
left-aligned and trimmed), so that two spellings of one variant compare equal. Each side becomes a
map from allele (CHROM, POS, REF, ALT) to the number of copies of that ALT in the sample's
genotype (1 = heterozygous, 2 = homozygous; a ``1/2`` genotype gives one copy of each ALT).
Reference calls, no-calls, symbolic and ``*`` alleles are left out.

Two comparisons:

- genotype-aware: an allele counts as found when it is called with the true number of copies;
- allele-level: an allele counts as found when it is called at all.

Recall = found / true alleles; precision = found / called alleles. Figures are given apart for
SNVs and indels (REF and ALT of different length); other alleles (MNVs) count as ``other``.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from genopass.errors import InputError
from genopass.tools import run_pipeline, run_tool

Allele = tuple[str, int, str, str]
KINDS = ("snv", "indel", "other")


@dataclass(frozen=True)
class Figures:
    """Counts and rates of one kind of variant."""

    kind: str
    truth: int
    called: int
    found: int

    @property
    def recall(self) -> float:
        return self.found / self.truth if self.truth else 1.0

    @property
    def precision(self) -> float:
        return self.found / self.called if self.called else 1.0

    def __str__(self) -> str:
        return (
            f"{self.kind}: recall {self.recall:.4f} ({self.found}/{self.truth}), "
            f"precision {self.precision:.4f} ({self.found}/{self.called})"
        )


def allele_kind(ref: str, alt: str) -> str:
    if len(ref) == len(alt) == 1:
        return "snv"
    if len(ref) != len(alt):
        return "indel"
    return "other"


def normalised_alleles(
    vcf: Path | str,
    fasta: Path | str,
    *,
    sample: str | None = None,
    pass_only: bool = False,
    region: str | None = None,
) -> dict[Allele, int]:
    """{allele: ALT copies} of one sample (the first when not named) after ``bcftools norm``."""
    view = ["bcftools", "view", "-Ou"]
    if sample is not None:
        view += ["-s", sample]
    else:
        view += ["-s", _first_sample(vcf)]
    if pass_only:
        view += ["-f", "PASS,."]
    if region is not None:
        view += ["-r", region]
    view.append(str(vcf))
    norm = ["bcftools", "norm", "-m-any", "-f", str(fasta), "-c", "w", "-Ou", "-"]
    query = ["bcftools", "query", "-f", r"%CHROM\t%POS\t%REF\t%ALT[\t%GT]\n", "-"]
    text = _pipe([view, norm, query], vcf)
    alleles: dict[Allele, int] = {}
    for line in text.splitlines():
        chrom, pos, ref, alt, gt = line.split("\t")
        if alt in (".", "*") or alt.startswith("<"):
            continue
        copies = sum(1 for a in gt.replace("|", "/").split("/") if a == "1")
        if copies:
            key = (chrom, int(pos), ref.upper(), alt.upper())
            alleles[key] = max(copies, alleles.get(key, 0))
    return alleles


def compare(
    calls: Mapping[Allele, int], truth: Mapping[Allele, int], *, genotypes: bool = True
) -> dict[str, Figures]:
    """Recall and precision per kind; ``genotypes`` also requires the right copy number."""
    figures = {}
    for kind in KINDS:
        true = {k: v for k, v in truth.items() if allele_kind(k[2], k[3]) == kind}
        called = {k: v for k, v in calls.items() if allele_kind(k[2], k[3]) == kind}
        found = sum(1 for k, v in true.items() if k in called and (not genotypes or called[k] == v))
        figures[kind] = Figures(kind, len(true), len(called), found)
    return figures


def compare_vcfs(
    calls: Path | str,
    truth: Path | str,
    fasta: Path | str,
    *,
    calls_sample: str | None = None,
    truth_sample: str | None = None,
    genotypes: bool = True,
) -> dict[str, Figures]:
    """:func:`compare` of two VCFs, each normalised against ``fasta``."""
    return compare(
        normalised_alleles(calls, fasta, sample=calls_sample),
        normalised_alleles(truth, fasta, sample=truth_sample),
        genotypes=genotypes,
    )


def _first_sample(vcf: Path | str) -> str:
    names = run_tool(["bcftools", "query", "-l", vcf], about=vcf).split()
    if not names:
        raise InputError(f"{vcf}: has no sample column; give a VCF with genotypes")
    return names[0]


def _pipe(stages: list[list[str]], about: Path | str) -> str:
    with tempfile.TemporaryDirectory(prefix="genopass-truth-") as tmp:
        out = Path(tmp) / "alleles.tsv"
        run_pipeline(stages, about=about, stdout=out)
        return out.read_text()
