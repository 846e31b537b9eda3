"""Aggregated allele frequencies per population, in the layout Beacon v2 nodes serve.

Layout of GenomicDataInfrastructure/gdi-mini-node's parquet-writer (``_parquet.py``)::

    OUT/<dataset>/GRCh38/allele-freq-chr{N}.{POS0 // 10_000_000}.parquet
    OUT/<dataset>/GRCh38/individuals.parquet          INDEX, SEX (M/F), AGE
    OUT/<dataset>/GRCh38/frequency-in-populations.jsonl   Beacon v2 frequencyInPopulations

with N = 1..22, X, Y, M and columns POS (VCF POS - 1, int32), REF, ALT, VT (SNP, INDEL,
UNKNOWN as the parquet-writer classifies them), POPULATION, AF (float64), AC, AC_HET, AC_HOM,
AC_HEMI, AN (int32), sorted by POS, zstd.

Populations: ``ALL`` (the dataset), ``ALL_F``/``ALL_M``, each country code (ISO 3166-1) and its
``_F``/``_M`` strata. The sex of a stratum is the inferred sex when QC gave one, else the
reported sex; unknown sex belongs to ``ALL`` and its country only.

Counts follow ``bcftools +fill-tags``: AC_HET counts one allele per heterozygous genotype,
AC_HOM both alleles of a homozygous ALT genotype, AC_HEMI the ALT of a haploid genotype, so
AC = AC_HET + AC_HOM + AC_HEMI; AN counts called alleles. Ploidy comes from the sample's sex,
never from how a caller wrote the genotype: males are haploid on chrX and chrY outside the
GRCh38 pseudo-autosomal regions (a diploid-written ``1/1`` counts once, ``0/0`` once, a
heterozygous call there is a no-call), females have no chrY, chrM is haploid. Hom-ref calls
are implied by the genotypes table (rows exist for ALT and no-call genotypes only): every
sample of the samples table without a row at a variant is hom-ref there. A genotype with any
missing allele (``./.``, ``0/.``) is a no-call.

Small-cell protection (DESIGN.md, "Privacy"): a row is dropped when its population has fewer
than ``min_cell_count`` individuals, or when AC, AC_HET, AC_HOM, AC_HEMI or AN - AC lies in
1..min_cell_count-1; rows with AN = 0 (nobody called) are dropped as well (Beacon allows no null
AF). The counts of each are returned for metadata.json.

DuckDB (embedded) computes the counts from the Parquet genotypes one file group (contig, 10 Mb)
at a time, so memory follows the group, not the dataset; results stream out in record batches.
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote

import pyarrow as pa
import pyarrow.parquet as pq

from genopass import __version__
from genopass.errors import InputError, UsageError
from genopass.export.samples import SampleRecord
from genopass.inputs.contigs import pseudo_autosomal_regions
from genopass.io import atomic_directory, atomic_output

log = logging.getLogger(__name__)

POS_DIVIDER = 10_000_000
FREQUENCY_SCHEMA = pa.schema(
    [
        ("POS", pa.int32()),
        ("REF", pa.string()),
        ("ALT", pa.string()),
        ("VT", pa.string()),
        ("POPULATION", pa.string()),
        ("AF", pa.float64()),
        ("AC", pa.int32()),
        ("AC_HET", pa.int32()),
        ("AC_HOM", pa.int32()),
        ("AC_HEMI", pa.int32()),
        ("AN", pa.int32()),
    ]
)
INDIVIDUALS_SCHEMA = pa.schema([("INDEX", pa.int32()), ("SEX", pa.string()), ("AGE", pa.string())])
SEX_CODE = {"female": "F", "male": "M"}
REASONS = ("population_too_small", "small_count", "no_call")
JSONL_NAME = "frequency-in-populations.jsonl"
BATCH_ROWS = 65_536


@dataclass(frozen=True)
class FrequencyOptions:
    """What ``genopass frequencies`` was asked to do."""

    out: Path  # the frequencies folder: OUT/<dataset>/<assembly>/...
    dataset: str
    min_cell_count: int = 5
    assembly: str = "GRCh38"
    source: str = ""  # Beacon frequencyInPopulations.source (default: "genopass <dataset>")
    source_reference: str = ""  # its sourceReference (default: urn:genopass:dataset:<dataset>)
    threads: int = 1
    contigs: tuple[str, ...] = ()  # only these contigs (a scatter by contig); () every one
    # the reference's contig lengths: GRCh38's PARs apply on a chrX/chrY of GRCh38's length only
    # (unknown lengths: they apply)
    contig_lengths: Mapping[str, int] = field(default_factory=dict)


@dataclass
class FrequencySummary:
    """What was written and what was suppressed (for metadata.json)."""

    rows_computed: int = 0
    rows_written: int = 0
    suppressed: dict[str, int] = field(default_factory=lambda: dict.fromkeys(REASONS, 0))
    variants_written: int = 0
    files: list[str] = field(default_factory=list)
    skipped_contigs: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, object]:
        return {
            "rows_computed": self.rows_computed,
            "rows_written": self.rows_written,
            "rows_suppressed": sum(self.suppressed.values()),
            "suppressed": dict(self.suppressed),
            "variants_written": self.variants_written,
            "files": list(self.files),
            "skipped_contigs": list(self.skipped_contigs),
        }


def beacon_chromosome(contig: str) -> str | None:
    """chr1..chr22, chrX, chrY, chrM (or 1, MT, ...) -> the parquet-writer's N; else None."""
    name = contig[3:] if contig.lower().startswith("chr") else contig
    name = name.upper()
    if name == "MT":
        name = "M"
    if name in ("X", "Y", "M") or (name.isdigit() and 1 <= int(name) <= 22):
        return name
    return None


def populations(records: Sequence[SampleRecord]) -> list[tuple[str, str, str]]:
    """(sample, population, sex) membership rows: ALL, ALL_<S>, country, country_<S>."""
    rows = []
    for record in records:
        sex = record.stratum_sex
        code = SEX_CODE.get(sex)
        groups = ["ALL", record.country]
        if code:
            groups += [f"ALL_{code}", f"{record.country}_{code}"]
        rows += [(record.sample, group, sex) for group in groups]
    return rows


def population_order(names: Sequence[str]) -> list[str]:
    """ALL, ALL_F, ALL_M, then each country followed by its strata."""
    return sorted(set(names), key=lambda n: (n.split("_")[0] != "ALL", n))


def _sql_list(paths: Sequence[Path]) -> str:
    return "[" + ", ".join("'" + str(p).replace("'", "''") + "'" for p in paths) + "]"


def _par_sql(spans: Sequence[tuple[int, int]]) -> str:
    return " OR ".join(f"(v.pos BETWEEN {a} AND {b})" for a, b in spans) or "FALSE"


def _ploidy_sql(chromosome: str, sex: str, par: str) -> str:
    """Ploidy of a sample of ``sex`` at a variant (``par``: SQL of "in a PAR")."""
    if chromosome == "M":
        return "1"
    if chromosome == "Y":
        return f"CASE WHEN {sex} = 'female' THEN 0 WHEN {par} THEN 2 ELSE 1 END"
    if chromosome == "X":
        return f"CASE WHEN {sex} = 'male' AND NOT ({par}) THEN 1 ELSE 2 END"
    return "2"


def group_query(
    chromosome: str,
    variants: Sequence[Path],
    genotypes: Sequence[Path],
    group: int,
    k: int,
    pars: Sequence[tuple[int, int]] = (),
) -> str:
    """The DuckDB query of one file group: every (variant, population) with its counts and
    the reason it is suppressed (NULL: kept), ordered as written."""
    lo, hi = group * POS_DIVIDER, (group + 1) * POS_DIVIDER  # POS0 in [lo, hi)
    par = _par_sql(pars)
    ploidy = _ploidy_sql(chromosome, "m.sex", par)
    small = " OR ".join(
        f"({c} BETWEEN 1 AND {k - 1})" for c in ("AC", "AC_HET", "AC_HOM", "AC_HEMI", "(AN - AC)")
    )
    return f"""
WITH v AS (
    SELECT pos, ref, alt FROM read_parquet({_sql_list(variants)})
    WHERE pos > {lo} AND pos <= {hi}
      AND regexp_full_match(ref, '[ACGTN]+') AND regexp_full_match(alt, '[ACGTN]+')
),
g AS (
    SELECT pos, ref, alt, sample, gt, alt_count FROM read_parquet({_sql_list(genotypes)})
    WHERE pos > {lo} AND pos <= {hi}
),
obs AS (
    SELECT v.pos, v.ref, v.alt, m.population, g.alt_count AS a,
        {ploidy} AS p_sex,
        CASE WHEN contains(g.gt, '/') OR contains(g.gt, '|') THEN 2 ELSE 1 END AS p_gt
    FROM g JOIN v USING (pos, ref, alt) JOIN members m USING (sample)
),
calls AS (
    SELECT *, least(p_sex, p_gt) AS e,
        a IS NOT NULL AND p_sex > 0 AND (least(p_sex, p_gt) = 2 OR a = 0 OR a = p_gt) AS ok
    FROM obs
),
agg AS (
    SELECT pos, ref, alt, population,
        sum(CASE WHEN ok THEN e ELSE 0 END - p_sex) AS an_delta,
        sum(CASE WHEN ok AND e = 2 THEN a WHEN ok AND e = 1 AND a > 0 THEN 1 ELSE 0 END) AS ac,
        sum(CASE WHEN ok AND e = 2 AND a = 1 THEN 1 ELSE 0 END) AS het,
        sum(CASE WHEN ok AND e = 2 AND a = 2 THEN 2 ELSE 0 END) AS hom,
        sum(CASE WHEN ok AND e = 1 AND a > 0 THEN 1 ELSE 0 END) AS hemi
    FROM calls GROUP BY ALL
),
base AS (
    SELECT v.pos, v.ref, v.alt, m.population, sum({ploidy}) AS an, count(*) AS n
    FROM v CROSS JOIN members m GROUP BY ALL
),
rows AS (
    SELECT b.pos, b.ref, b.alt, b.population, b.n,
        (b.an + coalesce(agg.an_delta, 0))::INTEGER AS AN,
        coalesce(agg.ac, 0)::INTEGER AS AC, coalesce(agg.het, 0)::INTEGER AS AC_HET,
        coalesce(agg.hom, 0)::INTEGER AS AC_HOM, coalesce(agg.hemi, 0)::INTEGER AS AC_HEMI
    FROM base b LEFT JOIN agg USING (pos, ref, alt, population)
)
SELECT (pos - 1)::INTEGER AS POS, ref AS REF, alt AS ALT,
    CASE
        WHEN length(ref) != length(alt) THEN 'INDEL'
        WHEN len(list_filter(range(length(ref)), lambda i: ref[i + 1] != alt[i + 1])) = 1 THEN 'SNP'
        ELSE 'UNKNOWN' END AS VT,
    population AS POPULATION,
    CASE WHEN AN > 0 THEN AC / AN ELSE NULL END::DOUBLE AS AF,
    AC, AC_HET, AC_HOM, AC_HEMI, AN,
    CASE
        WHEN n < {k} THEN 'population_too_small'
        WHEN AN = 0 THEN 'no_call'
        WHEN {small} THEN 'small_count'
        ELSE NULL END AS reason
FROM rows JOIN pops USING (population)
ORDER BY POS, REF, ALT, pops.rank
"""


def _partitions(table_dir: Path) -> dict[str, list[Path]]:
    """{contig: its Parquet files} of a hive table folder (``chrom=<contig>``)."""
    found: dict[str, list[Path]] = {}
    if not table_dir.is_dir():
        raise InputError(f"{table_dir}: no such table folder; write it with 'genopass parquet'")
    for part in sorted(table_dir.iterdir()):
        if part.is_dir() and part.name.startswith("chrom="):
            files = sorted(part.glob("*.parquet"))
            if files:
                found[unquote(part.name[len("chrom=") :])] = files
    return found


def _check_columns(files: Sequence[Path], needed: Sequence[str]) -> None:
    names = set(pq.read_schema(files[0]).names)
    missing = [c for c in needed if c not in names]
    if missing:
        raise InputError(
            f"{files[0]}: no column {', '.join(missing)}; rewrite the tables with this "
            f"genopass version ('genopass parquet')"
        )


def _write_parquet(table: pa.Table, path: Path, metadata: dict[str, str], sort: str) -> None:
    table = table.replace_schema_metadata(metadata)
    pq.write_table(
        table,
        path,
        compression="zstd",
        sorting_columns=pq.SortingColumn.from_ordering(table.schema, [(sort, "ascending")]),
        write_page_index=True,
    )


def individuals_table(records: Sequence[SampleRecord]) -> pa.Table:
    """INDEX (row of the samples table), SEX (M, F or null), AGE (not known: null)."""
    return pa.table(
        {
            "INDEX": list(range(len(records))),
            "SEX": [SEX_CODE.get(r.stratum_sex) for r in records],
            "AGE": [None] * len(records),
        },
        schema=INDIVIDUALS_SCHEMA,
    )


def _beacon_lines(
    kept: pa.Table, chromosome: str, contig: str, options: FrequencyOptions
) -> Iterator[tuple[tuple[int, str, str], dict[str, object]]]:
    """((POS, REF, ALT), its frequencies) rows of kept frequency rows, in order."""
    for row in kept.to_pylist():
        key = (row["POS"], row["REF"], row["ALT"])
        yield (
            key,
            {
                "population": row["POPULATION"],
                "alleleFrequency": row["AF"],
                "alleleCount": row["AC"],
                "alleleNumber": row["AN"],
                "alleleCountHeterozygous": row["AC_HET"],
                "alleleCountHomozygous": row["AC_HOM"],
                "alleleCountHemizygous": row["AC_HEMI"],
            },
        )


def _beacon_record(
    key: tuple[int, str, str], rows: list[dict[str, object]], contig: str, chromosome: str,
    vt: str, options: FrequencyOptions,
) -> str:  # fmt: skip
    pos0, ref, alt = key
    record = {
        "variantInternalId": f"{contig}-{pos0 + 1}-{ref}-{alt}",
        "assemblyId": options.assembly,
        "referenceName": chromosome,
        "start": pos0,
        "end": pos0 + len(ref),
        "referenceBases": ref,
        "alternateBases": alt,
        "variantType": vt,
        "frequencyInPopulations": [
            {
                "source": options.source or f"genopass {options.dataset}",
                "sourceReference": options.source_reference
                or f"urn:genopass:dataset:{options.dataset}",
                "frequencies": rows,
            }
        ],
    }
    return json.dumps(record, separators=(",", ":"), sort_keys=False)


def write_frequencies(
    parquet_dir: Path, records: Sequence[SampleRecord], options: FrequencyOptions
) -> FrequencySummary:
    """Write the frequency files of the Parquet tables under ``parquet_dir`` for ``records``
    (the samples table's rows, in its order); return what was written and suppressed."""
    import duckdb

    if options.min_cell_count < 1:
        raise UsageError("export.min_cell_count must be at least 1")
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", options.dataset):
        raise UsageError(f"dataset {options.dataset!r}: letters, digits, '.', '_' or '-' only")
    parquet_dir = Path(parquet_dir)
    variants = _partitions(parquet_dir / "variants")
    genotypes = _partitions(parquet_dir / "genotypes")
    if options.contigs:
        variants = {c: files for c, files in variants.items() if c in options.contigs}
    members = pa.table(
        dict(zip(("sample", "population", "sex"), zip(*populations(records), strict=True),
                 strict=True))
        if records
        else {"sample": [], "population": [], "sex": []},
        schema=pa.schema([("sample", pa.string()), ("population", pa.string()),
                          ("sex", pa.string())]),
    )  # fmt: skip
    order = population_order(members["population"].to_pylist())
    pops = pa.table({"population": order, "rank": list(range(len(order)))})
    con = duckdb.connect()
    con.execute(f"SET threads = {max(1, options.threads)}")
    con.register("members", members)
    con.register("pops", pops)
    summary = FrequencySummary()
    k = options.min_cell_count
    metadata = {
        "genopass_version": __version__,
        "source": "genopass frequencies",
        "dataset": options.dataset,
        "assembly": options.assembly,
        "min_cell_count": str(k),
    }
    root = Path(options.out)
    with atomic_directory(root) as tmp:
        folder = tmp / options.dataset / options.assembly
        folder.mkdir(parents=True)
        _write_parquet(individuals_table(records), folder / "individuals.parquet", metadata,
                       "INDEX")  # fmt: skip
        with open(folder / JSONL_NAME, "w", encoding="utf-8", newline="\n") as jsonl:
            for contig, vfiles in variants.items():
                chromosome = beacon_chromosome(contig)
                if chromosome is None:
                    summary.skipped_contigs.append(contig)
                    log.info("%s: not a chromosome the Beacon layout names; skipped", contig)
                    continue
                gfiles = genotypes.get(contig, [])
                if gfiles:
                    _check_columns(gfiles, ("sample", "pos", "ref", "alt", "gt", "alt_count"))
                    strangers = con.execute(
                        f"SELECT DISTINCT sample FROM read_parquet({_sql_list(gfiles)}) "
                        "WHERE sample NOT IN (SELECT sample FROM members) LIMIT 1"
                    ).fetchall()
                    if strangers:
                        raise InputError(
                            f"{gfiles[0]}: sample {strangers[0][0]} has genotypes but no row in "
                            f"the samples table; write both from the same cohort"
                        )
                groups = [
                    g
                    for (g,) in con.execute(
                        f"SELECT DISTINCT (pos - 1) // {POS_DIVIDER} AS g FROM "
                        f"read_parquet({_sql_list(vfiles)}) ORDER BY g"
                    ).fetchall()
                ]
                for group in groups:
                    _write_group(con, contig, chromosome, vfiles, gfiles, group, folder, jsonl,
                                 metadata, summary, options)  # fmt: skip
    return summary


def _write_group(
    con, contig: str, chromosome: str, vfiles: Sequence[Path], gfiles: Sequence[Path],
    group: int, folder: Path, jsonl, metadata: dict[str, str], summary: FrequencySummary,
    options: FrequencyOptions,
) -> None:  # fmt: skip
    k = options.min_cell_count
    pars = pseudo_autosomal_regions(chromosome, options.contig_lengths.get(contig))
    if gfiles:
        query = group_query(chromosome, vfiles, gfiles, group, k, pars)
    else:  # nobody carries anything on this contig: an empty genotypes relation
        query = group_query(chromosome, vfiles, [], group, k, pars).replace(
            "read_parquet([])",
            "(SELECT NULL::VARCHAR AS sample, NULL::BIGINT AS pos, NULL::VARCHAR AS ref, "
            "NULL::VARCHAR AS alt, NULL::VARCHAR AS gt, NULL::TINYINT AS alt_count WHERE FALSE)",
        )
    name = f"allele-freq-chr{chromosome}.{group}.parquet"
    path = folder / name
    writer: pq.ParquetWriter | None = None
    pending_key: tuple[int, str, str] | None = None
    pending: list[dict[str, object]] = []
    pending_vt = ""
    reader = con.sql(query).to_arrow_reader(BATCH_ROWS)
    try:
        for batch in reader:
            summary.rows_computed += batch.num_rows
            table = pa.Table.from_batches([batch])
            reasons = table["reason"]
            for reason, count in zip(*_value_counts(reasons), strict=True):
                summary.suppressed[reason] += count
            kept = table.filter(reasons.is_null()).drop_columns(["reason"]).cast(FREQUENCY_SCHEMA)
            if kept.num_rows == 0:
                continue
            if writer is None:
                writer = pq.ParquetWriter(
                    path, FREQUENCY_SCHEMA.with_metadata(metadata), compression="zstd",
                    sorting_columns=pq.SortingColumn.from_ordering(
                        FREQUENCY_SCHEMA, [("POS", "ascending")]),
                    write_page_index=True,
                )  # fmt: skip
            writer.write_table(kept)
            summary.rows_written += kept.num_rows
            vts = kept["VT"].to_pylist()
            for (key, row), vt in zip(_beacon_lines(kept, chromosome, contig, options), vts,
                                      strict=True):  # fmt: skip
                if key != pending_key:
                    if pending_key is not None:
                        jsonl.write(_beacon_record(pending_key, pending, contig, chromosome,
                                                   pending_vt, options) + "\n")  # fmt: skip
                        summary.variants_written += 1
                    pending_key, pending, pending_vt = key, [], vt
                pending.append(row)
        if pending_key is not None:
            jsonl.write(_beacon_record(pending_key, pending, contig, chromosome, pending_vt,
                                       options) + "\n")  # fmt: skip
            summary.variants_written += 1
    finally:
        if writer is not None:
            writer.close()
    if writer is not None:
        summary.files.append(f"{options.dataset}/{options.assembly}/{name}")


def _value_counts(values: pa.ChunkedArray) -> tuple[list[str], list[int]]:
    import pyarrow.compute as pc

    counts = pc.value_counts(values.drop_null())
    if len(counts) == 0:
        return [], []
    return counts.field("values").to_pylist(), counts.field("counts").to_pylist()


def gather_frequencies(
    parts: Mapping[str, Path], out: Path, summary_path: Path, dataset: str, assembly: str = "GRCh38"
) -> str:
    """Gather the runs of ``genopass frequencies --contig`` (contig -> a folder holding its
    ``frequencies/`` and ``summary.json``) into OUT and one summary: the files, the JSON Lines
    in the order one run writes the contigs (their table folders' sorted names), the counts
    summed, so that both are those one run over every contig writes."""
    order = sorted(parts, key=lambda contig: f"chrom={quote(contig, safe='')}")
    summary = FrequencySummary()
    individuals: bytes | None = None
    with atomic_directory(Path(out)) as tmp:
        folder = tmp / dataset / assembly
        folder.mkdir(parents=True)
        with open(folder / JSONL_NAME, "wb") as jsonl:
            for contig in order:
                source = Path(parts[contig]) / "frequencies" / dataset / assembly
                found = json.loads((Path(parts[contig]) / "summary.json").read_text())
                written = (source / "individuals.parquet").read_bytes()
                if individuals is not None and written != individuals:
                    raise UsageError(f"{source}: another samples table than the other contigs'")
                individuals = written
                jsonl.write((source / JSONL_NAME).read_bytes())
                for name in found["files"]:
                    shutil.copyfile(source / Path(name).name, folder / Path(name).name)
                summary.rows_computed += found["rows_computed"]
                summary.rows_written += found["rows_written"]
                summary.variants_written += found["variants_written"]
                for reason, count in found["suppressed"].items():
                    summary.suppressed[reason] += count
                summary.files += found["files"]
                summary.skipped_contigs += found["skipped_contigs"]
        if individuals is None:
            raise UsageError("genopass frequencies-gather: give at least one --part")
        (folder / "individuals.parquet").write_bytes(individuals)
    with atomic_output(summary_path) as tmp:
        tmp.write_text(json.dumps(summary.as_dict(), indent=2, sort_keys=True) + "\n")
    return f"gathered {len(summary.files)} frequency files of {len(parts)} contigs into {out}"


def write_frequencies_step(
    parquet_dir: Path,
    samples_parquet: Path,
    options: FrequencyOptions,
    summary_path: Path | None = None,
) -> str:
    """``genopass frequencies``: read the samples table, write the files and the summary."""
    from genopass.export.samples import read_samples_parquet

    table = read_samples_parquet(samples_parquet)
    records = [
        SampleRecord(
            sample=row["sample"],
            country=row["country"],
            sex=row["sex"],
            consent=tuple(row["consent"] or ()),
            centre="",
            inferred_sex=row["inferred_sex"],
            qc_status=row["qc_status"],
        )
        for row in table.to_pylist()
    ]
    summary = write_frequencies(parquet_dir, records, options)
    if summary_path is not None:
        with atomic_output(summary_path) as tmp:
            tmp.write_text(json.dumps(summary.as_dict(), indent=2, sort_keys=True) + "\n")
    return (
        f"wrote {len(summary.files)} frequency files to {options.out} "
        f"({summary.rows_written} of {summary.rows_computed} rows; suppressed: "
        + ", ".join(f"{k} {v}" for k, v in summary.suppressed.items())
        + ")"
    )
