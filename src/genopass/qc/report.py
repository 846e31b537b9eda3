"""The per-sample QC JSON, in the shape of the GA4GH standard's reference implementation
(NPM-sample-qc): ``{"biosample": {"id": PSEUDONYM}, "wgs_qc_metrics": {"aln_metrics": {...},
"variant_metrics": {...}}, "genopass": {...}}``. Keys sorted, values at the standard's
precision (integers as integers); a metric that could not be computed is left out and its reason
is under ``genopass.unavailable``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genopass.errors import InputError
from genopass.io import atomic_output
from genopass.qc.catalogue import ALN, VARIANT, catalogue


@dataclass(frozen=True)
class SampleQC:
    """What qc-metrics measured for one sample (and, after the gate, its decision)."""

    pseudonym: str
    values: Mapping[str, float]  # metric ID -> value (standard and extras)
    unavailable: Mapping[str, str] = field(default_factory=dict)  # metric ID -> reason
    info: Mapping[str, Any] = field(default_factory=dict)  # inferred sex, site counts...
    gate: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        table = catalogue()
        groups: dict[str, dict[str, Any]] = {ALN: {}, VARIANT: {}}
        extras: dict[str, Any] = {}
        for key, value in self.values.items():
            metric = table.get(key)
            if metric is None:
                raise ValueError(f"unknown metric {key}")
            target = groups[metric.group] if metric.standard else extras
            target[key] = metric.rounded(value)
        block: dict[str, Any] = {"metrics": extras, "unavailable": dict(self.unavailable)}
        block.update(self.info)
        if self.gate is not None:
            block["gate"] = dict(self.gate)
        return {
            "biosample": {"id": self.pseudonym},
            "wgs_qc_metrics": groups,
            "genopass": block,
        }


def write_sample_qc(qc: SampleQC, out: Path | str) -> None:
    with atomic_output(out) as tmp:
        Path(tmp).write_text(json.dumps(qc.to_json(), sort_keys=True, indent=2) + "\n")


def read_sample_qc(path: Path | str) -> SampleQC:
    file = Path(path)
    try:
        data = json.loads(file.read_text())
        pseudonym = data["biosample"]["id"]
        values = {**data["wgs_qc_metrics"][ALN], **data["wgs_qc_metrics"][VARIANT]}
        block = dict(data["genopass"])
    except FileNotFoundError:
        raise InputError(f"{file}: no such file") from None
    except (json.JSONDecodeError, KeyError, TypeError):
        raise InputError(
            f"{file}: not a genopass per-sample QC JSON (biosample.id, wgs_qc_metrics, "
            f"genopass); give the file 'genopass qc-metrics' wrote"
        ) from None
    values.update(block.pop("metrics", {}))
    unavailable = block.pop("unavailable", {})
    gate = block.pop("gate", None)
    return SampleQC(pseudonym, values, unavailable, block, gate)
