"""Small file helpers shared by every step: atomic outputs, BGZF checks."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from genopass.errors import InputError

# Work folders of genopass steps, beside their outputs: a run killed mid-step leaves them, and
# `genopass run` removes them before the next (they hold source records under original names).
WORK_PREFIX = ".genopass-"


@contextlib.contextmanager
def work_folder(out: Path | str) -> Iterator[Path]:
    """A temporary work folder beside ``out`` (same file system: results are renamed into
    place), removed when the block ends."""
    parent = Path(out).parent
    parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=WORK_PREFIX, dir=parent) as tmp:
        yield Path(tmp)


# The 28-byte empty block that ends every complete BGZF file (SAM/BAM specification, 4.1.2).
BGZF_EOF = bytes.fromhex("1f8b08040000000000ff0600424302001b0003000000000000000000")


@contextlib.contextmanager
def atomic_output(path: Path | str) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only if the block succeeds."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600 files; outputs follow the umask
    try:
        yield tmp
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextlib.contextmanager
def atomic_directory(path: Path | str) -> Iterator[Path]:
    """Like :func:`atomic_output` for a folder: it appears complete or not at all."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    os.chmod(tmp, 0o777 & ~_umask())
    try:
        yield tmp
        if final.exists():
            shutil.rmtree(final)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def check_bgzf_complete(path: Path | str) -> None:
    """Raise InputError if a .gz/.bgz/.bcf file is not BGZF or lacks the end-of-file block."""
    file = Path(path)
    with open(file, "rb") as handle:
        head = handle.read(18)
        if head[:2] != b"\x1f\x8b":
            if file.suffix in {".gz", ".bgz"}:
                raise InputError(f"{file}: not gzip-compressed although named {file.suffix}")
            return
        if len(head) < 18 or head[3] & 4 == 0 or head[12:14] != b"BC":
            raise InputError(
                f"{file}: compressed with plain gzip, not bgzip; recompress it with "
                f"'bgzip' (htslib) so that it can be indexed"
            )
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - len(BGZF_EOF)))
        if handle.read() != BGZF_EOF:
            raise InputError(
                f"{file}: truncated (the BGZF end-of-file block is missing); "
                f"the file was cut short in transfer: ask the centre to send it again"
            )


def read_tsv(path: Path | str, names: list[str], types: str, keep: list[str] | None = None):
    """Columns of a headerless tab-separated file (plain or .gz) as numpy arrays, read by Arrow.

    ``types`` has a letter per column: ``q`` int64, ``s`` string (returned as dictionary codes
    in ``<name>_code`` with the values in ``<name>``, so millions of rows stay small). Only the
    columns in ``keep`` (default: all) are read.
    """
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv

    kinds = dict(zip(names, types, strict=True))
    wanted = keep or names
    file = Path(path)
    if file.stat().st_size == 0 or (file.suffix == ".gz" and _gzip_is_empty(file)):
        empty: dict = {}
        for name in wanted:
            if kinds[name] == "q":
                empty[name] = np.zeros(0, dtype=np.int64)
            else:
                empty[name], empty[f"{name}_code"] = np.array([], dtype=object), np.zeros(0, int)
        return empty
    table = pacsv.read_csv(
        file,
        read_options=pacsv.ReadOptions(column_names=names, block_size=1 << 24),
        parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
        convert_options=pacsv.ConvertOptions(
            column_types={n: pa.int64() if kinds[n] == "q" else pa.string() for n in wanted},
            include_columns=wanted,
        ),
    )
    return _numpy_columns(table, wanted, kinds)


def _numpy_columns(table, wanted: list[str], kinds: dict[str, str]) -> dict:
    """An Arrow table's columns as numpy: ``q`` int64, ``s`` dictionary codes and values."""
    columns: dict = {}
    for name in wanted:
        column = table.column(name).combine_chunks()
        if kinds[name] == "q":
            columns[name] = column.to_numpy()
        else:
            encoded = column.dictionary_encode()
            columns[f"{name}_code"] = encoded.indices.to_numpy()
            columns[name] = encoded.dictionary.to_numpy(zero_copy_only=False)
    return columns


def iter_tsv(
    path: Path | str,
    names: list[str],
    types: str,
    keep: list[str] | None = None,
    block_size: int = 1 << 20,
) -> Iterator[dict]:
    """:func:`read_tsv` in batches: the same columns, one dict of numpy arrays per
    ``block_size`` bytes of the (uncompressed) file, cut at line ends, so that a table of any
    length is read in memory bounded by the batch. String columns are dictionary codes per
    batch (``<name>_code`` indexes that batch's ``<name>``). An empty file yields nothing.

    Each batch is parsed by Arrow on its own: ``pyarrow.csv.open_csv`` reads up to 32 blocks
    ahead of its consumer (a whole file of a few tens of MB), so its memory is not bounded.
    """
    import gzip

    import pyarrow as pa
    import pyarrow.csv as pacsv

    kinds = dict(zip(names, types, strict=True))
    wanted = keep or names
    file = Path(path)
    read_options = pacsv.ReadOptions(
        column_names=names, block_size=max(1 << 16, block_size // 4), use_threads=False
    )
    parse_options = pacsv.ParseOptions(delimiter="\t", quote_char=False)
    convert_options = pacsv.ConvertOptions(
        column_types={n: pa.int64() if kinds[n] == "q" else pa.string() for n in wanted},
        include_columns=wanted,
    )

    def parse(data: bytes) -> dict:
        table = pacsv.read_csv(
            pa.BufferReader(data),
            read_options=read_options,
            parse_options=parse_options,
            convert_options=convert_options,
        )
        return _numpy_columns(table, wanted, kinds)

    opener = gzip.open if file.suffix == ".gz" else open
    with opener(file, "rb") as handle:
        rest = b""
        while data := handle.read(block_size):
            data = rest + data if rest else data
            cut = data.rfind(b"\n") + 1
            if cut == 0:  # a line longer than a batch: read on
                rest = data
                continue
            rest = data[cut:]
            yield parse(data[:cut] if cut < len(data) else data)
            del data
        if rest:
            yield parse(rest)


def _gzip_is_empty(path: Path) -> bool:
    import gzip

    with gzip.open(path, "rb") as handle:
        return not handle.read(1)
