"""Target reference FASTA: its index and contigs."""

from __future__ import annotations

from pathlib import Path

import pysam

from genopass.errors import InputError


def ensure_fai(fasta: Path) -> Path:
    """The .fai of ``fasta``, built with htslib when missing or older than the FASTA."""
    fasta = Path(fasta)
    fai = Path(str(fasta) + ".fai")
    if not fai.exists() or fai.stat().st_mtime < fasta.stat().st_mtime:
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
