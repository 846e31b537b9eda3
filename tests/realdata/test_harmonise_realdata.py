"""Harmonisation of real public VCFs (../shared/data) against the real GRCh38 chr22 slice."""

from __future__ import annotations

import subprocess
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest

from genopass.harmonise.stream import HarmoniseOptions, harmonise_vcf


def query(vcf: Path, fmt: str) -> list[str]:
    out = subprocess.run(
        ["bcftools", "query", "-f", fmt, str(vcf)], capture_output=True, text=True, check=True
    ).stdout
    return out.splitlines()


def norm_check(vcf: Path, fasta: Path) -> str:
    """bcftools' own verdict on a file: 'total/split/realigned/skipped'."""
    proc = subprocess.run(
        [
            "bcftools",
            "norm",
            "--check-ref",
            "e",
            "-m-any",
            "-f",
            str(fasta),
            "-o",
            "/dev/null",
            str(vcf),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return proc.stderr.strip().split("\t")[-1]


@pytest.fixture
def chr22(shared_data: Path) -> Path:
    return shared_data / "derived-chr22" / "GRCh38.chr22.partial.fa.gz"


def test_1000_genomes_panel_keeps_every_genotype(tmp_path, shared_data, chr22):
    panel = shared_data / "nf-core-test-datasets" / "popgen" / "1000GP.chr22.vcf.gz"
    out = tmp_path / "panel.vcf.gz"
    accounting = harmonise_vcf(
        panel, HarmoniseOptions(reference=chr22, out=out, accounting=tmp_path / "a.tsv", threads=2)
    )
    assert (accounting.input_records, accounting.output_records) == (903, 903)
    assert norm_check(out, chr22) == "903/0/0/0"
    # 903 sites x 3,202 samples: every genotype string unchanged, site by site
    fmt = "%CHROM:%POS:%REF:%ALT[\t%GT]\n"
    assert query(out, fmt) == query(panel, fmt)
    table = pd.read_csv(tmp_path / "a.tsv", sep="\t").iloc[0]
    assert table.samples == "3202 samples"


def test_giab_hg001_calls_split_and_keep_alleles(tmp_path, shared_data, chr22):
    calls = shared_data / "nf-core-test-datasets" / "illumina" / "vcf" / "NA12878_GIAB.chr22.vcf.gz"
    out = tmp_path / "hg001.vcf.gz"
    accounting = harmonise_vcf(
        calls, HarmoniseOptions(reference=chr22, out=out, samples={"HG001": "gpHG001"})
    )
    multiallelic = [line for line in query(calls, "%ALT\n") if "," in line]
    assert accounting.input_records == 81
    assert accounting.split_added == sum(alt.count(",") for alt in multiallelic) == 3
    assert accounting.output_records == 84
    assert norm_check(out, chr22) == "84/0/0/0"

    # every ALT allele carried by HG001 in the input is carried in the output
    def carried(vcf: Path) -> Counter:
        alleles = Counter()
        for line in query(vcf, "%POS\t%REF\t%ALT[\t%GT]\n"):
            pos, ref, alts, gt = line.split("\t")
            for index, alt in enumerate(alts.split(","), start=1):
                alleles[(pos, ref, alt)] += gt.replace("|", "/").split("/").count(str(index))
        return alleles

    # ... in the form bcftools itself normalises them to
    reference_norm = tmp_path / "bcftools-norm.vcf.gz"
    subprocess.run(
        [
            "bcftools",
            "norm",
            "-m-any",
            "-f",
            str(chr22),
            "-Oz",
            "-o",
            str(reference_norm),
            str(calls),
        ],
        check=True,
        capture_output=True,
    )
    assert carried(out) == carried(reference_norm)
    assert sum(carried(out).values()) == sum(carried(calls).values())
    assert query(out, "[%SAMPLE]\n")[0] == "gpHG001"
