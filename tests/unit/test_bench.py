"""The benchmark's data generator (genopass.demo.synthetic, used by scripts/bench.py) writes
valid, sorted VCFs on its reference, the same for the same arguments."""

from __future__ import annotations

import gzip
import re
import subprocess
from pathlib import Path

import pytest

from genopass.demo.synthetic import SyntheticReference, generate_vcf

CONTIGS = (("chr21", 300_000), ("chr22", 200_000))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("bench")
    reference = SyntheticReference(CONTIGS, seed=5)
    fasta = reference.write_fasta(tmp / "ref.fa")
    vcf = generate_vcf(tmp / "five.vcf.gz", reference, 2_000, 5, seed=5)
    return fasta, vcf


def bcftools(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bcftools", *args], capture_output=True, text=True, check=False)


def test_records_samples_and_order(generated: tuple[Path, Path]) -> None:
    fasta, vcf = generated
    assert Path(f"{vcf}.tbi").exists()
    assert bcftools("query", "-l", str(vcf)).stdout.split() == [f"S000{i}" for i in range(1, 6)]
    assert bcftools("index", "-n", str(vcf)).stdout.strip() == "2000"
    listed = bcftools("query", "-f", "%CHROM\t%POS\n", str(vcf))
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert len(rows) == 2_000
    keys = [(0 if chrom == "chr21" else 1, int(pos)) for chrom, pos in rows]
    assert keys == sorted(keys)
    assert {chrom for chrom, _ in rows} == {"chr21", "chr22"}
    # bcftools reads every record and every FORMAT field without complaint.
    stats = bcftools("stats", "-s", "-", str(vcf))
    assert stats.returncode == 0, stats.stderr
    assert "[W::" not in stats.stderr and "[E::" not in stats.stderr
    assert re.search(r"number of multiallelic sites:\t[1-9]", stats.stdout)
    assert re.search(r"number of indels:\t[1-9]", stats.stdout)


def test_ref_matches_fasta_and_some_indels_move(generated: tuple[Path, Path]) -> None:
    fasta, vcf = generated
    norm = bcftools(
        "norm", "--check-ref", "e", "-f", str(fasta), "-m-any", "-Ou", "-o", "/dev/null", str(vcf)
    )
    assert norm.returncode == 0, norm.stderr
    # "Lines   total/split/realigned/skipped:	2000/41/25/0"
    counts = re.search(r"\t(\d+)/(\d+)/(\d+)/(\d+)", norm.stderr)
    assert counts, norm.stderr
    total, split, realigned, skipped = map(int, counts.groups())
    assert (total, skipped) == (2_000, 0)
    assert split > 0 and realigned > 0


def test_deterministic(generated: tuple[Path, Path], tmp_path: Path) -> None:
    _, vcf = generated
    reference = SyntheticReference(CONTIGS, seed=5)
    again = generate_vcf(tmp_path / "again.vcf.gz", reference, 2_000, 5, seed=5)
    with gzip.open(again) as one, gzip.open(vcf) as other:
        assert one.read() == other.read()
