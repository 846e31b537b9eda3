"""The demo's FASTQ sample (CTR-D, D-001) through every step of the reads path, compared with its
truth and with plain ``bwa mem`` + ``bcftools mpileup | bcftools call -m`` on the same reads.

Comparison: genotype-aware on normalised alleles (``bcftools norm -m-any -f REF`` on both sides;
an allele counts as found when it is called with the true number of copies, genopass.reads.calls).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pandas as pd
import pysam
import pytest
from helpers import copy_demo, expected_pseudonyms, fasta_primary_contigs, genopass_run

from genopass.reads.calls import compare_vcfs

pytestmark = pytest.mark.workflow

SAMPLE = "D-001"
LANES = ("lane1", "lane2")
TARGETS = [
    f"results/harmonise/harmonise_vcf/{SAMPLE}.vcf.gz",
    f"results/qc/samtools_stats/{SAMPLE}.txt",
    f"results/qc/samtools_flagstat/{SAMPLE}.txt",
    f"results/qc/mosdepth/{SAMPLE}.mosdepth.summary.txt",
    *(f"results/reads/fastp_pe/{SAMPLE}.{lane}.fastp.json" for lane in LANES),
]


@pytest.fixture(scope="module")
def workdir(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = copy_demo(demo_workspace, tmp_path_factory.mktemp("reads-demo"))
    proc = genopass_run(workdir, *TARGETS)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return workdir


@pytest.fixture(scope="module")
def baseline(workdir: Path) -> Path:
    """Plain bwa mem (no trimming, no duplicate marking) and bcftools mpileup | call -m."""
    fasta = workdir / "resources" / "demo" / "GRCh38.demo.fa"  # bwa index built by the workflow
    out = workdir / "baseline"
    out.mkdir()
    bams = []
    for lane in LANES:
        reads = [
            workdir / "resources" / "demo" / f"ctr_d.{SAMPLE}.{lane}_R{n}.fastq.gz" for n in (1, 2)
        ]
        bam = out / f"{lane}.bam"
        subprocess.run(
            f"bwa mem -t 2 -R '@RG\\tID:{lane}\\tSM:{SAMPLE}' {fasta} {reads[0]} {reads[1]}"
            f" 2> /dev/null | samtools sort -o {bam} -",
            shell=True,
            check=True,
            executable="/bin/bash",
        )
        bams.append(str(bam))
    merged = out / "merged.bam"
    subprocess.run(["samtools", "merge", "-o", str(merged), *bams], check=True)
    subprocess.run(["samtools", "index", str(merged)], check=True)
    vcf = out / "calls.vcf.gz"
    subprocess.run(
        f"bcftools mpileup -f {fasta} {merged} 2> /dev/null"
        f" | bcftools call -m -v -Oz -o {vcf} 2> /dev/null",
        shell=True,
        check=True,
        executable="/bin/bash",
    )
    return vcf


def test_calls_match_the_truth_and_the_baseline(workdir: Path, baseline: Path) -> None:
    fasta = workdir / "resources" / "demo" / "GRCh38.demo.fa"
    truth = workdir / "resources" / "demo" / "truth" / f"{SAMPLE}.vcf.gz"
    ours = workdir / "results" / "harmonise" / "harmonise_vcf" / f"{SAMPLE}.vcf.gz"
    figures = {
        "genopass": compare_vcfs(ours, truth, fasta),
        "baseline": compare_vcfs(baseline, truth, fasta),
    }
    for name, result in figures.items():
        print(f"\n{SAMPLE} {name} (genotype-aware):")
        for kind in ("snv", "indel"):
            print(f"  {result[kind]}")
    ours_f, base_f = figures["genopass"], figures["baseline"]
    assert ours_f["snv"].truth > 300 and ours_f["indel"].truth > 100
    assert ours_f["snv"].recall >= 0.97 and ours_f["snv"].precision >= 0.97
    assert ours_f["indel"].recall >= 0.90 and ours_f["indel"].precision >= 0.90
    for kind in ("snv", "indel"):
        assert ours_f[kind].recall >= base_f[kind].recall, kind
        assert ours_f[kind].precision >= base_f[kind].precision, kind
    assert ours_f["other"].called == 0


def test_the_sample_is_renamed_to_its_pseudonym(workdir: Path) -> None:
    ours = workdir / "results" / "harmonise" / "harmonise_vcf" / f"{SAMPLE}.vcf.gz"
    with pysam.VariantFile(str(ours)) as vcf:
        (name,) = list(vcf.header.samples)
        header = str(vcf.header)
    assert name == expected_pseudonyms(workdir)[SAMPLE] and SAMPLE not in header
    assert "samtools_markdup" not in header and "results/" not in header


def test_units_are_merged_and_duplicates_marked(workdir: Path) -> None:
    bam = workdir / "results" / "align" / "samtools_markdup" / f"{SAMPLE}.bam"
    with pysam.AlignmentFile(str(bam)) as handle:
        groups = handle.header.to_dict()["RG"]
        assert handle.header.to_dict()["HD"]["SO"] == "coordinate"
    assert sorted(group["ID"] for group in groups) == [f"{SAMPLE}.lane1", f"{SAMPLE}.lane2"]
    assert {group["SM"] for group in groups} == {SAMPLE}
    flagstat = (workdir / "results" / "qc" / "samtools_flagstat" / f"{SAMPLE}.txt").read_text()
    total = int(flagstat.split(" + ")[0])
    duplicates = int(flagstat.splitlines()[4].split(" + ")[0])
    mapped = int(flagstat.splitlines()[6].split(" + ")[0])
    # the simulation makes 2% of the pairs twice
    assert 0.01 < duplicates / total < 0.03
    assert mapped / total > 0.999
    # the unit alignments and the merged BAM were temporary
    assert not list((workdir / "results" / "align").glob("bwa_mem/*.bam"))
    assert not (workdir / "results" / "align" / "samtools_merge" / f"{SAMPLE}.bam").exists()


def test_qc_outputs(workdir: Path) -> None:
    qc = workdir / "results" / "qc"
    summary = pd.read_csv(qc / "mosdepth" / f"{SAMPLE}.mosdepth.summary.txt", sep="\t")
    total = summary.set_index("chrom").loc["total_region"]
    assert total["length"] == 270_000  # both demo contigs are autosomes without gaps
    assert 27 <= total["mean"] <= 31
    thresholds = pd.read_csv(qc / "mosdepth" / f"{SAMPLE}.thresholds.bed.gz", sep="\t")
    at = thresholds[["10X", "15X", "30X"]].sum() / 270_000
    assert at["10X"] > 0.98 and at["15X"] > 0.95 and 0.2 < at["30X"] < 0.8
    stats = (qc / "samtools_stats" / f"{SAMPLE}.txt").read_text()
    assert "SN\treads mapped:" in stats
    for lane in LANES:
        report = json.loads(
            (workdir / "results" / "reads" / "fastp_pe" / f"{SAMPLE}.{lane}.fastp.json").read_text()
        )
        assert report["summary"]["before_filtering"]["total_reads"] > 20_000
        assert report["adapter_cutting"]["adapter_trimmed_reads"] > 100
        assert (workdir / "results" / "reads" / "fastp_pe" / f"{SAMPLE}.{lane}.fastp.html").exists()


def test_calling_is_scattered_by_contig(workdir: Path) -> None:
    logs = sorted(p.name for p in (workdir / "results" / "logs" / "bcftools_call").iterdir())
    contigs = fasta_primary_contigs(workdir / "resources" / "demo" / "GRCh38.demo.fa")
    assert len(contigs) >= 3  # chr21, chr22, chrX
    assert logs == sorted(f"{SAMPLE}.{contig}.log" for contig in contigs)
    benchmarks = workdir / "results" / "benchmarks"
    seconds = sum(
        float(path.read_text().splitlines()[1].split("\t")[0])
        for path in benchmarks.glob(f"*/{SAMPLE}*.tsv")
    )
    print(f"\nreads path of {SAMPLE}: {seconds:.1f} s of job time (benchmarks)")
