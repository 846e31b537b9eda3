"""Bad raw inputs: one clear error naming the file, nothing downstream for that sample, and no
export, while the other sample of the run goes on (``--keep-going``).

A tiny workspace written here: a two-contig reference, a good FASTQ sample (GOOD) and one bad
sample (BAD) per test.
"""

from __future__ import annotations

import gzip
import random
import subprocess
from pathlib import Path

import pysam
import pytest
from helpers import genopass_run, random_sequence, write_fasta

from genopass.demo.reads import simulate_pairs

pytestmark = pytest.mark.workflow

CONTIGS = {"chr21": random_sequence(6000, 21), "chr22": random_sequence(5000, 22)}
PAIRS = 400


def write_pairs(folder: Path, name: str, *, drop_last_mate: bool = False, plain_gzip: bool = False):
    """Reads of the reference itself, as two FASTQ files; optionally one read short in R2."""
    pairs = list(simulate_pairs(random.Random(name), list(CONTIGS.values()), PAIRS))
    r1 = "".join(f"@{p.name}\n{p.read1}\n+\n{p.qual1}\n" for p in pairs)
    r2 = "".join(
        f"@{p.name}\n{p.read2}\n+\n{p.qual2}\n" for p in pairs[: -1 if drop_last_mate else None]
    )
    paths = [folder / f"{name}_1.fastq.gz", folder / f"{name}_2.fastq.gz"]
    for path, text in zip(paths, (r1, r2), strict=True):
        if plain_gzip:
            with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as out:
                out.write(text.encode())
        else:
            with pysam.BGZFile(str(path), "wb") as out:
                out.write(text.encode())
    return [path.relative_to(folder.parent).as_posix() for path in paths]


def write_bam(path: Path, lengths: dict[str, int]) -> Path:
    header = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": name, "LN": length} for name, length in lengths.items()],
        "RG": [{"ID": "1", "SM": "centre-name"}],
    }
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        for i in range(100):
            read = pysam.AlignedSegment(out.header)
            read.query_name, read.reference_id, read.reference_start = f"r{i}", 0, 20 * i
            read.mapping_quality, read.cigarstring = 60, "50M"
            read.query_sequence = CONTIGS["chr21"][20 * i : 20 * i + 50]
            read.query_qualities = pysam.qualitystring_to_array("F" * 50)
            out.write(read)
    return path


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    data = tmp_path / "data"
    data.mkdir()
    write_fasta(data / "ref.fa", CONTIGS)
    (data / "key").write_text("a-test-key-that-is-long-enough\n")
    (data / "key").chmod(0o600)  # genopass refuses a key others can read
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "config.yaml").write_text(
        "samples: config/samples.tsv\nunits: config/units.tsv\n"
        "reference: {name: GRCh38, fasta: data/ref.fa}\n"
        "pseudonymisation: {key_file: data/key}\n"
    )
    (tmp_path / "config" / "samples.tsv").write_text(
        "sample\tcentre\tcountry\tsex\nGOOD\tC1\tES\tfemale\nBAD\tC1\tES\tmale\n"
    )
    return tmp_path


def write_units(workspace: Path, bad_row: str) -> None:
    good = write_pairs(workspace / "data", "good")
    (workspace / "config" / "units.tsv").write_text(
        "sample\tunit\tfq1\tfq2\tbam\tcram\n"
        f"GOOD\tu1\t{good[0]}\t{good[1]}\t\t\n"
        f"BAD\tu1\t{bad_row}\n"
    )


def run(workspace: Path) -> str:
    proc = genopass_run(workspace, "--keep-going", "--show-failed-logs")
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    assert "Traceback" not in output
    assert not (workspace / "results" / "export").exists()
    return output


def assert_nothing_downstream_for_bad(workspace: Path) -> None:
    results = workspace / "results"
    for stage in ("reads", "align", "call", "harmonise", "qc"):
        for path in (results / stage).rglob("BAD*"):
            assert path.parent.name in ("check_fastq", "check_alignment"), path
    assert not list((results / "reads").rglob("BAD*.tsv"))  # no check passed
    assert not list((results / "align").rglob("BAD*.tsv"))
    # the good sample went on to be called and harmonised
    assert (results / "harmonise" / "harmonise_vcf" / "GOOD.vcf.gz").is_file()


def test_fastq_pair_with_different_read_counts(workspace: Path) -> None:
    r1, r2 = write_pairs(workspace / "data", "bad", drop_last_mate=True)
    write_units(workspace, f"{r1}\t{r2}\t\t")
    output = run(workspace)
    log = (workspace / "results" / "logs" / "check_fastq" / "BAD.u1.log").read_text()
    with gzip.open(workspace / r1, "rt") as handle:
        reads = sum(1 for _ in handle) // 4  # a hand count: PAIRS and their duplicates
    message = f"genopass: error: {r1} has {reads} reads but {r2} has {reads - 1}"
    assert log.strip().splitlines()[-1].startswith(message)
    assert message in output
    assert_nothing_downstream_for_bad(workspace)


def test_truncated_plain_gzip_fastq(workspace: Path) -> None:
    r1, r2 = write_pairs(workspace / "data", "bad", plain_gzip=True)
    path = workspace / r2
    path.write_bytes(path.read_bytes()[: path.stat().st_size * 2 // 3])
    write_units(workspace, f"{r1}\t{r2}\t\t")
    output = run(workspace)
    message = f"genopass: error: {r2}: truncated (the gzip stream ends before its end marker)"
    assert message in output
    assert_nothing_downstream_for_bad(workspace)


def test_truncated_bgzf_fastq_stops_before_any_job(workspace: Path) -> None:
    r1, r2 = write_pairs(workspace / "data", "bad")
    path = workspace / r1
    path.write_bytes(path.read_bytes()[:-100])
    write_units(workspace, f"{r1}\t{r2}\t\t")
    output = run(workspace)
    assert f"config/units.tsv row 3, column fq1: {r1}: truncated" in output
    assert not (workspace / "results").exists()


def test_bam_aligned_to_another_reference(workspace: Path) -> None:
    write_bam(workspace / "data" / "bad.bam", {"chr21": 6000, "chr22": 7000})
    write_units(workspace, "\t\tdata/bad.bam\t")
    output = run(workspace)
    message = (
        "genopass: error: data/bad.bam: contig chr22 has length 7000 in the BAM header but 5000 "
        "in the target reference data/ref.fa"
    )
    assert message in output
    assert_nothing_downstream_for_bad(workspace)


def test_cram_made_with_another_reference(workspace: Path) -> None:
    other = workspace / "other"
    other.mkdir()
    changed = {name: seq.translate(str.maketrans("ACGT", "CATG")) for name, seq in CONTIGS.items()}
    write_fasta(other / "ref.fa", changed)
    bam = write_bam(other / "x.bam", {name: len(seq) for name, seq in CONTIGS.items()})
    subprocess.run(
        ["samtools", "view", "-C", "-T", str(other / "ref.fa"), "-o", "data/bad.cram", str(bam)],
        cwd=workspace,
        check=True,
    )
    write_units(workspace, "\t\t\tdata/bad.cram")
    output = run(workspace)
    assert "genopass: error: data/bad.cram: contig chr21 has sequence digest M5:" in output
    assert "in the target reference data/ref.fa: same name and length, other sequence" in output
    assert_nothing_downstream_for_bad(workspace)
