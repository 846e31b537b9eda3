"""samples.tsv and units.tsv: read, validate against the schemas, check across rows and files.

Each row is validated against ``workflow/schemas/<sheet>.schema.yaml`` (the same files that the
Snakefile hands to ``snakemake.utils.validate``); the checks that one row cannot express (unique
IDs, units of known samples, input files that exist and hold the sample) follow. Every error is an
InputError that names the file, the row as a user sees it (the header is row 1), the column, the bad
value and the fix.

The frames returned are indexed by that row number and keep the file's row order; empty cells are
missing values (NaN).
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jsonschema
import pandas as pd

from genopass.errors import InputError
from genopass.inputs.config import load_schema, validator
from genopass.io import check_bgzf_complete

INPUT_COLUMNS = ("fq1", "bam", "cram", "vcf")
"""The columns of units.tsv of which exactly one names a unit's input."""

INPUT_KINDS = {"fq1": "fastq", "bam": "bam", "cram": "cram", "vcf": "vcf"}
"""The kind of input each input column names: a sample's units are all of one kind."""

SHOWN_VCF_SAMPLES = 5
"""How many of a VCF's samples an error message lists."""


@dataclass(frozen=True)
class Sheets:
    """Both sheets of a run, validated together."""

    samples: pd.DataFrame
    units: pd.DataFrame


def load_sheets(
    samples_path: Path | str, units_path: Path | str, check_files: bool = True
) -> Sheets:
    """Read and check samples.tsv and units.tsv, including the checks across the two."""
    samples = read_samples(samples_path)
    units = read_units(units_path, samples=samples, check_files=check_files)
    return Sheets(samples=samples, units=units)


def read_samples(path: Path | str) -> pd.DataFrame:
    """samples.tsv: one row per person-sample, validated; ``sample`` is unique."""
    frame = _read_sheet(path, "samples")
    _check_unique(frame, path, ["sample"], "give each sample one row (its inputs go in units.tsv)")
    return frame


def read_units(
    path: Path | str, samples: pd.DataFrame | None = None, check_files: bool = True
) -> pd.DataFrame:
    """units.tsv: one row per input of a sample, validated, with ``build`` defaulting to auto.

    With ``samples`` (as read by :func:`read_samples`), every unit must belong to a sample of it
    and every sample must have a unit. With ``check_files``, every input file must exist and
    every VCF must be complete and hold the sample's column.
    """
    frame = _read_sheet(path, "units")
    _check_unique(frame, path, ["sample", "unit"], "give each input of a sample its own unit ID")
    if samples is not None:
        _check_known_samples(frame, path, samples)
    _check_one_kind_per_sample(frame, path)
    _check_one_vcf_per_sample(frame, path)
    if samples is not None:
        _check_every_sample_has_a_unit(frame, path, samples)
    if check_files:
        _check_files_exist(frame, path)
        _check_fastqs(frame, path)
        _check_vcfs(frame, path)
    return frame


def vcf_inputs(units: pd.DataFrame) -> pd.DataFrame:
    """One row per sample that has a VCF unit, in sheet order.

    Columns ``sample``, ``unit``, ``vcf``, ``vcf_sample`` (the sample's column name in the VCF:
    the sheet's ``vcf_sample``, or else ``sample``) and ``build``.
    """
    columns = ["sample", "unit", "vcf", "vcf_sample", "build"]
    if "vcf" not in units:
        return pd.DataFrame(columns=columns, dtype=str)
    records = units[units["vcf"].notna()].to_dict("records")
    table = pd.DataFrame(
        [{**record, "vcf_sample": _vcf_column(record)} for record in records],
        columns=columns,
        dtype=str,
    )
    return table


def input_kinds(units: pd.DataFrame) -> dict[str, str]:
    """sample -> the kind of its inputs: ``fastq``, ``bam``, ``cram`` or ``vcf``."""
    return {unit["sample"]: _input_kind(unit) for unit in units.to_dict("records")}


def fastq_units(units: pd.DataFrame) -> pd.DataFrame:
    """One row per FASTQ unit, in sheet order: ``sample``, ``unit``, ``fq1``, ``fq2`` (or NaN)."""
    columns = ["sample", "unit", "fq1", "fq2"]
    if "fq1" not in units:
        return pd.DataFrame(columns=columns, dtype=str)
    table = units[units["fq1"].notna()].reindex(columns=columns)
    return table.reset_index(drop=True)


def alignment_inputs(units: pd.DataFrame) -> pd.DataFrame:
    """One row per sample with a BAM or CRAM unit: ``sample``, ``unit``, ``alignment``, ``format``
    (``bam`` or ``cram``)."""
    rows = []
    for unit in units.to_dict("records"):
        kind = _input_kind(unit)
        if kind in ("bam", "cram"):
            rows.append([unit["sample"], unit["unit"], unit[kind], kind])
    return pd.DataFrame(rows, columns=["sample", "unit", "alignment", "format"], dtype=str)


def alignment_builds(
    units: pd.DataFrame,
    *,
    target_fasta: Path | str,
    target_name: str,
    grch37_fasta: Path | str | None,
) -> dict[str, str]:
    """sample -> the build each BAM/CRAM sample is called on: ``GRCh37`` or ``target_name``.

    A GRCh37 alignment (declared, or ``auto`` with GRCh37 @SQ lengths) is called on the GRCh37
    FASTA ``grch37_fasta`` (the config's liftover) and lifted over by harmonisation; without that
    FASTA it is an error naming the row.
    """
    from genopass.inputs.alignments import alignment_build

    path = units.attrs.get("path", "units.tsv")
    builds: dict[str, str] = {}
    for row, unit in zip(units.index, units.to_dict("records"), strict=True):
        kind = _input_kind(unit)
        if kind not in ("bam", "cram"):
            continue
        declared = str(unit.get("build", "auto"))
        build = alignment_build(
            unit[kind],
            declared,
            target_fasta=target_fasta,
            target_name=target_name,
            grch37_fasta=grch37_fasta,
        )
        if build == "GRCh37" and grch37_fasta is None:
            how = "is declared GRCh37" if declared == "GRCh37" else "has GRCh37 contig lengths"
            raise InputError(
                f"{path} row {row}, column build: {kind.upper()} {unit[kind]!r} {how}; its "
                f"calls are made on GRCh37 and lifted over to the target, which needs the "
                f"GRCh37 FASTA and chain: add 'liftover: {{GRCh37: {{fasta: ..., chain: ...}}}}' "
                f"to the config (or give the reads as FASTQ units to align them to the target)"
            )
        builds[unit["sample"]] = build
    return builds


def check_vcf_builds(units: pd.DataFrame, *, target_name: str, liftover: Iterable[str]) -> None:
    """Every VCF unit declared on a build other than the target has a liftover from it.

    ``liftover`` holds the builds the config's ``liftover`` block covers. A VCF declared GRCh37
    without one is an error naming the row, raised when the sheets load, before any job runs
    (the harmonisation would refuse it the same way, inside its job). ``auto`` VCFs are left to
    the harmonisation's build detection.
    """
    path = units.attrs.get("path", "units.tsv")
    covered = {target_name, *liftover}
    for row, unit in zip(units.index, units.to_dict("records"), strict=True):
        build = unit.get("build", "auto")
        if _input_kind(unit) == "vcf" and build != "auto" and build not in covered:
            raise InputError(
                f"{path} row {row}, column build: VCF {unit['vcf']!r} is declared {build}, but "
                f"the config has no liftover from {build} to the target {target_name}: add "
                f"'liftover: {{{build}: {{fasta: ..., chain: ...}}}}' to the config (the {build} "
                f"FASTA and the chain to the target), or correct the build if the VCF is on "
                f"{target_name}"
            )


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


def _records(frame: pd.DataFrame) -> Iterator[tuple[int, dict[str, str]]]:
    """(row number, {column: value}) with the missing cells left out, as the schema expects."""
    for row, values in zip(frame.index, frame.to_dict("records"), strict=True):
        yield int(row), {key: value for key, value in values.items() if pd.notna(value)}


def _validate_rows(frame: pd.DataFrame, path: Path | str, name: str) -> None:
    check = validator(name)
    order = {column: number for number, column in enumerate(frame.columns)}
    for row, record in _records(frame):
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


def _input_kind(unit: dict[str, Any]) -> str:
    return next(kind for column, kind in INPUT_KINDS.items() if pd.notna(unit.get(column)))


def _check_one_kind_per_sample(units: pd.DataFrame, path: Path | str) -> None:
    """A sample's units are all FASTQ (several are merged), or one BAM, one CRAM or one VCF."""
    first: dict[str, tuple[int, str]] = {}
    for row, unit in zip(units.index, units.to_dict("records"), strict=True):
        kind = _input_kind(unit)
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


def _check_fastqs(units: pd.DataFrame, path: Path | str) -> None:
    """Cheap checks of FASTQ files; the rule check_fastq reads them whole before alignment."""
    from genopass.inputs.fastq import check_fastq_quick

    for row, unit in zip(units.index, units.to_dict("records"), strict=True):
        if _input_kind(unit) != "fastq":
            continue
        fq2 = unit.get("fq2")
        if pd.notna(fq2) and Path(fq2).resolve() == Path(unit["fq1"]).resolve():
            raise InputError(
                f"{path} row {row}, column fq2: {fq2!r} is also the unit's fq1; give the file "
                f"of read 2, or leave fq2 empty for single-end reads"
            )
        for column in ("fq1", "fq2"):
            value = unit.get(column)
            if pd.isna(value):
                continue
            try:
                check_fastq_quick(value)
            except InputError as exc:
                raise InputError(f"{path} row {row}, column {column}: {exc}") from None


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
        key = (Path(unit["vcf"]).resolve(), _vcf_column(unit))
        if key in claimed:
            other_row, other = claimed[key]
            column = "vcf_sample" if "vcf_sample" in unit else "sample"
            raise InputError(
                f"{path} row {row}, column {column}: column {key[1]!r} of {unit['vcf']} is "
                f"already the VCF column of sample {other!r} in row {other_row}; each VCF "
                f"column holds one sample: correct vcf_sample"
            )
        claimed[key] = (int(row), unit["sample"])


def _check_files_exist(units: pd.DataFrame, path: Path | str) -> None:
    columns = [column for column in (*INPUT_COLUMNS, "fq2") if column in units]
    for row, unit in zip(units.index, units[columns].to_dict("records"), strict=True):
        for column in columns:
            value = unit[column]
            if pd.notna(value) and not Path(value).is_file():
                raise InputError(
                    f"{path} row {row}, column {column}: file {value!r} does not exist "
                    f"(relative paths start from the working directory {Path.cwd()}); "
                    f"correct the path"
                )


def _check_vcfs(units: pd.DataFrame, path: Path | str) -> None:
    """Each VCF is complete BGZF and has the sample's column (each file is read once)."""
    if "vcf" not in units:
        return
    headers: dict[Path, list[str]] = {}
    for row, unit in zip(units.index, units.to_dict("records"), strict=True):
        vcf = unit["vcf"]
        if pd.isna(vcf):
            continue
        resolved = Path(vcf).resolve()
        if resolved not in headers:
            headers[resolved] = _vcf_samples(vcf, f"{path} row {row}, column vcf")
        names = headers[resolved]
        wanted = _vcf_column(unit)
        if wanted in names:
            continue
        column = "vcf_sample" if pd.notna(unit.get("vcf_sample")) else "sample"
        if not names:
            raise InputError(
                f"{path} row {row}, column vcf: {vcf} has no sample columns (a sites-only VCF); "
                f"give a VCF with the genotypes of sample {unit['sample']!r}"
            )
        fix = (
            "correct vcf_sample"
            if column == "vcf_sample"
            else "if the file names the sample differently, give that name in a vcf_sample column"
        )
        raise InputError(
            f"{path} row {row}, column {column}: sample {wanted!r} is not in the header of "
            f"{vcf}, which has {_list_samples(names)}; {fix}"
        )


def _vcf_samples(vcf: str, where: str) -> list[str]:
    """The sample names in a VCF/BCF header, after checking that the file is complete."""
    try:
        check_bgzf_complete(vcf)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    import pysam

    # Quiet htslib: it would warn on stderr that the file has no index, which is not needed here.
    verbosity = pysam.set_verbosity(0)
    try:
        with pysam.VariantFile(vcf) as handle:
            return list(handle.header.samples)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{where}: {vcf} cannot be read as VCF or BCF ({exc}); check that it is a bgzipped "
            f"VCF with a complete header"
        ) from None
    finally:
        pysam.set_verbosity(verbosity)


def _list_samples(names: Iterable[str]) -> str:
    names = list(names)
    shown = ", ".join(repr(name) for name in names[:SHOWN_VCF_SAMPLES])
    more = f" and {len(names) - SHOWN_VCF_SAMPLES} more" if len(names) > SHOWN_VCF_SAMPLES else ""
    return f"{len(names)} sample{'s' if len(names) != 1 else ''}: {shown}{more}"


def _vcf_column(unit: dict[str, Any]) -> str:
    """The unit's sample column in its VCF: ``vcf_sample`` when given, else ``sample``."""
    name = unit.get("vcf_sample")
    return str(name) if isinstance(name, str) else str(unit["sample"])
