"""Alignment metrics on the demo sample D-001 (reads aligned as the workflow does): Picard's
own output read by genopass, checked against independent counts with pysam."""

from __future__ import annotations

import re

import numpy as np
import pysam
from qc_helpers import run

from genopass.qc.alignment import quality_yield, samtools_metrics, wgs_metrics


def test_picard_and_samtools_metrics_against_pysam(demo, tmp_path):
    bam, fasta = demo / "D-001.bam", demo / "GRCh38.demo.fa"
    intervals = tmp_path / "autosomes.interval_list"
    run(["PicardCommandLine", "BedToIntervalList", f"I={demo / 'autosomes.bed'}",
         f"O={intervals}", f"SD={demo / 'GRCh38.demo.dict'}"])  # fmt: skip
    wgs, qy, stats = tmp_path / "wgs.txt", tmp_path / "qy.txt", tmp_path / "stats.txt"
    run(["PicardCommandLine", "CollectWgsMetrics", f"I={bam}", f"O={wgs}", f"R={fasta}",
         f"INTERVALS={intervals}", "MINIMUM_MAPPING_QUALITY=20",
         "MINIMUM_BASE_QUALITY=20"])  # fmt: skip
    run(["PicardCommandLine", "CollectQualityYieldMetrics", f"I={bam}", f"O={qy}"])
    stats.write_text(run(["samtools", "stats", bam]).stdout)
    coverage = wgs_metrics(wgs)
    values, missing = samtools_metrics(stats)
    assert missing == {}

    # Independent depth: pysam pileup with MAPQ >= 20, BQ >= 20, duplicates/secondary left out,
    # overlapping mates counted once (htslib's overlap detection), over every autosome base.
    depth = []
    with pysam.AlignmentFile(str(bam)) as handle:
        for contig, length in zip(handle.references, handle.lengths, strict=True):
            if not re.fullmatch(r"chr([1-9]|1[0-9]|2[0-2])", contig):
                continue  # the demo's chrX: not an autosome
            per_base = np.zeros(length, dtype=int)
            for column in handle.pileup(
                contig, min_base_quality=20, min_mapping_quality=20, truncate=True,
                ignore_overlaps=True, stepper="all", max_depth=100000,
            ):  # fmt: skip
                per_base[column.reference_pos] = column.get_num_aligned()
            depth.append(per_base)
    with pysam.AlignmentFile(str(bam)) as handle:
        primary = mapped = proper = dup = q30 = 0
        for read in handle.fetch(until_eof=True):
            if read.is_secondary or read.is_supplementary:
                continue
            primary += 1
            mapped += not read.is_unmapped
            proper += read.is_proper_pair
            dup += read.is_duplicate
            if not read.is_qcfail:
                q30 += int((np.array(read.query_qualities) >= 30).sum())
    depth = np.concatenate(depth)
    assert abs(coverage["mean_autosome_coverage"] - depth.mean()) < 0.05 * depth.mean()
    assert abs(coverage["pct_autosomes_15x"] - 100 * (depth >= 15).mean()) < 1.0
    assert (
        coverage["median_autosome_coverage"] == np.median(depth)
        or abs(coverage["median_autosome_coverage"] - np.median(depth)) <= 1
    )
    mad = np.median(np.abs(depth - np.median(depth)))
    assert abs(coverage["mad_autosome_coverage"] - mad) <= 1

    assert quality_yield(qy)["yield_bp_q30"] == q30
    assert values["pct_reads_mapped"] == 100 * mapped / primary
    assert values["pct_reads_properly_paired"] == 100 * proper / primary
    assert values["pct_duplicate_reads"] == 100 * dup / primary
    assert 200 < values["mean_insert_size"] < 600
