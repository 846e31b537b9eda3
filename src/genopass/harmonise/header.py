"""The standard output header: definitions kept; lines that can carry paths or people dropped."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from genopass import __version__

# Only structured definitions survive; every other meta line (tool command lines, ##source,
# ##SAMPLE, ##PEDIGREE, ##fileDate, ##reference paths...) may carry paths, names or dates.
KEPT_KEYS = ("FILTER", "ALT", "INFO", "FORMAT")
# An absolute path or file URL: a '/' that starts a token and is followed by more segments.
PATH_PATTERN = re.compile(r"(?<![\w.])(?:file://)?(?:~|[A-Za-z]:)?/(?:[\w.+@-]+/)+[\w.+@-]*")
PATH_PLACEHOLDER = "<path removed>"


def scrub_paths(text: str) -> str:
    """Replace absolute paths and file URLs in free text."""
    return PATH_PATTERN.sub(PATH_PLACEHOLDER, text)


def meta_key(line: str) -> str:
    return line[2:].split("=", 1)[0]


def kept_definitions(header_lines: Iterable[str]) -> list[str]:
    """The ##FILTER/##ALT/##INFO/##FORMAT lines of a header, paths scrubbed, order kept."""
    kept = []
    for line in header_lines:
        line = line.rstrip("\n")
        if line.startswith("##") and meta_key(line) in KEPT_KEYS:
            kept.append(scrub_paths(line))
    return kept


def standard_header(
    source_header: str,
    contigs: Sequence[tuple[str, int]],
    reference_name: str,
    samples: Sequence[str],
) -> str:
    """Header text for a harmonised VCF: fileformat, definitions, target contigs, samples."""
    lines = source_header.splitlines()
    fileformat = next(
        (line for line in lines if line.startswith("##fileformat=")), "##fileformat=VCFv4.2"
    )
    out = [fileformat]
    out.extend(kept_definitions(lines))
    out.extend(f"##contig=<ID={name},length={length}>" for name, length in contigs)
    out.append(f"##reference={reference_name}")
    out.append(f"##genopass_version={__version__}")
    columns = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    if samples:
        columns += ["FORMAT", *samples]
    out.append("\t".join(columns))
    return "\n".join(out) + "\n"
