"""All the metrics of one sample, from the files that the tools wrote for it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genopass.qc import alignment, contamination, sex, variants
from genopass.qc.catalogue import standard_ids
from genopass.qc.report import SampleQC

ALIGNMENT_IDS = (
    "pct_reads_mapped",
    "pct_reads_properly_paired",
    "mean_autosome_coverage",
    "pct_autosomes_15x",
    "mad_autosome_coverage",
    "mean_insert_size",
    "insert_size_std_deviation",
    "yield_bp_q30",
)


@dataclass(frozen=True)
class SampleInputs:
    """The files of one sample. Only ``vcf`` and ``autosomes`` are required: a VCF-only
    delivery has no alignment metrics (their reasons say so)."""

    pseudonym: str
    vcf: Path
    autosomes: Path
    accounting: Path | None = None
    wgs_metrics: Path | None = None  # Picard CollectWgsMetrics
    quality_yield: Path | None = None  # Picard CollectQualityYieldMetrics
    samtools_stats: Path | None = None
    fastp: Sequence[Path] = field(default_factory=tuple)
    mosdepth_summary: Path | None = None
    cohort: Path | None = None  # qc-cohort output: frequencies with the sample left out
    panel: Path | None = None  # a population panel VCF with AF
    error_rate: float = contamination.ERROR_RATE
    min_contamination_sites: int = contamination.MIN_SITES
    min_x_sites: int = sex.MIN_X_SITES


def sample_metrics(inputs: SampleInputs) -> SampleQC:
    values: dict[str, float] = {}
    missing: dict[str, str] = {}
    info: dict[str, Any] = {}
    no_reads = "no reads: the sample was delivered as a VCF"
    if inputs.wgs_metrics is not None:
        values.update(alignment.wgs_metrics(inputs.wgs_metrics))
    if inputs.quality_yield is not None:
        values.update(alignment.quality_yield(inputs.quality_yield))
    if inputs.samtools_stats is not None:
        found, reasons = alignment.samtools_metrics(inputs.samtools_stats)
        values.update(found)
        missing.update(reasons)
    if inputs.fastp:
        values.update(alignment.fastp_metrics(inputs.fastp))
    for key in ALIGNMENT_IDS:
        if key not in values and key not in missing:
            missing[key] = no_reads if inputs.samtools_stats is None else "tool output not given"

    counts = variants.count_variants(inputs.vcf, inputs.autosomes)
    found, reasons = variants.variant_metrics(counts)
    values.update(found)
    missing.update(reasons)
    if inputs.accounting is not None:
        extras = variants.accounting_extras(inputs.accounting)
        values.update(extras.values)
        missing.update(extras.missing)

    frequencies = inputs.panel or inputs.cohort
    if frequencies is None:
        missing["cross_contamination_rate"] = "no population frequencies given (cohort or panel)"
    else:
        estimate = contamination.sample_contamination(
            inputs.vcf,
            inputs.autosomes,
            frequencies,
            leave_out_sample=inputs.panel is None,
            error=inputs.error_rate,
            min_sites=inputs.min_contamination_sites,
        )
        info["contamination_sites"] = estimate.sites
        info["contamination_frequencies"] = "panel" if inputs.panel else "cohort"
        if estimate.rate is None:
            missing["cross_contamination_rate"] = estimate.reason
        else:
            values["cross_contamination_rate"] = estimate.rate

    depth = None
    if inputs.mosdepth_summary is not None:
        depth = alignment.mosdepth_depths(inputs.mosdepth_summary)
    call = sex.infer_sex(counts.x_het, counts.x_hom, depth, min_x_sites=inputs.min_x_sites)
    if call.x_heterozygosity is not None:
        values["x_heterozygosity"] = call.x_heterozygosity
    info["inferred_sex"] = call.inferred
    info["inferred_sex_reason"] = call.reason
    info["x_het_snvs"], info["x_hom_snvs"] = call.x_het, call.x_hom
    if call.x_depth_ratio is not None:
        info["x_depth_ratio"] = round(call.x_depth_ratio, 3)
    if call.y_depth_ratio is not None:
        info["y_depth_ratio"] = round(call.y_depth_ratio, 3)
    # only reasons of metrics that are not there
    missing = {k: v for k, v in missing.items() if k not in values}
    order = {key: i for i, key in enumerate(standard_ids())}
    missing = dict(sorted(missing.items(), key=lambda kv: (order.get(kv[0], 99), kv[0])))
    return SampleQC(inputs.pseudonym, values, missing, info)
