"""The demo's FASTQ samples: D-001 in two lanes of paired reads at ~30x, carrying its truth
variants; D-002 in one lane at ~8x (the planted low coverage), male."""

from __future__ import annotations

import gzip
import subprocess
from collections import Counter
from pathlib import Path

import pysam
import pytest
from helpers import DEMO

from genopass.demo.cohort import Edit, Site
from genopass.demo.reads import ADAPTER_R1, LANES, READ_LENGTH, fastq_names, haplotypes


@pytest.fixture(scope="module")
def demo(demo_workspace: Path) -> Path:
    """The session's demo (`genopass demo-data`, default seed), read only."""
    return demo_workspace / DEMO


def fastq(path: Path) -> list[tuple[str, str, str]]:
    with gzip.open(path, "rt") as handle:
        lines = handle.read().splitlines()
    assert len(lines) % 4 == 0
    return [(lines[i], lines[i + 1], lines[i + 3]) for i in range(0, len(lines), 4)]


def test_two_lanes_of_pairs_at_about_30x(demo: Path) -> None:
    total = 0
    for lane in LANES:
        one, two = (fastq(demo / name) for name in fastq_names(lane))
        assert len(one) == len(two) > 10_000
        for (name1, seq1, qual1), (name2, seq2, qual2) in zip(one, two, strict=True):
            assert name1.split()[0] == name2.split()[0]
            assert (name1.split()[1][0], name2.split()[1][0]) == ("1", "2")
            assert len(seq1) == len(qual1) == len(seq2) == len(qual2) == READ_LENGTH
        total += sum(len(seq) for _, seq, _ in one + two)
        assert set("".join(qual for _, _, qual in one)) <= {"F", ":", "-"}
    reference = sum(int(line.split("\t")[1]) for line in (demo / "GRCh38.demo.fa.fai").open())
    assert 29 <= total / reference <= 32
    # some fragments are shorter than a read: the adapter follows them
    reads = [seq for _, seq, _ in fastq(demo / fastq_names("lane1")[0])]
    assert sum(ADAPTER_R1[:20] in seq for seq in reads) > 100


def test_d002_one_lane_at_about_8x_male_with_half_depth_on_chrx(demo: Path) -> None:
    """D-002, the planted low-coverage sample: ~8x over the autosomes (well under the permissive
    preset's 10x), one lane; male, so his one chrX is covered about half as deep. Depth here is
    counted from the reads themselves: each pair's name tells nothing of its origin, so the
    share of chrX is measured by exact 25-mers of the reference's chrX and autosomes."""
    one, two = (fastq(demo / name) for name in fastq_names("lane1", "D-002"))
    assert len(one) == len(two) > 1_000
    assert not (demo / fastq_names("lane2", "D-002")[0]).exists()
    lengths = {
        line.split("\t")[0]: int(line.split("\t")[1])
        for line in (demo / "GRCh38.demo.fa.fai").open()
    }
    bases = sum(len(seq) for _, seq, _ in one + two)
    # a male: 2 copies of the autosomes and 1 of chrX carry the bases
    copies = 2 * (lengths["chr21"] + lengths["chr22"]) + lengths["chrX"]
    depth = 2 * bases / copies
    assert 7 <= depth <= 9, depth
    fasta = pysam.FastaFile(str(demo / "GRCh38.demo.fa"))
    comp = str.maketrans("ACGT", "TGCA")
    k = 25
    kmers = {}
    for contig in ("chr21", "chrX"):
        seq = fasta.fetch(contig)
        for start in range(0, len(seq) - k, 97):
            kmers[seq[start : start + k]] = contig
    hits = Counter()
    for _, seq, _ in one:
        for text in (seq, seq.translate(comp)[::-1]):
            for start in range(0, READ_LENGTH - k + 1, 5):
                contig = kmers.get(text[start : start + k])
                if contig:
                    hits[contig] += 1
    per_base = {c: hits[c] / lengths[c] for c in ("chr21", "chrX")}
    assert 0.35 <= per_base["chrX"] / per_base["chr21"] <= 0.65, per_base
    # the truth: a male has no heterozygous call on chrX
    out = subprocess.run(
        ["bcftools", "query", "-r", "chrX", "-f", "[%GT]\n", str(demo / "truth" / "D-002.vcf.gz")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(out) >= 50 and set(out) <= {"1/1", "2/2"}


def test_files_are_bgzf(demo: Path) -> None:
    for sample, lane in [*(("D-001", lane) for lane in LANES), ("D-002", "lane1")]:
        for name in fastq_names(lane, sample):
            data = (demo / name).read_bytes()
            assert data[12:14] == b"BC" and data.endswith(
                bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")
            )


def test_truth_has_snvs_and_indels_het_and_hom(demo: Path) -> None:
    out = subprocess.run(
        ["bcftools", "query", "-f", r"%REF\t%ALT\t[%GT]\n", str(demo / "truth" / "D-001.vcf.gz")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    kinds = Counter()
    for line in out:
        ref, alts, gt = line.split("\t")
        for alt in alts.split(","):
            kind = "snv" if len(ref) == len(alt) == 1 else "indel" if len(ref) != len(alt) else "x"
            kinds[kind, gt] += 1
    assert kinds["snv", "0/1"] > 150 and kinds["snv", "1/1"] > 50
    assert kinds["indel", "0/1"] > 30 and kinds["indel", "1/1"] > 15
    assert sum(n for (kind, gt), n in kinds.items() if gt == "1/2") >= 10
    # every REF matches the reference
    check = subprocess.run(
        [
            "bcftools",
            "norm",
            "-c",
            "e",
            "-f",
            str(demo / "GRCh38.demo.fa"),
            "-o",
            "/dev/null",
            str(demo / "truth" / "D-001.vcf.gz"),
        ],
        capture_output=True,
        text=True,
    )
    assert check.returncode == 0, check.stderr


def test_a_homozygous_snv_is_in_every_read_over_it(demo: Path) -> None:
    """Reads carry the truth: exact 31-mers around a hom SNV come only in the ALT form."""
    fasta = pysam.FastaFile(str(demo / "GRCh38.demo.fa"))
    out = subprocess.run(
        [
            "bcftools",
            "view",
            "-H",
            "-i",
            'GT="1/1" && TYPE="snp"',
            str(demo / "truth" / "D-001.vcf.gz"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    chrom, pos, _, ref, alt = out[len(out) // 2].split("\t")[:5]
    left = fasta.fetch(chrom, int(pos) - 16, int(pos) - 1)
    right = fasta.fetch(chrom, int(pos), int(pos) + 15)
    comp = str.maketrans("ACGT", "TGCA")
    alt_kmer, ref_kmer = left + alt + right, left + ref + right
    counts = Counter()
    for lane in LANES:
        for name in fastq_names(lane):
            for _, seq, _ in fastq(demo / name):
                for kmer, label in ((alt_kmer, "alt"), (ref_kmer, "ref")):
                    if kmer in seq or kmer.translate(comp)[::-1] in seq:
                        counts[label] += 1
    assert counts["alt"] >= 10
    assert counts["ref"] <= 1  # only a sequencing error could restore the reference base


def test_haplotypes_apply_each_side() -> None:
    seq = "AAAACCCCGGGGTTTT"
    sites = [
        Site("c", [Edit(2, 3, "G")], [0.5]),
        Site("c", [Edit(6, 8, ""), Edit(6, 6, "T")], [0.3, 0.3]),
    ]
    one, two = haplotypes(seq, sites, [(1, 0), (1, 2)])
    assert one == "AAGACCGGGGTTTT"
    assert two == "AAAACCTCCGGGGTTTT"
