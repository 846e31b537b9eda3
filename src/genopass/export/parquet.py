"""VCF -> Parquet export: a variants table and a long genotypes table, one folder per contig.

bcftools parses the VCF and prints tab-separated text (``bcftools query``); pyarrow's streaming
CSV reader converts that text into typed record batches that are written straight to Parquet.
Python never loops over records, so the cost stays close to what bcftools needs to read the file,
and memory stays bounded by a few batches per running job.

Layout (DESIGN.md, "Export")::

    OUT/variants/chrom=<chrom>/part-0.parquet
    OUT/genotypes/chrom=<chrom>/part-0.parquet
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import shutil
import tempfile
from array import array
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_EXCEPTION, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import IO
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from genopass import __version__
from genopass.errors import InputError, UsageError
from genopass.export.vcf import check_info_keep
from genopass.inputs.reference import contig_md5s
from genopass.io import atomic_directory, check_bgzf_complete
from genopass.tools import (
    Cancel,
    Cancelled,
    PipelineError,
    PythonStage,
    command_name,
    run,
    run_tool,
)

log = logging.getLogger(__name__)

SOURCE = "genopass parquet"
BCFTOOLS = "bcftools"

# Text handed to the CSV reader per block. The reader parses blocks on pyarrow's thread pool, a
# few in flight per job; 1 MiB costs no more CPU than larger blocks and keeps memory low
# (measured on 1M records: 4 and 16 MiB used 25-50% more peak memory for the same time).
BLOCK_SIZE = 1 << 20
# Row groups: up to 1M rows, but the batches of an unwritten row group are held in memory, so
# their Arrow bytes are capped too (~290k genotype rows, ~100k rows of a wide variants table).
# 32 and 48 MiB raised peak memory by 40-90 MB at 2 threads and ~90 MB at 8. Fixed, not derived
# from --threads: the files must not depend on the thread count.
ROW_GROUP_ROWS = 1_000_000
ROW_GROUP_BYTES = 16 << 20

# Symbolic ALT alleles (<DEL>, <NON_REF>, <*>, ...) are no sequence: their records are left out
# of both tables rather than written as if REF/ALT were bases. (The "*" overlap allele stays: it
# is VCF's own marker of an upstream deletion, which readers of the tables know.)
SYMBOLIC_ALT = 'ALT~"^<"'
SEQUENCE_ALT = ("-e", SYMBOLIC_ALT)
GENOTYPES_FILTER = '(GT="alt" | GT="mis") && ALT!~"^<"'  # hom-ref calls are implied
# Up to this many samples one bcftools pass prints site and sample fields together and pyarrow
# drops the hom-ref calls; beyond it a variants pass and a per-sample filtered genotypes pass run
# side by side. Measured: 1 sample, one pass 30% faster; 10 samples, two passes 30% faster.
COMBINED_MAX_SAMPLES = 1
N_SAMPLE_FIELDS = 5  # GT DP GQ AD{0} AD{1}


@dataclass(frozen=True)
class ParquetOptions:
    """What ``genopass parquet`` was asked to do."""

    out: Path
    reference: Path | None = None
    reference_name: str = "GRCh38"
    info_keep: tuple[str, ...] = ()  # INFO fields beside AC, AN, AF (export.info_keep)
    threads: int = 1
    contigs: tuple[str, ...] = ()  # only these contigs (a scatter by contig); () every one


@dataclass(frozen=True)
class FieldDef:
    """One ``##INFO`` or ``##FORMAT`` definition (only what the export needs)."""

    name: str
    number: str
    type: str


@dataclass(frozen=True)
class VcfHeader:
    """The parts of a VCF header that shape the tables."""

    info: tuple[FieldDef, ...]
    format: dict[str, FieldDef]
    samples: tuple[str, ...]


@dataclass(frozen=True)
class Column:
    """A column as bcftools prints it (``token``) and as the CSV reader types it."""

    name: str
    token: str
    csv_type: pa.DataType


@dataclass(frozen=True)
class Source:
    """Harmonised input VCF(s); several are merged on the fly so each variant appears once."""

    paths: tuple[Path, ...]

    @property
    def label(self) -> str:
        return ", ".join(str(p) for p in self.paths)

    def pipeline(self, regions: Path, query_args: Sequence[str]) -> list[list[str]]:
        """Commands whose last stdout is the query text of one contig (a regions file)."""
        # bcftools query prints through stdio, which flushes a pipe every 4 KiB: stdbuf makes
        # that 1 MiB (measured: -0.15 s of system time per million lines, on each side).
        query = [*_STDBUF, BCFTOOLS, "query", *query_args]
        if len(self.paths) == 1:
            return [[*query, "-R", str(regions), str(self.paths[0])]]
        # Uncompressed BCF between the two processes: no text round trip, no compression.
        merge = [BCFTOOLS, "merge", "-m", "none", "--missing-to-ref", "--no-version",
                 "-R", str(regions), "-Ou", *(str(p) for p in self.paths)]  # fmt: skip
        return [merge, [*query, "-"]]


_STDBUF = ("stdbuf", "-o", "1M") if shutil.which("stdbuf") else ()
MAX_POS = 2**31 - 1


def regions_file(folder: Path, contig: str, start: int = 1, end: int = MAX_POS) -> Path:
    """A bcftools -R file for one region. Region strings (-r) cannot name contigs that contain
    ':' (HLA-A*01:01:01:01 in GRCh38 analysis sets); a file can."""
    path = Path(tempfile.mkstemp(prefix="region-", suffix=".tsv", dir=folder)[1])
    path.write_text(f"{contig}\t{start}\t{end}\n")
    return path


# ---------------------------------------------------------------------------------------------
# Header


def parse_header(text: str) -> VcfHeader:
    """Read INFO/FORMAT definitions and sample names from VCF header text."""
    info: dict[str, FieldDef] = {}
    fmt: dict[str, FieldDef] = {}
    samples: tuple[str, ...] = ()
    for line in text.splitlines():
        if line.startswith("##INFO=<") or line.startswith("##FORMAT=<"):
            attrs = _structured_attrs(line[line.index("<") + 1 : line.rindex(">")])
            if "ID" not in attrs:
                continue
            field = FieldDef(attrs["ID"], attrs.get("Number", "."), attrs.get("Type", "String"))
            # First definition wins, as in bcftools.
            (info if line.startswith("##INFO") else fmt).setdefault(field.name, field)
        elif line.startswith("#CHROM"):
            samples = tuple(line.split("\t")[9:])
    return VcfHeader(info=tuple(info.values()), format=fmt, samples=samples)


def _structured_attrs(body: str) -> dict[str, str]:
    """``ID=X,Number=1,Description="a, b"`` -> dict; quoted values may hold commas."""
    attrs: dict[str, str] = {}
    i, n = 0, len(body)
    while i < n:
        eq = body.find("=", i)
        if eq < 0:
            break
        key = body[i:eq].strip()
        j = eq + 1
        if j < n and body[j] == '"':
            k = j + 1
            while k < n and body[k] != '"':
                k += 2 if body[k] == "\\" else 1
            value, i = body[j + 1 : k], body.find(",", k + 1)
        else:
            k = body.find(",", j)
            value, i = body[j : n if k < 0 else k], k
        attrs.setdefault(key, value)
        if i < 0:
            break
        i += 1
    return attrs


def info_column(field: FieldDef) -> Column:
    """Typed column of one INFO field (DESIGN.md: Integer/Float with Number 1 or A, Flag)."""
    token = f"%INFO/{field.name}"
    if field.type == "Flag":
        arrow_type: pa.DataType = pa.bool_()
    elif field.type == "Integer" and field.number in ("1", "A"):
        arrow_type = pa.int32()
    elif field.type == "Float" and field.number in ("1", "A"):
        arrow_type = pa.float32()
    else:
        arrow_type = pa.string()  # as written in the VCF, lists stay comma-separated
    return Column(f"info_{field.name}", token, arrow_type)


# The variants table's INFO columns are fixed whatever the delivery (DESIGN.md, "Privacy"): the
# allele counts of the exported genotypes, then one column per export.info_keep field. A centre's
# cohort statistics and private tags never become columns.
FIXED_INFO = (
    ("AC", "Integer", pa.int32()),
    ("AN", "Integer", pa.int32()),
    ("AF", "Float", pa.float32()),
)


def info_columns(header: VcfHeader, info_keep: Sequence[str] = ()) -> tuple[Column, ...]:
    """info_AC, info_AN, info_AF, then the kept fields, typed from their definitions; a field
    the header does not define (or defines with another type) is a column of nulls."""
    defined = {field.name: field for field in header.info}
    columns = []
    for name, vcf_type, arrow_type in FIXED_INFO:
        field = defined.get(name)
        if field is not None and field.type == vcf_type and field.number in ("1", "A"):
            columns.append(Column(f"info_{name}", f"%INFO/{name}", arrow_type))
        else:
            if field is not None:
                log.warning("INFO/%s is Number=%s, Type=%s: info_%s left empty",
                            name, field.number, field.type, name)  # fmt: skip
            columns.append(Column(f"info_{name}", ".", arrow_type))
    for name in check_info_keep(info_keep):
        field = defined.get(name)
        if field is None:
            log.warning(
                "INFO/%s (info_keep) is not defined in the header: info_%s empty", name, name
            )
            columns.append(Column(f"info_{name}", ".", pa.string()))
        else:
            columns.append(info_column(field))
    return tuple(columns)


def _format_column(header: VcfHeader, name: str, tag: str, index: int | None = None) -> Column:
    """A FORMAT value as int32; a constant '.' (null) when the header does not define it."""
    field = header.format.get(tag)
    token = f"%{tag}" if index is None else f"%{tag}{{{index}}}"
    if field is None:
        return Column(name, ".", pa.int32())  # bcftools rejects undefined tags
    if field.type == "Integer":
        return Column(name, token, pa.int32())
    if field.type == "Float":
        return Column(name, token, pa.float64())  # some callers write DP/GQ as Float
    log.warning("FORMAT/%s has Type=%s, not a number: %s left empty", tag, field.type, name)
    return Column(name, ".", pa.int32())


# CHROM is not printed: each query reads one contig, so the column is a constant added later.
VARIANT_FIXED = (
    Column("pos", "%POS", pa.int64()),
    Column("ref", "%REF", pa.string()),
    Column("alt", "%ALT", pa.string()),
    Column("id", "%ID", pa.string()),
    Column("qual", "%QUAL", pa.float32()),
    Column("filter", "%FILTER", pa.string()),
)


# ``chrom`` is in the files and in the folder name (chrom=<contig>). pyarrow and pandas read a
# hive folder's key as dictionary<int32, string>: the column has that type in the files too, so
# ``pandas.read_parquet(folder)`` and ``pyarrow.parquet.read_table(folder)`` merge the two
# instead of failing ("string vs dictionary"); DuckDB, Polars and Spark read it as a string.
CHROM_TYPE = pa.dictionary(pa.int32(), pa.string())


def variants_schema(header: VcfHeader, info_keep: Sequence[str] = ()) -> pa.Schema:
    """Arrow schema of the variants table."""
    fields = [pa.field("chrom", CHROM_TYPE)]
    fields += [pa.field(c.name, c.csv_type) for c in VARIANT_FIXED]
    fields.insert(4, pa.field("variant_key", pa.string()))
    info = info_columns(header, info_keep)
    return pa.schema(fields + [pa.field(c.name, c.csv_type) for c in info])


GENOTYPES_SCHEMA = pa.schema(
    [
        ("sample", pa.string()),
        ("chrom", CHROM_TYPE),
        ("pos", pa.int64()),
        ("ref", pa.string()),
        ("alt", pa.string()),
        ("gt", pa.string()),
        ("dp", pa.int32()),
        ("gq", pa.int32()),
        ("ad_ref", pa.int32()),
        ("ad_alt", pa.int32()),
        ("alt_count", pa.int8()),  # ALT alleles in the genotype; null when an allele is missing
    ]
)

# Columns whose values are (nearly) unique: a dictionary would only be built and thrown away.
NO_DICTIONARY = frozenset({"pos", "variant_key", "id", "qual"})


def sample_columns(header: VcfHeader) -> list[Column]:
    """The per-sample fields: GT DP GQ AD{0} AD{1}."""
    return [
        Column("gt", "%GT", pa.string()),
        _format_column(header, "dp", "DP"),
        _format_column(header, "gq", "GQ"),
        _format_column(header, "ad_ref", "AD", 0),
        _format_column(header, "ad_alt", "AD", 1),
    ]


# ---------------------------------------------------------------------------------------------
# Batch transforms (vectorised; raise on records that are not harmonised)


class _Multiallelic(Exception):
    def __init__(self, chrom: str, pos: int, alt: str) -> None:
        super().__init__(f"{chrom}:{pos}")
        self.chrom, self.pos, self.alt = chrom, pos, alt


# Constants built from raw buffers, never from Python objects: the first conversion of a Python
# value (pa.scalar, pa.array, pa.repeat, a str or bool passed to a compute function) makes
# pyarrow import pandas, 0.15-0.2 s of start-up that an export does not need.


def _strings(values: Sequence[str]) -> pa.Array:
    """A string array from its buffers."""
    data = [v.encode() for v in values]
    offsets = array("i", itertools.accumulate((len(d) for d in data), initial=0))
    buffers = [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(data))]
    return pa.Array.from_buffers(pa.string(), len(values), buffers)


def _int64(value: int) -> pa.Scalar:
    return pa.Array.from_buffers(pa.int64(), 1, [None, pa.py_buffer(array("q", [value]))])[0]


def _zeros(n: int) -> pa.Array:
    """n int32 zeros: take() indices that repeat the first value."""
    return pa.Array.from_buffers(pa.int32(), n, [None, pa.py_buffer(bytes(4 * n))])


def _repeat(value: pa.Array, n: int) -> pa.Array:
    """The one value of ``value`` n times."""
    return pc.take(value, _zeros(n))


def _chrom(contig: str, n: int) -> pa.Array:
    """The contig n times as a dictionary array (CHROM_TYPE)."""
    return pa.DictionaryArray.from_arrays(_zeros(n), _strings([contig]))


_NULL_INT8 = pa.nulls(1, pa.int8())[0]


def _alt_count(gt: pa.Array) -> pa.Array:
    """ALT alleles of biallelic GT strings (0/1/2; haploid 0/1); null if any allele is missing."""
    count = pc.cast(pc.count_substring(gt, "1"), pa.int8())
    return pc.if_else(pc.match_substring(gt, "."), _NULL_INT8, count)


_DOT = _strings(["."])[0]
_DASH = _strings(["-"])[0]
_TRUE = pa.Array.from_buffers(pa.bool_(), 1, [None, pa.py_buffer(b"\x01")])[0]


def _no_nulls(values: pa.Array) -> pa.Array:
    # '.' is the CSV null marker; in these columns it is a real value ('.' ALT, haploid no-call).
    return pc.fill_null(values, _DOT) if values.null_count else values


def _to_int32(values: pa.Array) -> pa.Array:
    if pa.types.is_floating(values.type):
        return pc.cast(pc.round(values), pa.int32())
    return values


# (query output batch, contig) -> one batch per table the query feeds
Transform = Callable[[pa.RecordBatch, str], tuple[pa.RecordBatch, ...]]


def _variants_transform(schema: pa.Schema) -> Callable[[pa.RecordBatch, str], pa.RecordBatch]:
    n_fixed = len(VARIANT_FIXED)
    flags = [f.type == pa.bool_() for f in schema][n_fixed + 2 :]

    def transform(batch: pa.RecordBatch, contig: str) -> pa.RecordBatch:
        pos, ref, alt, vid, qual, filt = batch.columns[:n_fixed]
        chrom = _repeat(_strings([contig]), batch.num_rows)  # for the key
        ref, alt = _no_nulls(ref), _no_nulls(alt)
        multi = pc.match_substring(alt, ",")
        if pc.any(multi).as_py():
            i = pc.index(multi, True).as_py()
            raise _Multiallelic(contig, pos[i].as_py(), alt[i].as_py())
        key = pc.binary_join_element_wise(chrom, pc.cast(pos, pa.string()), ref, alt, _DASH)
        # A Flag is present or absent: absent (null) is false, not unknown.
        infos = [
            pc.coalesce(col, pc.is_valid(col)) if flag else col
            for col, flag in zip(batch.columns[n_fixed:], flags, strict=True)
        ]
        return pa.RecordBatch.from_arrays(
            [_chrom(contig, batch.num_rows), pos, ref, alt, key, vid, qual, filt, *infos],
            schema=schema,
        )

    return transform


def _genotypes_transform(batch: pa.RecordBatch, contig: str) -> tuple[pa.RecordBatch, ...]:
    smp, pos, ref, alt, gt, *numbers = batch.columns
    gt = _no_nulls(gt)
    arrays = [
        smp, _chrom(contig, batch.num_rows), pos, _no_nulls(ref), _no_nulls(alt),
        gt, *(_to_int32(c) for c in numbers), _alt_count(gt),
    ]  # fmt: skip
    return (pa.RecordBatch.from_arrays(arrays, schema=GENOTYPES_SCHEMA),)


def _written(gt: pa.Array) -> pa.Array:
    """True where a biallelic GT carries ALT or a missing allele, i.e. is not hom-ref."""
    has = pc.or_(pc.match_substring(gt, "1"), pc.match_substring(gt, "."))
    return pc.fill_null(has, _TRUE)  # null is a haploid no-call '.'


def _row_keys(gt: pa.Array, n_samples: int, sample: int) -> pa.Array:
    """row * n_samples + sample for the rows where this sample's call is written."""
    rows = pc.indices_nonzero(_written(gt)).cast(pa.int64())
    return pc.add(pc.multiply(rows, _int64(n_samples)), _int64(sample))


def _combined_transform(
    variants: Callable[[pa.RecordBatch, str], pa.RecordBatch], n_site: int, samples: Sequence[str]
) -> Transform:
    """Split one wide line per record (site fields, then GT DP GQ AD0 AD1 per sample) into a
    variants batch and a long genotypes batch, in record then sample order."""
    names = _strings(samples)
    n_samples = len(samples)
    width = N_SAMPLE_FIELDS

    def transform(batch: pa.RecordBatch, contig: str) -> tuple[pa.RecordBatch, ...]:
        site = variants(batch.select(range(n_site)), contig)  # checks biallelic first
        per_sample = batch.columns[n_site:]
        if n_samples == 1:
            keep = _written(per_sample[0])
            rows = pc.indices_nonzero(keep)
            which = _zeros(len(rows))
            fields = [pc.filter(a, keep) for a in per_sample]
        else:
            # (row, sample) pairs in row-major order: sort the keys row * n_samples + sample.
            keys = pa.chunked_array(
                [_row_keys(gt, n_samples, s) for s, gt in enumerate(per_sample[0::width])],
                pa.int64(),
            )
            keys = pc.take(keys, pc.sort_indices(keys)).combine_chunks()
            rows = pc.divide(keys, _int64(n_samples))
            which = pc.remainder(keys, _int64(n_samples))
            # Fields concatenated sample-major, so sample s of row i sits at s * n + i.
            flat = pc.add(pc.multiply(which, _int64(batch.num_rows)), rows)
            fields = [pc.take(pa.concat_arrays(per_sample[f::width]), flat) for f in range(width)]
        gt = _no_nulls(fields[0])
        genotypes = pa.RecordBatch.from_arrays(
            [
                pc.take(names, which),
                *(pc.take(site.column(i), rows) for i in range(4)),  # chrom pos ref alt
                gt,
                *(_to_int32(a) for a in fields[1:]),
                _alt_count(gt),
            ],
            schema=GENOTYPES_SCHEMA,
        )
        return site, genotypes

    return transform


# ---------------------------------------------------------------------------------------------
# Queries and jobs: one bcftools pipeline per job, feeding one or two Parquet files


@dataclass(frozen=True)
class _Query:
    """One bcftools query and how its text becomes rows of one or two tables."""

    name: str
    args: tuple[str, ...]
    fmt: str
    columns: tuple[Column, ...]
    tables: tuple[str, ...]  # the tables its transform returns batches for, in order
    transform: Transform


@dataclass(frozen=True)
class _Job:
    contig: str
    regions: Path
    query: _Query | None  # None: the tables get no rows (no samples or no GT)
    outputs: tuple[tuple[str, Path, pa.Schema], ...]  # table, its part file, its schema


def plan_queries(
    header: VcfHeader, info_keep: Sequence[str] = ()
) -> list[tuple[_Query | None, tuple[str, ...]]]:
    """The queries that produce both tables for one contig, with the tables each feeds."""
    v_transform = _variants_transform(variants_schema(header, info_keep))
    site = (*VARIANT_FIXED, *info_columns(header, info_keep))
    site_fmt = "\t".join(c.token for c in site)
    variants = _Query(
        "variants", SEQUENCE_ALT, site_fmt + "\\n", site, ("variants",),
        lambda batch, contig: (v_transform(batch, contig),),
    )  # fmt: skip
    if not header.samples or "GT" not in header.format:
        if header.samples:
            log.warning("no FORMAT/GT in the header: the genotypes tables stay empty")
        return [(variants, ("variants",)), (None, ("genotypes",))]
    per_sample = sample_columns(header)
    if len(header.samples) <= COMBINED_MAX_SAMPLES:
        # Few samples: one bcftools pass prints everything, pyarrow drops hom-ref calls.
        columns = (
            *site,
            *(
                Column(f"s{i}_{c.name}", c.token, c.csv_type)
                for i in range(len(header.samples))
                for c in per_sample
            ),
        )
        fmt = site_fmt + "[\t" + "\t".join(c.token for c in per_sample) + "]\\n"
        tables = ("variants", "genotypes")
        combined = _Query(
            "variants+genotypes", SEQUENCE_ALT, fmt, columns, tables,
            _combined_transform(v_transform, len(site), header.samples),
        )  # fmt: skip
        return [(combined, tables)]
    # Many samples: bcftools filters per sample, so hom-ref calls never become text.
    g_columns = (
        Column("sample", "%SAMPLE", pa.string()),
        *VARIANT_FIXED[:3],  # pos ref alt
        *per_sample,
    )
    genotypes = _Query(
        "genotypes",
        ("-i", GENOTYPES_FILTER),
        "[" + "\t".join(c.token for c in g_columns) + "\\n]",
        g_columns,
        ("genotypes",),
        _genotypes_transform,
    )
    return [(variants, ("variants",)), (genotypes, ("genotypes",))]


class _PartWriter:
    """ParquetWriter that gathers batches into row groups of ~ROW_GROUP_ROWS rows.

    The file is opened at the first row group, so the metadata (contig digests, computed beside
    the jobs) is needed only then; it goes into the schema, hence into both the Parquet
    key-value metadata and the Arrow schema that pyarrow/pandas readers show.
    """

    def __init__(
        self,
        table: str,
        path: Path,
        schema: pa.Schema,
        metadata: Callable[[], dict[str, str]],
    ) -> None:
        self.rows = 0
        self.table = table
        self._path = path
        self._schema = schema
        self._metadata = metadata
        self._writer: pq.ParquetWriter | None = None
        self._pending: list[pa.RecordBatch] = []
        self._pending_rows = 0
        self._pending_bytes = 0

    def write(self, batch: pa.RecordBatch) -> None:
        if not batch.num_rows:
            return
        self._pending.append(batch)
        self._pending_rows += batch.num_rows
        self._pending_bytes += batch.nbytes
        self.rows += batch.num_rows
        if self._pending_rows >= ROW_GROUP_ROWS or self._pending_bytes >= ROW_GROUP_BYTES:
            self._flush()

    def _flush(self) -> None:
        if self._writer is None:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            schema = self._schema.with_metadata(self._metadata())
            self._writer = pq.ParquetWriter(
                self._path,
                schema,
                compression="zstd",
                use_dictionary=[f.name for f in schema if f.name not in NO_DICTIONARY],
                # min/max help readers skip row groups on position and numbers; on free
                # text (ref, alt, variant_key...) they cost time and skip nothing.
                write_statistics=[
                    f.name for f in schema if f.name == "chrom" or not pa.types.is_string(f.type)
                ],
                sorting_columns=[pq.SortingColumn(schema.get_field_index("pos"))],
            )
        if self._pending:
            table = pa.Table.from_batches(self._pending, self._schema)
            self._writer.write_table(table, row_group_size=table.num_rows)
        self._pending, self._pending_rows, self._pending_bytes = [], 0, 0

    def close(self) -> None:
        self._flush()
        assert self._writer is not None
        self._writer.close()

    def abort(self) -> None:
        self._pending = []
        if self._writer is not None:
            self._writer.close()


def _log_warnings(label: str, commands: Sequence[Sequence[str]], stderrs: Sequence[str]) -> None:
    """The first htslib warning of each command and how many there were (one per record is
    possible: the log gets one line)."""
    for command, err in zip(commands, stderrs, strict=False):
        warnings = [line.strip() for line in err.splitlines() if line.startswith("[W::")]
        if warnings:
            name = command_name(command)
            log.warning("%s: %s: %s (%d warnings)", label, name, warnings[0], len(warnings))


def _read_options(columns: Sequence[Column]) -> dict[str, object]:
    return {
        "read_options": pacsv.ReadOptions(
            column_names=[c.name for c in columns], block_size=BLOCK_SIZE, use_threads=True
        ),
        "parse_options": pacsv.ParseOptions(
            delimiter="\t", quote_char=False, escape_char=False, double_quote=False
        ),
        "convert_options": pacsv.ConvertOptions(
            column_types={c.name: c.csv_type for c in columns},
            null_values=["."],
            strings_can_be_null=True,
            true_values=["1"],
            false_values=["0"],
        ),
    }


def _run_job(
    job: _Job, source: Source, cancel: Cancel, metadata: Callable[[], dict[str, str]]
) -> list[int]:
    """Stream one contig through its query into its Parquet file(s); return rows per file."""
    writers = [_PartWriter(*output, metadata) for output in job.outputs]
    try:
        if job.query is not None:
            _stream(job.contig, job.regions, job.query, source, cancel, writers)
        for writer in writers:
            writer.close()
    except BaseException:
        for writer in writers:
            writer.abort()
        raise
    done = ", ".join(f"{w.table} {w.rows} rows" for w in writers)
    log.info("%s: %s", job.contig, done)
    return [w.rows for w in writers]


def _stream(
    contig: str,
    regions: Path,
    query: _Query,
    source: Source,
    cancel: Cancel,
    writers: list[_PartWriter],
) -> None:
    def convert(text: IO[bytes]) -> None:
        if not text.peek(1):  # type: ignore[attr-defined]  # pyarrow rejects empty input
            return
        # Closed here, not at interpreter exit: a CSV reader's threads still alive during the
        # final teardown can abort the process ("terminate called without an active exception",
        # apache/arrow#34314).
        options = _read_options(query.columns)
        with pacsv.open_csv(text, **options) as reader:  # type: ignore[arg-type]
            for batch in reader:
                for writer, out in zip(writers, query.transform(batch, contig), strict=True):
                    writer.write(out)

    commands = source.pipeline(regions, [*query.args, "-f", query.fmt])
    stage = PythonStage(convert, f"converting the {query.name}")
    # A bcftools error explains any conversion failure that followed it: the runner reports
    # the earliest failing stage, bcftools before the conversion.
    try:
        finished = run([*commands, stage], about=source.label, cancel=cancel)
    except _Multiallelic as exc:
        raise _multiallelic_error(source, exc.chrom, exc.pos, exc.alt) from None
    except pa.ArrowException as exc:
        found = _find_multiallelic(source, regions)
        if found:
            raise _multiallelic_error(source, *found) from None
        raise InputError(
            f"{source.label}: cannot convert the {query.name} of contig {contig}: {exc}"
        ) from None
    _log_warnings(source.label, commands, finished.stderrs)


def _find_multiallelic(source: Source, regions: Path) -> tuple[str, int, str] | None:
    """First record with several ALT alleles in a region (error path only)."""
    for path in source.paths:
        command = [BCFTOOLS, "view", "-H", "-i", "N_ALT>1", "-R", str(regions), str(path)]
        first = PythonStage(lambda text: text.readline().decode(errors="replace"), "first")
        try:  # the first record is enough: the runner stops bcftools then
            line = run([command, first], about=path).value
        except PipelineError:
            continue  # this search only names a record; the caller reports the failure
        if line:
            chrom, pos, _id, _ref, alt = line.split("\t", 5)[:5]
            return chrom, int(pos), alt
    return None


def _multiallelic_error(source: Source, chrom: str, pos: int, alt: str) -> InputError:
    where = source.label
    if len(source.paths) > 1:  # name the input that holds it
        with tempfile.TemporaryDirectory(prefix="genopass-") as tmp:
            region = regions_file(Path(tmp), chrom, pos, pos)
            holders = [p for p in source.paths if _find_multiallelic(Source((p,)), region)]
        if holders:
            where = str(holders[0])
    return InputError(
        f"{where}: record {chrom}:{pos} is multiallelic (ALT {alt}); genopass parquet needs "
        f"harmonised biallelic input: run 'genopass harmonise' (or 'bcftools norm -m-any') first"
    )


# ---------------------------------------------------------------------------------------------
# Inputs


def _contigs(paths: Sequence[Path]) -> list[str]:
    """Contigs that hold records, from the indexes, in index order (union over inputs)."""
    seen: dict[str, None] = {}
    for path in paths:
        try:
            text = run_tool([BCFTOOLS, "index", "-s", str(path)], about=path)
        except InputError as exc:
            raise InputError(f"{exc}; index it with 'bcftools index -t {path}'") from None
        for line in text.splitlines():
            if line.strip():
                seen.setdefault(line.split("\t", 1)[0], None)
    return list(seen)


def _read_header(source: Source) -> VcfHeader:
    if len(source.paths) == 1:
        command = [BCFTOOLS, "view", "-h", "--no-version", str(source.paths[0])]
    else:
        command = [BCFTOOLS, "merge", "--print-header", "--no-version", "-m", "none",
                   *(str(p) for p in source.paths)]  # fmt: skip
    return parse_header(run_tool(command, about=source.label))


def partition_dir(contig: str) -> Path:
    """``chrom=<contig>`` (a table's hive folder) with characters unsafe in paths
    percent-encoded."""
    return Path(f"chrom={quote(contig, safe='')}")


# ---------------------------------------------------------------------------------------------
# Entry point


def vcf_to_parquet(vcfs: Sequence[Path], options: ParquetOptions) -> str:
    """Write OUT/variants and OUT/genotypes from harmonised VCFs; return a one-line summary."""
    if not vcfs:
        raise UsageError("genopass parquet: give at least one VCF")
    source = Source(tuple(Path(p) for p in vcfs))
    for path in source.paths:
        if not path.is_file():
            raise InputError(f"{path}: no such file")
        check_bgzf_complete(path)
    header = _read_header(source)
    contigs = _contigs(source.paths)
    if options.contigs:
        contigs = [contig for contig in contigs if contig in options.contigs]
    plan = plan_queries(header, options.info_keep)
    schemas = {
        "variants": variants_schema(header, options.info_keep),
        "genotypes": GENOTYPES_SCHEMA,
    }
    cancel = Cancel()
    out = Path(options.out)
    # Digesting a whole genome takes seconds: run it beside the jobs, which need it only when
    # they open their files.
    with ThreadPoolExecutor(max_workers=1) as digester:
        digests: Future[dict[str, str]] | None = (
            digester.submit(contig_md5s, options.reference) if options.reference else None
        )

        def metadata() -> dict[str, str]:
            found = digests.result() if digests else {}
            return {
                "genopass_version": __version__,
                "reference": options.reference_name,
                "contig_digests": json.dumps(found, separators=(",", ":")),
                "source": SOURCE,
            }

        with (
            _table_folders(out, schemas) as tmp,
            tempfile.TemporaryDirectory(prefix="genopass-regions-") as scratch,
        ):
            regions = {contig: regions_file(Path(scratch), contig) for contig in contigs}
            # Up to `threads` contigs at once, each with all of its queries running.
            workers = max(1, options.threads) * len(plan)
            jobs = [
                _Job(
                    contig,
                    regions[contig],
                    query,
                    tuple(
                        (t, tmp[t] / partition_dir(contig) / "part-0.parquet", schemas[t])
                        for t in tables
                    ),
                )
                for contig in contigs
                for query, tables in plan
            ]
            with _memory_pool():
                rows = _run_jobs(jobs, source, cancel, metadata, workers)
            metadata()  # a FASTA error surfaces even when no file was opened
    totals = {"variants": 0, "genotypes": 0}
    for (_query, tables), counts in zip(plan * len(contigs), rows, strict=True):
        for table, count in zip(tables, counts, strict=True):
            totals[table] += count
    return (
        f"wrote {totals['variants']} variants and {totals['genotypes']} genotype rows "
        f"({len(contigs)} contig{'' if len(contigs) == 1 else 's'}) to {out}"
    )


def gather_contigs(folders: Sequence[Path], out: Path) -> str:
    """Put the contig folders of several ``genopass parquet --contig`` runs (each a folder with
    variants/ and genotypes/) into OUT/variants and OUT/genotypes, each table replaced at once:
    the files are those one run over every contig writes (each contig's file is written from
    that contig's records alone)."""
    tables = ("variants", "genotypes")
    moved = 0
    with _table_folders(Path(out), tables) as tmp:
        for folder in folders:
            for table in tables:
                for part in sorted((Path(folder) / table).glob("chrom=*")):
                    if (tmp[table] / part.name).exists():
                        raise UsageError(f"{part}: contig {part.name} comes from two runs")
                    shutil.copytree(part, tmp[table] / part.name)
                    moved += 1
    return f"gathered {moved} contig folders of {len(folders)} runs into {out}"


@contextlib.contextmanager
def _table_folders(out: Path, tables: Iterable[str]) -> Iterator[dict[str, Path]]:
    """A temporary folder per table; each replaces ``OUT/<table>`` once all are complete. OUT
    may hold other folders (the export's ``parquet/samples/``), which stay; a failure leaves
    no OUT that it made."""
    made = not out.exists()
    try:
        with contextlib.ExitStack() as folders:
            yield {table: folders.enter_context(atomic_directory(out / table)) for table in tables}
    except BaseException:
        if made and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        raise


@contextlib.contextmanager
def _memory_pool() -> Iterator[None]:
    """Allocate from jemalloc during the export when pyarrow has it.

    Batches are allocated on pyarrow's threads and freed on the job threads; mimalloc (pyarrow's
    default) then keeps more memory per thread: with 8 threads on a 100-sample file, peak RSS
    was 480 MB with mimalloc and 400 MB with jemalloc, for less CPU time. The previous default
    comes back afterwards (buffers remember the pool they came from).
    """
    try:
        pool = pa.jemalloc_memory_pool()
    except (NotImplementedError, pa.ArrowNotImplementedError):
        yield
        return
    previous = pa.default_memory_pool()
    pa.set_memory_pool(pool)
    try:
        yield
    finally:
        pa.set_memory_pool(previous)


def _run_jobs(
    jobs: Sequence[_Job],
    source: Source,
    cancel: Cancel,
    metadata: Callable[[], dict[str, str]],
    workers: int,
) -> list[list[int]]:
    """Run jobs on ``workers`` threads; on the first failure stop the others and raise it."""
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_run_job, job, source, cancel, metadata) for job in jobs]
        try:
            done, pending = wait(futures, return_when=FIRST_EXCEPTION)
        except BaseException:  # Ctrl-C: stop bcftools instead of waiting for every job
            cancel.set()
            for future in futures:
                future.cancel()
            raise
        failed = [f for f in futures if f in done and f.exception() is not None]
        if failed:
            cancel.set()
            for future in pending:
                future.cancel()
            wait(pending)
            # Report a real error in job order, not a cancellation it caused.
            errors = [f.exception() for f in futures if f.done() and not f.cancelled()]
            real = [e for e in errors if e is not None and not isinstance(e, Cancelled)]
            raise real[0] if real else failed[0].exception()  # type: ignore[misc]
        return [f.result() for f in futures]
