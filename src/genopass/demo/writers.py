"""The file writers of every synthetic data set genopass makes (the demo's centres, the
benchmark's large files in :mod:`synthetic`): FASTA with its index, the VCF column line, and
bgzipped VCF with its tabix index.

htslib writes no timestamps, so the same content gives the same bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import pysam

LINE_WIDTH = 60  # bases per FASTA line
VCF_COLUMNS = ("#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT")


def write_fasta(
    path: Path, contigs: Iterable[tuple[str, str | bytes]], width: int = LINE_WIDTH
) -> Path:
    """Write ``(name, sequence)`` contigs as FASTA, ``width`` bases a line, and its .fai."""
    with open(path, "wb") as handle:
        for name, seq in contigs:
            data = seq.encode("ascii") if isinstance(seq, str) else bytes(seq)
            handle.write(f">{name}\n".encode())
            handle.writelines(data[i : i + width] + b"\n" for i in range(0, len(data), width))
    pysam.faidx(str(path))
    return path


def column_line(samples: Sequence[str]) -> str:
    """The ``#CHROM ... FORMAT <samples>`` line that ends a VCF header."""
    return "\t".join([*VCF_COLUMNS, *samples])


def write_vcf_chunks(path: Path, header: Sequence[str], chunks: Iterable[bytes]) -> Path:
    """Write a bgzipped VCF, ``path`` (``*.vcf.gz``), and its .tbi: the header lines, then
    ``chunks`` of record text (whole lines, each ending in a newline), written as they come."""
    with pysam.BGZFile(str(path), "wb") as handle:
        handle.write("".join(f"{line}\n" for line in header).encode())
        for chunk in chunks:
            handle.write(chunk)
    pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


def write_vcf(path: Path, header: Sequence[str], lines: Iterable[str]) -> Path:
    """Write a bgzipped VCF of header and record lines (without newlines), and its .tbi."""
    return write_vcf_chunks(path, header, ["".join(f"{line}\n" for line in lines).encode()])
