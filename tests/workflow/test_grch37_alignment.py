"""A BAM on GRCh37: checked and called on the GRCh37 FASTA of the liftover, lifted over by
harmonisation, and exported on GRCh38 as the truth of the same reads.

The BAM is made here: the demo FASTQ sample D-001 (both lanes) aligned with ``bwa mem`` to the
demo's GRCh37 reference. Two samples of the workspace point at it: one declared ``GRCh37``, one
``auto`` (its @SQ lengths are those of the GRCh37 FASTA).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import DEMO, copy_demo, expected_pseudonyms, fasta_primary_contigs, genopass_run

from genopass.demo.grch37 import CHAIN_NAME, FASTA_NAME, inverted_spans
from genopass.demo.reads import LANES, READ_LENGTH, SAMPLE, TRUTH_VCF, fastq_names
from genopass.reads.calls import Allele, compare, normalised_alleles

pytestmark = pytest.mark.workflow

# sample -> units.tsv build of its BAM
BUILDS = {SAMPLE: "GRCh37", "D-037": "auto"}


def make_workspace(workspace: Path, workdir: Path) -> None:
    """A copy of the demo workspace, a GRCh37 BAM of D-001's reads, and sheets naming it for
    both samples."""
    copy_demo(workspace, workdir)
    demo = workdir / DEMO
    bams = workdir / "bams"
    bams.mkdir()
    fasta = bams / FASTA_NAME  # indexed here, so that the workflow's resources stay as shipped
    shutil.copy(demo / FASTA_NAME, fasta)
    subprocess.run(["bwa", "index", str(fasta)], check=True, capture_output=True)
    reads = [" ".join(str(demo / fastq_names(lane)[mate]) for lane in LANES) for mate in (0, 1)]
    bam = bams / "D-001.GRCh37.bam"
    subprocess.run(
        f"bwa mem -t 2 -R '@RG\\tID:lane\\tSM:centre-name' {fasta}"
        f" <(zcat {reads[0]}) <(zcat {reads[1]}) 2> /dev/null"
        f" | samtools sort -o {bam} - 2> /dev/null",
        shell=True,
        check=True,
        executable="/bin/bash",
    )
    header = "sample\tcentre\tcountry\tsex\tconsent\n"
    (workdir / "config" / "samples.tsv").write_text(
        header + "".join(f"{sample}\tCTR-D\tES\tfemale\tDUO:0000042\n" for sample in BUILDS)
    )
    units = "sample\tunit\tbam\tbuild\n" + "".join(
        f"{sample}\tbam\t{bam.relative_to(workdir)}\t{build}\n" for sample, build in BUILDS.items()
    )
    (workdir / "config" / "units.tsv").write_text(units)


def run(workdir: Path) -> subprocess.CompletedProcess[str]:
    # the same reads aligned three times are one person three times: the QC gate would export
    # one of them; warn mode exports all three, so that each alignment's calls can be compared
    return genopass_run(workdir, "--config", "qc={mode: warn}")


@pytest.fixture(scope="module")
def workspace(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The workspace before any run (the BAM is aligned once, for every test of this file)."""
    workspace = tmp_path_factory.mktemp("grch37-workspace")
    make_workspace(demo_workspace, workspace)
    return workspace


@pytest.fixture(scope="module")
def workdir(workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = copy_demo(workspace, tmp_path_factory.mktemp("grch37-bam"))
    proc = run(workdir)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return workdir


def exported_alleles(workdir: Path, sample: str) -> dict[Allele, int]:
    pseudonym = expected_pseudonyms(workdir)[sample]
    vcf = workdir / "results" / "export" / "demo" / "vcf" / f"{pseudonym}.vcf.gz"
    return normalised_alleles(vcf, workdir / DEMO / "GRCh38.demo.fa")


@pytest.mark.parametrize("sample", list(BUILDS))
def test_grch37_bam_calls_are_lifted_to_the_grch38_truth(workdir: Path, sample: str) -> None:
    demo = workdir / DEMO
    calls = exported_alleles(workdir, sample)
    truth = normalised_alleles(demo / TRUTH_VCF, demo / "GRCh38.demo.fa")
    inverted = inverted_spans(demo / CHAIN_NAME)

    def inside(allele: Allele) -> bool:
        chrom, pos, ref, _ = allele
        return any(c == chrom and lo < pos + len(ref) and pos <= hi for c, lo, hi in inverted)

    outside = compare(
        {k: v for k, v in calls.items() if not inside(k)},
        {k: v for k, v in truth.items() if not inside(k)},
    )
    found = sum(figures.found for figures in outside.values())
    wanted = sum(figures.truth for figures in outside.values())
    called = sum(figures.called for figures in outside.values())
    print(f"\n{sample} ({BUILDS[sample]} BAM) outside inverted segments (genotype-aware):")
    for kind in ("snv", "indel"):
        print(f"  {outside[kind]}")
    assert wanted > 300
    assert found / wanted >= 0.95 and found / called >= 0.95
    # inside the inverted segments: reverse-complemented back right, or left out, never wrong
    within = {k: v for k, v in calls.items() if inside(k)}
    wrong = {k: v for k, v in within.items() if truth.get(k) != v}
    found_within = sum(1 for k, v in truth.items() if inside(k) and within.get(k) == v)
    print(
        f"  inside inverted segments: {found_within} of {sum(map(inside, truth))} truth alleles "
        f"found; {len(within)} calls, {len(wrong)} not in the truth"
    )
    assert len(within) > 10
    # A read across an edge of a segment is clipped or misaligned on GRCh37 (the reads are of
    # GRCh38): calling artefacts there are lifted like any call. Away from the edges, and at every
    # site of the truth, each call is the truth's allele with its genotype.
    truth_sites = {(chrom, pos) for chrom, pos, _, _ in truth}
    for chrom, pos, ref, alt in wrong:
        assert (chrom, pos) not in truth_sites, (chrom, pos, ref, alt)
        edge = min(abs(pos - end) for c, lo, hi in inverted if c == chrom for end in (lo, hi))
        assert edge <= READ_LENGTH, (chrom, pos, ref, alt)


def test_the_calls_were_made_on_grch37_and_lifted_over(workdir: Path) -> None:
    results = workdir / "results"
    accounting = pd.read_csv(results / "harmonise" / "accounting.tsv", sep="\t", dtype=str)
    assert set(accounting["source_build"]) == {"GRCh37"}
    for sample in BUILDS:
        check = (results / "align" / "check_alignment" / f"{sample}.tsv").read_text()
        assert "records_decoded\t2000" in check
        log = (results / "logs" / "check_alignment" / f"{sample}.log").read_text()
        assert "BAM on the GRCh37 reference" in log
    logs = sorted(p.name for p in (results / "logs" / "bcftools_call").iterdir())
    contigs = fasta_primary_contigs(workdir / DEMO / FASTA_NAME)  # one calling job each
    assert len(contigs) >= 3  # chr21, chr22, chrX
    want = sorted(f"{sample}.{contig}.log" for sample in BUILDS for contig in contigs)
    assert logs == want


def test_without_a_liftover_a_grch37_bam_is_a_clear_error(workspace: Path, tmp_path: Path) -> None:
    copy_demo(workspace, tmp_path)
    config_path = tmp_path / "config" / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    del config["liftover"]
    config_path.write_text(yaml.safe_dump(config))
    proc = run(tmp_path)
    output = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert (
        "config/units.tsv row 2, column build: BAM 'bams/D-001.GRCh37.bam' is declared GRCh37"
        in (output)
    )
    assert "add 'liftover: {GRCh37: {fasta: ..., chain: ...}}' to the config" in output
    assert "Traceback" not in output
    assert not (tmp_path / "results" / "export").exists()
