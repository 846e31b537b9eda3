"""Scatter by region on the demo: the same demo run unsplit and with a small
``scatter.region_size`` (every contig cut into several regions) gives the same export, byte for
byte, and the same harmonised records and accounting; the split run really ran region jobs
(harmonisation and cohort by region, Parquet and frequencies by contig).

The two runs are compared with each other, never with numbers (the demo changes); the regions
and the samples that are scattered are worked out here from the .fai and units.tsv.
"""

from __future__ import annotations

import math
import re
import subprocess
from pathlib import Path

import pytest
import yaml
from helpers import copy_demo, genopass_run

pytestmark = pytest.mark.workflow

CONFIG = "config/scatter_test.yaml"
MARKERS = {".snakemake_timestamp"}  # Snakemake's, inside directory outputs; not data


def fai_lengths(workdir: Path) -> dict[str, int]:
    config = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    fasta = workdir / config["reference"]["fasta"]
    subprocess.run(["samtools", "faidx", str(fasta)], check=True)
    rows = [line.split("\t") for line in Path(f"{fasta}.fai").read_text().splitlines()]
    return {row[0]: int(row[1]) for row in rows}


def scattered_samples(workdir: Path) -> list[str]:
    """The samples on the target build, from units.tsv: VCFs declared GRCh38 (the demo has a
    liftover, so `auto` ones are not scattered) and FASTQ samples (aligned to the target)."""
    lines = (workdir / "config" / "units.tsv").read_text().splitlines()
    header = lines[0].split("\t")
    found = []
    for line in lines[1:]:
        row = dict(zip(header, line.split("\t"), strict=False))
        on_target = row.get("vcf") and row.get("build") == "GRCh38" or row.get("fq1")
        if on_target and row["sample"] not in found:
            found.append(row["sample"])
    return found


def file_digests(export: Path) -> dict[str, str]:
    """Every file of the export -> its SHA-256, computed by sha256sum."""
    paths = sorted(p for p in export.rglob("*") if p.is_file() and p.name not in MARKERS)
    out = subprocess.run(
        ["sha256sum", *map(str, paths)], check=True, capture_output=True, text=True
    ).stdout
    return {
        str(Path(line.split("  ", 1)[1]).relative_to(export)): line.split("  ", 1)[0]
        for line in out.splitlines()
    }


def records(vcf: Path) -> str:
    return subprocess.run(
        ["bcftools", "view", "--no-version", str(vcf)], check=True, capture_output=True, text=True
    ).stdout


def run(workspace: Path, workdir: Path, region_size: int | None) -> subprocess.CompletedProcess:
    copy_demo(workspace, workdir)
    config = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    config["scatter"] = {"region_size": region_size}
    (workdir / CONFIG).write_text(yaml.safe_dump(config))
    proc = genopass_run(workdir, "--configfile", CONFIG)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def runs(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    lengths = fai_lengths(demo_workspace)
    # a third of the shortest contig: every contig is cut into at least three regions
    size = max(1000, min(lengths.values()) // 3)
    unsplit = tmp_path_factory.mktemp("unsplit")
    split = tmp_path_factory.mktemp("split")
    return {
        "size": size,
        "lengths": lengths,
        "unsplit": (unsplit, run(demo_workspace, unsplit, None)),
        "split": (split, run(demo_workspace, split, size)),
    }


def test_every_contig_is_cut_into_several_regions(runs: dict) -> None:
    assert all(math.ceil(n / runs["size"]) >= 3 for n in runs["lengths"].values())


def test_the_export_is_byte_identical(runs: dict) -> None:
    one = runs["unsplit"][0] / "results" / "export" / "demo"
    many = runs["split"][0] / "results" / "export" / "demo"
    for name in ("MANIFEST.tsv", "SHA256SUMS"):
        assert (many / name).read_bytes() == (one / name).read_bytes(), name
    digests = file_digests(one)
    assert len(digests) > 10 and file_digests(many) == digests


def test_harmonised_records_and_accounting_are_the_same(runs: dict) -> None:
    one = runs["unsplit"][0] / "results" / "harmonise"
    many = runs["split"][0] / "results" / "harmonise"
    assert (many / "accounting.tsv").read_text() == (one / "accounting.tsv").read_text()
    for sample in scattered_samples(runs["split"][0]):
        for name in (f"{sample}.vcf.gz", f"{sample}.rejects.vcf.gz"):
            a, b = one / "harmonise_vcf" / name, many / "harmonise_vcf" / name
            if name.endswith("rejects.vcf.gz"):  # the same rejects, in region order
                assert sorted(records(b).splitlines()) == sorted(records(a).splitlines())
            else:
                assert records(b) == records(a), name
        blocks = f"{sample}.blocks.bed.gz"
        assert subprocess.run(["zcat", str(many / "harmonise_vcf" / blocks)],
                              capture_output=True).stdout == subprocess.run(
            ["zcat", str(one / "harmonise_vcf" / blocks)], capture_output=True
        ).stdout  # fmt: skip


def test_the_split_run_ran_region_jobs(runs: dict) -> None:
    workdir, proc = runs["split"]
    regions = sum(math.ceil(n / runs["size"]) for n in runs["lengths"].values()) + 1  # + other
    samples = scattered_samples(workdir)
    assert samples
    text = proc.stdout + proc.stderr
    jobs = re.findall(r"^(?:local)?rule harmonise_region:", text, flags=re.MULTILINE)
    assert len(jobs) == regions * len(samples)
    gathered = re.findall(r"^(?:local)?rule gather_harmonised:", text, flags=re.MULTILINE)
    assert len(gathered) == len(samples)
    # the cohort by window (the demo rejects non-primary contigs: no region "other"), the
    # Parquet tables and the frequencies by contig
    cohort = re.findall(r"^(?:local)?rule export_cohort_region:", text, flags=re.MULTILINE)
    assert len(cohort) == regions - 1
    parquet = re.findall(r"^(?:local)?rule export_parquet_contig:", text, flags=re.MULTILINE)
    assert len(parquet) == len(runs["lengths"])
    frequencies = re.findall(
        r"^(?:local)?rule export_frequencies_contig:", text, flags=re.MULTILINE
    )
    assert len(frequencies) == len(runs["lengths"])
    benchmarks = workdir / "results" / "benchmarks" / "harmonise_region"
    assert len(list(benchmarks.glob("*/*.tsv"))) == regions * len(samples)
    # the unsplit run: no region job, every sample harmonised whole
    unsplit = runs["unsplit"][1]
    scattered = ("harmonise_region", "export_cohort_region", "export_parquet_contig",
                 "export_frequencies_contig")  # fmt: skip
    for rule in scattered:
        assert f"rule {rule}:" not in unsplit.stdout + unsplit.stderr  # nor localrule
