"""The CLI contract: one clear line, exit 1 for bad data, 2 for bad usage, never a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import write_fasta, write_vcf

from genopass.export.pseudonym import KEY_ENV


def genopass(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "genopass.cli", *map(str, args)],
        capture_output=True,
        text=True,
        env=env,
    )


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    fasta = write_fasta(tmp_path / "ref.fa", {"chr1": "ACGT" * 50})
    vcf = write_vcf(
        tmp_path / "in.vcf",
        """##fileformat=VCFv4.2
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##contig=<ID=chr1,length=200>
#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT S1
chr1 2 . C T . . . GT 0/1""",
    )
    return fasta, vcf


def test_harmonise_prints_one_summary_line(tmp_path, files):
    fasta, vcf = files
    proc = genopass("harmonise", vcf, "--reference", fasta, "--out", tmp_path / "o.vcf.gz")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == (
        "1 input records -> 1 output records (0 added by splitting); rejected: none"
    )


def test_missing_option_is_a_usage_error(files):
    _, vcf = files
    proc = genopass("harmonise", vcf, "--out", "x.vcf.gz")
    assert proc.returncode == 2
    assert "Missing option '--reference'" in proc.stderr


def test_missing_input_file_is_a_usage_error_naming_it(tmp_path, files):
    fasta, _ = files
    proc = genopass(
        "harmonise", tmp_path / "nope.vcf.gz", "--reference", fasta, "--out", tmp_path / "o.vcf.gz"
    )
    assert proc.returncode == 2
    assert "nope.vcf.gz' does not exist" in proc.stderr


def test_bad_data_is_one_line_and_exit_1_without_traceback(tmp_path, files):
    fasta, vcf = files
    vcf.write_bytes(vcf.read_bytes()[:-28])  # cut the BGZF end-of-file block
    proc = genopass("harmonise", vcf, "--reference", fasta, "--out", tmp_path / "o.vcf.gz")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"genopass: error: {vcf}: truncated: the file ends without the BGZF end-of-file block: "
        "it was cut short in transfer; ask the centre to send it again"
    ]
    assert not (tmp_path / "o.vcf.gz").exists()


def test_pseudonyms_without_key_says_how_to_give_one(tmp_path):
    samples = tmp_path / "samples.tsv"
    samples.write_text("sample\tcentre\tcountry\tsex\nA-1\tCTR\tDE\tfemale\n")
    env = {k: v for k, v in __import__("os").environ.items() if k != KEY_ENV}
    proc = genopass("pseudonyms", "--samples", samples, "--out", tmp_path / "p.tsv", env=env)
    assert proc.returncode == 2
    assert "no pseudonym key" in proc.stderr and KEY_ENV in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "p.tsv").exists()
