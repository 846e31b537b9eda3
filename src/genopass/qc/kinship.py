"""Duplicates and relatives across every sample of a run: KING-robust kinship with plink2.

1. :func:`write_cohort` merges the samples' harmonised VCFs into one genotype matrix of PASS
   biallelic SNVs on the autosomes outside gaps (``bcftools view | bcftools merge``), where a
   site a sample's file lacks is taken as homozygous reference (a variants-only delivery lists
   only ALT-carrying sites; ``missing_as_ref=False`` makes it missing instead), with AC, AN and
   AF filled in (``bcftools +fill-tags``). The same file gives the cohort's own allele
   frequencies to the contamination estimate.
2. :func:`king_table` runs ``plink2 --make-king-table`` (KING-robust between-family estimator,
   Manichaikul et al. 2010) on the common SNVs of that matrix (``--maf``).
3. :func:`relatedness_rows` classifies each pair with KING's published kinship bounds:
   duplicate / monozygotic twin > 0.354, first degree 0.177-0.354, second degree 0.0884-0.177,
   and ``insufficient_data`` when the two samples share fewer than ``min_sites`` SNVs.
"""

from __future__ import annotations

import csv
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pysam

from genopass.errors import InputError
from genopass.io import atomic_output
from genopass.qc.variants import pass_snvs_view
from genopass.tools import run_pipeline, run_tool

DUPLICATE, FIRST, SECOND, UNRELATED, INSUFFICIENT = (
    "duplicate",
    "first_degree",
    "second_degree",
    "unrelated",
    "insufficient_data",
)
# KING's bounds (Manichaikul et al. 2010, Table 1): 2^-1.5, 2^-2.5, 2^-3.5, 2^-4.5
DUPLICATE_MIN, FIRST_MIN, SECOND_MIN, THIRD_MIN = 0.354, 0.177, 0.0884, 0.0442
MIN_SITES = 100
MIN_MAF = 0.05
COLUMNS = ("sample_a", "sample_b", "centre_a", "centre_b", "kinship", "n_sites", "relationship")


@dataclass(frozen=True)
class KingPair:
    """One row of plink2's .kin0 table."""

    a: str
    b: str
    n_sites: int
    hethet: float
    ibs0: float
    kinship: float


@dataclass(frozen=True)
class Relatedness:
    sample_a: str
    sample_b: str
    centre_a: str
    centre_b: str
    kinship: float
    n_sites: int
    relationship: str


def classify(kinship: float, n_sites: int, *, min_sites: int = MIN_SITES) -> str:
    if n_sites < min_sites:
        return INSUFFICIENT
    if kinship > DUPLICATE_MIN:
        return DUPLICATE
    if kinship >= FIRST_MIN:
        return FIRST
    if kinship >= SECOND_MIN:
        return SECOND
    return UNRELATED


def write_cohort(
    vcfs: Sequence[Path | str],
    autosomes_bed: Path | str,
    out: Path | str,
    *,
    missing_as_ref: bool = True,
    threads: int = 1,
) -> int:
    """Merge the samples' VCFs into ``out`` (.vcf.gz + .tbi); return its record count."""
    if len(vcfs) < 1:
        raise InputError("qc-cohort: no VCF given")
    out = Path(out)
    with tempfile.TemporaryDirectory(prefix="genopass-cohort-") as tmp:
        parts = []
        for index, vcf in enumerate(vcfs):
            part = Path(tmp) / f"{index}.bcf"
            view = pass_snvs_view(autosomes_bed, "-Ob", str(vcf))
            run_pipeline([view], about=vcf, stdout=part)
            run_tool(["bcftools", "index", "-f", str(part)], about=vcf)
            parts.append(str(part))
        fill = ["bcftools", "+fill-tags", "--no-version", "-Oz", "-", "--", "-t", "AC,AN,AF"]
        with atomic_output(out) as target:
            if len(parts) == 1:
                first = ["bcftools", "view", "--no-version", "-Ou", parts[0]]
            else:
                first = ["bcftools", "merge", "--no-version", "-m", "none", "-Ou"]
                first += ["--threads", str(threads)]
                if missing_as_ref:
                    first.append("--missing-to-ref")
                first += parts
            run_pipeline([first, fill], about=out, stdout=target)
            run_tool(["tabix", "-f", "-p", "vcf", str(target)], about=out)
            Path(f"{target}.tbi").replace(f"{out}.tbi")
    text = run_tool(["bcftools", "index", "-n", str(out)], about=out)
    return int(text.strip() or 0)


def king_table(cohort: Path | str, *, maf: float = MIN_MAF, threads: int = 1) -> list[KingPair]:
    """plink2 --make-king-table on the common biallelic SNVs of a cohort VCF.

    A cohort of one has no pair (plink2 refuses it): no rows.
    """
    with pysam.VariantFile(str(cohort)) as handle:
        if len(handle.header.samples) < 2:
            return []
    with tempfile.TemporaryDirectory(prefix="genopass-king-") as tmp:
        prefix = Path(tmp) / "king"
        args = [
            "plink2",
            "--vcf",
            str(cohort),
            "--allow-extra-chr",
            "--snps-only",
            "just-acgt",
            "--max-alleles",
            "2",
            "--maf",
            str(maf),
            "--make-king-table",
            "--threads",
            str(threads),
            "--out",
            str(prefix),
        ]
        try:
            run_tool(args, about=cohort)
        except InputError as exc:
            log_file = prefix.with_suffix(".log")
            detail = _plink_error(log_file) if log_file.exists() else ""
            raise InputError(f"{exc}{': ' + detail if detail else ''}") from None
        table = prefix.with_suffix(".kin0")
        if not table.exists():
            return []
        return read_kin0(table)


def read_kin0(path: Path | str) -> list[KingPair]:
    """Rows of a plink2 .kin0 file (with or without the FID columns)."""
    rows = []
    with open(path) as handle:
        header = handle.readline().lstrip("#").split()
        for line in handle:
            row = dict(zip(header, line.split(), strict=True))
            rows.append(
                KingPair(
                    a=row["IID1"],
                    b=row["IID2"],
                    n_sites=int(row["NSNP"]),
                    hethet=float(row["HETHET"]),
                    ibs0=float(row["IBS0"]),
                    kinship=float(row["KINSHIP"]),
                )
            )
    return rows


def relatedness_rows(
    pairs: Sequence[KingPair],
    identities: Mapping[str, tuple[str, str]],
    *,
    min_sites: int = MIN_SITES,
    floor: float = THIRD_MIN,
) -> list[Relatedness]:
    """Classified pairs above the kinship floor or flagged (related, duplicate, too few sites).

    ``identities``: cohort column name (pseudonym) -> (sheet sample ID, centre); a name not in it
    stands for itself with no centre.
    """
    rows = []
    for pair in pairs:
        relationship = classify(pair.kinship, pair.n_sites, min_sites=min_sites)
        if relationship == UNRELATED and pair.kinship < floor:
            continue
        (sample_a, centre_a), (sample_b, centre_b) = (
            identities.get(pair.a, (pair.a, "")),
            identities.get(pair.b, (pair.b, "")),
        )
        rows.append(
            Relatedness(
                sample_a,
                sample_b,
                centre_a,
                centre_b,
                pair.kinship,
                pair.n_sites,
                relationship,
            )
        )
    return sorted(rows, key=lambda r: (-r.kinship, r.sample_a, r.sample_b))


def write_relatedness(rows: Sequence[Relatedness], out: Path | str) -> None:
    with atomic_output(out) as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(COLUMNS)
            for row in rows:
                writer.writerow(
                    [
                        row.sample_a,
                        row.sample_b,
                        row.centre_a,
                        row.centre_b,
                        f"{row.kinship:.4f}",
                        row.n_sites,
                        row.relationship,
                    ]
                )


def read_relatedness(path: Path | str) -> list[Relatedness]:
    file = Path(path)
    with open(file, newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        if tuple(reader.fieldnames or ()) != COLUMNS:
            raise InputError(
                f"{file}: not a relatedness table (columns {', '.join(COLUMNS)}); give the "
                f"file 'genopass qc-relatedness' wrote"
            )
        return [
            Relatedness(
                r["sample_a"],
                r["sample_b"],
                r["centre_a"],
                r["centre_b"],
                float(r["kinship"]),
                int(r["n_sites"]),
                r["relationship"],
            )
            for r in reader
        ]


def read_identities(pseudonyms_tsv: Path | str) -> dict[str, tuple[str, str]]:
    """pseudonym -> (sample, centre) from the private pseudonyms.tsv."""
    file = Path(pseudonyms_tsv)
    with open(file, newline="") as handle:
        reader = csv.DictReader(handle, delimiter="\t")
        if not {"sample", "centre", "pseudonym"} <= set(reader.fieldnames or ()):
            raise InputError(
                f"{file}: needs columns sample, centre, pseudonym (genopass pseudonyms writes it)"
            )
        return {r["pseudonym"]: (r["sample"], r["centre"]) for r in reader}


def _plink_error(log_file: Path) -> str:
    for line in log_file.read_text().splitlines():
        if line.startswith("Error"):
            return line
    return ""


def run_relatedness(
    cohort: Path | str,
    pseudonyms_tsv: Path | str | None,
    out: Path | str,
    *,
    maf: float = MIN_MAF,
    min_sites: int = MIN_SITES,
    floor: float = THIRD_MIN,
    threads: int = 1,
) -> list[Relatedness]:
    """KING table of a cohort VCF -> relatedness.tsv with sheet IDs and centres."""
    identities = read_identities(pseudonyms_tsv) if pseudonyms_tsv else {}
    rows = relatedness_rows(
        king_table(cohort, maf=maf, threads=threads),
        identities,
        min_sites=min_sites,
        floor=floor,
    )
    write_relatedness(rows, out)
    return rows
