"""Reference FASTA helpers: per-contig sequence digests for export metadata."""

from __future__ import annotations

import hashlib
from pathlib import Path

from genopass.errors import InputError

# Bases fetched per call: large enough to keep pysam/hashlib overhead small, small enough that a
# whole chromosome is never held in memory.
CHUNK_BASES = 4 << 20


def contig_md5s(fasta: Path) -> dict[str, str]:
    """{contig: md5 hex of its uppercase sequence} in FASTA order.

    The digest is the one SAM ``@SQ M5`` and refget use, so readers can compare a Parquet export
    against the reference they hold without trusting contig names.
    """
    import pysam  # lazily: ~10 ms of start-up that a Parquet export without FASTA skips

    path = Path(fasta)
    try:
        handle = pysam.FastaFile(str(path))
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{path}: cannot read FASTA (is it indexed with samtools faidx?): {exc}"
        ) from None
    digests: dict[str, str] = {}
    with handle:
        for name, length in zip(handle.references, handle.lengths, strict=True):
            md5 = hashlib.md5()
            for start in range(0, length, CHUNK_BASES):
                end = min(start + CHUNK_BASES, length)
                md5.update(handle.fetch(name, start, end).upper().encode("ascii"))
            digests[name] = md5.hexdigest()
    return digests
