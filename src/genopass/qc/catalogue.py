"""The metric catalogue (resources/qc/metrics.yaml): IDs, groups, types and precision."""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass

import yaml

from genopass.paths import RESOURCES

METRICS_FILE = RESOURCES / "qc" / "metrics.yaml"
ALN, VARIANT = "aln_metrics", "variant_metrics"


@dataclass(frozen=True)
class Metric:
    id: str
    group: str | None  # aln_metrics | variant_metrics for the standard's; None for extras
    type: str  # integer | float
    decimals: int
    unit: str
    definition: str
    computed: str
    source: str

    @property
    def standard(self) -> bool:
        return self.group is not None

    def rounded(self, value: float) -> int | float:
        """The value at the precision the standard fixes (integers as integers)."""
        if self.type == "integer":
            return int(round(value))
        return round(float(value), self.decimals)


@functools.cache
def catalogue() -> Mapping[str, Metric]:
    """Every metric by ID: the standard's 16 first, in the file's order, then the extras."""
    data = yaml.safe_load(METRICS_FILE.read_text())
    metrics: dict[str, Metric] = {}
    for section in ("standard", "extras"):
        for metric_id, entry in data[section].items():
            metrics[metric_id] = Metric(
                id=metric_id,
                group=entry.get("group") if section == "standard" else None,
                type=entry["type"],
                decimals=int(entry["decimals"]),
                unit=entry["unit"],
                definition=" ".join(entry["definition"].split()),
                computed=" ".join(entry["computed"].split()),
                source=entry["source"],
            )
    return metrics


def standard_ids() -> list[str]:
    return [m.id for m in catalogue().values() if m.standard]


def rounded(values: Mapping[str, float]) -> dict[str, int | float]:
    """Each value of a {metric ID: value} map at its catalogue precision."""
    table = catalogue()
    return {key: table[key].rounded(value) for key, value in values.items()}
