"""units.tsv with FASTQ, BAM and CRAM units: accepted, listed per kind, and checked."""

from __future__ import annotations

import gzip
from pathlib import Path

import pysam
import pytest

from genopass.errors import InputError
from genopass.inputs.sheets import (
    alignment_builds,
    alignment_inputs,
    fastq_units,
    input_kinds,
    read_samples,
    read_units,
)

SAMPLES = "sample\tcentre\tcountry\tsex\nS1\tC\tES\tfemale\nS2\tC\tES\tmale\nS3\tC\tES\tmale\n"
HEADER = "sample\tunit\tfq1\tfq2\tbam\tcram\tbuild"


def fastq_gz(path: Path, reads: int = 3) -> str:
    with pysam.BGZFile(str(path), "wb") as handle:
        handle.write("".join(f"@r{i}\nACGT\n+\nFFFF\n" for i in range(reads)).encode())
    return path.name


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "samples.tsv").write_text(SAMPLES)
    for name in ("a_1.fq.gz", "a_2.fq.gz", "b_1.fq.gz", "b_2.fq.gz", "se.fq.gz"):
        fastq_gz(tmp_path / name)
    (tmp_path / "x.bam").write_bytes(b"\x1f\x8b placeholder")
    (tmp_path / "y.cram").write_bytes(b"CRAM placeholder")
    return tmp_path


def units(workdir: Path, rows: list[str]) -> Path:
    path = workdir / "units.tsv"
    path.write_text("\n".join([HEADER, *rows]) + "\n")
    return path


def load(workdir: Path, rows: list[str]):
    return read_units(units(workdir, rows), samples=read_samples("samples.tsv"))


def error(workdir: Path, rows: list[str]) -> str:
    with pytest.raises(InputError) as excinfo:
        load(workdir, rows)
    return str(excinfo.value)


GOOD = [
    "S1\tlane1\ta_1.fq.gz\ta_2.fq.gz\t\t\t",
    "S1\tlane2\tb_1.fq.gz\tb_2.fq.gz\t\t\t",
    "S2\tu1\t\t\tx.bam\t\tGRCh38",
    "S3\tu1\t\t\t\ty.cram\t",
]


def test_reads_and_alignments_are_accepted_and_listed(workdir: Path) -> None:
    table = load(workdir, GOOD)
    assert input_kinds(table) == {"S1": "fastq", "S2": "bam", "S3": "cram"}
    fastq = fastq_units(table)
    assert list(fastq["unit"]) == ["lane1", "lane2"]
    assert list(fastq["fq2"]) == ["a_2.fq.gz", "b_2.fq.gz"]
    aligned = alignment_inputs(table)
    assert aligned.to_dict("records") == [
        {"sample": "S2", "unit": "u1", "alignment": "x.bam", "format": "bam"},
        {"sample": "S3", "unit": "u1", "alignment": "y.cram", "format": "cram"},
    ]


def test_single_end_unit(workdir: Path) -> None:
    rows = ["S1\tu1\tse.fq.gz\t\t\t\t", GOOD[2], GOOD[3]]
    fastq = fastq_units(load(workdir, rows))
    assert fastq.loc[0, "fq1"] == "se.fq.gz"
    assert fastq["fq2"].isna().all()


def test_one_kind_of_input_per_sample(workdir: Path) -> None:
    message = error(workdir, [GOOD[0], "S1\tu2\t\t\tx.bam\t\t", GOOD[2], GOOD[3]])
    assert "units.tsv row 3, column sample: 'S1' already has a FASTQ unit in row 2" in message
    assert "this unit is BAM" in message


def test_one_alignment_per_sample(workdir: Path) -> None:
    message = error(workdir, [GOOD[0], GOOD[2], "S2\tu2\t\t\tx.bam\t\t", GOOD[3]])
    assert "row 4, column bam: 'S2' already has a BAM unit in row 3" in message
    assert "samtools merge" in message


def test_grch37_alignments_need_the_liftover(workdir: Path) -> None:
    table = load(workdir, [GOOD[0], "S2\tu1\t\t\tx.bam\t\tGRCh37", GOOD[3]])
    fasta = workdir / "ref.fa"
    fasta.write_text(">chr21\nACGT\n")
    builds = alignment_builds(
        table, target_fasta=fasta, target_name="GRCh38", grch37_fasta=workdir / "ref37.fa"
    )
    # S3's CRAM (auto) has no readable header: check_alignment reports that later
    assert builds == {"S2": "GRCh37", "S3": "GRCh38"}
    with pytest.raises(InputError) as excinfo:
        alignment_builds(table, target_fasta=fasta, target_name="GRCh38", grch37_fasta=None)
    message = str(excinfo.value)
    assert "units.tsv row 3, column build: BAM 'x.bam' is declared GRCh37" in message
    assert "add 'liftover: {GRCh37: {fasta: ..., chain: ...}}' to the config" in message


def test_truncated_bgzf_fastq_is_found_when_the_sheet_loads(workdir: Path) -> None:
    data = (workdir / "b_2.fq.gz").read_bytes()
    (workdir / "b_2.fq.gz").write_bytes(data[:-28])
    message = error(workdir, GOOD)
    assert message.startswith(f"{workdir / 'units.tsv'} row 3, column fq2: b_2.fq.gz: truncated")


def test_fastq_named_gz_but_plain_text(workdir: Path) -> None:
    (workdir / "a_1.fq.gz").write_text("@r\nACGT\n+\nFFFF\n")
    assert "row 2, column fq1: a_1.fq.gz: not gzip-compressed" in error(workdir, GOOD)


def test_read_two_is_read_one(workdir: Path) -> None:
    rows = ["S1\tu1\ta_1.fq.gz\ta_1.fq.gz\t\t\t", GOOD[2], GOOD[3]]
    assert "row 2, column fq2: 'a_1.fq.gz' is also the unit's fq1" in error(workdir, rows)


def test_missing_fastq(workdir: Path) -> None:
    (workdir / "b_1.fq.gz").unlink()
    assert "row 3, column fq1: file 'b_1.fq.gz' does not exist" in error(workdir, GOOD)


def test_plain_gzip_passes_the_sheet(workdir: Path) -> None:
    with gzip.open(workdir / "a_1.fq.gz", "wt") as handle:
        handle.write("@r\nACGT\n+\nFFFF\n")
    load(workdir, GOOD)  # completeness of plain gzip is checked by the rule check_fastq
