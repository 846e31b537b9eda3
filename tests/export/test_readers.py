"""Each reader's common first call reads the export's folders as they are, and agrees with the
cohort VCF read by cyvcf2 record by record: positions, alleles, GT, DP, GQ, AD, AC/AN/AF.

Spark runs in local mode on Debian's openjdk-17 (java on PATH).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from pathlib import Path

import cyvcf2
import pytest
from export_helpers import PEOPLE, Built

MISSING_INT = -2147483648


def _value(value: object) -> object:
    if value is None:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if hasattr(value, "item"):  # numpy scalars
        value = value.item()
    if isinstance(value, float):
        return round(value, 5)
    return value


def _int(value: int) -> int | None:
    return None if value in (MISSING_INT, MISSING_INT + 1) else int(value)


def _gt(genotype: list) -> str:
    *alleles, phased = genotype
    return ("|" if phased else "/").join("." if a < 0 else str(a) for a in alleles)


def expected(cohort: Path) -> tuple[list[tuple], list[tuple]]:
    variants, genotypes = [], []
    vcf = cyvcf2.VCF(str(cohort))
    samples = vcf.samples
    for v in vcf:
        (alt,) = v.ALT
        variants.append(
            (v.CHROM, v.POS, v.REF, alt, v.INFO["AC"], v.INFO["AN"], round(v.INFO["AF"], 5))
        )
        dp, gq, ad = v.format("DP"), v.format("GQ"), v.format("AD")
        for i, sample in enumerate(samples):
            gt = _gt(v.genotypes[i])
            if set(gt) <= {"0", "/", "|"}:
                continue  # hom-ref rows are implied
            alleles = [a for a in gt.replace("|", "/").split("/")]
            alt_count = None if "." in alleles else alleles.count("1")
            genotypes.append(
                (sample, v.CHROM, v.POS, v.REF, alt, gt,
                 _int(dp[i][0]) if dp is not None else None,
                 _int(gq[i][0]) if gq is not None else None,
                 _int(ad[i][0]) if ad is not None else None,
                 _int(ad[i][1]) if ad is not None else None, alt_count)
            )  # fmt: skip
    return sorted(variants), sorted(genotypes)


VARIANT_COLUMNS = ("chrom", "pos", "ref", "alt", "info_AC", "info_AN", "info_AF")
GENOTYPE_COLUMNS = ("sample", "chrom", "pos", "ref", "alt", "gt", "dp", "gq", "ad_ref", "ad_alt",
                    "alt_count")  # fmt: skip


def rows_of(records: Iterable[dict], columns: tuple[str, ...]) -> list[tuple]:
    return sorted(tuple(_value(r[c]) for c in columns) for r in records)


def read_duckdb(folder: Path) -> list[dict]:
    import duckdb

    cursor = duckdb.connect().execute(f"SELECT * FROM '{folder}/**/*.parquet'")
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def read_polars(folder: Path) -> list[dict]:
    import polars as pl

    return pl.read_parquet(folder).to_dicts()


def read_pandas(folder: Path) -> list[dict]:
    import pandas as pd

    frame = pd.read_parquet(folder)
    return [
        {k: (str(v) if k == "chrom" else v) for k, v in row.items()}
        for row in frame.astype(object).to_dict("records")
    ]


def read_pyarrow(folder: Path) -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(folder).to_pylist()


@pytest.fixture(scope="module")
def spark():
    from pyspark.sql import SparkSession

    session = (
        SparkSession.builder.master("local[1]")
        .appName("genopass-readers")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "1")
        .getOrCreate()
    )
    yield session
    session.stop()


READERS: dict[str, Callable[[Path], list[dict]]] = {
    "duckdb": read_duckdb,
    "polars": read_polars,
    "pandas": read_pandas,
    "pyarrow": read_pyarrow,
}


def _check(read: Callable[[Path], list[dict]], built: Built) -> None:
    variants, genotypes = expected(built.cohort)
    parquet = built.export / "parquet"
    assert rows_of(read(parquet / "variants"), VARIANT_COLUMNS) == variants
    assert rows_of(read(parquet / "genotypes"), GENOTYPE_COLUMNS) == genotypes
    samples = read(parquet / "samples")
    got = {r["sample"]: (r["country"], r["sex"], list(r["consent"])) for r in samples}
    assert got == {
        built.pseudonym_of[s]: (c, x, [d for d in consent.split(",") if d])
        for s, c, x, consent in PEOPLE
    }


@pytest.mark.parametrize("reader", sorted(READERS))
def test_reader_agrees_with_cyvcf2(reader: str, built: Built) -> None:
    _check(READERS[reader], built)


def test_spark_agrees_with_cyvcf2(spark, built: Built) -> None:
    def read(folder: Path) -> list[dict]:
        return [row.asDict() for row in spark.read.parquet(str(folder)).collect()]

    _check(read, built)
