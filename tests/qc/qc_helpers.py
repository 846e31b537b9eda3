"""Helpers of the QC tests: running commands, writing small VCFs."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pysam

REPO = Path(__file__).resolve().parents[2]
GENOPASS = [sys.executable, "-m", "genopass.cli"]


def run(args: list[str], **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        list(map(str, args)), check=True, capture_output=True, text=True, **kwargs
    )


def write_vcf(path: Path, header: list[str], rows: list[str]) -> Path:
    """Write a VCF (tab-joined rows) bgzipped and indexed; return the .vcf.gz path."""
    plain = path.with_suffix("") if path.suffix == ".gz" else path
    plain.write_text("\n".join(header + rows) + "\n")
    pysam.tabix_index(str(plain), preset="vcf", force=True)
    return Path(f"{plain}.gz")


def bcftools_count(*args: str) -> int:
    out = run(["bcftools", "view", "-H", *args]).stdout
    return len(out.splitlines())
