"""The workflow on real data: three 1000 Genomes samples of the chr22 panel, on the real slice."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

pytestmark = pytest.mark.workflow

BIN = Path(sys.executable).parent
SAMPLES = ["HG00096", "HG00097", "HG00099"]


@pytest.fixture(scope="module")
def run(tmp_path_factory, request) -> tuple[Path, Path]:
    from helpers import SHARED_DATA, genopass_run

    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared real data not present at {SHARED_DATA}")
    work = tmp_path_factory.mktemp("realdata")
    panel = SHARED_DATA / "nf-core-test-datasets" / "popgen" / "1000GP.chr22.vcf.gz"
    fasta = SHARED_DATA / "derived-chr22" / "GRCh38.chr22.partial.fa.gz"
    # The reference by link: the workflow builds its .fai beside it, in our folder.
    for suffix in ("", ".gzi"):
        (work / f"ref.fa.gz{suffix}").symlink_to(f"{fasta}{suffix}")
    (work / "samples.tsv").write_text(
        "sample\tcentre\tcountry\tsex\n" + "".join(f"{s}\tKG\tGB\tunknown\n" for s in SAMPLES)
    )
    (work / "units.tsv").write_text(
        "sample\tunit\tvcf\tbuild\n" + "".join(f"{s}\tpanel\t{panel}\tGRCh38\n" for s in SAMPLES)
    )
    config = {
        "samples": "samples.tsv",
        "units": "units.tsv",
        "outdir": "results",
        "reference": {"name": "GRCh38", "fasta": "ref.fa.gz"},
        "pseudonymisation": {"key_file": None},
        "export": {"dataset": "kg"},
    }
    (work / "config.yaml").write_text(yaml.safe_dump(config))
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}",
        "GENOPASS_PSEUDONYM_KEY": "real-data-test-key-0123456789",
    }
    proc = genopass_run(work, "--configfile", "config.yaml", env=env)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return work, panel


def carriers(panel: Path, sample: str) -> int:
    """Sites where this sample's genotype has an ALT allele or a missing allele (counted here)."""
    gts = subprocess.run(
        ["bcftools", "query", "-s", sample, "-f", "[%GT]\n", str(panel)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(gts) == 903
    return sum(any(a != "0" for a in gt.replace("|", "/").split("/")) for gt in gts)


def test_every_site_of_every_sample_is_harmonised_and_accounted(run):
    work, _ = run
    table = pd.read_csv(work / "results" / "harmonise" / "accounting.tsv", sep="\t")
    assert len(table) == 3
    assert table.input_records.tolist() == [903] * 3
    assert table.output_records.tolist() == [903] * 3
    assert table.rejected_source_records.tolist() == [0] * 3


def test_genotype_rows_per_sample_equal_what_bcftools_counts(run):
    work, panel = run
    pseudonyms = pd.read_csv(work / "results" / "private" / "pseudonyms.tsv", sep="\t")
    files = sorted((work / "results/export/kg/parquet/genotypes").glob("chrom=*/*.parquet"))
    genotypes = pd.concat([pq.read_table(f).to_pandas() for f in files])
    per_sample = genotypes.groupby("sample").size().to_dict()
    cohort = work / "results/export/kg/vcf/cohort.vcf.gz"
    for sample, pseudonym in zip(pseudonyms["sample"], pseudonyms["pseudonym"], strict=True):
        # rows: the cohort's ALT-carrying or not-called genotypes of the sample, by bcftools
        gts = subprocess.run(
            ["bcftools", "query", "-s", pseudonym, "-f", "[%GT]\n", str(cohort)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert per_sample[pseudonym] == sum(gt not in ("0/0", "0|0") for gt in gts), sample
        own = carriers(panel, sample)  # the sample's own ALT sites in the delivery
        assert own <= per_sample[pseudonym], sample
    assert set(genotypes["chrom"]) == {"chr22"}


def test_export_names_no_sample_and_no_path(run):
    work, panel = run
    export = work / "results" / "export" / "kg"
    for path in export.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".gz":
                import gzip

                data += gzip.decompress(data)
            for word in [*SAMPLES, str(panel.parent), str(work)]:
                assert word.encode() not in data, (word, path)
