"""metadata.json: what a receiving node needs to load and trust the export without asking us.

Validated against ``resources/schemas/metadata.schema.json`` before it is written. Counts are
read from the export's own files (Parquet footers, the samples table, the frequencies summary),
never carried over from earlier steps; the input check's warnings (``input_check``) are read
from its findings files. Deterministic: keys sorted, no timestamp unless
``SOURCE_DATE_EPOCH`` is set (then ``created`` is that instant, UTC).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from genopass import __version__
from genopass.errors import InputError, UsageError
from genopass.io import atomic_output
from genopass.paths import SCHEMA_DIR

SCHEMA_FILE = SCHEMA_DIR / "metadata.schema.json"
SCHEMA_VERSION = "1.0"
# A parameter value that looks like a path never enters the export (DESIGN.md, "Privacy").
PATH_LIKE = re.compile(r"(^[~.]?/|/|\\|^[A-Za-z]:)")


@dataclass(frozen=True)
class MetadataOptions:
    """What ``genopass metadata`` was asked to do."""

    out: Path
    dataset: str
    reference_name: str = "GRCh38"
    reference: Path | None = None  # FASTA: per-contig MD5 digests
    frequencies_summary: Path | None = None  # written by genopass frequencies --summary
    qc_summary: Path | None = None
    parameters: Mapping[str, str] = field(default_factory=dict)
    # the input check's findings ('genopass validate --json' of each input VCF): their warning
    # counts go to metadata.json (input_check); none given: no input_check block
    input_checks: tuple[Path, ...] = ()


@cache
def load_schema() -> dict[str, Any]:
    if not SCHEMA_FILE.is_file():
        raise UsageError(f"genopass schema {SCHEMA_FILE} is missing: reinstall genopass")
    return json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))


def validate_metadata(document: Mapping[str, Any], label: str = "metadata.json") -> None:
    """Raise InputError naming the first key that breaks the schema."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(load_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(document))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top level)"
        raise InputError(f"{label}: {where}: {error.message}")


def parse_parameters(values: tuple[str, ...] | list[str]) -> dict[str, str]:
    """``NAME=VALUE`` options -> dict; values that look like paths are refused."""
    found: dict[str, str] = {}
    for value in values:
        name, sep, text = value.partition("=")
        if not sep or not name:
            raise UsageError(f"--param {value!r}: write NAME=VALUE")
        if PATH_LIKE.search(text):
            raise UsageError(
                f"--param {name}: {text!r} looks like a path; metadata.json holds no paths "
                f"(give the setting's value, not a file)"
            )
        found[name] = text
    return dict(sorted(found.items()))


def tool_versions() -> dict[str, str]:
    """Versions of the tools that wrote the export."""
    import duckdb
    import pyarrow

    versions = {
        "genopass": __version__,
        "duckdb": duckdb.__version__,
        "pyarrow": pyarrow.__version__,
    }
    try:
        text = subprocess.run(
            ["bcftools", "--version"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        text = ""
    for tool, pattern in (("bcftools", r"^bcftools (\S+)"), ("htslib", r"^Using htslib (\S+)")):
        match = re.search(pattern, text, flags=re.MULTILINE)
        versions[tool] = match.group(1) if match else "unknown"
    try:
        import crypt4gh

        versions["crypt4gh"] = crypt4gh.__version__
    except ImportError:  # pragma: no cover - a dependency
        pass
    return dict(sorted(versions.items()))


def parquet_rows(folder: Path) -> int:
    """Rows of every Parquet file under ``folder``, from the footers."""
    if not folder.is_dir():
        return 0
    return sum(pq.read_metadata(p).num_rows for p in sorted(folder.rglob("*.parquet")))


# Warnings of the input check (genopass.inputs.vcfcheck) that metadata.json counts.
INPUT_CHECK_WARNINGS = ("undeclared_filter", "undeclared_info", "undeclared_format", "no_records")


def input_check_counts(paths: tuple[Path, ...] | list[Path]) -> dict[str, Any]:
    """The warnings of the input check summed over its findings files (the JSON that
    ``genopass validate --level vcf --json`` prints, one per input VCF): for each kind, the
    number of names (an undeclared FILTER, INFO or FORMAT) or of files (``no_records``) it
    warned about. Counts only: the findings' paths and names never enter the export."""
    warnings = dict.fromkeys(INPUT_CHECK_WARNINGS, 0)
    for path in paths:
        try:
            document = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError) as exc:
            raise InputError(
                f"{path}: cannot read the input check's findings ({exc}); write them with "
                f"'genopass validate --level vcf --json FILE > {Path(path).name}'"
            ) from None
        counts = document.get("counts") if isinstance(document, dict) else None
        if not isinstance(counts, list) or not all(isinstance(c, dict) for c in counts):
            raise InputError(
                f"{path}: not the findings of 'genopass validate --json' (no 'counts' list)"
            )
        for item in counts:
            kind, count = item.get("kind"), item.get("count")
            if item.get("level") == "warning" and kind in warnings:
                if not isinstance(count, int) or count < 0:
                    raise InputError(f"{path}: count {count!r} of {kind} is not a count")
                warnings[kind] += count
    return {"files": len(paths), "warnings": warnings}


def created() -> str | None:
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if not epoch:
        return None
    if not epoch.isdigit():
        raise UsageError(f"SOURCE_DATE_EPOCH={epoch!r}: give seconds since 1970 (an integer)")
    stamp = dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%SZ")


def build_metadata(export_dir: Path, options: MetadataOptions) -> dict[str, Any]:
    """The metadata document of an export folder (validated)."""
    from genopass.export.samples import read_samples_parquet
    from genopass.inputs.reference import contig_md5s

    export_dir = Path(export_dir)
    parquet = export_dir / "parquet"
    samples = read_samples_parquet(parquet / "samples" / "samples.parquet").to_pylist()
    reasons: dict[str, list[str]] = {}
    if options.qc_summary:
        from genopass.export.samples import read_qc_summary

        qc = read_qc_summary(options.qc_summary, {})
        reasons = {k: list(v["qc_reasons"]) for k, v in qc.items()}  # type: ignore[arg-type]
    frequencies: dict[str, Any] = {}
    if options.frequencies_summary:
        path = Path(options.frequencies_summary)
        if not path.is_file():
            raise InputError(f"{path}: no such file (genopass frequencies --summary writes it)")
        frequencies = json.loads(path.read_text(encoding="utf-8"))
    consents = sorted({code for s in samples for code in (s["consent"] or [])})
    document: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "dataset": options.dataset,
        "genopass_version": __version__,
        "reference": {
            "name": options.reference_name,
            "contigs": [
                {"name": name, "md5": md5}
                for name, md5 in (
                    contig_md5s(options.reference) if options.reference else {}
                ).items()
            ],
        },
        "counts": {
            "samples": len(samples),
            "variants": parquet_rows(parquet / "variants"),
            "genotype_rows": parquet_rows(parquet / "genotypes"),
            "frequency_rows": int(frequencies.get("rows_written", 0)),
            "frequency_rows_suppressed": int(frequencies.get("rows_suppressed", 0)),
            "frequency_rows_suppressed_by_reason": dict(
                sorted(frequencies.get("suppressed", {}).items())
            ),
        },
        "samples": [
            {
                "sample": s["sample"],
                "sex": s["sex"],
                "inferred_sex": s["inferred_sex"],
                "country": s["country"],
                "qc_status": s["qc_status"],
                "qc_reasons": reasons.get(s["sample"], []),
                "consent": list(s["consent"] or []),
            }
            for s in samples
        ],
        "consent": {"dataset": consents},
        "tools": tool_versions(),
        "parameters": dict(sorted(options.parameters.items())),
    }
    if options.input_checks:
        document["input_check"] = input_check_counts(options.input_checks)
    stamp = created()
    if stamp:
        document["created"] = stamp
    validate_metadata(document)
    return document


def write_metadata(export_dir: Path, options: MetadataOptions) -> str:
    document = build_metadata(export_dir, options)
    with atomic_output(options.out) as tmp:
        tmp.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    counts = document["counts"]
    return (
        f"wrote {options.out} ({counts['samples']} samples, {counts['variants']} variants, "
        f"{counts['genotype_rows']} genotype rows)"
    )
