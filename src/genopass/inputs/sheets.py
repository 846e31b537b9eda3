"""samples.tsv and units.tsv: read, validate against the schemas, check across rows and files.

Each row is validated against ``workflow/schemas/<sheet>.schema.yaml`` (the same files that the
Snakefile hands to ``snakemake.utils.validate``); the checks that one row cannot express (unique
IDs, units of known samples, one kind of input per sample) follow. Only the sheets are read: the
input files they name are checked by the plan (:mod:`genopass.inputs.plan`). Every error is an
InputError that names the file, the row as a user sees it (the header is row 1), the column, the bad
value and the fix.

The frames returned are indexed by that row number and keep the file's row order; empty cells are
missing values (NaN).
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd

from genopass.errors import InputError
from genopass.inputs.config import load_schema, validator

INPUT_COLUMNS = ("fq1", "bam", "cram", "vcf")
"""The columns of units.tsv of which exactly one names a unit's input."""

INPUT_KINDS = {"fq1": "fastq", "bam": "bam", "cram": "cram", "vcf": "vcf"}
"""The kind of input each input column names: a sample's units are all of one kind."""


@dataclass(frozen=True)
class Sheets:
    """Both sheets of a run, validated together."""

    samples: pd.DataFrame
    units: pd.DataFrame


def load_sheets(samples_path: Path | str, units_path: Path | str) -> Sheets:
    """Read and check samples.tsv and units.tsv, including the checks across the two."""
    samples = read_samples(samples_path)
    units = read_units(units_path, samples=samples)
    return Sheets(samples=samples, units=units)


def read_samples(path: Path | str) -> pd.DataFrame:
    """samples.tsv: one row per person-sample, validated; ``sample`` is unique."""
    frame = _read_sheet(path, "samples")
    _check_unique(frame, path, ["sample"], "give each sample one row (its inputs go in units.tsv)")
    return frame


def read_units(path: Path | str, samples: pd.DataFrame | None = None) -> pd.DataFrame:
    """units.tsv: one row per input of a sample, validated, with ``build`` defaulting to auto.

    With ``samples`` (as read by :func:`read_samples`), every unit must belong to a sample of it
    and every sample must have a unit. The files it names are not opened here
    (:func:`genopass.inputs.plan.check_input_files`).
    """
    frame = _read_sheet(path, "units")
    _check_unique(frame, path, ["sample", "unit"], "give each input of a sample its own unit ID")
    if samples is not None:
        _check_known_samples(frame, path, samples)
    _check_one_kind_per_sample(frame, path)
    _check_one_vcf_per_sample(frame, path)
    if samples is not None:
        _check_every_sample_has_a_unit(frame, path, samples)
    return frame


def input_kind(unit: Mapping[str, Any]) -> str:
    """The kind of a unit's input (``fastq``, ``bam``, ``cram`` or ``vcf``): the kind of the
    one input column that is filled (a row as :func:`read_units` returns it)."""
    return next(kind for column, kind in INPUT_KINDS.items() if pd.notna(unit.get(column)))


def vcf_column(unit: Mapping[str, Any]) -> str:
    """A VCF unit's sample column in its VCF: ``vcf_sample`` when given, else ``sample``."""
    name = unit.get("vcf_sample")
    return str(name) if isinstance(name, str) else str(unit["sample"])


# --- reading and schema validation --------------------------------------------------------------


def _read_sheet(path: Path | str, name: str) -> pd.DataFrame:
    """Read a TSV sheet and validate every row against the schema ``name``."""
    file = Path(path)
    if not file.is_file():
        raise InputError(
            f"{name} sheet {path} does not exist; give its path as '{name}:' in the config "
            f"(relative paths start from the working directory {Path.cwd()})"
        )
    header = _read_header(file)
    _check_header(header, path, name)
    try:
        frame = pd.read_csv(
            file,
            sep="\t",
            dtype=str,
            comment=None,
            keep_default_na=False,
            skip_blank_lines=False,
            quoting=csv.QUOTE_NONE,
            encoding="utf-8-sig",
        )
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot be read as a tab-separated sheet: {exc}") from None
    # Index = the row number a user sees in an editor or spreadsheet (header = row 1); blank rows
    # are dropped but keep counting.
    frame.index = pd.RangeIndex(2, len(frame) + 2, name="row")
    frame = frame.mask(frame == "")
    frame = frame.dropna(how="all")
    if frame.empty:
        raise InputError(f"{path}: has a header but no rows; add one row per {name[:-1]}")
    _validate_rows(frame, path, name)
    frame = _fill_defaults(frame, name)
    frame.attrs["path"] = str(path)
    return frame


def _read_header(file: Path) -> list[str]:
    with open(file, encoding="utf-8-sig", newline="") as handle:
        first = handle.readline()
    return first.rstrip("\r\n").split("\t") if first.strip() else []


def _check_header(header: list[str], path: Path | str, name: str) -> None:
    schema = load_schema(name)
    allowed = list(schema["properties"])
    where = f"{path} row 1 (header)"
    if not header:
        raise InputError(
            f"{where}: the file is empty; its first row names the columns, separated by tabs: "
            f"{', '.join(allowed)}"
        )
    seen: dict[str, int] = {}
    for number, column in enumerate(header, start=1):
        if column in seen:
            raise InputError(
                f"{where}, column {number}: {column!r} is already column {seen[column]}; "
                f"name each column once"
            )
        seen[column] = number
        if column not in allowed:
            hint = (
                "an empty column name (a stray tab?)"
                if not column.strip()
                else "an unknown column; check the spelling"
            )
            raise InputError(
                f"{where}, column {number}: {column!r} is {hint} "
                f"(allowed columns: {', '.join(allowed)})"
            )
    missing = [column for column in schema.get("required", []) if column not in seen]
    if missing:
        raise InputError(
            f"{where}: column {missing[0]!r} is missing; the sheet needs the columns "
            f"{', '.join(schema['required'])} (tab-separated)"
        )


def records(frame: pd.DataFrame) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, {column: value}) of a sheet with the empty cells left out (as the schema
    expects them)."""
    for row, values in zip(frame.index, frame.to_dict("records"), strict=True):
        yield int(row), {key: value for key, value in values.items() if pd.notna(value)}


def _validate_rows(frame: pd.DataFrame, path: Path | str, name: str) -> None:
    check = validator(name)
    order = {column: number for number, column in enumerate(frame.columns)}
    for row, record in records(frame):
        errors = list(check.iter_errors(record))
        if errors:
            error = _first_in_column_order(errors, order, record)
            raise InputError(f"{path} row {row}, {_describe_row_error(error, record)}")


def _first_in_column_order(
    errors: list[jsonschema.ValidationError], order: dict[str, int], record: dict[str, str]
) -> jsonschema.ValidationError:
    """The error about the leftmost column, so that a user fixes a row from left to right."""
    return min(errors, key=lambda error: order.get(_error_column(error, record) or "", len(order)))


def _error_column(error: jsonschema.ValidationError, record: dict[str, str]) -> str | None:
    if error.absolute_path:
        return str(error.absolute_path[0])
    if error.validator == "required":
        return next((name for name in error.validator_value if name not in record), None)
    if error.validator == "dependentRequired":
        return next((name for name in error.validator_value if name in record), None)
    return None


def _describe_row_error(error: jsonschema.ValidationError, record: dict[str, str]) -> str:
    """``column X: 'value' ...; fix`` for one schema error of one row."""
    properties: dict[str, Any] = error.schema.get("properties", {})
    if error.absolute_path:
        column = str(error.absolute_path[0])
        description = error.schema.get("description", error.message)
        return f"column {column}: {error.instance!r} is not valid; expected {description}"
    if error.validator == "required":
        column = next(name for name in error.validator_value if name not in record)
        description = properties[column]["description"]
        return f"column {column}: the cell is empty; fill in {description}"
    if error.validator == "dependentRequired":
        for column, needed in error.validator_value.items():
            absent = [name for name in needed if name not in record]
            if column in record and absent:
                return (
                    f"column {column}: {record[column]!r} is given without {absent[0]}; "
                    f"{column} only goes with {absent[0]}: fill in {absent[0]} or empty {column}"
                )
    if error.validator == "oneOf":
        given = [column for column in INPUT_COLUMNS if column in record]
        if not given:
            return (
                f"columns {', '.join(INPUT_COLUMNS)}: all empty; give the unit's input in one "
                f"of them (fq1 with an optional fq2, bam, cram or vcf)"
            )
        values = " and ".join(f"{column}={record[column]!r}" for column in given)
        return (
            f"columns {' and '.join(given)}: {values} are both given; a unit has exactly one "
            f"input (fq1 with an optional fq2, bam, cram or vcf): put each in its own row with "
            f"its own unit ID"
        )
    return error.message


def _fill_defaults(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    for column, schema in load_schema(name)["properties"].items():
        if "default" in schema:
            if column in frame:
                frame[column] = frame[column].fillna(schema["default"])
            else:
                frame[column] = schema["default"]
    return frame


# --- checks across rows and files ---------------------------------------------------------------


def _check_unique(frame: pd.DataFrame, path: Path | str, columns: list[str], fix: str) -> None:
    repeated = frame.duplicated(subset=columns, keep="first")
    if not repeated.any():
        return
    row = repeated.idxmax()
    key = tuple(frame.loc[row, columns])
    same = pd.concat(
        [frame[column] == value for column, value in zip(columns, key, strict=True)], axis=1
    ).all(axis=1)
    first_row = same.idxmax()
    plural = "s" if len(columns) > 1 else ""
    raise InputError(
        f"{path} row {row}, column{plural} {' and '.join(columns)}: {'/'.join(key)!r} is "
        f"already in row {first_row}; {fix}"
    )


def _check_known_samples(units: pd.DataFrame, path: Path | str, samples: pd.DataFrame) -> None:
    samples_path = samples.attrs.get("path", "samples.tsv")
    known = set(samples["sample"])
    for row, sample in units["sample"].items():
        if sample not in known:
            raise InputError(
                f"{path} row {row}, column sample: {sample!r} is not a sample of "
                f"{samples_path}; add it there or correct the spelling"
            )


def _check_every_sample_has_a_unit(
    units: pd.DataFrame, path: Path | str, samples: pd.DataFrame
) -> None:
    samples_path = samples.attrs.get("path", "samples.tsv")
    with_units = set(units["sample"])
    for row, sample in samples["sample"].items():
        if sample not in with_units:
            raise InputError(
                f"{samples_path} row {row}, column sample: {sample!r} has no unit in {path}; "
                f"add a row for its input there, or remove the sample"
            )


def _check_one_kind_per_sample(units: pd.DataFrame, path: Path | str) -> None:
    """A sample's units are all FASTQ (several are merged), or one BAM, one CRAM or one VCF."""
    first: dict[str, tuple[int, str]] = {}
    for row, unit in zip(units.index, units.to_dict("records"), strict=True):
        kind = input_kind(unit)
        if unit["sample"] not in first:
            first[unit["sample"]] = (int(row), kind)
            continue
        other_row, other_kind = first[unit["sample"]]
        if kind != other_kind:
            raise InputError(
                f"{path} row {row}, column sample: {unit['sample']!r} already has a "
                f"{other_kind.upper()} unit in row {other_row}, and this unit is "
                f"{kind.upper()}; give each sample its inputs of one kind (FASTQ units, or one "
                f"BAM, CRAM or VCF): keep one of the rows"
            )
        if kind in ("bam", "cram"):
            raise InputError(
                f"{path} row {row}, column {kind}: {unit['sample']!r} already has a "
                f"{kind.upper()} unit in row {other_row}; only one alignment file per sample is "
                f"supported: merge them first (samtools merge) or give the reads as FASTQ units"
            )


def _check_one_vcf_per_sample(units: pd.DataFrame, path: Path | str) -> None:
    if "vcf" not in units:
        return
    vcf_units = units[units["vcf"].notna()]
    first_row: dict[str, int] = {}
    for row, sample in vcf_units["sample"].items():
        if sample in first_row:
            raise InputError(
                f"{path} row {row}, column sample: {sample!r} already has a VCF unit in row "
                f"{first_row[sample]}; only one VCF per sample is supported for now: merge the "
                f"files (bcftools concat) or keep one of the rows"
            )
        first_row[sample] = int(row)
    claimed: dict[tuple[Path, str], tuple[int, str]] = {}
    for row, unit in zip(vcf_units.index, vcf_units.to_dict("records"), strict=True):
        key = (Path(unit["vcf"]).resolve(), vcf_column(unit))
        if key in claimed:
            other_row, other = claimed[key]
            column = "vcf_sample" if "vcf_sample" in unit else "sample"
            raise InputError(
                f"{path} row {row}, column {column}: column {key[1]!r} of {unit['vcf']} is "
                f"already the VCF column of sample {other!r} in row {other_row}; each VCF "
                f"column holds one sample: correct vcf_sample"
            )
        claimed[key] = (int(row), unit["sample"])
