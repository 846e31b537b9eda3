"""The QC gate: per sample PASS, WARN or FAIL with a reason for each failed threshold or
identity problem, and whether the sample goes to the export.

- Each threshold of the preset is checked on the sample's metric; one that could not be computed
  is not a failure (it is listed under ``unchecked`` in the JSON).
- Identity: reported vs inferred sex (``sex_mismatch``); duplicates (``duplicate``: of a group of
  samples that are one person, one is kept, by ``keep``: ``first`` in the sheet, or ``coverage``,
  the highest mean_autosome_coverage, then the most SNV calls, then sheet order); first- and
  second-degree relatives. Each check has the level the preset gives (fail, warn, ignore).
- Status: FAIL if any fail-level reason, else WARN if any warn-level reason, else PASS.
- ``mode``: gate exports PASS and WARN samples only; warn exports every sample (flagged).
"""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from genopass.errors import InputError
from genopass.io import atomic_output
from genopass.qc.catalogue import catalogue
from genopass.qc.kinship import DUPLICATE, FIRST, SECOND, Relatedness
from genopass.qc.presets import Preset
from genopass.qc.report import SampleQC
from genopass.qc.sex import MISMATCH, compare_sex

PASS, WARN, FAIL = "PASS", "WARN", "FAIL"
MODES = ("gate", "warn")
KEEP_RULES = ("first", "coverage")


@dataclass(frozen=True)
class SheetSample:
    sample: str
    centre: str
    reported_sex: str
    pseudonym: str


@dataclass(frozen=True)
class Decision:
    sample: SheetSample
    status: str
    reasons: tuple[str, ...]
    exported: bool
    sex_check: str
    unchecked: tuple[str, ...] = field(default_factory=tuple)

    def as_gate(self) -> dict[str, object]:
        return {
            "status": self.status,
            "reasons": list(self.reasons),
            "exported": self.exported,
            "sex_check": self.sex_check,
            "unchecked": list(self.unchecked),
        }


def decide(
    samples: Sequence[SheetSample],
    qcs: Mapping[str, SampleQC],
    relatedness: Sequence[Relatedness],
    preset: Preset,
    *,
    mode: str = "gate",
    keep: str = "first",
) -> list[Decision]:
    """One decision per sheet sample, in sheet order. ``qcs`` is keyed by pseudonym."""
    if mode not in MODES:
        raise InputError(f"qc.mode: {mode!r} is not one of {', '.join(MODES)}")
    if keep not in KEEP_RULES:
        raise InputError(f"qc.keep_duplicate: {keep!r} is not one of {', '.join(KEEP_RULES)}")
    by_id = {(s.sample, s.centre): s for s in samples}
    missing = [s.sample for s in samples if s.pseudonym not in qcs]
    if missing:
        raise InputError(
            f"no QC metrics for sample(s) {', '.join(missing)}: give every sample's "
            f"'genopass qc-metrics' JSON"
        )
    reasons: dict[str, list[tuple[str, str]]] = {s.pseudonym: [] for s in samples}
    unchecked: dict[str, list[str]] = {s.pseudonym: [] for s in samples}
    sex_checks: dict[str, str] = {}
    for s in samples:
        qc = qcs[s.pseudonym]
        for threshold in preset.thresholds:
            value = qc.values.get(threshold.metric)
            if value is None:
                unchecked[s.pseudonym].append(
                    f"{threshold.metric}: {qc.unavailable.get(threshold.metric, 'not computed')}"
                )
                continue
            value = catalogue()[threshold.metric].rounded(value)
            if not threshold.passes(value):
                reasons[s.pseudonym].append((threshold.level, threshold.describe(value)))
        inferred = str(qc.info.get("inferred_sex", "unknown"))
        sex_checks[s.pseudonym] = compare_sex(s.reported_sex, inferred)
        if sex_checks[s.pseudonym] == MISMATCH:
            reasons[s.pseudonym].append(
                (
                    preset.identity["sex_mismatch"],
                    f"sex mismatch: reported {s.reported_sex}, inferred {inferred}",
                )
            )

    def of(sample: str, centre: str) -> SheetSample:
        found = by_id.get((sample, centre))
        if found is None:
            raise InputError(
                f"relatedness table names sample {sample!r} of centre {centre!r}, which the "
                f"samples sheet does not have; give the table of this run"
            )
        return found

    order = {s.pseudonym: i for i, s in enumerate(samples)}
    groups = _duplicate_groups(
        [(of(r.sample_a, r.centre_a), of(r.sample_b, r.centre_b), r) for r in relatedness]
    )
    for group in groups:
        kept = min(group, key=lambda s: _keep_key(s, qcs[s.pseudonym], keep, order))
        for s in group:
            if s is kept:
                continue
            reasons[s.pseudonym].append(
                (
                    preset.identity["duplicate"],
                    f"duplicate of {kept.pseudonym} ({kept.centre}), which is kept (rule: {keep})",
                )
            )
    for row in relatedness:
        if row.relationship not in (FIRST, SECOND):
            continue
        a, b = of(row.sample_a, row.centre_a), of(row.sample_b, row.centre_b)
        check = "first_degree" if row.relationship == FIRST else "second_degree"
        words = check.replace("_", "-")
        for one, other in ((a, b), (b, a)):
            reasons[one.pseudonym].append(
                (
                    preset.identity[check],
                    f"{words} relative of {other.pseudonym} ({other.centre}), "
                    f"kinship {row.kinship:.4f}",
                )
            )
    decisions = []
    for s in samples:
        found = [(level, text) for level, text in reasons[s.pseudonym] if level != "ignore"]
        levels = {level for level, _ in found}
        status = FAIL if "fail" in levels else WARN if "warn" in levels else PASS
        decisions.append(
            Decision(
                sample=s,
                status=status,
                reasons=tuple(text for _, text in found),
                exported=status != FAIL or mode == "warn",
                sex_check=sex_checks[s.pseudonym],
                unchecked=tuple(unchecked[s.pseudonym]),
            )
        )
    return decisions


def _duplicate_groups(
    pairs: Sequence[tuple[SheetSample, SheetSample, Relatedness]],
) -> list[list[SheetSample]]:
    """Connected groups of samples joined by duplicate pairs."""
    parent: dict[str, str] = {}
    members: dict[str, SheetSample] = {}

    def find(x: str) -> str:
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b, row in pairs:
        if row.relationship != DUPLICATE:
            continue
        for s in (a, b):
            parent.setdefault(s.pseudonym, s.pseudonym)
            members[s.pseudonym] = s
        parent[find(a.pseudonym)] = find(b.pseudonym)
    groups: dict[str, list[SheetSample]] = {}
    for pseudonym, s in members.items():
        groups.setdefault(find(pseudonym), []).append(s)
    return list(groups.values())


def _keep_key(s: SheetSample, qc: SampleQC, keep: str, order: Mapping[str, int]) -> tuple:
    if keep == "first":
        return (order[s.pseudonym],)
    coverage = qc.values.get("mean_autosome_coverage", float("-inf"))
    snvs = qc.values.get("count_snvs", float("-inf"))
    return (-coverage, -snvs, order[s.pseudonym])


def summary_columns() -> list[str]:
    return [
        "sample",
        "pseudonym",
        "centre",
        *catalogue(),
        "inferred_sex",
        "sex_check",
        "status",
        "exported",
        "reasons",
    ]


def write_summary(
    decisions: Sequence[Decision], qcs: Mapping[str, SampleQC], out: Path | str
) -> None:
    """summary.tsv: one row per sample, every metric (empty when not computed) at its
    precision, the status, whether it is exported, and the reasons joined by '; '."""
    table = catalogue()
    with atomic_output(out) as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(summary_columns())
            for d in decisions:
                qc = qcs[d.sample.pseudonym]
                metrics = [
                    table[key].rounded(qc.values[key]) if key in qc.values else "" for key in table
                ]
                writer.writerow(
                    [
                        d.sample.sample,
                        d.sample.pseudonym,
                        d.sample.centre,
                        *metrics,
                        qc.info.get("inferred_sex", "unknown"),
                        d.sex_check,
                        d.status,
                        "yes" if d.exported else "no",
                        "; ".join(d.reasons),
                    ]
                )


EXPORTED_COLUMNS = ("sample", "pseudonym")


def write_exported(decisions: Sequence[Decision], out: Path | str) -> None:
    """exported.tsv: the samples the export holds (sample, pseudonym), in sheet order; the
    contract of the export rules (a header line only when the gate keeps none)."""
    with atomic_output(out) as tmp:
        with open(tmp, "w", newline="") as handle:
            writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
            writer.writerow(EXPORTED_COLUMNS)
            for d in decisions:
                if d.exported:
                    writer.writerow([d.sample.sample, d.sample.pseudonym])


def run_gate(
    metrics_files: Sequence[Path | str],
    *,
    samples_tsv: Path | str,
    pseudonyms_tsv: Path | str,
    relatedness_tsv: Path | str | None,
    preset: Preset,
    mode: str,
    keep: str,
    summary: Path | str,
    json_dir: Path | str | None = None,
    exported: Path | str | None = None,
) -> list[Decision]:
    """Read every sample's QC JSON and the run's relatedness, decide, write summary.tsv, (to
    ``exported``) exported.tsv and (to ``json_dir``) each sample's final ``<sample>.qc.json``
    with its gate decision."""
    from dataclasses import replace

    from genopass.inputs.sheets import read_samples
    from genopass.qc.kinship import read_identities, read_relatedness
    from genopass.qc.report import read_sample_qc, write_sample_qc

    sheet = read_samples(samples_tsv)
    identities = read_identities(pseudonyms_tsv)
    pseudonym_of = {ident: p for p, ident in identities.items()}
    samples = []
    for row in sheet.to_dict("records"):
        key = (row["sample"], row["centre"])
        if key not in pseudonym_of:
            raise InputError(
                f"{pseudonyms_tsv}: no pseudonym for sample {row['sample']} of centre "
                f"{row['centre']}; write it again from {samples_tsv} (genopass pseudonyms)"
            )
        samples.append(SheetSample(row["sample"], row["centre"], row["sex"], pseudonym_of[key]))
    qcs: dict[str, SampleQC] = {}
    for path in metrics_files:
        qc = read_sample_qc(path)
        qcs[qc.pseudonym] = qc
    rows = read_relatedness(relatedness_tsv) if relatedness_tsv else []
    decisions = decide(samples, qcs, rows, preset, mode=mode, keep=keep)
    write_summary(decisions, qcs, summary)
    if exported is not None:
        write_exported(decisions, exported)
    if json_dir is not None:
        for d in decisions:
            qc = replace(
                qcs[d.sample.pseudonym], gate={**d.as_gate(), "preset": preset.name, "mode": mode}
            )
            write_sample_qc(qc, Path(json_dir) / f"{d.sample.sample}.qc.json")
    return decisions
