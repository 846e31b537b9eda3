"""A plain gzip FASTQ (not BGZF): the checks made when the sheets load (check_fastq_quick, on
every FASTQ of units.tsv) accept it, since its completeness cannot be seen without reading it
whole; the complete read before alignment (rule check_fastq) then counts its reads, or stops on a
cut stream naming the file.

Reads are written here with Python's gzip module (plain gzip, as ``gzip`` or most sequencers
write it) and counted by hand.
"""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from genopass.errors import InputError
from genopass.inputs.fastq import check_fastq_files, check_fastq_quick
from genopass.inputs.sheets import read_samples, read_units

READS = 7


def plain_gzip_fastq(path: Path, prefix: str) -> Path:
    with gzip.open(path, "wt") as handle:
        handle.writelines(f"@{prefix}{i}\nACGTAC\n+\nFFFFFF\n" for i in range(READS))
    return path


@pytest.fixture
def pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    """A sheet of one sample with one pair of plain gzip FASTQ files, in the working folder."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "samples.tsv").write_text("sample\tcentre\tcountry\tsex\nS1\tC\tES\tfemale\n")
    (tmp_path / "units.tsv").write_text(
        "sample\tunit\tfq1\tfq2\tbam\tcram\tbuild\nS1\tlane1\tr_1.fq.gz\tr_2.fq.gz\t\t\t\n"
    )
    return plain_gzip_fastq(tmp_path / "r_1.fq.gz", "r"), plain_gzip_fastq(
        tmp_path / "r_2.fq.gz", "r"
    )


def load_units():
    return read_units(Path("units.tsv"), samples=read_samples("samples.tsv"))


def test_the_files_are_plain_gzip_not_bgzf(pair: tuple[Path, Path]) -> None:
    for path in pair:
        head = path.read_bytes()[:18]
        assert head[:2] == b"\x1f\x8b"  # gzip
        assert not head[3] & 4  # no extra field, so no BGZF "BC" block size: not checkable


def test_a_plain_gzip_pair_passes_the_sheet_checks(pair: tuple[Path, Path]) -> None:
    units = load_units()
    assert units[["sample", "unit", "fq1", "fq2"]].to_dict("records") == [
        {"sample": "S1", "unit": "lane1", "fq1": "r_1.fq.gz", "fq2": "r_2.fq.gz"}
    ]
    for path in pair:
        check_fastq_quick(path)  # no error


def test_the_complete_read_counts_the_reads(pair: tuple[Path, Path]) -> None:
    counts = check_fastq_files(list(pair))
    assert [(Path(c.path).name, c.reads) for c in counts] == [
        ("r_1.fq.gz", READS),
        ("r_2.fq.gz", READS),
    ]


def test_a_cut_plain_gzip_passes_the_sheet_but_not_the_complete_read(
    pair: tuple[Path, Path],
) -> None:
    first = pair[0]
    data = first.read_bytes()
    first.write_bytes(data[: len(data) // 2])
    check_fastq_quick(first)  # no error: only reading the whole stream can tell
    with pytest.raises(InputError) as excinfo:
        check_fastq_files(list(pair))
    message = str(excinfo.value)
    assert message.startswith(f"{first}: truncated") and "gzip stream" in message, message
