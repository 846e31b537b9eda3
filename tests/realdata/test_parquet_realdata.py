"""genopass parquet on real public VCFs (nf-core test datasets), checked against bcftools.

Data: ``${GENOPASS_SHARED_DATA:-<repo>/../shared/data}/nf-core-test-datasets`` (PROVENANCE.md
there): the 1000 Genomes 30x panel on a chr22 slice (903 sites x 3,202 samples) and the GIAB
NA12878 benchmark calls on the same slice (81 records, multiallelics joined).
"""

from __future__ import annotations

import os
import subprocess
from collections import Counter
from pathlib import Path

import cyvcf2
import duckdb
import pyarrow.parquet as pq
import pytest

from genopass.export.parquet import ParquetOptions, vcf_to_parquet

REPO = Path(__file__).resolve().parents[2]
DATA = Path(os.environ.get("GENOPASS_SHARED_DATA", REPO.parent / "shared" / "data"))
DATASETS = DATA / "nf-core-test-datasets"

if not DATASETS.is_dir():
    pytest.skip(f"real data not found under {DATA}", allow_module_level=True)

pytestmark = pytest.mark.realdata

INPUTS = {
    "1000GP": DATASETS / "popgen" / "1000GP.chr22.vcf.gz",
    "GIAB": DATASETS / "illumina" / "vcf" / "NA12878_GIAB.chr22.vcf.gz",
}


def bcftools(*args: str | Path) -> str:
    return subprocess.run(
        ["bcftools", *map(str, args)], check=True, capture_output=True, text=True
    ).stdout


def export(name: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(normalised biallelic VCF, Parquet folder) of one dataset."""
    tmp = tmp_path_factory.mktemp(name)
    normalised = tmp / "norm.vcf.gz"
    bcftools("norm", "-m-any", "-Oz", "-o", normalised, INPUTS[name])
    bcftools("index", normalised)
    out = tmp / "parquet"
    vcf_to_parquet([normalised], ParquetOptions(out=out, threads=2))
    return normalised, out


@pytest.fixture(scope="module", params=sorted(INPUTS))
def exported(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[Path, Path]:
    return export(request.param, tmp_path_factory)


@pytest.fixture(scope="module")
def panel(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The 1000 Genomes panel: 3,202 samples, GT only, INFO/AC and AN."""
    return export("1000GP", tmp_path_factory)


@pytest.fixture(scope="module")
def giab(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """GIAB HG001: one sample with DP, GQ and AD."""
    return export("GIAB", tmp_path_factory)


def parts(out: Path, table: str) -> str:
    return f"read_parquet('{out}/{table}/*/*.parquet', hive_partitioning=true)"


def test_one_variant_row_per_record(exported: tuple[Path, Path]) -> None:
    vcf, out = exported
    records = bcftools("view", "-H", vcf).splitlines()
    keys = bcftools("query", "-f", r"%CHROM-%POS-%REF-%ALT\n", vcf).splitlines()
    # partitioning=None: the files carry chrom themselves (pyarrow's hive discovery would add a
    # dictionary-typed chrom that clashes with it)
    table = pq.read_table(out / "variants", partitioning=None)
    assert table.num_rows == len(records) == len(keys)
    assert table["variant_key"].to_pylist() == keys  # VCF order
    assert all("," not in key for key in keys)


def test_genotype_rows_per_site(exported: tuple[Path, Path]) -> None:
    """Per site, the written GTs are exactly the non-hom-ref GTs that bcftools prints."""
    vcf, out = exported
    want: dict[tuple[int, str, str], Counter[str]] = {}
    for line in bcftools("query", "-f", r"%POS\t%REF\t%ALT[\t%GT]\n", vcf).splitlines():
        pos, ref, alt, *gts = line.split("\t")
        alleles = (gt.replace("|", "/").split("/") for gt in gts)
        kept = [gt for gt, a in zip(gts, alleles, strict=True) if set(a) != {"0"}]
        want[(int(pos), ref, alt)] = Counter(kept)
    got: dict[tuple[int, str, str], Counter[str]] = {key: Counter() for key in want}
    rows = (
        duckdb.connect()
        .sql(f"SELECT pos, ref, alt, gt, count(*) FROM {parts(out, 'genotypes')} GROUP BY ALL")
        .fetchall()
    )
    for pos, ref, alt, gt, n in rows:
        got[(pos, ref, alt)][gt] = n
    assert got == want
    assert sum(sum(c.values()) for c in want.values()) > 0


def test_rows_of_a_sample_match_bcftools_view(exported: tuple[Path, Path], tmp_path: Path) -> None:
    vcf, out = exported
    sample = bcftools("query", "-l", vcf).splitlines()[-1]
    # One-sample copy, so that bcftools view -i (site level) counts that sample's genotypes,
    # with regular expressions on GT rather than the query genopass runs.
    one = tmp_path / "one.bcf"
    bcftools("view", "-s", sample, "-Ob", "-o", one, vcf)

    def count(expression: str) -> int:
        return len(bcftools("view", "-H", "-i", expression, one).splitlines())

    expected = count('GT~"1"') + count('GT~"\\."') - count('GT~"1" && GT~"\\."')
    [(got,)] = (
        duckdb.connect()
        .sql(f"SELECT count(*) FROM {parts(out, 'genotypes')} WHERE sample = '{sample}'")
        .fetchall()
    )
    assert got == expected > 0


def test_info_ac_an_agree_with_genotypes(panel: tuple[Path, Path]) -> None:
    vcf, out = panel
    columns = pq.read_schema(next((out / "variants").glob("*/part-0.parquet"))).names
    assert {"info_AC", "info_AN"} <= set(columns)
    n_samples = len(bcftools("query", "-l", vcf).splitlines())
    # ALT alleles and missing alleles per site, summed over the written (non hom-ref) rows;
    # diploid autosome: AN = 2 * samples - missing alleles.
    an = 2 * n_samples
    mismatches = (
        duckdb.connect()
        .sql(
            f"""
        WITH g AS (
            SELECT pos, ref, alt,
                   sum(length(gt) - length(replace(gt, '1', ''))) AS ac,
                   sum(length(gt) - length(replace(gt, '.', ''))) AS missing
            FROM {parts(out, "genotypes")} GROUP BY ALL
        )
        SELECT v.pos, v.info_AC, coalesce(g.ac, 0), v.info_AN, {an} - coalesce(g.missing, 0)
        FROM {parts(out, "variants")} v LEFT JOIN g USING (pos, ref, alt)
        WHERE v.info_AC IS DISTINCT FROM coalesce(g.ac, 0)
           OR v.info_AN IS DISTINCT FROM {an} - coalesce(g.missing, 0)
        """
        )
        .fetchall()
    )
    assert mismatches == []


def test_sample_fields_match_cyvcf2(giab: tuple[Path, Path]) -> None:
    vcf, out = giab
    reader = cyvcf2.VCF(str(vcf))
    assert reader.samples == ["HG001"]
    want = []
    for rec in reader:
        alleles = rec.genotypes[0][:-1]
        if all(a == 0 for a in alleles):
            continue

        def one(tag: str, i: int = 0, rec: cyvcf2.Variant = rec) -> int | None:
            if tag not in rec.FORMAT:
                return None
            values = rec.format(tag)[0]
            return int(values[i]) if i < len(values) and values[i] > -2147483647 else None

        want.append((rec.POS, rec.REF, rec.ALT[0], one("DP"), one("GQ"), one("AD"), one("AD", 1)))
    table = pq.read_table(out / "genotypes", partitioning=None)  # file order = VCF order
    columns = ["pos", "ref", "alt", "dp", "gq", "ad_ref", "ad_alt"]
    got = [tuple(row.values()) for row in table.select(columns).to_pylist()]
    assert got == want
