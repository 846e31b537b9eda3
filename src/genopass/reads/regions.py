"""Regions of the target reference that the reads path works on.

- the contigs that variant calling scatters over (one job per contig);
- the autosomes outside assembly gaps (runs of N), where coverage is measured (GA4GH WGS QC:
  ``mean_autosome_coverage``, ``pct_autosomes_15x`` are defined there).
"""

from __future__ import annotations

import re
from pathlib import Path

from genopass.errors import InputError
from genopass.inputs.contigs import is_primary_name
from genopass.io import atomic_output

AUTOSOME = re.compile(r"^chr([1-9]|1[0-9]|2[0-2])$")
GAP = re.compile(r"[Nn]+")
CHUNK_BASES = 1 << 22


def calling_contigs(contigs: dict[str, int]) -> list[str]:
    """The contigs variant calling scatters over, in reference order.

    The primary chromosomes (chr1-22, X, Y, M) when the reference has any: harmonisation keeps
    only those, so calling elsewhere (alts, decoys, HLA) would be wasted. A reference without
    them (a synthetic or non-human one) is called on every contig.
    """
    primary = [name for name in contigs if is_primary_name(name)]
    return primary or list(contigs)


def autosome_intervals(fasta: Path | str) -> list[tuple[str, int, int]]:
    """(contig, start, end), 0-based half-open, of the autosomes outside runs of N."""
    import pysam

    intervals: list[tuple[str, int, int]] = []
    try:
        handle = pysam.FastaFile(str(fasta))
    except (OSError, ValueError) as exc:
        raise InputError(f"{fasta}: cannot read the FASTA (is it indexed?): {exc}") from None
    with handle:
        for name, length in zip(handle.references, handle.lengths, strict=True):
            if not AUTOSOME.match(name):
                continue
            gaps: list[list[int]] = []
            for offset in range(0, length, CHUNK_BASES):
                chunk = handle.fetch(name, offset, min(offset + CHUNK_BASES, length))
                for gap in GAP.finditer(chunk):
                    begin, end = offset + gap.start(), offset + gap.end()
                    if gaps and gaps[-1][1] == begin:  # a gap across two chunks
                        gaps[-1][1] = end
                    else:
                        gaps.append([begin, end])
            start = 0
            for begin, end in gaps:
                if begin > start:
                    intervals.append((name, start, begin))
                start = end
            if start < length:
                intervals.append((name, start, length))
    if not intervals:
        raise InputError(
            f"{fasta}: no autosome (chr1-chr22) in the reference, so autosomal coverage cannot be "
            f"measured; the target reference must use UCSC names"
        )
    return intervals


def write_autosome_bed(fasta: Path | str, out: Path | str) -> int:
    """Write the autosome intervals as BED; return their total length."""
    intervals = autosome_intervals(fasta)
    with atomic_output(out) as tmp:
        with open(tmp, "w") as handle:
            for name, start, end in intervals:
                handle.write(f"{name}\t{start}\t{end}\n")
    return sum(end - start for _, start, end in intervals)
