"""Threshold presets (resources/qc/presets/<name>.yaml) and the config's overrides.

A preset names its source and holds ``thresholds``, keyed by metric ID (the catalogue's), each a
mapping of one or more bounds: ``min`` (value >= bound), ``gt`` (>), ``max`` (<=), ``lt`` (<),
and optionally ``level: fail | warn`` (default fail); and ``identity``: the level (fail, warn
or ignore) of ``sex_mismatch``, ``duplicate``, ``first_degree`` and ``second_degree``.
An override replaces a preset's threshold: a number (the preset's one bound for that metric) or
a mapping like the preset's. Any unknown name, metric ID, bound or malformed value is an error
naming the key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from genopass.errors import InputError
from genopass.paths import RESOURCES
from genopass.qc.catalogue import catalogue

PRESET_DIR = RESOURCES / "qc" / "presets"
BOUNDS = {"min": ">=", "gt": ">", "max": "<=", "lt": "<"}
LEVELS = ("fail", "warn")
IDENTITY_CHECKS = ("sex_mismatch", "duplicate", "first_degree", "second_degree")
IDENTITY_LEVELS = ("fail", "warn", "ignore")


@dataclass(frozen=True)
class Threshold:
    metric: str
    bound: str  # min | gt | max | lt
    value: float
    level: str = "fail"

    def passes(self, observed: float) -> bool:
        return {
            "min": observed >= self.value,
            "gt": observed > self.value,
            "max": observed <= self.value,
            "lt": observed < self.value,
        }[self.bound]

    def describe(self, observed: float) -> str:
        return f"{self.metric} {_fmt(observed)} not {BOUNDS[self.bound]} {_fmt(self.value)}"


@dataclass(frozen=True)
class Preset:
    name: str
    source: str
    thresholds: tuple[Threshold, ...]
    identity: Mapping[str, str] = field(default_factory=dict)


def available_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset(name_or_path: str | Path, overrides: Mapping | None = None) -> Preset:
    """A shipped preset by name (or a YAML file of the same shape), with overrides applied."""
    path = Path(name_or_path)
    if path.suffix not in (".yaml", ".yml"):
        path = PRESET_DIR / f"{name_or_path}.yaml"
        if not path.exists():
            raise InputError(
                f"qc.preset: unknown preset {str(name_or_path)!r}; choose one of "
                f"{', '.join(available_presets())} or give a preset YAML file"
            )
    try:
        data = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise InputError(f"qc.preset: {path}: no such file") from None
    except yaml.YAMLError as exc:
        raise InputError(f"qc.preset: {path}: not valid YAML: {exc}") from None
    where = f"{path.name}"
    if not isinstance(data, dict):
        raise InputError(f"{where}: a preset is a mapping with name, source and thresholds")
    unknown = set(data) - {"name", "title", "source", "thresholds", "identity"}
    if unknown:
        raise InputError(f"{where}: unknown key {sorted(unknown)[0]!r}")
    for key in ("name", "source"):
        if not isinstance(data.get(key), str) or not data[key].strip():
            raise InputError(f"{where}: '{key}' must be a non-empty text")
    thresholds = _thresholds(data.get("thresholds") or {}, f"{where}: thresholds")
    for metric, value in (overrides or {}).items():
        key = f"qc.overrides.{metric}"
        _check_metric(metric, key)
        if isinstance(value, Mapping):
            thresholds[metric] = _threshold(metric, value, key)
        elif _is_number(value):
            current = thresholds.get(metric, ())
            if len(current) != 1:
                raise InputError(
                    f"{key}: the preset {data['name']} has "
                    f"{'no' if not current else 'several'} bound(s) for {metric}, so a bare "
                    f"number is ambiguous; give a mapping such as {{min: {value}}} or "
                    f"{{max: {value}}}"
                )
            old = current[0]
            thresholds[metric] = (Threshold(metric, old.bound, float(value), old.level),)
        elif value is None:
            thresholds.pop(metric, None)  # an override of null drops the preset's threshold
        else:
            raise InputError(f"{key}: {value!r} is not a number or a mapping of bounds")
    identity = {
        check: "fail" if check in ("sex_mismatch", "duplicate") else "warn"
        for check in IDENTITY_CHECKS
    }
    for check, level in (data.get("identity") or {}).items():
        if check not in IDENTITY_CHECKS:
            raise InputError(
                f"{where}: identity.{check}: unknown check; use {', '.join(IDENTITY_CHECKS)}"
            )
        if level not in IDENTITY_LEVELS:
            raise InputError(
                f"{where}: identity.{check}: {level!r} is not one of {', '.join(IDENTITY_LEVELS)}"
            )
        identity[check] = level
    return Preset(
        name=data["name"],
        source=" ".join(data["source"].split()),
        thresholds=tuple(t for group in thresholds.values() for t in group),
        identity=identity,
    )


def _thresholds(section: object, where: str) -> dict[str, tuple[Threshold, ...]]:
    if not isinstance(section, Mapping):
        raise InputError(f"{where}: must map metric IDs to bounds")
    out = {}
    for metric, spec in section.items():
        key = f"{where}.{metric}"
        _check_metric(metric, key)
        out[metric] = _threshold(metric, spec, key)
    return out


def _threshold(metric: str, spec: object, key: str) -> tuple[Threshold, ...]:
    if not isinstance(spec, Mapping) or not spec:
        raise InputError(f"{key}: give bounds as a mapping, e.g. {{min: 30}} or {{max: 0.03}}")
    level = spec.get("level", "fail")
    if level not in LEVELS:
        raise InputError(f"{key}.level: {level!r} is not one of {', '.join(LEVELS)}")
    bounds = []
    for bound, value in spec.items():
        if bound == "level":
            continue
        if bound not in BOUNDS:
            raise InputError(
                f"{key}.{bound}: unknown bound; use min (>=), gt (>), max (<=) or lt (<)"
            )
        if not _is_number(value):
            raise InputError(f"{key}.{bound}: {value!r} is not a number")
        bounds.append(Threshold(metric, bound, float(value), level))
    if not bounds:
        raise InputError(f"{key}: no bound (min, gt, max or lt)")
    return tuple(bounds)


def _check_metric(metric: object, key: str) -> None:
    if metric not in catalogue():
        known = ", ".join(catalogue())
        raise InputError(f"{key}: unknown metric ID {metric!r}; known IDs: {known}")


def _is_number(value: object) -> bool:
    if isinstance(value, bool) or not isinstance(value, int | float):
        # YAML 1.1 reads 85e9 (no dot) as a string: accept numeric text
        if isinstance(value, str):
            try:
                return math.isfinite(float(value))
            except ValueError:
                return False
        return False
    return math.isfinite(value)


def _fmt(value: float) -> str:
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value)}"
    return f"{value:.4g}"


def check_qc_config(config: Mapping, label: str) -> None:
    """The config's ``qc`` keys (preset, overrides) load: an unknown preset, a preset file that
    does not parse, an unknown metric ID or a malformed threshold is an InputError naming the
    config and the key. Passed to :func:`genopass.inputs.config.workflow_config` by the
    workflow (the inputs stage does not import the QC stage)."""
    qc = config.get("qc") or {}
    try:
        load_preset(qc.get("preset", "permissive"), qc.get("overrides") or {})
    except InputError as exc:
        message = str(exc)
        key, sep, rest = message.partition(": ")
        if sep and key.startswith("qc."):
            raise InputError(f"{label}: key '{key}': {rest}") from None
        raise InputError(f"{label}: key 'qc.preset': preset file {message}") from None


def parse_overrides(values: Sequence[str]) -> dict[str, object]:
    """``METRIC=VALUE`` options (VALUE a number or a YAML mapping) -> qc.overrides."""
    overrides: dict[str, object] = {}
    for item in values:
        metric, sep, text = item.partition("=")
        if not sep or not metric:
            raise InputError(f"--override {item!r}: write METRIC=VALUE, e.g. yield_bp_q30=85e9")
        try:
            overrides[metric.strip()] = yaml.safe_load(text)
        except yaml.YAMLError:
            raise InputError(f"--override {item!r}: {text!r} is not a number or mapping") from None
    return overrides
