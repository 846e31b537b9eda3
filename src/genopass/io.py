"""Small file helpers shared by every step: atomic outputs, BGZF checks."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from genopass.errors import InputError

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
