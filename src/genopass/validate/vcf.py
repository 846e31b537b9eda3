"""A VCF against the input check (``--level vcf``) and the export contract (``--level export``)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pysam

from genopass.export.cohort import COHORT_TAGS
from genopass.export.vcf import allowed_info
from genopass.inputs.contigs import is_primary_name
from genopass.inputs.reference import read_fai
from genopass.inputs.vcfcheck import FileRefusal, check_vcf
from genopass.validate.report import Report

COHORT = "cohort.vcf.gz"
PSEUDONYM = re.compile(r"gp[0-9a-f]{16}")
# GRCh38 primary assembly lengths (NCBI GCA_000001405.15), checked when no --fasta is given.
GRCH38_LENGTHS = dict(
    zip(
        [f"chr{n}" for n in range(1, 23)] + ["chrX", "chrY", "chrM"],
        [
            248956422,
            242193529,
            198295559,
            190214555,
            181538259,
            170805979,
            159345973,
            145138636,
            138394717,
            133797422,
            135086622,
            133275309,
            114364328,
            107043718,
            101991189,
            90338345,
            83257441,
            80373285,
            58617616,
            64444167,
            46709983,
            50818468,
            156040895,
            57227415,
            16569,
        ],
        strict=True,
    )
)
NORM_STATS = re.compile(r"Lines\s+total/split/realigned/skipped:\s+(\d+)/(\d+)/(\d+)/(\d+)")


def check_input_vcf(path: Path, report: Report, malformed: Path | None = None) -> bool:
    """The input check; False when the file was refused as a whole."""
    try:
        result = check_vcf(path, malformed, keep=report.keep)
    except FileRefusal as refusal:
        report.error(path, refusal.defect, refusal.detail, line=refusal.line)
        return False
    for code, defects in result.first.items():
        for defect in defects:
            report.error(
                path, f"malformed:{code}", defect.detail, record=defect.ordinal, line=defect.line
            )
        report.counts[("error", f"malformed:{code}")] += result.defects[code] - len(defects)
    for code, names in result.warned.items():
        report.warning(
            path, code, f"not declared in the header: {', '.join(names[:10])}", count=len(names)
        )
    if result.warnings.get("no_records"):
        report.warning(path, "no_records", "the file holds a header and no record")
    return True


def check_export_vcf(
    path: Path, report: Report, fasta: Path | None, info_keep: tuple[str, ...] = ()
) -> None:
    """The export contract on one VCF that passed the input check."""
    lengths = read_fai(fasta) if fasta else GRCH38_LENGTHS
    pysam.set_verbosity(0)
    with pysam.VariantFile(str(path)) as handle:
        header = handle.header
        for name in header.contigs:
            length = header.contigs[name].length
            if not is_primary_name(name) or name not in lengths:
                report.error(
                    path, "contig_not_primary", f"##contig {name} is not a GRCh38 primary contig"
                )
            elif length is not None and length != lengths[name]:
                report.error(
                    path,
                    "contig_length",
                    f"{name} has length {length}, the reference {lengths[name]}",
                )
        for sample in header.samples:
            if not PSEUDONYM.fullmatch(sample):
                report.error(
                    path,
                    "sample_not_pseudonym",
                    f"sample {sample!r} is not a "
                    f"pseudonym (gp + 16 hexadecimal digits): a local ID?",
                )
        allowed = allowed_info(info_keep) | {"END", "SVTYPE", "SVLEN"}
        if path.name == COHORT:
            allowed |= set(COHORT_TAGS)
        extra = sorted(set(header.info) - allowed)
        if extra:
            report.error(
                path, "info_not_allowed", f"INFO {', '.join(extra)} outside the export allow-list"
            )
        last, seen = None, set()
        for number, record in enumerate(handle, start=1):
            alts = record.alts or ()
            if len(alts) > 1:
                report.error(
                    path,
                    "not_biallelic",
                    f"{record.chrom}:{record.pos} has {len(alts)} ALT alleles",
                    record=number,
                )
            site = (record.chrom, record.pos)
            if site != last:
                last, seen = site, set()
            key = (record.ref, alts, record.info.get("END") if "END" in header.info else None)
            if key in seen:
                report.error(
                    path,
                    "duplicate",
                    f"{record.chrom}:{record.pos} {record.ref}>{','.join(alts)} twice",
                    record=number,
                )
            seen.add(key)
    if fasta:
        check_normalised(path, fasta, report)


def check_normalised(path: Path, fasta: Path, report: Report) -> None:
    """bcftools norm finds nothing to split, left-align or exclude against the reference."""
    command = [
        "bcftools",
        "norm",
        "--no-version",
        "-Ou",
        "-m-any",
        "--check-ref",
        "e",
        "-f",
        str(fasta),
        str(path),
    ]
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    stats = NORM_STATS.search(done.stderr)
    if done.returncode or stats is None:
        lines = [x for x in done.stderr.splitlines() if x.strip()]
        report.error(
            path,
            "not_normalised",
            f"REF does not match {fasta.name}: {lines[0] if lines else 'bcftools norm failed'}",
        )
        return
    _total, split, realigned, skipped = map(int, stats.groups())
    if split or realigned or skipped:
        report.error(
            path,
            "not_normalised",
            f"bcftools norm against {fasta.name} would split "
            f"{split}, left-align {realigned} and skip {skipped} record(s)",
        )
