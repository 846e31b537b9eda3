"""UCSC chain files: parse them and map source positions and spans to the target assembly.

A chain file (https://genome.ucsc.edu/goldenPath/help/chain.html) is a list of chains::

    chain SCORE tName tSize tStrand tStart tEnd qName qSize qStrand qStart qEnd ID
    size dt dq
    ...
    size

``t`` is the source assembly (for hg19ToHg38: GRCh37), ``q`` the target. Each ``size`` line is an
ungapped block aligned base to base; ``dt``/``dq`` are the gaps to the next block. On a ``-``
target strand the q coordinates count from the end of the target contig. Within an ungapped block
the sequence maps one to one, so a record lifts exactly when its bases lie in one block.
"""

from __future__ import annotations

import bisect
import gzip
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from genopass.errors import InputError


@dataclass(frozen=True)
class Block:
    """An ungapped aligned block: source [start, end) -> target [target_start, +len), 0-based."""

    start: int
    end: int
    target: str
    target_start: int  # forward-strand start on the target
    reverse: bool
    chain: int  # chain ID, for messages and to tell chains apart

    def lift(self, pos: int) -> int:
        """Target forward-strand position of source position ``pos`` (0-based, in the block)."""
        if self.reverse:
            return self.target_start + (self.end - 1 - pos)
        return self.target_start + (pos - self.start)


@dataclass(frozen=True)
class ChainHeader:
    source: str
    source_size: int
    target: str
    target_size: int
    chain: int


class ChainMap:
    """Blocks by source contig, searchable by position (blocks of different chains may overlap)."""

    def __init__(self, blocks: dict[str, list[Block]], headers: list[ChainHeader], path: Path):
        self.path = path
        self.headers = headers
        self._blocks: dict[str, list[Block]] = {}
        self._starts: dict[str, list[int]] = {}
        self._max_end: dict[str, list[int]] = {}
        for contig, contig_blocks in blocks.items():
            ordered = sorted(contig_blocks, key=lambda b: (b.start, b.end))
            self._blocks[contig] = ordered
            self._starts[contig] = [b.start for b in ordered]
            running, max_ends = 0, []
            for block in ordered:
                running = max(running, block.end)
                max_ends.append(running)
            self._max_end[contig] = max_ends

    @classmethod
    def load(cls, path: Path | str) -> ChainMap:
        path = Path(path)
        blocks: dict[str, list[Block]] = {}
        headers: list[ChainHeader] = []
        for header, contig_blocks in _parse(path):
            headers.append(header)
            blocks.setdefault(header.source, []).extend(contig_blocks)
        if not headers:
            raise InputError(f"{path}: no chain in the file; is it a UCSC .chain(.gz) file?")
        return cls(blocks, headers, path)

    @property
    def source_contigs(self) -> dict[str, int]:
        return {h.source: h.source_size for h in self.headers}

    @property
    def target_contigs(self) -> dict[str, int]:
        return {h.target: h.target_size for h in self.headers}

    def blocks_at(self, contig: str, pos: int) -> list[Block]:
        """Every block that holds source position ``pos`` (0-based)."""
        starts = self._starts.get(contig)
        if not starts:
            return []
        blocks, max_end = self._blocks[contig], self._max_end[contig]
        found = []
        i = bisect.bisect_right(starts, pos) - 1
        while i >= 0 and max_end[i] > pos:
            if blocks[i].end > pos:
                found.append(blocks[i])
            i -= 1
        return found

    def blocks_overlapping(self, contig: str, start: int, end: int) -> list[Block]:
        """Blocks that overlap source [start, end), in source order."""
        starts = self._starts.get(contig)
        if not starts:
            return []
        blocks, max_end = self._blocks[contig], self._max_end[contig]
        hi = bisect.bisect_left(starts, end)
        lo = hi - 1
        while lo >= 0 and max_end[lo] > start:
            lo -= 1
        return [b for b in blocks[lo + 1 : hi] if b.end > start]


def _open(path: Path) -> Iterator[str]:
    with open(path, "rb") as probe:
        magic = probe.read(2)
    opener = gzip.open if magic == b"\x1f\x8b" else open
    try:
        with opener(path, "rt") as handle:
            yield from handle
    except (OSError, EOFError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the chain file ({exc})") from exc


def _parse(path: Path) -> Iterator[tuple[ChainHeader, list[Block]]]:
    header: ChainHeader | None = None
    fields: list[str] = []
    blocks: list[Block] = []
    t = q = 0
    for number, line in enumerate(_open(path), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if parts[0] == "chain":
            if header is not None:
                raise InputError(f"{path}: line {number}: chain header inside another chain")
            header, fields, t, q, reverse = _chain_header(parts, path, number)
            blocks = []
            continue
        if header is None:
            raise InputError(f"{path}: line {number}: block line {line!r} before any chain header")
        try:
            numbers = [int(p) for p in parts]
        except ValueError:
            raise InputError(f"{path}: line {number}: not a chain block line: {line!r}") from None
        size = numbers[0]
        q_size = header.target_size
        start = q_size - q - size if reverse else q
        blocks.append(Block(t, t + size, header.target, start, reverse, header.chain))
        if len(numbers) == 3:
            t += size + numbers[1]
            q += size + numbers[2]
            continue
        if len(numbers) != 1:
            raise InputError(f"{path}: line {number}: a block line has 1 or 3 numbers: {line!r}")
        t_end, q_end = int(fields[6]), int(fields[11])
        if t + size != t_end or q + size != q_end:
            raise InputError(
                f"{path}: line {number}: chain {header.chain} ends at {t + size}/{q + size} but "
                f"its header says {t_end}/{q_end}; the chain file is corrupt"
            )
        yield header, blocks
        header = None
    if header is not None:
        raise InputError(f"{path}: chain {header.chain} has no last block: the file is truncated")


def _chain_header(
    parts: list[str], path: Path, number: int
) -> tuple[ChainHeader, list[str], int, int, bool]:
    if len(parts) < 12 or parts[4] not in "+-" or parts[9] not in "+-":
        raise InputError(f"{path}: line {number}: not a chain header: {' '.join(parts)!r}")
    try:
        t_size, t_start, q_size, q_start = (int(parts[i]) for i in (3, 5, 8, 10))
    except ValueError:
        raise InputError(f"{path}: line {number}: not a chain header: {parts!r}") from None
    if parts[4] != "+":
        raise InputError(f"{path}: line {number}: source strand '-' is not supported")
    chain_id = int(parts[12]) if len(parts) > 12 and parts[12].isdigit() else number
    header = ChainHeader(parts[2], t_size, parts[7], q_size, chain_id)
    return header, parts, t_start, q_start, parts[9] == "-"
