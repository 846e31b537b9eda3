"""An export folder against its contract: manifest, metadata, Parquet schemas, counts, VCFs."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq

from genopass.errors import InputError
from genopass.export.manifest import COLUMNS, checksum_file, listed_files
from genopass.export.metadata import validate_metadata
from genopass.export.parquet import GENOTYPES_SCHEMA, VARIANT_FIXED
from genopass.validate.report import Report
from genopass.validate.vcf import check_export_vcf, check_input_vcf

MANIFEST = "MANIFEST.tsv"
# Written after the manifest (it lists the manifest's own checksum): never in it.
AFTER_MANIFEST = frozenset({"SHA256SUMS"})
METADATA = "metadata.json"
VARIANT_COLUMNS = ("chrom", "pos", "ref", "alt", "variant_key", "id", "qual", "filter")


def is_export_folder(path: Path) -> bool:
    return (path / MANIFEST).is_file()


def check_manifest(folder: Path, report: Report) -> None:
    """Every entry present with its size and checksums, nothing unlisted."""
    manifest = folder / MANIFEST
    lines = manifest.read_text(encoding="utf-8").splitlines()
    if not lines or tuple(lines[0].split("\t")[:4]) != COLUMNS:
        report.error(manifest, "manifest_header", f"the first line is not {' '.join(COLUMNS)}")
        return
    listed: set[str] = set()
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        relative, size, sha256, md5 = (fields + ["", "", "", ""])[:4]
        listed.add(relative)
        path = folder / relative
        if not path.is_file():
            report.error(
                manifest, "manifest_missing_file", f"{relative} is listed but absent", line=number
            )
            continue
        entry = checksum_file(path, relative)
        if str(entry.size) != size:
            report.error(
                manifest,
                "manifest_size",
                f"{relative} has {entry.size} bytes, the manifest says {size}",
                line=number,
            )
        elif entry.sha256 != sha256 or entry.md5 != md5:
            report.error(
                manifest,
                "manifest_checksum",
                f"{relative}: SHA-256/MD5 differ from "
                f"the manifest (the file changed or was damaged in transfer)",
                line=number,
            )
    for _path, relative in listed_files(folder, exclude=manifest):
        if relative not in listed and relative not in AFTER_MANIFEST:
            report.error(manifest, "manifest_unlisted_file", f"{relative} is not in the manifest")


def check_metadata(folder: Path, report: Report) -> dict | None:
    path = folder / METADATA
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        validate_metadata(document, str(path))
    except (ValueError, InputError) as exc:
        report.error(path, "metadata_invalid", str(exc))
        return None
    return document


def parquet_files(folder: Path, table: str) -> list[Path]:
    return sorted((folder / "parquet" / table).glob("chrom=*/*.parquet"))


def check_parquet(folder: Path, report: Report) -> dict[str, int]:
    """Schemas as docs/output.md gives them; returns rows per table."""
    rows = {"variants": 0, "genotypes": 0}
    fixed = {c.name: c.csv_type for c in VARIANT_FIXED}
    for table in rows:
        for path in parquet_files(folder, table):
            try:
                meta = pq.ParquetFile(path)
            except Exception as exc:  # noqa: BLE001 (pyarrow raises several kinds on damage)
                report.error(path, "parquet_unreadable", f"not a readable Parquet file ({exc})")
                continue
            schema = meta.schema_arrow
            rows[table] += meta.metadata.num_rows
            if table == "genotypes":
                names = [f.name for f in GENOTYPES_SCHEMA]
                wrong = [
                    n
                    for n in names
                    if n not in schema.names
                    or not schema.field(n).type.equals(GENOTYPES_SCHEMA.field(n).type)
                    and n != "chrom"
                ]
            else:
                wrong = [n for n in VARIANT_COLUMNS if n not in schema.names]
                wrong += [
                    n
                    for n, t in fixed.items()
                    if n in schema.names and not schema.field(n).type.equals(t)
                ]
            if wrong:
                report.error(
                    path,
                    "parquet_schema",
                    f"columns {', '.join(wrong)} missing or "
                    f"not of the documented type (docs/output.md)",
                )
    return rows


def check_counts(folder: Path, metadata: dict, rows: dict[str, int], report: Report) -> None:
    counts = metadata.get("counts", {})
    path = folder / METADATA
    for key, table in (("variants", "variants"), ("genotype_rows", "genotypes")):
        if key in counts and counts[key] != rows[table]:
            report.error(
                path,
                "metadata_count",
                f"counts.{key} is {counts[key]} but the "
                f"{table} Parquet files hold {rows[table]} rows",
            )
    samples = counts.get("samples")
    vcfs = [p for p in (folder / "vcf").glob("*.vcf.gz") if p.name != "cohort.vcf.gz"]
    if samples is not None and vcfs and samples != len(vcfs):
        report.error(
            path,
            "metadata_count",
            f"counts.samples is {samples} but vcf/ holds {len(vcfs)} sample VCFs",
        )


def check_export_folder(folder: Path, report: Report, fasta: Path | None) -> None:
    report.files.append(str(folder))
    check_manifest(folder, report)
    metadata = check_metadata(folder, report)
    rows = check_parquet(folder, report)
    if metadata is not None:
        check_counts(folder, metadata, rows, report)
    info_keep = (
        tuple((metadata or {}).get("parameters", {}).get("info_keep", "").split(","))
        if isinstance((metadata or {}).get("parameters", {}).get("info_keep"), str)
        else ()
    )
    for vcf in sorted((folder / "vcf").glob("*.vcf.gz")):
        report.files.append(str(vcf))
        if check_input_vcf(vcf, report):
            check_export_vcf(vcf, report, fasta, tuple(k for k in info_keep if k))
