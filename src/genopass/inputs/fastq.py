"""FASTQ inputs: cheap checks for the sheets, a complete read of each file before alignment.

Two levels, because reading a whole FASTQ takes minutes on a genome:

- :func:`check_fastq_quick` runs when the sheets are loaded (before any job): the file is gzip
  when its name says so, and a BGZF file (bgzip, samtools fastq) ends with its end-of-file block.
  A plain gzip file cannot be checked for completeness without reading it whole.
- :func:`check_fastq_files` runs in a rule before trimming: every file is decompressed to its end
  (a truncated gzip stream is an error), its first records are parsed strictly, its lines are
  counted, and the two files of a pair must hold the same number of reads with matching names.
"""

from __future__ import annotations

import gzip
import logging
import zlib
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import BinaryIO

from genopass.errors import InputError
from genopass.io import BGZF_EOF, atomic_output

log = logging.getLogger(__name__)

CHUNK = 1 << 20
PARSED_RECORDS = 1000
"""How many records at the start of each file are parsed strictly (and compared across a pair)."""

GZIP_NAMES = (".gz", ".bgz")


@dataclass(frozen=True)
class FastqCount:
    """One FASTQ file read to its end."""

    path: str
    reads: int
    bases_checked: int  # bases of the strictly parsed first records


def check_fastq_quick(path: Path | str) -> None:
    """Raise InputError if ``path`` is not gzip although named so, or is a truncated BGZF file."""
    file = Path(path)
    with open(file, "rb") as handle:
        head = handle.read(18)
        if file.suffix not in GZIP_NAMES:
            if head[:2] == b"\x1f\x8b":
                raise InputError(
                    f"{file}: gzip-compressed but named without .gz; rename it to {file.name}.gz"
                )
            return
        if head[:2] != b"\x1f\x8b":
            raise InputError(
                f"{file}: not gzip-compressed although named {file.suffix}; compress it with "
                f"gzip or bgzip, or drop {file.suffix} from its name"
            )
        if len(head) == 18 and head[3] & 4 and head[12:14] == b"BC":  # BGZF: checkable cheaply
            size = handle.seek(0, 2)
            handle.seek(max(0, size - len(BGZF_EOF)))
            if handle.read() != BGZF_EOF:
                raise InputError(
                    f"{file}: truncated (the BGZF end-of-file block is missing); the file was "
                    f"cut short in transfer: ask the centre to send it again"
                )


def count_fastq(path: Path | str) -> FastqCount:
    """Read one FASTQ (plain or gzip) to its end; return its read count.

    The first :data:`PARSED_RECORDS` records are parsed strictly (``@`` header, sequence, ``+``,
    qualities of the sequence's length); the rest are counted by lines, which must come in
    fours. A gzip stream cut short, corrupt data or a broken record is an InputError naming the
    file.
    """
    file = Path(path)
    try:
        with _open(file) as handle:
            first = list(islice(_records(handle, file), PARSED_RECORDS))
            lines = 4 * len(first)
            last = b"\n"
            for chunk in iter(lambda: handle.read(CHUNK), b""):
                lines += chunk.count(b"\n")
                last = chunk[-1:]
    except EOFError:
        raise InputError(
            f"{file}: truncated (the gzip stream ends before its end marker); the file was cut "
            f"short in transfer: ask the centre to send it again"
        ) from None
    except (OSError, zlib.error) as exc:  # gzip.BadGzipFile is an OSError
        raise InputError(f"{file}: cannot be decompressed ({exc}); the file is damaged") from None
    if last != b"\n":
        lines += 1  # a last line without its newline
    if lines % 4:
        raise InputError(
            f"{file}: {lines} lines, not a multiple of 4: the last record is incomplete (the "
            f"file was cut short) or a record spans more or fewer than 4 lines"
        )
    if not first:
        raise InputError(f"{file}: holds no reads; give the file with the unit's reads")
    bases = sum(len(record[1]) for record in first)
    return FastqCount(str(file), lines // 4, bases)


def check_fastq_files(paths: Sequence[Path | str], threads: int = 1) -> list[FastqCount]:
    """Read one FASTQ, or both files of a pair, to the end; a pair must match read for read."""
    if not 1 <= len(paths) <= 2:
        raise InputError(f"expected one FASTQ or a pair, got {len(paths)} files")
    if len(paths) == 2 and Path(paths[0]).resolve() == Path(paths[1]).resolve():
        raise InputError(f"{paths[0]} is given as both read 1 and read 2; give the read 2 file")
    with ThreadPoolExecutor(max_workers=max(1, min(threads, len(paths)))) as pool:
        counts = list(pool.map(count_fastq, paths))
    if len(counts) == 2:
        first, second = counts
        if first.reads != second.reads:
            raise InputError(
                f"{first.path} has {first.reads} reads but {second.path} has {second.reads}: "
                f"the two files of a pair must hold the same reads in the same order; one of "
                f"them is incomplete or they come from different runs"
            )
        _check_names_pair(Path(first.path), Path(second.path))
    return counts


def write_fastq_check(counts: Sequence[FastqCount], out: Path | str) -> None:
    """The counts as a small TSV: ``file``, ``reads``."""
    with atomic_output(out) as tmp:
        with open(tmp, "w") as handle:
            handle.write("file\treads\n")
            for count in counts:
                handle.write(f"{count.path}\t{count.reads}\n")


def read_name(header: bytes) -> bytes:
    """The read's name: the header line without ``@``, comment, and ``/1`` or ``/2``."""
    name = header[1:].split(maxsplit=1)[0] if header[1:].strip() else b""
    if name[-2:] in (b"/1", b"/2"):
        name = name[:-2]
    return name


# --- helpers ------------------------------------------------------------------------------------


def _open(file: Path) -> BinaryIO:
    with open(file, "rb") as probe:
        magic = probe.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(file, "rb")  # type: ignore[return-value]
    return open(file, "rb")


def _records(handle: BinaryIO, file: Path) -> Iterator[tuple[bytes, bytes]]:
    """(header, sequence) of each record, parsed strictly; stops at the end of the file."""
    number = 0
    while True:
        header = handle.readline()
        if not header:
            return
        number += 1
        seq, plus, qual = handle.readline(), handle.readline(), handle.readline()
        where = f"{file}: record {number} (line {4 * number - 3})"
        if not header.startswith(b"@"):
            raise InputError(f"{where}: the header line does not start with '@'; not a FASTQ")
        if not plus.startswith(b"+"):
            raise InputError(f"{where}: the third line does not start with '+'; not a FASTQ")
        seq, qual = seq.rstrip(b"\r\n"), qual.rstrip(b"\r\n")
        if len(seq) != len(qual):
            raise InputError(
                f"{where}: {len(seq)} bases but {len(qual)} quality values; the record is "
                f"damaged or cut short"
            )
        yield header.rstrip(b"\r\n"), seq


def _check_names_pair(first: Path, second: Path) -> None:
    """The first records of a pair name the same reads in the same order."""
    with _open(first) as one, _open(second) as two:
        pairs = zip(_records(one, first), _records(two, second), strict=False)
        for number, (left, right) in enumerate(islice(pairs, PARSED_RECORDS), start=1):
            one, two = (read_name(record[0]).decode(errors="replace") for record in (left, right))
            if one != two:
                raise InputError(
                    f"{first} record {number} is read {one!r} but {second} record {number} is "
                    f"read {two!r}: the two files of a pair "
                    f"must list the same reads in the same order"
                )
