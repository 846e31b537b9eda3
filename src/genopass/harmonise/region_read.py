"""What one scatter region's job reads of its input (:mod:`genopass.harmonise.regions`)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from functools import cache
from typing import Any

from genopass.inputs.plan import OTHER_REGION


@dataclass(frozen=True)
class Run:
    """Consecutive records of the input in one region: the region table's row."""

    region: str
    contig: str  # the source contig
    start: int  # the window (target coordinates), 0 for the region other
    end: int | None
    first: int  # the number of its first record in the file (1-based)
    records: int


@dataclass(frozen=True)
class RegionRead:
    """What one region job reads of the input: whole source contigs or a window of one, in
    file order. ``runs`` empty: the region has no records."""

    runs: tuple[Run, ...]

    @property
    def records(self) -> int:
        return sum(run.records for run in self.runs)

    def view_args(self) -> list[str]:
        """``bcftools view`` options that read the region's records, in file order (bcftools
        reads the regions of -r in the order given), by POS; only the header when empty."""
        if not self.runs:
            return ["-h"]
        parts = []
        for run in self.runs:
            if run.region == OTHER_REGION:
                parts.append(run.contig)
            else:
                parts.append(f"{run.contig}:{run.start}-{'' if run.end is None else run.end}")
        return ["-r", ",".join(parts), "--regions-overlap", "pos"]

    def restrict(self, source: Any) -> Any:
        """The input (the stream's SourceInfo) as the region job sees it: as many records as
        the region has (which the stream checks it reads), the whole file's contigs and counts
        otherwise (so that its checks of the contigs judge the file as one job does)."""
        values = {field.name: getattr(source, field.name) for field in fields(source)}
        return _region_class(type(source))(**values, region_records=self.records)

    def renumber_table(self) -> str:
        """``local first TAB file first`` of each run (RENUMBER_AWK's table)."""
        lines, local = [], 1
        for run in self.runs:
            lines.append(f"{local}\t{run.first}\n")
            local += run.records
        return "".join(lines)


@cache
def _region_class(base: type) -> Any:
    """``base`` (the stream's SourceInfo) whose ``records`` is the region's count."""

    @dataclass(frozen=True)
    class RegionSource(base):  # type: ignore[misc, valid-type]
        region_records: int = 0

        @property
        def records(self) -> int:
            return self.region_records

    return RegionSource
