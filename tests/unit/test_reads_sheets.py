"""units.tsv with FASTQ, BAM and CRAM units: accepted, of one kind per sample, and their files
checked (check_input_files; what the plan makes of them is in test_plan.py)."""

from __future__ import annotations

import gzip
from pathlib import Path

import pysam
import pytest

from genopass.errors import InputError
from genopass.inputs.plan import check_input_files
from genopass.inputs.sheets import input_kind, read_samples, read_units, records

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
    table = read_units(units(workdir, rows), samples=read_samples("samples.tsv"))
    check_input_files(table)
    return table


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


def kinds(table) -> list[tuple[int, str, str, str]]:
    return [(row, unit["sample"], unit["unit"], input_kind(unit)) for row, unit in records(table)]


def test_reads_and_alignments_are_accepted(workdir: Path) -> None:
    assert kinds(load(workdir, GOOD)) == [
        (2, "S1", "lane1", "fastq"),
        (3, "S1", "lane2", "fastq"),
        (4, "S2", "u1", "bam"),
        (5, "S3", "u1", "cram"),
    ]


def test_single_end_unit(workdir: Path) -> None:
    rows = ["S1\tu1\tse.fq.gz\t\t\t\t", GOOD[2], GOOD[3]]
    (_, unit), *_ = records(load(workdir, rows))
    assert unit == {"sample": "S1", "unit": "u1", "fq1": "se.fq.gz", "build": "auto"}


def test_one_kind_of_input_per_sample(workdir: Path) -> None:
    message = error(workdir, [GOOD[0], "S1\tu2\t\t\tx.bam\t\t", GOOD[2], GOOD[3]])
    assert "units.tsv row 3, column sample: 'S1' already has a FASTQ unit in row 2" in message
    assert "this unit is BAM" in message


def test_one_alignment_per_sample(workdir: Path) -> None:
    message = error(workdir, [GOOD[0], GOOD[2], "S2\tu2\t\t\tx.bam\t\t", GOOD[3]])
    assert "row 4, column bam: 'S2' already has a BAM unit in row 3" in message
    assert "samtools merge" in message


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
    # completeness of plain gzip is checked by the rule check_fastq, not when the sheet loads
    assert kinds(load(workdir, GOOD))[0] == (2, "S1", "lane1", "fastq")
