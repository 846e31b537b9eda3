"""Reference FASTA helpers: its index, its contigs, and per-contig sequence digests."""

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


def ensure_fai(fasta: Path) -> Path:
    """The .fai of ``fasta``, built with htslib when missing or older than the FASTA."""
    fasta = Path(fasta)
    fai = Path(str(fasta) + ".fai")
    if not fai.exists() or fai.stat().st_mtime < fasta.stat().st_mtime:
        import pysam

        try:
            pysam.faidx(str(fasta))
        except pysam.SamtoolsError as exc:
            raise InputError(f"{fasta}: cannot index the reference FASTA ({exc})") from exc
    return fai


def read_fai(fasta: Path) -> dict[str, int]:
    """Contig name -> length, in FASTA order."""
    fai = Path(str(fasta) + ".fai")
    contigs: dict[str, int] = {}
    with open(fai) as handle:
        for number, line in enumerate(handle, start=1):
            fields = line.rstrip("\n").split("\t")
            if len(fields) < 2 or not fields[1].isdigit():
                raise InputError(f"{fai}: line {number}: not a FASTA index line")
            contigs[fields[0]] = int(fields[1])
    return contigs


def reference_contigs(fasta: Path | str) -> dict[str, int]:
    """Contig name -> length of a FASTA: from its .fai when present, else from the FASTA itself.

    The workflow needs the contigs when it plans the jobs, before the rule that writes the .fai
    has run.
    """
    path = Path(fasta)
    if not path.is_file():
        raise InputError(
            f"reference FASTA {path} does not exist; give its path as reference.fasta in the "
            f"config (relative paths start from the working directory {Path.cwd()})"
        )
    fai = Path(f"{path}.fai")
    if fai.is_file() and fai.stat().st_mtime >= path.stat().st_mtime:
        return read_fai(path)
    if path.suffix in (".gz", ".bgz"):
        raise InputError(f"{path}: a compressed reference needs its .fai (samtools faidx)")
    contigs: dict[str, int] = {}
    name = None
    with open(path, "rb") as handle:
        for line in handle:
            if line.startswith(b">"):
                name = line[1:].split()[0].decode()
                contigs[name] = 0
            elif name is not None:
                contigs[name] += len(line.rstrip(b"\r\n"))
    if not contigs:
        raise InputError(f"{path}: no sequence in the reference FASTA")
    return contigs
