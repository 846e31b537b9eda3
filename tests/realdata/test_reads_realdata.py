"""Real human reads through the reads path: nf-core test data on the 40 kb GRCh38 slice.

Files (see ../shared/data/nf-core-test-datasets/PROVENANCE.md): genome/genome.fasta (chr22, 40,001
bp = GRCh38 chr22:16570000-16610000), sample testN as FASTQ (fastq_derived/test_from_bam_{1,2},
2821 pairs regenerated from the BAM below), as BAM (bam/test.paired_end.sorted.bam, bwa mem
0.7.17 against this slice) and as CRAM (the same alignments), and GATK HaplotypeCaller's gVCF of
testN on the slice (gvcf/test.genome.vcf.gz). Each input is one sample of one run.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pysam
import pytest
from helpers import genopass_run

pytestmark = [pytest.mark.realdata, pytest.mark.workflow]

DATASET = "nf-core-test-datasets"
SAMPLES = ("NFQ", "NBAM", "NCRAM")
# GATK's variant sites of testN with depth >= 15: (pos, ref, alt, genotype)
GATK_CONFIDENT = {(1982, "A", "G", "0/1"), (3266, "T", "C", "1/1")}


@pytest.fixture(scope="module")
def data() -> Path:
    from helpers import SHARED_DATA

    folder = SHARED_DATA / DATASET
    if not folder.is_dir():
        pytest.skip(f"shared real data not present at {folder}")
    return folder


@pytest.fixture(scope="module")
def workdir(data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("reads-realdata")
    ref = workdir / "ref"
    ref.mkdir()
    # a copy: the bwa index and .dict are built beside the reference
    shutil.copy(data / "genome" / "genome.fasta", ref / "genome.fasta")
    (ref / "key").write_text("a-test-key-that-is-long-enough\n")
    (ref / "key").chmod(0o600)  # genopass refuses a key others can read
    config = workdir / "config"
    config.mkdir()
    (config / "config.yaml").write_text(
        "samples: config/samples.tsv\nunits: config/units.tsv\n"
        "reference: {name: GRCh38, fasta: ref/genome.fasta}\n"
        "pseudonymisation: {key_file: ref/key}\n"
    )
    (config / "samples.tsv").write_text(
        "sample\tcentre\tcountry\tsex\n"
        + "".join(f"{sample}\tNFCORE\tDE\tunknown\n" for sample in SAMPLES)
    )
    illumina = data / "illumina"
    fq = illumina / "fastq_derived"
    (config / "units.tsv").write_text(
        "sample\tunit\tfq1\tfq2\tbam\tcram\tbuild\n"
        f"NFQ\tu1\t{fq / 'test_from_bam_1.fastq.gz'}\t{fq / 'test_from_bam_2.fastq.gz'}\t\t\t\n"
        f"NBAM\tu1\t\t\t{illumina / 'bam' / 'test.paired_end.sorted.bam'}\t\tGRCh38\n"
        f"NCRAM\tu1\t\t\t\t{illumina / 'cram' / 'test.paired_end.sorted.cram'}\tauto\n"
    )
    targets = []
    for sample in SAMPLES:
        targets += [
            f"results/harmonise/harmonise_vcf/{sample}.vcf.gz",
            f"results/qc/samtools_flagstat/{sample}.txt",
            f"results/qc/mosdepth/{sample}.mosdepth.summary.txt",
            f"results/qc/samtools_stats/{sample}.txt",
        ]
    proc = genopass_run(workdir, *targets)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return workdir


def calls(workdir: Path, sample: str) -> set[tuple[int, str, str, str]]:
    path = workdir / "results" / "harmonise" / "harmonise_vcf" / f"{sample}.vcf.gz"
    with pysam.VariantFile(str(path)) as vcf:
        assert dict(vcf.header.contigs)["chr22"].length == 40001
        found = set()
        for rec in vcf:
            gt = "/".join(str(a) for a in sorted(rec.samples[0]["GT"]))
            found.add((rec.pos, rec.ref, rec.alts[0], gt))
    return found


def gatk_sites(data: Path) -> set[int]:
    """Positions of the gVCF's variant records (an ALT besides <NON_REF>)."""
    path = data / "illumina" / "gvcf" / "test.genome.vcf.gz"
    with pysam.VariantFile(str(path)) as vcf:
        return {rec.pos for rec in vcf if any(alt != "<NON_REF>" for alt in rec.alts or ())}


def thresholds(workdir: Path, sample: str) -> dict[str, int]:
    table = pd.read_csv(
        workdir / "results" / "qc" / "mosdepth" / f"{sample}.thresholds.bed.gz", sep="\t"
    )
    return {column: int(table[column].sum()) for column in ("10X", "15X", "30X")}


def test_reads_map_to_the_slice(workdir: Path) -> None:
    """The reads were made from a BAM in which bwa mem placed 5642 of 5644 records (99.96%) on
    this very slice with MAPQ 60, so realigning them with bwa mem must map at least 99%."""
    text = (workdir / "results" / "qc" / "samtools_flagstat" / "NFQ.txt").read_text()
    lines = text.splitlines()
    total = int(lines[0].split(" + ")[0])
    mapped = int(next(line for line in lines if " mapped (" in line).split(" + ")[0])
    print(f"\nNFQ: {mapped}/{total} reads mapped ({mapped / total:.2%})")
    assert total >= 2 * 2700  # 2821 pairs, less what fastp drops
    assert mapped / total >= 0.99


def test_coverage_is_about_1_2_kb_at_high_depth(workdir: Path) -> None:
    """PROVENANCE: the reads cover 1181 bases of the 40,001 at all; at >= 10x (MAPQ >= 20,
    duplicates out) it can only be fewer, and most of it is deep."""
    for sample in SAMPLES:
        summary = pd.read_csv(
            workdir / "results" / "qc" / "mosdepth" / f"{sample}.mosdepth.summary.txt", sep="\t"
        ).set_index("chrom")
        covered = thresholds(workdir, sample)
        print(f"\n{sample}: mean {summary.loc['total_region', 'mean']}x, bases {covered}")
        assert summary.loc["total_region", "length"] == 40001
        assert summary.loc["total_region", "max"] > 100
        assert 700 <= covered["10X"] <= 1181
        assert covered["30X"] >= 500
    # the CRAM holds the same alignments as the BAM
    assert thresholds(workdir, "NBAM") == thresholds(workdir, "NCRAM")


def test_calls_agree_with_gatk(workdir: Path, data: Path) -> None:
    gatk = gatk_sites(data)
    assert len(gatk) == 5
    for sample in SAMPLES:
        found = calls(workdir, sample)
        at_gatk = {call for call in found if call[0] in gatk}
        print(f"\n{sample}: {len(found)} calls, {len(at_gatk)} at GATK's 5 sites: {sorted(found)}")
        assert 3 <= len(found) <= 10
        assert GATK_CONFIDENT <= found, sample
        assert len(at_gatk) >= 3
        assert len(at_gatk) / len(found) >= 0.5
    assert calls(workdir, "NBAM") == calls(workdir, "NCRAM")


def test_alignment_checks_recorded(workdir: Path) -> None:
    for sample, kind in (("NBAM", "BAM"), ("NCRAM", "CRAM")):
        table = pd.read_csv(
            workdir / "results" / "align" / "check_alignment" / f"{sample}.tsv", sep="\t"
        ).set_index("key")["value"]
        assert table["format"] == kind
        assert table["samples"] == "testN"
        assert int(table["records_decoded"]) == 2000
