"""Alignment metrics read from the tools that compute them (as the GA4GH standard does).

- Picard CollectWgsMetrics (autosomes outside gaps, MAPQ >= 20, BQ >= 20; duplicates,
  overlapping mate bases and unpaired reads excluded by Picard's defaults): mean, median and MAD
  of the coverage, share of bases at >= 10x, 15x, 30x;
- Picard CollectQualityYieldMetrics: PF_Q30_BASES;
- samtools stats (SN lines; IS histogram): mapped, properly paired, duplicate shares of the
  primary reads; insert size mean, standard deviation and median;
- fastp JSON (one per FASTQ unit): raw-read Q30 share, GC, duplication, adapter-trimmed reads;
- mosdepth summary: mean depth of chrX, chrY and the autosomes (for inferred sex).

Each reader returns ``{metric ID: value}`` unrounded; a file that is not what it claims to be is
an InputError naming it.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from genopass.errors import InputError

WGS_CLASS = "picard.analysis.WgsMetrics"
YIELD_CLASS = "picard.analysis.CollectQualityYieldMetrics$QualityYieldMetrics"
AUTOSOME = re.compile(r"^(chr)?([1-9]|1[0-9]|2[0-2])$")


def read_picard_metrics(path: Path | str, metrics_class: str) -> dict[str, str]:
    """The first row of the ``## METRICS CLASS`` table of a Picard metrics file, by column."""
    file = Path(path)
    lines = _read_text(file).splitlines()
    for index, line in enumerate(lines):
        if line.startswith("## METRICS CLASS"):
            found = line.split("\t", 1)[1].strip() if "\t" in line else ""
            if found != metrics_class:
                raise InputError(
                    f"{file}: holds Picard metrics {found or '(unnamed)'}, expected "
                    f"{metrics_class}: give the output of the Picard tool that writes them"
                )
            if index + 2 >= len(lines) or not lines[index + 2].strip():
                raise InputError(f"{file}: the {metrics_class} table has no row")
            header = lines[index + 1].split("\t")
            row = lines[index + 2].split("\t")
            return dict(zip(header, row, strict=False))
    raise InputError(
        f"{file}: not a Picard metrics file (no '## METRICS CLASS' line); give the output of "
        f"Picard {metrics_class.rsplit('.', 1)[-1]}"
    )


def wgs_metrics(path: Path | str) -> dict[str, float]:
    """Coverage metrics from Picard CollectWgsMetrics run on the autosome intervals."""
    row = read_picard_metrics(path, WGS_CLASS)
    fields = {
        "mean_autosome_coverage": ("MEAN_COVERAGE", 1.0),
        "median_autosome_coverage": ("MEDIAN_COVERAGE", 1.0),
        "mad_autosome_coverage": ("MAD_COVERAGE", 1.0),
        "pct_autosomes_10x": ("PCT_10X", 100.0),
        "pct_autosomes_15x": ("PCT_15X", 100.0),
        "pct_autosomes_30x": ("PCT_30X", 100.0),
    }
    return {key: _number(row, column, path) * scale for key, (column, scale) in fields.items()}


def quality_yield(path: Path | str) -> dict[str, float]:
    """``yield_bp_q30`` from Picard CollectQualityYieldMetrics (PF_Q30_BASES)."""
    row = read_picard_metrics(path, YIELD_CLASS)
    return {"yield_bp_q30": _number(row, "PF_Q30_BASES", path)}


@dataclass(frozen=True)
class SamtoolsStats:
    """The parts of a ``samtools stats`` report that the metrics use."""

    summary: Mapping[str, float]  # SN lines, key without the trailing colon
    insert_sizes: Sequence[tuple[int, int]]  # IS lines: (insert size, pairs total)


def read_samtools_stats(path: Path | str) -> SamtoolsStats:
    file = Path(path)
    summary: dict[str, float] = {}
    inserts: list[tuple[int, int]] = []
    for line in _read_text(file).splitlines():
        if line.startswith("SN\t"):
            parts = line.split("\t")
            try:
                summary[parts[1].rstrip(":")] = float(parts[2])
            except (IndexError, ValueError):
                raise InputError(f"{file}: malformed samtools stats SN line {line!r}") from None
        elif line.startswith("IS\t"):
            parts = line.split("\t")
            inserts.append((int(parts[1]), int(parts[2])))
    if "raw total sequences" not in summary:
        raise InputError(
            f"{file}: not a samtools stats report (no 'SN raw total sequences' line); "
            f"give the output of 'samtools stats'"
        )
    return SamtoolsStats(summary, inserts)


def samtools_metrics(path: Path | str) -> tuple[dict[str, float], dict[str, str]]:
    """(metrics, reasons for those that cannot be computed) from a samtools stats report.

    Denominator of the shares: ``raw total sequences`` (primary reads; samtools stats leaves
    secondary and supplementary alignments out of every SN count used here).
    """
    stats = read_samtools_stats(path)
    sn = stats.summary
    values: dict[str, float] = {}
    missing: dict[str, str] = {}
    total = sn["raw total sequences"]
    shares = {
        "pct_reads_mapped": "reads mapped",
        "pct_reads_properly_paired": "reads properly paired",
        "pct_duplicate_reads": "reads duplicated",
    }
    for key, field in shares.items():
        if total > 0:
            values[key] = 100.0 * sn.get(field, 0.0) / total
        else:
            missing[key] = "the alignment file has no primary read"
    pairs = sum(count for _, count in stats.insert_sizes)
    if sn.get("reads paired", 0) > 0 and pairs > 0:
        values["mean_insert_size"] = sn["insert size average"]
        values["insert_size_std_deviation"] = sn["insert size standard deviation"]
        values["median_insert_size"] = histogram_median(stats.insert_sizes)
    else:
        for key in ("mean_insert_size", "insert_size_std_deviation", "median_insert_size"):
            missing[key] = "no read pair with an insert size (single-end or unpaired reads)"
    return values, missing


def histogram_median(histogram: Iterable[tuple[int, int]]) -> float:
    """The lower median of a {value: count} histogram: the first value whose cumulative count
    reaches half the total."""
    rows = sorted(histogram)
    total = sum(count for _, count in rows)
    running = 0
    for value, count in rows:
        running += count
        if 2 * running >= total:
            return float(value)
    raise ValueError("empty histogram")


def fastp_metrics(paths: Sequence[Path | str]) -> dict[str, float]:
    """Raw-read extras from fastp JSON reports, pooled over the units of a sample."""
    reads = bases = q30 = gc_bases = duplicated = adapter = 0.0
    for path in paths:
        file = Path(path)
        try:
            report = json.loads(_read_text(file))
            before = report["summary"]["before_filtering"]
            unit_reads, unit_bases = float(before["total_reads"]), float(before["total_bases"])
            q30 += float(before["q30_bases"])
            gc_bases += float(before["gc_content"]) * unit_bases
            duplicated += float(report.get("duplication", {}).get("rate", 0.0)) * unit_reads
            adapter += float(report.get("adapter_cutting", {}).get("adapter_trimmed_reads", 0))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise InputError(
                f"{file}: not a fastp JSON report ({exc.__class__.__name__}: {exc}); give the "
                f"file that 'fastp --json' wrote"
            ) from None
        reads += unit_reads
        bases += unit_bases
    if not reads or not bases:
        return {}
    return {
        "fastp_pct_q30_bases": 100.0 * q30 / bases,
        "fastp_pct_gc": 100.0 * gc_bases / bases,
        "fastp_pct_duplication": 100.0 * duplicated / reads,
        "fastp_pct_adapter_trimmed_reads": 100.0 * adapter / reads,
    }


@dataclass(frozen=True)
class ContigDepth:
    """Mean depths from a mosdepth summary: autosomes (length-weighted), chrX, chrY."""

    autosomes: float | None
    x: float | None
    y: float | None


def mosdepth_depths(path: Path | str) -> ContigDepth:
    file = Path(path)
    lines = _read_text(file).splitlines()
    if not lines or not lines[0].startswith("chrom\tlength\tbases\tmean"):
        raise InputError(
            f"{file}: not a mosdepth summary (header 'chrom length bases mean min max' "
            f"missing); give <prefix>.mosdepth.summary.txt"
        )
    auto_bases = auto_length = 0.0
    depth: dict[str, float] = {}
    for line in lines[1:]:
        chrom, length, bases, mean = line.split("\t")[:4]
        if chrom.endswith("_region") or chrom == "total":
            continue
        if AUTOSOME.match(chrom):
            auto_bases += float(bases)
            auto_length += float(length)
        depth[chrom.removeprefix("chr")] = float(mean)
    return ContigDepth(
        autosomes=auto_bases / auto_length if auto_length else None,
        x=depth.get("X"),
        y=depth.get("Y"),
    )


def _number(row: Mapping[str, str], column: str, path: Path | str) -> float:
    try:
        return float(row[column])
    except (KeyError, ValueError):
        raise InputError(
            f"{path}: column {column} missing or not a number ({row.get(column)!r}); give "
            f"the unmodified Picard output"
        ) from None


def _read_text(file: Path) -> str:
    try:
        return file.read_text()
    except FileNotFoundError:
        raise InputError(f"{file}: no such file") from None
    except UnicodeDecodeError:
        raise InputError(f"{file}: not a text file") from None
