"""The GenomicDataInfrastructure validation-framework contract (validator-specification.md of
github.com/GenomicDataInfrastructure/validation-framework).

Reads ``<input>/input.json`` (exactly one of ``files`` or ``paths``), checks the data under
``<input>/data`` and writes ``<output>/result.json``: ``result`` passed/failed, per-file
``messages`` with levels info/warning/error, job-level ``messages``; no other keys. The roots
default to /mnt/input and /mnt/output and are overridden by GENOPASS_GDI_INPUT and
GENOPASS_GDI_OUTPUT (or the CLI's options) for tests.
"""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from typing import Any

from genopass import __version__
from genopass.errors import GenopassError
from genopass.validate import validate_paths
from genopass.validate.report import ERROR

INPUT_ROOT = Path(os.environ.get("GENOPASS_GDI_INPUT", "/mnt/input"))
OUTPUT_ROOT = Path(os.environ.get("GENOPASS_GDI_OUTPUT", "/mnt/output"))

DESCRIPTION = {
    "validatorId": "genopass-validate",
    "name": "genopass validate",
    "description": "Checks VCF/gVCF files (VCF 4.1-4.4 syntax and semantics, the genopass input "
    "check) and genopass export folders (GRCh38 contigs, biallelic, normalised, pseudonymised "
    "samples, INFO allow-list, MANIFEST.tsv checksums, metadata.json, Parquet schemas).",
    "version": __version__,
    "mode": "file",
    "pathSpecification": ["**/*.vcf.gz", "**/*.bcf", "**/MANIFEST.tsv"],
}


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _message(level: str, text: str) -> dict[str, str]:
    return {"level": level, "time": _now(), "message": text}


def run_contract(input_root: Path | None = None, output_root: Path | None = None) -> int:
    """Run the contract; 0 when the result is passed, 1 when failed (result.json written)."""
    input_root = Path(input_root or INPUT_ROOT)
    output_root = Path(output_root or OUTPUT_ROOT)
    result: dict[str, Any] = {"result": "failed", "files": [], "messages": []}
    try:
        request = json.loads((input_root / "input.json").read_text(encoding="utf-8"))
        if not isinstance(request, dict) or ("files" in request) == ("paths" in request):
            raise ValueError("input.json must hold exactly one of 'files' and 'paths'")
        if "files" in request:
            paths = [Path(item["path"]) for item in request["files"]]
        else:
            paths = [Path(p) for p in request["paths"]]
        data = input_root / "data"
        # the paths name the container's /mnt/input/data; read them under our data root
        paths = [
            data / p.relative_to("/mnt/input/data") if p.is_relative_to("/mnt/input/data") else p
            for p in paths
        ]
        passed = True
        for path in paths:
            report = validate_paths([path])
            messages = [_message(p.level, p.text()) for p in report.shown]
            messages += [
                _message(level, f"{kind}: {n} in all")
                for (level, kind), n in sorted(report.counts.items())
                if n > sum(1 for p in report.shown if (p.level, p.kind) == (level, kind))
            ]
            ok = report.valid
            passed &= ok
            result["files"].append(
                {"path": str(path), "result": "passed" if ok else "failed", "messages": messages}
            )
        result["result"] = "passed" if passed else "failed"
    except (OSError, ValueError, KeyError, TypeError, GenopassError) as exc:
        result["messages"].append(_message(ERROR, f"cannot run: {exc}"))
    output_root.mkdir(parents=True, exist_ok=True)
    (output_root / "result.json").write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["result"] == "passed" else 1
