"""The cohort VCF: the exported samples side by side, telling "not called" from "reference".

``bcftools merge --missing-to-ref`` writes 0/0 wherever a sample has no record, which is wrong
for an exome next to genomes and for a variants-only delivery (no record may mean "not
sequenced"). Here each sample's absence at a cohort site is resolved by what its delivery says:

- a gVCF: its reference blocks (``{sample}.blocks.bed.gz`` from ``genopass harmonise``: BED with
  the source number as 4th column) are the regions it called hom-ref; at a cohort site whose
  position lies in a block and where the sample has no record, its genotype is ``0/0``; outside
  its blocks it is ``./.`` (not called);
- a variants-only VCF (no blocks file, or an empty one): ``missing_genotypes`` (config
  ``export.missing_genotypes``) decides: ``missing`` (the default) writes ``./.``, ``reference``
  writes ``0/0`` at every cohort site the sample lacks, as ``--missing-to-ref`` did.

AC, AN, AF, AC_Het, AC_Hom and AC_Hemi are then computed from the cohort's genotypes by
``bcftools +fill-tags``; a centre's values never pass. AN counts called alleles only, so a
sample that is ``./.`` at a site adds nothing to its AN: AN drops where samples were not
covered, and AF is the frequency among those called (docs/export.md).

Everything streams through bcftools; Python never loops over samples x sites. Per sample with
blocks or ``reference``: the cohort sites it covers (``bcftools view -T blocks``) minus its own
records (``bcftools isec -C``), turned into ``0/0`` records by awk, concatenated with its own
records (``bcftools concat -a``); then all samples are merged (``bcftools merge -m none``).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from genopass.errors import InputError, UsageError
from genopass.io import atomic_output, check_bgzf_complete
from genopass.tools import PipelineError, run_pipeline, run_tool

log = logging.getLogger(__name__)

BCFTOOLS = "bcftools"
MISSING_GENOTYPES = ("missing", "reference")
# Computed by +fill-tags from the cohort's genotypes (as the frequencies define them).
COHORT_TAGS = ("AC", "AN", "AF", "AC_Het", "AC_Hom", "AC_Hemi")

# Sites-only VCF text -> one-sample VCF text with a 0/0 call at every site (INFO dropped).
HOM_REF_AWK = r"""
BEGIN { OFS = "\t" }
/^##FORMAT=<ID=GT,/ { gt = 1 }
/^##/ { print; next }
/^#CHROM/ {
    if (!gt) print "##FORMAT=<ID=GT,Number=1,Type=String,Description=\"Genotype\">"
    print "#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", sample
    next
}
{ print $1, $2, $3, $4, $5, $6, $7, ".", "GT", "0/0" }
"""


@dataclass(frozen=True)
class CohortOptions:
    """What ``genopass cohort`` was asked to do."""

    out: Path
    blocks: Mapping[str, Path]  # sample -> its gVCF reference blocks (BED.gz)
    missing_genotypes: str = "missing"  # variants-only samples: missing | reference
    threads: int = 1
    region: str | None = None  # CHROM:START-END: the sites whose POS lies there (scatter)


@dataclass(frozen=True)
class Member:
    """One sample of the cohort and how its absent sites are read."""

    sample: str
    vcf: Path
    blocks: Path | None  # non-empty reference blocks: a gVCF
    absent: str  # "blocks", "reference" or "missing"


def _sample_of(vcf: Path) -> str:
    text = run_tool([BCFTOOLS, "query", "-l", str(vcf)], about=vcf)
    samples = text.split()
    if len(samples) != 1:
        raise InputError(
            f"{vcf}: holds {len(samples)} sample columns; genopass cohort takes the per-sample "
            f"export VCFs (genopass export-vcf), one sample each"
        )
    return samples[0]


def _has_blocks(path: Path) -> bool:
    import gzip

    with gzip.open(path, "rt") as handle:
        return any(line.strip() and not line.startswith("#") for line in handle)


def plan_members(vcfs: Sequence[Path], options: CohortOptions) -> list[Member]:
    """Each input's sample and how its absent sites are read; errors name the file and fix."""
    if options.missing_genotypes not in MISSING_GENOTYPES:
        raise UsageError(
            f"export.missing_genotypes: {options.missing_genotypes!r} is not one of "
            f"{', '.join(MISSING_GENOTYPES)}"
        )
    members: list[Member] = []
    seen: dict[str, Path] = {}
    for vcf in map(Path, vcfs):
        if not vcf.is_file():
            raise InputError(f"{vcf}: no such file")
        check_bgzf_complete(vcf)
        sample = _sample_of(vcf)
        if sample in seen:
            raise InputError(f"{vcf}: sample {sample} is also in {seen[sample]}; give it once")
        seen[sample] = vcf
        blocks = options.blocks.get(sample)
        if blocks is not None:
            blocks = Path(blocks)
            if not blocks.is_file():
                raise InputError(f"{blocks}: no such file (reference blocks of {sample})")
            check_bgzf_complete(blocks)
        if blocks is not None and _has_blocks(blocks):
            members.append(Member(sample, vcf, blocks, "blocks"))
        else:
            members.append(Member(sample, vcf, None, options.missing_genotypes))
    unknown = sorted(set(options.blocks) - set(seen))
    if unknown:
        raise UsageError(
            f"--blocks names sample {unknown[0]}, which none of the VCFs holds "
            f"(samples: {', '.join(seen)})"
        )
    if not members:
        raise UsageError("genopass cohort: give at least one VCF")
    return members


def _index(path: Path) -> None:
    run_tool([BCFTOOLS, "index", "-f", "-t", str(path)], about=path)


def _sites(members: Sequence[Member], work: Path) -> Path:
    """Every cohort site (CHROM POS REF ALT), no samples, bgzipped and indexed."""
    out = work / "sites.vcf.gz"
    vcfs = [str(m.vcf) for m in members]
    first = (
        [BCFTOOLS, "merge", "-m", "none", "--no-version", "-Ou", *vcfs]
        if len(vcfs) > 1
        else [BCFTOOLS, "view", "--no-version", "-Ou", vcfs[0]]
    )
    run_pipeline(
        [first, [BCFTOOLS, "view", "--no-version", "-G", "-Oz", "-"]], about="cohort", stdout=out
    )
    _index(out)
    return out


def _completed(member: Member, sites: Path, work: Path, number: int) -> Path:
    """The member's own records plus a 0/0 record at each covered cohort site it lacks."""
    if member.absent == "missing":
        return member.vcf
    covered = work / f"{number}.covered.vcf.gz"
    view = [BCFTOOLS, "view", "--no-version", "-Oz", "-o", str(covered)]
    if member.blocks is not None:
        view += ["-T", str(member.blocks)]  # .bed.gz: 0-based BED, as harmonise writes it
    run_tool([*view, str(sites)], about=member.blocks or sites)
    _index(covered)
    fill = work / f"{number}.fill.vcf.gz"
    run_pipeline(
        [
            [
                BCFTOOLS,
                "isec",
                "--no-version",
                "-C",
                "-c",
                "none",
                "-w1",
                "-Ov",
                str(covered),
                str(member.vcf),
            ],
            ["awk", "-v", f"sample={member.sample}", HOM_REF_AWK],
            [BCFTOOLS, "view", "--no-version", "-Oz", "-"],
        ],
        about=member.vcf,
        stdout=fill,
    )
    _index(fill)
    complete = work / f"{number}.complete.vcf.gz"
    run_tool(
        [BCFTOOLS, "concat", "-a", "--no-version", "-Oz", "-o", str(complete),
         str(member.vcf), str(fill)],
        about=member.vcf,
    )  # fmt: skip
    _index(complete)
    return complete


def _in_region(member: Member, region: str, work: Path, number: int) -> Member:
    """The member with only its records whose POS lies in ``region`` (its blocks stay whole:
    they are read at the region's sites only)."""
    out = work / f"{number}.region.vcf.gz"
    view = [BCFTOOLS, "view", "--no-version", "-Oz", "-o", str(out), "--regions-overlap", "pos"]
    run_tool([*view, "-r", region, str(member.vcf)], about=member.vcf)
    _index(out)
    return replace(member, vcf=out)


def gather_cohort(parts: Sequence[Path], out: Path, threads: int = 1) -> str:
    """Concatenate the cohorts of consecutive regions (``build_cohort`` with ``region``) into
    the cohort VCF (+ .tbi): recompressed as one stream, so that the file is byte for byte the
    one that one ``build_cohort`` writes."""
    # concat -Oz writes other BGZF blocks than the one job's writer; view -Oz writes the same
    concat = [BCFTOOLS, "concat", "--no-version", "-Ou", *map(str, parts)]
    view = [BCFTOOLS, "view", "--no-version", "-Oz", "--threads", str(threads)]
    with atomic_output(Path(f"{out}.tbi")) as tmp_tbi, atomic_output(out) as tmp_vcf:
        run_pipeline([concat, view], about=out, stdout=tmp_vcf)
        run_tool([BCFTOOLS, "index", "-t", "-f", "-o", str(tmp_tbi), str(tmp_vcf)], about=out)
    records = run_tool([BCFTOOLS, "index", "-n", str(out)], about=out).strip()
    return f"wrote {out} ({records} sites from {len(parts)} regions)"


def build_cohort(vcfs: Sequence[Path], options: CohortOptions) -> str:
    """Write the cohort VCF (+ .tbi) of per-sample export VCFs; return a one-line summary."""
    members = plan_members(vcfs, options)
    out = Path(options.out)
    fill_tags = [BCFTOOLS, "+fill-tags", "--no-version", "-Oz", "--threads", str(options.threads),
                 "-", "--", "-t", ",".join(COHORT_TAGS)]  # fmt: skip
    with (
        tempfile.TemporaryDirectory(prefix="genopass-cohort-") as scratch,
        atomic_output(Path(f"{out}.tbi")) as tmp_tbi,
        atomic_output(out) as tmp_vcf,
    ):
        work = Path(scratch)
        if options.region is not None:
            members = [_in_region(m, options.region, work, i) for i, m in enumerate(members)]
        sites = _sites(members, work)
        parts = [str(_completed(m, sites, work, i)) for i, m in enumerate(members)]
        first = (
            [BCFTOOLS, "merge", "-m", "none", "--no-version", "-Ou", *parts]
            if len(parts) > 1
            else [BCFTOOLS, "view", "--no-version", "-Ou", parts[0]]
        )
        try:
            run_pipeline([first, fill_tags], about="cohort", stdout=tmp_vcf)
        except PipelineError as exc:
            hint = ""
            if any("fill-tags" in err for err in exc.stderrs):
                hint = "; bcftools needs its plugins: set BCFTOOLS_PLUGINS to their folder"
            raise InputError(f"{exc}{hint}") from None
        run_tool([BCFTOOLS, "index", "-t", "-f", "-o", str(tmp_tbi), str(tmp_vcf)], about=out)
    records = run_tool([BCFTOOLS, "index", "-n", str(out)], about=out).strip()
    how = {kind: sum(m.absent == kind for m in members) for kind in ("blocks", *MISSING_GENOTYPES)}
    return (
        f"wrote {out} ({len(members)} samples, {records} sites; absent calls from gVCF blocks: "
        f"{how['blocks']}, reference: {how['reference']}, missing: {how['missing']})"
    )
