"""The export allow-list on real data: the 1000 Genomes 30x chr22 panel exported per sample.

Data: ``${GENOPASS_SHARED_DATA:-<repo>/../shared/data}/nf-core-test-datasets/popgen/
1000GP.chr22.vcf.gz`` (PROVENANCE.md there): 903 sites x 3,202 samples, phased GT only, and 90
INFO fields of cohort statistics (AC_AFR, AC_Het_EAS, AF_SAS_unrel, ExcHet, rank sums ...) that
describe the 3,202 people, not the few exported. Each sample is cut from the panel the way the
workflow cuts a sample from a centre's cohort file (``genopass export-vcf``), the cohort is merged
as ``rule bcftools_merge`` does it, and Parquet is written from the cohort. Expected values are
counted here with cyvcf2 and bcftools, never taken from genopass.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import cyvcf2
import pyarrow.parquet as pq
import pytest

from genopass.export.parquet import ParquetOptions, vcf_to_parquet
from genopass.export.vcf import ExportOptions, export_vcf

pytestmark = pytest.mark.realdata

# The first three samples (GBR), a Yoruba and the last sample of the panel.
SAMPLES = ["HG00096", "HG00097", "HG00099", "NA18486", "NA21144"]
ALLOWED_INFO = {"AC", "AN", "AF"}
# Fields that define a symbolic allele's extent (<DEL> ... END=); kept by design (README,
# "Outputs"). The panel's header defines END, its records use none.
ALLELE_INFO = {"END", "SVTYPE", "SVLEN"}
VARIANT_COLUMNS = [
    "chrom", "pos", "ref", "alt", "variant_key", "id", "qual", "filter",
    "info_AC", "info_AN", "info_AF",
]  # fmt: skip


def bcftools(*args: str | Path) -> str:
    return subprocess.run(
        ["bcftools", *map(str, args)], check=True, capture_output=True, text=True
    ).stdout


def own_site(gt: str) -> bool:
    return any(allele != "0" for allele in gt.replace("|", "/").split("/"))


@pytest.fixture(scope="module")
def panel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The panel split into biallelic records (as harmonisation leaves it)."""
    from helpers import SHARED_DATA

    source = SHARED_DATA / "nf-core-test-datasets" / "popgen" / "1000GP.chr22.vcf.gz"
    if not source.is_file():
        pytest.skip(f"shared real data not present at {SHARED_DATA}")
    out = tmp_path_factory.mktemp("panel") / "panel.vcf.gz"
    bcftools("norm", "-m-any", "--no-version", "-Oz", "-o", out, source)
    bcftools("index", "-t", out)
    return out


@pytest.fixture(scope="module")
def exported(panel: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """sample -> its export VCF, plus "cohort" -> the merged cohort and "parquet" -> tables."""
    folder = tmp_path_factory.mktemp("export")
    files = {}
    for sample in SAMPLES:
        files[sample] = folder / f"{sample}.vcf.gz"
        export_vcf(panel, ExportOptions(out=files[sample], sample=sample, threads=2))
    # rule bcftools_merge: merge, then AC/AN/AF recomputed from the merged genotypes
    merged = folder / "merged.bcf"
    bcftools("merge", "-m", "none", "--missing-to-ref", "--no-version", "-Ob", "-o", merged,
             *(files[s] for s in SAMPLES))  # fmt: skip
    files["cohort"] = folder / "cohort.vcf.gz"
    bcftools("+fill-tags", "--no-version", "-Oz", "-o", files["cohort"], merged,
             "--", "-t", "AC,AN,AF")  # fmt: skip
    bcftools("index", "-t", files["cohort"])
    files["parquet"] = folder / "parquet"
    vcf_to_parquet([files["cohort"]], ParquetOptions(out=files["parquet"], threads=2))
    return files


def info_keys(vcf: Path) -> tuple[set[str], set[str]]:
    """(INFO IDs defined in the header, INFO keys used by records), read by cyvcf2."""
    reader = cyvcf2.VCF(str(vcf))
    defined = {h.info()["ID"] for h in reader.header_iter() if h.info()["HeaderType"] == "INFO"}
    used: set[str] = set()
    for rec in reader:
        used |= {key for key, _value in rec.INFO}
    return defined, used


def test_the_panel_carries_cohort_statistics(panel: Path) -> None:
    """What the allow-list is up against (so the test below is not vacuous)."""
    defined, used = info_keys(panel)
    assert {"AC_AFR", "AC_Het", "AF_EUR", "ExcHet"} <= used
    assert len(defined) >= 80


def test_no_info_key_outside_the_allow_list(exported: dict[str, Path]) -> None:
    for name in [*SAMPLES, "cohort"]:
        defined, used = info_keys(exported[name])
        assert ALLOWED_INFO <= defined <= ALLOWED_INFO | ALLELE_INFO, name
        assert used == ALLOWED_INFO, name
    parts = sorted((exported["parquet"] / "variants").glob("chrom=*/*.parquet"))
    assert parts
    for part in parts:
        assert pq.read_schema(part).names == VARIANT_COLUMNS
    for part in (exported["parquet"] / "genotypes").glob("chrom=*/*.parquet"):
        assert not [n for n in pq.read_schema(part).names if n.startswith("info_")]


def test_each_sample_keeps_exactly_its_own_sites(panel: Path, exported: dict[str, Path]) -> None:
    for sample in SAMPLES:
        lines = bcftools("query", "-s", sample, "-f", r"%POS\t%REF\t%ALT[\t%GT]\n", panel)
        want = [line.rsplit("\t", 1)[0] for line in lines.splitlines() if own_site(line[-3:])]
        got = bcftools("query", "-f", r"%POS\t%REF\t%ALT\n", exported[sample]).splitlines()
        assert got == want, sample
        assert 0 < len(got) < 903  # the sites that only others carry are gone


def test_ac_an_af_are_counts_of_the_exported_genotypes(exported: dict[str, Path]) -> None:
    for name in [*SAMPLES, "cohort"]:
        for rec in cyvcf2.VCF(str(exported[name])):
            alleles = [a for call in rec.genotypes for a in call[:-1]]
            an = sum(a >= 0 for a in alleles)
            ac = sum(a == 1 for a in alleles)
            where = f"{name} {rec.CHROM}:{rec.POS}"
            assert rec.INFO.get("AN") == an, where
            assert rec.INFO.get("AC") == ac, where
            assert rec.INFO.get("AF") == pytest.approx(ac / an, abs=1e-6), where


def test_parquet_counts_equal_the_cohort_genotypes(exported: dict[str, Path]) -> None:
    table = pq.read_table(exported["parquet"] / "variants", partitioning=None)
    got = list(zip(table["pos"].to_pylist(), table["info_AC"].to_pylist(),
                   table["info_AN"].to_pylist(), strict=True))  # fmt: skip
    want = []
    for line in bcftools("query", "-f", r"%POS[\t%GT]\n", exported["cohort"]).splitlines():
        pos, *gts = line.split("\t")
        alleles = [a for gt in gts for a in gt.replace("|", "/").split("/")]
        want.append((int(pos), alleles.count("1"), sum(a != "." for a in alleles)))
    assert got == want
    assert set(table["info_AF"].to_pylist()) - {None}  # filled
