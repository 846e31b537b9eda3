"""FASTQ checks: complete gzip, well-formed records, pairs of equal length with matching names.

Counts are checked against a hand count of the records the tests write.
"""

from __future__ import annotations

import gzip
import subprocess
import sys
from pathlib import Path

import pysam
import pytest

from genopass.errors import InputError
from genopass.inputs.fastq import check_fastq_files, check_fastq_quick, count_fastq, read_name

GENOPASS = Path(sys.executable).parent / "genopass"


def records(n: int, mate: int = 1, length: int = 20) -> str:
    return "".join(
        f"@read{i} {mate}:N:0\n{'ACGT' * (length // 4)}\n+\n{'F' * length}\n" for i in range(n)
    )


def write_gzip(path: Path, text: str) -> Path:
    with open(path, "wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as handle:
        handle.write(text.encode())
    return path


def write_bgzf(path: Path, text: str) -> Path:
    with pysam.BGZFile(str(path), "wb") as handle:
        handle.write(text.encode())
    return path


def test_counts_plain_gzip_and_bgzf(tmp_path: Path) -> None:
    plain = tmp_path / "r.fq"
    plain.write_text(records(7))
    assert count_fastq(plain).reads == 7
    assert count_fastq(write_gzip(tmp_path / "r.fq.gz", records(1500))).reads == 1500
    assert count_fastq(write_bgzf(tmp_path / "b.fq.gz", records(2500))).reads == 2500
    # no newline after the last record
    last = tmp_path / "nolf.fq"
    last.write_text(records(3).rstrip("\n"))
    assert count_fastq(last).reads == 3


def test_pair_with_equal_counts_passes(tmp_path: Path) -> None:
    one = write_gzip(tmp_path / "a_1.fq.gz", records(1200, 1))
    two = write_gzip(tmp_path / "a_2.fq.gz", records(1200, 2))
    counts = check_fastq_files([one, two], threads=2)
    assert [count.reads for count in counts] == [1200, 1200]


def test_pair_with_different_counts_names_both_files(tmp_path: Path) -> None:
    one = write_gzip(tmp_path / "a_1.fq.gz", records(1200, 1))
    two = write_gzip(tmp_path / "a_2.fq.gz", records(1199, 2))
    with pytest.raises(InputError) as excinfo:
        check_fastq_files([one, two])
    message = str(excinfo.value)
    assert f"{one} has 1200 reads but {two} has 1199" in message


def test_pair_out_of_order_names_the_reads(tmp_path: Path) -> None:
    one = write_gzip(tmp_path / "a_1.fq.gz", records(5, 1))
    two = write_gzip(tmp_path / "a_2.fq.gz", records(5, 2).replace("@read3 ", "@other3 "))
    with pytest.raises(InputError, match=r"record 4 is read 'read3' .* is read 'other3'"):
        check_fastq_files([one, two])


def test_truncated_plain_gzip_is_an_error_naming_the_file(tmp_path: Path) -> None:
    full = write_gzip(tmp_path / "full.fq.gz", records(5000))
    cut = tmp_path / "cut.fq.gz"
    cut.write_bytes(full.read_bytes()[: full.stat().st_size // 2])
    check_fastq_quick(cut)  # plain gzip: not checkable without reading it whole
    with pytest.raises(InputError, match=rf"^{cut}: truncated \(the gzip stream ends"):
        count_fastq(cut)


def test_truncated_bgzf_is_found_cheaply(tmp_path: Path) -> None:
    full = write_bgzf(tmp_path / "full.fq.gz", records(5000))
    cut = tmp_path / "cut.fq.gz"
    cut.write_bytes(full.read_bytes()[:-28])  # only the end-of-file block is missing
    with pytest.raises(InputError, match=rf"^{cut}: truncated \(the BGZF end-of-file block"):
        check_fastq_quick(cut)


def test_name_and_content_must_agree(tmp_path: Path) -> None:
    text = tmp_path / "r.fq.gz"
    text.write_text(records(2))
    with pytest.raises(InputError, match="not gzip-compressed although named .gz"):
        check_fastq_quick(text)
    packed = write_gzip(tmp_path / "r.fq", records(2))
    with pytest.raises(InputError, match="gzip-compressed but named without .gz"):
        check_fastq_quick(packed)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("read0\nACGT\n+\nFFFF\n", "record 1 (line 1): the header line does not start with '@'"),
        ("@r\nACGT\n-\nFFFF\n", "record 1 (line 1): the third line does not start with '+'"),
        ("@r\nACGT\n+\nFFFF\n@s\nACGT\n+\nFFF\n", "record 2 (line 5): 4 bases but 3 quality"),
        ("", "holds no reads"),
    ],
)
def test_malformed_records(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "bad.fq"
    path.write_text(text)
    with pytest.raises(InputError) as excinfo:
        count_fastq(path)
    assert str(excinfo.value).startswith(f"{path}: ")
    assert message in str(excinfo.value)


def test_cut_record_after_the_parsed_ones(tmp_path: Path) -> None:
    path = write_gzip(tmp_path / "r.fq.gz", records(1500) + "@last\nACGT\n")
    with pytest.raises(InputError, match="6002 lines, not a multiple of 4"):
        count_fastq(path)


def test_read_name() -> None:
    assert read_name(b"@A:1:B/1 1:N:0") == b"A:1:B"
    assert read_name(b"@A:1:B/2") == b"A:1:B"
    assert read_name(b"@x y") == b"x"


def test_cli_one_line_error_and_exit_code(tmp_path: Path) -> None:
    one = write_gzip(tmp_path / "a_1.fq.gz", records(3, 1))
    two = write_gzip(tmp_path / "a_2.fq.gz", records(2, 2))
    out = tmp_path / "check.tsv"
    proc = subprocess.run(
        [str(GENOPASS), "check-fastq", str(one), str(two), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == [
        f"genopass: error: {one} has 3 reads but {two} has 2: the two files of a pair must hold "
        f"the same reads in the same order; one of them is incomplete or they come from "
        f"different runs"
    ]
    assert not out.exists()
    two = write_gzip(tmp_path / "a_2.fq.gz", records(3, 2))
    proc = subprocess.run(
        [str(GENOPASS), "check-fastq", str(one), str(two), "--out", str(out)],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == f"file\treads\n{one}\t3\n{two}\t3\n"
