"""genopass's section of the MultiQC report, as MultiQC custom content (``*_mqc.tsv``,
``*_mqc.yaml`` files that MultiQC finds among its inputs):

- ``genopass_summary_mqc.tsv``: the gate's table, one row per sample (status, exported, sex
  check, reasons);
- ``genopass_<metric>_mqc.yaml``: coverage, Ti/Tv, het/hom and contamination per sample as
  bars, with the preset's bounds drawn as lines (one section per metric, under one heading);
- ``genopass_sex_mqc.yaml``: the sex check as a scatter of chrX heterozygosity against the
  ALT-carrying non-PAR chrX SNVs it is computed on, the call boundaries as lines;
- ``genopass_relatedness_mqc.tsv``: the pairs of relatedness.tsv.

Samples are named by pseudonym (the report may be shared) or, with ``names="sheet"``, by their
samples.tsv ID. ``names.tsv`` renames the tools' sample names (MultiQC ``--replace-names``: the
sheet ID -> the pseudonym; empty with ``sheet``).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from genopass.errors import InputError
from genopass.io import atomic_output
from genopass.qc.catalogue import catalogue
from genopass.qc.kinship import read_relatedness
from genopass.qc.presets import Preset
from genopass.qc.report import read_sample_qc
from genopass.qc.sex import FEMALE_MIN_HET, MALE_MAX_HET

NAMES = ("pseudonym", "sheet")
PLOTTED = (
    "mean_autosome_coverage",
    "pct_autosomes_15x",
    "ratio_transitions_transversions_snv",
    "ratio_heterozygous_homzygous_snv",
    "cross_contamination_rate",
)
SUMMARY_COLUMNS = ("centre", "status", "exported", "inferred_sex", "sex_check", "reasons")
STATUS_COLOURS = {"PASS": "#2ca02c", "WARN": "#ff7f0e", "FAIL": "#d62728"}
SEX_COLOURS = {"match": "#2ca02c", "mismatch": "#d62728", "unknown": "#7f7f7f"}
FILES = (
    "genopass_summary_mqc.tsv",
    *[f"genopass_{metric}_mqc.yaml" for metric in PLOTTED],
    "genopass_sex_mqc.yaml",
    "genopass_relatedness_mqc.tsv",
)
"""The custom-content files, in the order of the report's genopass sections."""


def read_summary(path: Path | str) -> list[dict[str, str]]:
    """The rows of the gate's summary.tsv."""
    try:
        with open(path, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file; give the summary.tsv of qc-gate") from None
    if rows and not {"sample", "pseudonym", "status"} <= set(rows[0]):
        raise InputError(f"{path}: not a genopass QC summary (sample, pseudonym, status)")
    return rows


def write_report_content(
    summary_tsv: Path | str,
    metrics_files: Sequence[Path | str],
    relatedness_tsv: Path | str | None,
    preset: Preset,
    out_dir: Path | str,
    *,
    names: str = "pseudonym",
) -> list[Path]:
    """Write the custom-content files and names.tsv into ``out_dir``; return their paths."""
    if names not in NAMES:
        raise InputError(f"qc.report_sample_names: {names!r} is not one of {', '.join(NAMES)}")
    rows = read_summary(summary_tsv)
    column = "sample" if names == "sheet" else "pseudonym"
    shown = {row["pseudonym"]: row[column] for row in rows}
    infos = {}
    for path in metrics_files:
        qc = read_sample_qc(path)
        infos[qc.pseudonym] = qc.info
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = [_write_tsv(out / FILES[0], _summary_header(preset), _summary_rows(rows, shown))]
    for metric in PLOTTED:
        content = _threshold_plot(metric, rows, shown, preset)
        written.append(_write_yaml(out / f"genopass_{metric}_mqc.yaml", content))
    written += [
        _write_yaml(out / FILES[-2], _sex(rows, shown, infos)),
        _write_tsv(
            out / FILES[-1], _relatedness_header(), _relatedness_rows(relatedness_tsv, rows, shown)
        ),
    ]
    renames = [] if names == "sheet" else [(row["sample"], row["pseudonym"]) for row in rows]
    # longest first: MultiQC replaces substrings, so A-0011 must go before A-001
    renames.sort(key=lambda pair: (-len(pair[0]), pair[0]))
    written.append(_write_tsv(out / "names.tsv", [], renames))
    return written


def _summary_header(preset: Preset) -> list[str]:
    return [
        "# id: 'genopass_summary'",
        "# section_name: 'genopass QC gate'",
        f"# description: 'Status of each sample under the {preset.name} preset, whether it is "
        "exported, the sex check and the reason for every failed threshold or identity problem "
        "(docs/qc.md).'",
        "# plot_type: 'table'",
        "# pconfig:",
        "#     id: 'genopass_summary_table'",
        "#     title: 'genopass: QC gate'",
        "#     sort_rows: false",
        "#     col1_header: 'Sample'",
        "sample\t" + "\t".join(SUMMARY_COLUMNS),
    ]


def _summary_rows(rows: Sequence[Mapping[str, str]], shown: Mapping[str, str]) -> list[list[str]]:
    return [
        [shown[row["pseudonym"]], *[row.get(column, "") or "-" for column in SUMMARY_COLUMNS]]
        for row in rows
    ]


def _threshold_plot(
    metric: str, rows: Sequence[Mapping[str, str]], shown: Mapping[str, str], preset: Preset
) -> dict[str, Any]:
    """One metric per sample as bars, the preset's bounds on it as dashed lines."""
    table = catalogue()
    values = {
        shown[row["pseudonym"]]: {metric: float(row[metric])}
        for row in rows
        if row.get(metric, "") != ""
    }
    bounds = [t for t in preset.thresholds if t.metric == metric]
    lines = [
        {
            "value": t.value,
            "color": STATUS_COLOURS["FAIL" if t.level == "fail" else "WARN"],
            "dash": "dash",
            "width": 2,
            "label": f"{t.bound} {t.value:g} ({t.level})",
        }
        for t in bounds
    ]
    said = ", ".join(f"{t.bound} {t.value:g} ({t.level})" for t in bounds) or "none"
    return {
        "parent_id": "genopass_thresholds",
        "parent_name": "genopass metrics against the thresholds",
        "parent_description": (
            f"Each sample's metric with the bounds of the {preset.name} preset as dashed lines "
            "(red: fails a sample, orange: warns). A sample without the metric (coverage of a "
            "VCF-only delivery) has no bar."
        ),
        "id": f"genopass_{metric}",
        "section_name": metric,
        "description": f"{table[metric].definition} Thresholds ({preset.name}): {said}.",
        "plot_type": "bargraph",
        "pconfig": {
            "id": f"genopass_{metric}_plot",
            "title": f"genopass: {metric}",
            "ylab": f"{metric} ({table[metric].unit})",
            "cpswitch": False,
            "tt_decimals": table[metric].decimals,
            "x_lines": lines,
        },
        "data": values,
    }


def _sex(
    rows: Sequence[Mapping[str, str]],
    shown: Mapping[str, str],
    infos: Mapping[str, Mapping[str, Any]],
) -> dict[str, Any]:
    data = {}
    for row in rows:
        info = infos.get(row["pseudonym"], {})
        het, hom = int(info.get("x_het_snvs", 0)), int(info.get("x_hom_snvs", 0))
        if het + hom == 0:
            continue
        data[shown[row["pseudonym"]]] = {
            "x": round(het / (het + hom), 4),
            "y": het + hom,
            "color": SEX_COLOURS.get(row.get("sex_check", "unknown"), SEX_COLOURS["unknown"]),
        }
    return {
        "id": "genopass_sex",
        "section_name": "genopass sex check",
        "description": (
            "chrX heterozygosity (het / ALT-carrying PASS SNVs outside the PARs) against the "
            f"number of those SNVs: one X at <= {MALE_MAX_HET}, two at >= {FEMALE_MIN_HET}. "
            "Green: inferred sex matches the sheet; red: mismatch; grey: unknown (either side)."
        ),
        "plot_type": "scatter",
        "pconfig": {
            "id": "genopass_sex_plot",
            "title": "genopass: inferred sex",
            "xlab": "chrX heterozygosity",
            "ylab": "ALT-carrying non-PAR chrX SNVs",
            "xmin": 0,
            "xmax": 1,
            "ymin": 0,
            "x_lines": [
                {"value": MALE_MAX_HET, "color": "#1f77b4", "dash": "dash", "label": "male"},
                {"value": FEMALE_MIN_HET, "color": "#e377c2", "dash": "dash", "label": "female"},
            ],
        },
        "data": data,
    }


def _relatedness_header() -> list[str]:
    return [
        "# id: 'genopass_relatedness'",
        "# section_name: 'genopass relatedness'",
        "# description: 'Pairs of samples at or above third-degree kinship (KING-robust, "
        "plink2) or flagged: duplicate > 0.354, first degree > 0.177, second degree > 0.0884.'",
        "# plot_type: 'table'",
        "# pconfig:",
        "#     id: 'genopass_relatedness_table'",
        "#     title: 'genopass: relatedness'",
        "#     col1_header: 'Pair'",
        "pair\tsample_a\tsample_b\tcentre_a\tcentre_b\tkinship\tn_sites\trelationship",
    ]


def _relatedness_rows(
    relatedness_tsv: Path | str | None,
    rows: Sequence[Mapping[str, str]],
    shown: Mapping[str, str],
) -> list[list[object]]:
    if relatedness_tsv is None:
        return []
    pseudonym = {(row["sample"], row["centre"]): row["pseudonym"] for row in rows}
    out = []
    for pair in read_relatedness(relatedness_tsv):
        if not math.isfinite(pair.kinship):
            continue  # too few shared sites for an estimate: relatedness.tsv says so
        a = shown[pseudonym[(pair.sample_a, pair.centre_a)]]
        b = shown[pseudonym[(pair.sample_b, pair.centre_b)]]
        out.append(
            [
                f"{a} ~ {b}",
                a,
                b,
                pair.centre_a,
                pair.centre_b,
                f"{pair.kinship:.4f}",
                pair.n_sites,
                pair.relationship,
            ]
        )
    return out


def _write_tsv(path: Path, header: Sequence[str], rows: Sequence[Sequence[object]]) -> Path:
    with atomic_output(path) as tmp:
        with open(tmp, "w", newline="") as handle:
            handle.writelines(line + "\n" for line in header)
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerows(rows)
    return path


def _write_yaml(path: Path, content: Mapping[str, Any]) -> Path:
    with atomic_output(path) as tmp:
        Path(tmp).write_text(yaml.safe_dump(dict(content), sort_keys=False, width=100))
    return path
