"""genopass parquet on tiny hand-written VCFs, checked against what cyvcf2 reads."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import cyvcf2
import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pysam
import pytest
from click.testing import CliRunner

import genopass.export.parquet as gp
from genopass import __version__
from genopass.cli import main
from genopass.errors import InputError, UsageError
from genopass.export.parquet import ParquetOptions, vcf_to_parquet
from genopass.inputs.reference import contig_md5s

HEADER = """\
##fileformat=VCFv4.2
##contig=<ID=chr1,length=2000>
##contig=<ID=chr2,length=2000>
##FILTER=<ID=PASS,Description="All filters passed">
##FILTER=<ID=q10,Description="Quality below 10">
##FILTER=<ID=lowdp,Description="Low depth, below 5">
##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">
##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">
##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count">
##INFO=<ID=DB,Number=0,Type=Flag,Description="In dbSNP">
##INFO=<ID=NOTE,Number=1,Type=String,Description="Free text, with a comma">
##INFO=<ID=LST,Number=.,Type=Integer,Description="A list">
##INFO=<ID=RC,Number=R,Type=Integer,Description="Per-allele counts">
##INFO=<ID=MQ,Number=1,Type=Float,Description="Mapping quality">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allele depths">
"""

COLUMNS = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT"

RECORDS = [
    # SNV, every site field present; het, hom-ref (not written), full no-call
    "chr1\t100\trs1\tA\tG\t50.5\tPASS\tDP=10;AF=0.25;AC=1;DB;NOTE=hello world;LST=1,2;RC=3,4;"
    "MQ=59.5\tGT:DP:GQ:AD\t0/1:5:30:3,2\t0/0:7:20:7,0\t./.:.:.:.",
    # deletion, ID/QUAL/FILTER/INFO missing; partial no-calls and phased hom-ref
    "chr1\t200\t.\tAC\tA\t.\t.\t.\tGT:DP:AD\t0/.:3:.\t./1:4:1,3\t0|0:2:2,0",
    # insertion, two filters, GT only; phased het, hom-ref, haploid no-call
    "chr1\t300\t.\tG\tGTT\t3\tq10;lowdp\tAF=0.5\tGT\t1|0\t0/0\t.",
    # every sample hom-ref: no genotype rows
    "chr1\t400\trs4\tC\tT\t20\tPASS\tAC=0\tGT:DP\t0/0:9\t0|0:8\t0/0:7",
    # second contig: hom-alt, AD with one value, haploid ALT with a missing AD value
    "chr2\t50\tid2\tT\tC\t99\tPASS\tDB\tGT:AD\t1/1:0,9\t0/0:5\t1:.,3",
    # DP and GQ without AD; phased hom-alt
    "chr2\t60\t.\tGA\tG\t12.25\tlowdp\tDP=30;MQ=40\tGT:DP:GQ\t0/0:10:50\t1|1:12:99\t0/1:.:7",
]

SAMPLES = ("S1", "S2", "S3")

# chrom is dictionary-encoded in the files, as pyarrow reads the hive folder's key (chrom=<c>),
# so that pandas and pyarrow read the folders; DuckDB, Polars and Spark read a string.
CHROM_TYPE = pa.dictionary(pa.int32(), pa.string())

VARIANT_TYPES = {
    "chrom": CHROM_TYPE,
    "pos": pa.int64(),
    "ref": pa.string(),
    "alt": pa.string(),
    "variant_key": pa.string(),
    "id": pa.string(),
    "qual": pa.float32(),
    "filter": pa.string(),
    # fixed, whatever the header: the allele counts of the exported genotypes (AN is not
    # defined by HEADER: a column of nulls)
    "info_AC": pa.int32(),
    "info_AN": pa.int32(),
    "info_AF": pa.float32(),
    # then export.info_keep, in the order listed (INFO_KEEP), typed from the header
    "info_DP": pa.int32(),
    "info_DB": pa.bool_(),
    "info_NOTE": pa.string(),
    "info_LST": pa.string(),
    "info_RC": pa.string(),
    "info_MQ": pa.float32(),
}

INFO_KEEP = ("DP", "DB", "NOTE", "LST", "RC", "MQ")
FIXED_VARIANT_COLUMNS = list(VARIANT_TYPES)[:11]

GENOTYPE_TYPES = {
    "sample": pa.string(),
    "chrom": CHROM_TYPE,
    "pos": pa.int64(),
    "ref": pa.string(),
    "alt": pa.string(),
    "gt": pa.string(),
    "dp": pa.int32(),
    "gq": pa.int32(),
    "ad_ref": pa.int32(),
    "ad_alt": pa.int32(),
    "alt_count": pa.int8(),
}

DUCKDB_TYPES = {
    CHROM_TYPE: "VARCHAR",
    pa.int8(): "TINYINT",
    pa.string(): "VARCHAR",
    pa.int64(): "BIGINT",
    pa.int32(): "INTEGER",
    pa.float32(): "FLOAT",
    pa.bool_(): "BOOLEAN",
}

MISSING = -2147483647  # cyvcf2: int32 missing is INT32_MIN, vector end is INT32_MIN + 1


def write_vcf(
    path: Path, records: list[str], samples: tuple[str, ...] = SAMPLES, header: str = HEADER
) -> Path:
    """Write, bgzip and index a VCF; return the .vcf.gz path."""
    head = COLUMNS + "".join(f"\t{s}" for s in samples) if samples else COLUMNS.rsplit("\t", 1)[0]
    path.write_text(header + head + "\n" + "".join(r + "\n" for r in records))
    return Path(pysam.tabix_index(str(path), preset="vcf", force=True))


@pytest.fixture(params=["split", "combined"])
def mode(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Both query plans: per-sample filtered query, or one wide query split by pyarrow."""
    monkeypatch.setattr(gp, "COMBINED_MAX_SAMPLES", 0 if request.param == "split" else 1000)
    return request.param


@pytest.fixture
def vcf(tmp_path: Path) -> Path:
    return write_vcf(tmp_path / "in.vcf", RECORDS)


def export(vcfs: list[Path], out: Path, **kwargs: Any) -> str:
    """Export with INFO_KEEP kept, so that every INFO type of HEADER is covered."""
    kwargs.setdefault("info_keep", INFO_KEEP)
    return vcf_to_parquet(vcfs, ParquetOptions(out=out, **kwargs))


# ---------------------------------------------------------------------------------------------
# Expected rows, from cyvcf2


def _int(value: int) -> int | None:
    return None if value <= MISSING else int(value)


def _info_value(record: cyvcf2.Variant, name: str, arrow_type: pa.DataType) -> Any:
    value = record.INFO.get(name)
    if arrow_type == pa.bool_():
        return value is not None
    if value is None:
        return None
    if arrow_type == pa.string():
        return ",".join(map(str, value)) if isinstance(value, tuple) else str(value)
    return value


def expected_variants(
    path: Path, info_types: dict[str, pa.DataType] | None = None
) -> list[dict[str, Any]]:
    """Rows as cyvcf2 reads them; INFO columns (name -> type) default to VARIANT_TYPES'."""
    reader = cyvcf2.VCF(str(path))
    if info_types is None:
        info_types = {k: v for k, v in VARIANT_TYPES.items() if k.startswith("info_")}
    rows = []
    for rec in reader:
        alt = rec.ALT[0] if rec.ALT else "."
        row = {
            "chrom": rec.CHROM,
            "pos": rec.POS,
            "ref": rec.REF,
            "alt": alt,
            "variant_key": f"{rec.CHROM}-{rec.POS}-{rec.REF}-{alt}",
            "id": rec.ID,
            "qual": rec.QUAL,
            "filter": ";".join(rec.FILTERS) or None,
        }
        for column, arrow_type in info_types.items():
            row[column] = _info_value(rec, column.removeprefix("info_"), arrow_type)
        rows.append(row)
    return rows


def _gt_string(alleles: list[Any]) -> str:
    *calls, phased = alleles
    text = ["." if a < 0 else str(a) for a in calls]
    return ("|" if phased else "/").join(text)


def _alt_count(alleles: list[Any]) -> int | None:
    """ALT alleles of a genotype counted here (cyvcf2: -1 is a missing allele, the last item
    the phase): None when any allele is missing."""
    calls = alleles[:-1]
    return None if any(a < 0 for a in calls) else sum(a > 0 for a in calls)


def expected_genotypes(path: Path) -> list[dict[str, Any]]:
    reader = cyvcf2.VCF(str(path))
    rows = []
    for rec in reader:
        fields = {tag: rec.format(tag) if tag in rec.FORMAT else None for tag in ("DP", "GQ")}
        ad = rec.format("AD") if "AD" in rec.FORMAT else None
        for i, sample in enumerate(reader.samples):
            alleles = rec.genotypes[i]
            if all(a == 0 for a in alleles[:-1]):
                continue  # hom-ref: implied, not written
            dp, gq = (None if f is None else _int(f[i][0]) for f in fields.values())
            rows.append(
                {
                    "sample": sample,
                    "chrom": rec.CHROM,
                    "pos": rec.POS,
                    "ref": rec.REF,
                    "alt": rec.ALT[0],
                    "gt": _gt_string(alleles),
                    "dp": dp,
                    "gq": gq,
                    "ad_ref": None if ad is None else _int(ad[i][0]),
                    "ad_alt": None if ad is None or ad.shape[1] < 2 else _int(ad[i][1]),
                    "alt_count": _alt_count(alleles),
                }
            )
    return rows


def read_parts(out: Path, table: str) -> list[dict[str, Any]]:
    """Rows of every partition file, contigs in VCF order, rows in file order."""
    rows: list[dict[str, Any]] = []
    for contig in ("chr1", "chr2"):
        part = out / table / f"chrom={contig}" / "part-0.parquet"
        if part.exists():
            rows += pq.read_table(part).to_pylist()
    return rows


def assert_rows_equal(got: list[dict[str, Any]], want: list[dict[str, Any]]) -> None:
    assert len(got) == len(want)
    for g, w in zip(got, want, strict=True):
        assert g.keys() == w.keys()
        for key, value in w.items():
            if isinstance(value, float):
                assert g[key] == pytest.approx(value, rel=1e-6), (w["pos"], key)
            else:
                assert g[key] == value, (w["pos"], key)


# ---------------------------------------------------------------------------------------------
# Tables


def test_layout_and_summary(vcf: Path, tmp_path: Path, mode: str) -> None:
    out = tmp_path / "out"
    summary = export([vcf], out)
    assert summary == f"wrote 6 variants and 10 genotype rows (2 contigs) to {out}"
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == [
        "genotypes/chrom=chr1/part-0.parquet",
        "genotypes/chrom=chr2/part-0.parquet",
        "variants/chrom=chr1/part-0.parquet",
        "variants/chrom=chr2/part-0.parquet",
    ]


def test_variants_schema_and_values(
    vcf: Path, tmp_path: Path, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    out = tmp_path / "out"
    export([vcf], out)
    assert [r.message for r in caplog.records if r.levelname == "WARNING"] == []
    for part in (out / "variants").glob("*/part-0.parquet"):
        schema = pq.read_schema(part)
        assert dict(zip(schema.names, schema.types, strict=True)) == VARIANT_TYPES
        assert list(schema.names) == list(VARIANT_TYPES)
    assert_rows_equal(read_parts(out, "variants"), expected_variants(vcf))


def test_genotypes_schema_and_values(vcf: Path, tmp_path: Path, mode: str) -> None:
    out = tmp_path / "out"
    export([vcf], out)
    for part in (out / "genotypes").glob("*/part-0.parquet"):
        schema = pq.read_schema(part)
        assert list(zip(schema.names, schema.types, strict=True)) == list(GENOTYPE_TYPES.items())
    got = read_parts(out, "genotypes")
    assert_rows_equal(got, expected_genotypes(vcf))
    gts = {(r["pos"], r["sample"]): r["gt"] for r in got}
    # partial no-calls kept, hom-ref (unphased, phased) never written
    assert gts[(200, "S1")] == "0/." and gts[(200, "S2")] == "./1"
    assert gts[(300, "S3")] == "." and gts[(100, "S3")] == "./."
    assert not [k for k in gts if k[0] == 400]
    assert {"0/0", "0|0"}.isdisjoint(gts.values())
    # alt_count by hand from RECORDS: het 1, hom-alt 2, haploid ALT 1, any missing allele null
    counts = {(r["pos"], r["sample"]): r["alt_count"] for r in got}
    assert counts == {
        (100, "S1"): 1, (100, "S3"): None,
        (200, "S1"): None, (200, "S2"): None,
        (300, "S1"): 1, (300, "S3"): None,
        (50, "S1"): 2, (50, "S3"): 1,
        (60, "S2"): 2, (60, "S3"): 1,
    }  # fmt: skip


def test_duckdb_reads_the_hive_layout(vcf: Path, tmp_path: Path, mode: str) -> None:
    out = tmp_path / "out"
    export([vcf], out)
    con = duckdb.connect()
    for table, types, want, order in (
        ("variants", VARIANT_TYPES, expected_variants(vcf), "chrom, pos"),
        ("genotypes", GENOTYPE_TYPES, expected_genotypes(vcf), "chrom, pos, sample"),
    ):
        rel = con.sql(
            f"SELECT * FROM read_parquet('{out}/{table}/*/*.parquet', hive_partitioning=true) "
            f"ORDER BY {order}"
        )
        assert rel.columns == list(types)
        assert [str(t) for t in rel.types] == [DUCKDB_TYPES[t] for t in types.values()]
        got = [dict(zip(rel.columns, row, strict=True)) for row in rel.fetchall()]
        want = sorted(want, key=lambda r: tuple(r[k.strip()] for k in order.split(",")))
        assert_rows_equal(got, want)


def test_metadata_without_reference(vcf: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export([vcf], out, reference_name="GRCh38")
    for part in out.rglob("*.parquet"):
        meta = pq.read_metadata(part)
        kv = {k.decode(): v.decode() for k, v in meta.metadata.items() if k != b"ARROW:schema"}
        assert kv == {
            "genopass_version": __version__,
            "reference": "GRCh38",
            "contig_digests": "{}",
            "source": "genopass parquet",
        }
        assert meta.row_group(0).column(0).compression == "ZSTD"
        # pyarrow and pandas show the same keys as the schema metadata
        assert pq.read_schema(part).metadata[b"source"] == b"genopass parquet"


def test_metadata_contig_digests(vcf: Path, tmp_path: Path) -> None:
    seqs = {"chr1": "ACGTacgtNN" * 50, "chr2": "ttttGGGGcc" * 7 + "A"}
    fasta = tmp_path / "ref.fa"
    with open(fasta, "w") as handle:
        for name, seq in seqs.items():
            handle.write(f">{name}\n")
            handle.writelines(seq[i : i + 60] + "\n" for i in range(0, len(seq), 60))
    pysam.faidx(str(fasta))
    want = {n: hashlib.md5(s.upper().encode()).hexdigest() for n, s in seqs.items()}
    assert contig_md5s(fasta) == want
    out = tmp_path / "out"
    export([vcf], out, reference=fasta, reference_name="toy")
    meta = pq.read_metadata(out / "variants" / "chrom=chr1" / "part-0.parquet").metadata
    assert json.loads(meta[b"contig_digests"]) == want
    assert meta[b"reference"] == b"toy"


def test_rows_sorted_by_position(tmp_path: Path) -> None:
    records = [f"chr1\t{p}\t.\tA\tG\t1\tPASS\t.\tGT\t0/1\t1/1\t0/0" for p in range(10, 5000, 10)]
    out = tmp_path / "out"
    export([write_vcf(tmp_path / "sorted.vcf", records)], out)
    for table in ("variants", "genotypes"):
        pos = pq.read_table(out / table / "chrom=chr1" / "part-0.parquet")["pos"].to_pylist()
        assert pos == sorted(pos)


def test_single_sample(tmp_path: Path, mode: str) -> None:
    records = ["\t".join(r.split("\t")[:10]) for r in RECORDS]
    path = write_vcf(tmp_path / "one.vcf", records, samples=("S1",))
    out = tmp_path / "out"
    assert "6 variants and 4 genotype rows" in export([path], out)
    assert_rows_equal(read_parts(out, "variants"), expected_variants(path))
    assert_rows_equal(read_parts(out, "genotypes"), expected_genotypes(path))


def test_many_batches_and_row_groups(
    tmp_path: Path, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(gp, "BLOCK_SIZE", 4096)  # many CSV batches per contig
    monkeypatch.setattr(gp, "ROW_GROUP_ROWS", 700)
    gts = ["0/0", "0/1", "1|1", "./.", "0/.", "1"]
    records = [
        f"chr{c}\t{p}\t.\tA\tG\t{p % 97}\tPASS\tDP={p}\tGT:DP\t"
        + "\t".join(f"{gts[(p + k) % 6]}:{k}" for k in range(3))
        for c in (1, 2)
        for p in range(1, 3001, 3)
    ]
    path = write_vcf(tmp_path / "many.vcf", records)
    out = tmp_path / "out"
    export([path], out, threads=2)
    assert_rows_equal(read_parts(out, "variants"), expected_variants(path))
    assert_rows_equal(read_parts(out, "genotypes"), expected_genotypes(path))
    meta = pq.read_metadata(out / "genotypes" / "chrom=chr1" / "part-0.parquet")
    assert meta.num_row_groups > 1


def test_same_input_gives_identical_bytes(vcf: Path, tmp_path: Path) -> None:
    runs = []
    for i, threads in enumerate((1, 1, 4)):
        out = tmp_path / f"out{i}"
        export([vcf], out, threads=threads)
        runs.append({p.relative_to(out): p.read_bytes() for p in out.rglob("*.parquet")})
    assert runs[0] == runs[1] == runs[2]
    assert len(runs[0]) == 4


PANDAS_PROBE = """
import sys
from pathlib import Path
import genopass.export.parquet as gp
gp.vcf_to_parquet([Path(sys.argv[1])], gp.ParquetOptions(out=Path(sys.argv[2])))
print(sorted(m for m in sys.modules if m.split(".")[0] == "pandas"))
"""


def test_export_does_not_import_pandas(vcf: Path, tmp_path: Path) -> None:
    """Converting a Python value makes pyarrow import pandas: 0.15 s per run (speed target)."""
    one = write_vcf(tmp_path / "one.vcf", ["\t".join(r.split("\t")[:10]) for r in RECORDS], ("S1",))
    for i, path in enumerate((vcf, one)):  # per-sample query, and the one-pass plan
        args = [sys.executable, "-c", PANDAS_PROBE, str(path), str(tmp_path / f"o{i}")]
        run = subprocess.run(args, capture_output=True, text=True)
        assert run.returncode == 0, run.stderr
        assert run.stdout.strip() == "[]"


def test_sites_only_vcf_gives_empty_genotypes(tmp_path: Path) -> None:
    sites = ["\t".join(r.split("\t")[:8]) for r in RECORDS]
    path = write_vcf(tmp_path / "sites.vcf", sites, samples=())
    out = tmp_path / "out"
    assert "6 variants and 0 genotype rows" in export([path], out)
    assert_rows_equal(read_parts(out, "variants"), expected_variants(path))
    table = pq.read_table(out / "genotypes" / "chrom=chr1" / "part-0.parquet")
    assert table.num_rows == 0
    assert table.schema.names == list(GENOTYPE_TYPES)


def test_format_fields_missing_from_header(tmp_path: Path, mode: str) -> None:
    header = "".join(
        line + "\n"
        for line in HEADER.splitlines()
        if not line.startswith("##FORMAT") or "ID=GT," in line
    )
    records = ["\t".join(r.split("\t")[:8]) + "\tGT\t0/1\t0/0\t1|1" for r in RECORDS]
    path = write_vcf(tmp_path / "gt.vcf", records, header=header)
    out = tmp_path / "out"
    export([path], out)
    rows = read_parts(out, "genotypes")
    assert len(rows) == 12
    assert {(r["dp"], r["gq"], r["ad_ref"], r["ad_alt"]) for r in rows} == {(None,) * 4}


def test_contig_names_with_colons(tmp_path: Path, mode: str) -> None:
    name = "HLA-A*01:01:01:01"  # GRCh38 analysis sets have such contigs; -r cannot name them
    header = HEADER.replace("##contig=<ID=chr2,length=2000>", f"##contig=<ID={name},length=3503>")
    records = [RECORDS[0], RECORDS[4].replace("chr2", name)]
    path = write_vcf(tmp_path / "hla.vcf", records, header=header)
    out = tmp_path / "out"
    assert "2 variants and 4 genotype rows (2 contigs)" in export([path], out)
    part = out / "variants" / "chrom=HLA-A%2A01%3A01%3A01%3A01" / "part-0.parquet"
    assert pq.read_table(part)["variant_key"].to_pylist() == [f"{name}-50-T-C"]
    rel = duckdb.connect().sql(
        f"SELECT DISTINCT chrom FROM read_parquet('{out}/genotypes/*/*.parquet', "
        "hive_partitioning=true) ORDER BY chrom"
    )
    assert rel.fetchall() == [(name,), ("chr1",)]


# ---------------------------------------------------------------------------------------------
# Several inputs


def test_several_inputs_are_merged(tmp_path: Path, mode: str) -> None:
    a = write_vcf(
        tmp_path / "a.vcf",
        [
            "chr1\t100\t.\tA\tG\t50\tPASS\tDP=5\tGT:DP\t0/1:5",
            "chr1\t200\t.\tC\tT\t50\tPASS\tDP=6\tGT:DP\t1/1:6",
        ],
        samples=("A1",),
    )
    b = write_vcf(
        tmp_path / "b.vcf",
        [
            "chr1\t100\t.\tA\tG\t50\tPASS\tDP=7\tGT:DP\t1|0:7",
            "chr1\t100\t.\tA\tT\t50\tPASS\tDP=7\tGT:DP\t0/1:7",
            "chr2\t10\t.\tG\tC\t50\tPASS\tDP=8\tGT:DP\t./.:.",
        ],
        samples=("B1",),
    )
    out = tmp_path / "out"
    assert "4 variants and 5 genotype rows (2 contigs)" in export([a, b], out)
    keys = [r["variant_key"] for r in read_parts(out, "variants")]
    assert sorted(keys) == ["chr1-100-A-G", "chr1-100-A-T", "chr1-200-C-T", "chr2-10-G-C"]
    rows = read_parts(out, "genotypes")
    got = {(f"{r['chrom']}-{r['pos']}-{r['ref']}-{r['alt']}", r["sample"]): r["gt"] for r in rows}
    # A1 is absent from b, B1 from a: --missing-to-ref makes those hom-ref, so not written.
    assert got == {
        ("chr1-100-A-G", "A1"): "0/1",
        ("chr1-100-A-G", "B1"): "1|0",
        ("chr1-100-A-T", "B1"): "0/1",
        ("chr1-200-C-T", "A1"): "1/1",
        ("chr2-10-G-C", "B1"): "./.",
    }
    assert len(rows) == len(got)


def test_merge_matches_bcftools_merge(tmp_path: Path, mode: str) -> None:
    a = write_vcf(tmp_path / "a.vcf", RECORDS, samples=SAMPLES)
    b = write_vcf(
        tmp_path / "b.vcf",
        [
            "chr1\t100\trs1\tA\tG\t50\tPASS\tDP=3\tGT:AD\t1/1:0,3",
            "chr2\t70\t.\tT\tA\t9\t.\t.\tGT\t0/1",
        ],
        samples=("T1",),
    )
    merged = tmp_path / "merged.vcf.gz"
    subprocess.run(
        ["bcftools", "merge", "-m", "none", "--missing-to-ref", "-Oz", "-o", merged, a, b],
        check=True,
    )
    out = tmp_path / "out"
    export([a, b], out)
    want = expected_variants(merged)
    assert len({r["variant_key"] for r in want}) == len(want) == 7
    assert_rows_equal(read_parts(out, "variants"), want)
    assert_rows_equal(read_parts(out, "genotypes"), expected_genotypes(merged))


# ---------------------------------------------------------------------------------------------
# Errors: one clear message, no partial output


@pytest.mark.parametrize(
    "info", [".", "AC=1,2;AF=0.1,0.2"], ids=["no-number-A-info", "number-A-info"]
)
def test_multiallelic_input_is_refused(tmp_path: Path, mode: str, info: str) -> None:
    records = [*RECORDS[:2], f"chr1\t250\t.\tA\tG,T\t10\tPASS\t{info}\tGT\t0/1\t1/2\t0/0"]
    path = write_vcf(tmp_path / "multi.vcf", sorted(records, key=lambda r: int(r.split()[1])))
    out = tmp_path / "out"
    with pytest.raises(InputError) as err:
        export([path], out)
    message = str(err.value)
    assert str(path) in message
    assert "chr1:250" in message and "multiallelic" in message
    assert "harmonise" in message
    assert not out.exists()


def test_multiallelic_in_one_of_several_inputs_names_it(tmp_path: Path) -> None:
    good = write_vcf(tmp_path / "good.vcf", RECORDS[:1])
    bad = write_vcf(
        tmp_path / "bad.vcf", ["chr1\t150\t.\tA\tG,T\t10\tPASS\t.\tGT\t1/2"], samples=("X1",)
    )
    with pytest.raises(InputError, match=r"bad\.vcf\.gz: record chr1:150 is multiallelic"):
        export([good, bad], tmp_path / "out")


def test_missing_index(tmp_path: Path) -> None:
    path = write_vcf(tmp_path / "in.vcf", RECORDS)
    Path(f"{path}.tbi").unlink()
    with pytest.raises(InputError, match="index"):
        export([path], tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_corrupt_block_mid_file(tmp_path: Path) -> None:
    records = [f"chr1\t{p}\t.\tA\tG\t10\tPASS\tDP={p}\tGT\t0/1\t0/0\t1/1" for p in range(1, 20001)]
    path = write_vcf(tmp_path / "big.vcf", records)
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 200] = bytes(b ^ 0x5A for b in data[middle : middle + 200])
    path.write_bytes(bytes(data))  # index and BGZF end-of-file block stay valid
    out = tmp_path / "out"
    with pytest.raises(InputError, match=r"big\.vcf\.gz.*(error|failed)"):
        export([path], out)
    assert not out.exists()


def test_previous_output_survives_a_failed_run(vcf: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    export([vcf], out)
    before = {p: p.read_bytes() for p in out.rglob("*.parquet")}
    bad = write_vcf(tmp_path / "bad.vcf", ["chr1\t5\t.\tA\tC,G\t1\t.\t.\tGT\t1/2\t0/0\t0/0"])
    with pytest.raises(InputError):
        export([bad], out)
    assert {p: p.read_bytes() for p in out.rglob("*.parquet")} == before


def test_cli_reports_one_line(tmp_path: Path) -> None:
    path = write_vcf(tmp_path / "multi.vcf", ["chr1\t5\t.\tA\tC,G\t1\t.\t.\tGT\t1/2\t0/0\t0/0"])
    result = CliRunner().invoke(main, ["parquet", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "Traceback" not in result.output
    assert "genopass: error:" in result.output and "chr1:5" in result.output
    ok = CliRunner().invoke(
        main,
        ["parquet", str(write_vcf(tmp_path / "ok.vcf", RECORDS)), "--out", str(tmp_path / "p")],
    )
    assert ok.exit_code == 0, ok.output
    assert "wrote 6 variants and 10 genotype rows" in ok.output


# ---------------------------------------------------------------------------------------------
# Fixed variants schema: a centre's INFO fields never become columns

# A joint-called cohort's header: its statistics, a centre tag and genopass's work tag.
COHORT_HEADER = """\
##fileformat=VCFv4.2
##contig=<ID=chr1,length=2000>
##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count">
##INFO=<ID=AN,Number=1,Type=Integer,Description="Allele number">
##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">
##INFO=<ID=AC_AFR,Number=A,Type=Integer,Description="Allele count in AFR">
##INFO=<ID=NS,Number=1,Type=Integer,Description="Samples with data">
##INFO=<ID=CTRB_SCORE,Number=1,Type=Float,Description="Centre B score">
##INFO=<ID=GENOPASS_SOURCE,Number=1,Type=Integer,Description="Source record number">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
"""
COHORT_RECORDS = [
    "chr1\t10\t.\tA\tG\t50\tPASS\tAC=1;AN=4;AF=0.25;AC_AFR=7;NS=3202;CTRB_SCORE=1.5;"
    "GENOPASS_SOURCE=1\tGT\t0/1\t0/0",
    "chr1\t20\t.\tC\tT\t50\tPASS\tAC=2;AN=4;AF=0.5;NS=3202;GENOPASS_SOURCE=2\tGT\t1/1\t0/0",
]
FIXED_TYPES = {name: VARIANT_TYPES[name] for name in FIXED_VARIANT_COLUMNS}


def test_variants_schema_is_fixed_whatever_the_delivery(tmp_path: Path, mode: str) -> None:
    plain = write_vcf(tmp_path / "plain.vcf", RECORDS)
    cohort = write_vcf(tmp_path / "cohort.vcf", COHORT_RECORDS, ("A", "B"), COHORT_HEADER)
    for name, path in (("plain", plain), ("cohort", cohort)):
        out = tmp_path / name
        vcf_to_parquet([path], ParquetOptions(out=out))
        for part in (out / "variants").glob("*/part-0.parquet"):
            schema = pq.read_schema(part)
            assert dict(zip(schema.names, schema.types, strict=True)) == FIXED_TYPES, name
            assert schema.names == FIXED_VARIANT_COLUMNS
    # the values are those of the VCF's own AC/AN/AF (null where the header lacks AN)
    info = {k: v for k, v in FIXED_TYPES.items() if k.startswith("info_")}
    assert_rows_equal(read_parts(tmp_path / "cohort", "variants"), expected_variants(cohort, info))
    assert_rows_equal(read_parts(tmp_path / "plain", "variants"), expected_variants(plain, info))
    assert {r["info_AN"] for r in read_parts(tmp_path / "plain", "variants")} == {None}
    # the genotypes table does not depend on INFO either
    genotypes = [pq.read_schema(p) for p in tmp_path.glob("*/genotypes/*/part-0.parquet")]
    assert genotypes and all(s.names == list(GENOTYPE_TYPES) for s in genotypes)


def test_info_keep_field_missing_from_the_header_is_a_null_column(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cohort = write_vcf(tmp_path / "cohort.vcf", COHORT_RECORDS, ("A", "B"), COHORT_HEADER)
    out = tmp_path / "out"
    vcf_to_parquet([cohort], ParquetOptions(out=out, info_keep=("NS", "CSQ")))
    table = pq.read_table(out / "variants", partitioning=None)
    assert table.schema.names == [*FIXED_VARIANT_COLUMNS, "info_NS", "info_CSQ"]
    assert table.schema.field("info_NS").type == pa.int32()
    assert table.schema.field("info_CSQ").type == pa.string()
    assert table["info_NS"].to_pylist() == [3202, 3202]
    assert table["info_CSQ"].to_pylist() == [None, None]
    assert any("INFO/CSQ" in r.message for r in caplog.records if r.levelname == "WARNING")


def test_info_keep_refuses_work_tags(tmp_path: Path) -> None:
    cohort = write_vcf(tmp_path / "cohort.vcf", COHORT_RECORDS, ("A", "B"), COHORT_HEADER)
    with pytest.raises(UsageError, match="GENOPASS_SOURCE is a genopass work tag"):
        vcf_to_parquet([cohort], ParquetOptions(out=tmp_path / "o", info_keep=("GENOPASS_SOURCE",)))
    assert not (tmp_path / "o").exists()


def test_cli_info_keep_takes_repeats_and_comma_lists(tmp_path: Path) -> None:
    cohort = write_vcf(tmp_path / "cohort.vcf", COHORT_RECORDS, ("A", "B"), COHORT_HEADER)
    out = tmp_path / "p"
    args = ["parquet", str(cohort), "--out", str(out), "--info-keep", "NS,AC_AFR"]
    result = CliRunner().invoke(main, [*args, "--info-keep", "CTRB_SCORE"])
    assert result.exit_code == 0, result.output
    names = pq.read_schema(next((out / "variants").glob("*/part-0.parquet"))).names
    assert names == [*FIXED_VARIANT_COLUMNS, "info_NS", "info_AC_AFR", "info_CTRB_SCORE"]
