"""Per-sample record accounting, measured from the files that were written.

Every input record gets a source number (INFO/GENOPASS_SOURCE, 1..N in input order) when it
enters genopass; records split from it share it. The number travels through the work files
(harmonised VCF, rejects, gVCF blocks) and never into the export. After a sample is harmonised,
:func:`measure` reads those three files and checks, source number by source number:

- every number 1..N (N counted from the input's index) is found, and no other;
- a source record is in exactly one of: the output (one or more records), the rejects (one
  record, with a reason), the blocks file (one or more intervals); the only exception is a
  split record some of whose alleles are duplicates: its other alleles are in the output;
- the records of a source number in the output and among the duplicate rejects are as many as
  the record had ALT alleles (none lost in splitting).

Nothing is derived by subtraction: the counts in the table are those of the files.
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genopass.errors import GenopassError
from genopass.io import iter_tsv
from genopass.reasons import DUPLICATE, REASONS, STEP_REASONS, reason_class
from genopass.tools import PipelineError, run_tool

SOURCE_INFO = "GENOPASS_SOURCE"
SOURCE_DEFINITION = (
    f'##INFO=<ID={SOURCE_INFO},Number=1,Type=Integer,Description="Number of the input record '
    f'this record comes from (genopass work files only, never exported)">'
)
REJECT_INFO = "GENOPASS_REJECT"
STEP_INFO = "GENOPASS_STEP"
STEPS = tuple(STEP_REASONS)
MAX_NAMED_SAMPLES = 20
MAX_SHOWN = 5

IN_OUTPUT, IN_REJECTS, IN_DUPLICATES, IN_BLOCKS = 1, 2, 4, 8


class AccountingError(GenopassError):
    """A record was lost, invented or counted twice. Never the user's fault."""

    exit_code = 1


@dataclass(frozen=True)
class Accounting:
    """Record counts of one harmonisation, read from its output, rejects and blocks files.

    input_records          records in the input (its index)
    output_records         records in the output file
    output_source_records  source records with at least one record in the output
    rejected               (step, reason) -> source records in the rejects file; for
                           ``duplicate``: source records all of whose records were duplicates
    duplicate_records      records in the rejects file as duplicates (split alleles included)
    reference_blocks       source records (gVCF reference blocks) in the blocks file
    swapped                step -> source records whose REF/ALT were swapped
    lifted_records         records the liftover step passed on (0 without liftover)
    block_bases_in/out     reference bases of gVCF blocks read, and in the blocks file
    """

    samples: tuple[str, ...]
    source_build: str
    input_records: int
    output_records: int
    output_source_records: int
    rejected: Mapping[tuple[str, str], int]
    duplicate_records: int
    reference_blocks: int
    swapped: Mapping[str, int] = field(default_factory=dict)
    lifted_records: int = 0
    block_bases_in: int = 0
    block_bases_out: int = 0

    @property
    def rejected_total(self) -> dict[str, int]:
        """Rejected source records by reason, all steps."""
        total: Counter[str] = Counter()
        for (_, reason), count in self.rejected.items():
            total[reason] += count
        return dict(total)

    @property
    def rejected_source_records(self) -> int:
        return sum(self.rejected.values())

    @property
    def swapped_total(self) -> int:
        return sum(self.swapped.values())

    @property
    def split_added(self) -> int:
        """Records that splitting multiallelic records added (output and duplicates)."""
        duplicate_sources = self.rejected_total.get(DUPLICATE, 0)
        records = self.output_records + self.duplicate_records
        return records - self.output_source_records - duplicate_sources

    def as_row(self) -> dict[str, object]:
        """One row; the columns are the same whatever the input, so that tables concatenate."""
        total = self.rejected_total
        return {
            # A cohort file would make a line of thousands of names: count them instead.
            "samples": ",".join(self.samples)
            if len(self.samples) <= MAX_NAMED_SAMPLES
            else f"{len(self.samples)} samples",
            "source_build": self.source_build,
            "input_records": self.input_records,
            "output_source_records": self.output_source_records,
            "rejected_source_records": self.rejected_source_records,
            "reference_blocks": self.reference_blocks,
            **{f"rejected_{r}": total.get(r, 0) for r in REASONS},
            "output_records": self.output_records,
            "split_added": self.split_added,
            "duplicate_records": self.duplicate_records,
            "swapped_ref_alt": self.swapped_total,
            "lifted_records": self.lifted_records,
            "reference_block_bases_in": self.block_bases_in,
            "reference_block_bases_out": self.block_bases_out,
            **{
                f"{step}_rejected_{r}": self.rejected.get((step, r), 0)
                for step in STEPS
                for r in STEP_REASONS[step]
            },
            **{f"{step}_swapped": self.swapped.get(step, 0) for step in STEPS},
        }

    def write(self, path: Path) -> None:
        """The accounting table: a header line and this sample's row (tab separated)."""
        from genopass.io import atomic_output

        row = self.as_row()
        with atomic_output(path) as tmp, open(tmp, "w", newline="") as handle:
            writer = csv.DictWriter(
                handle, fieldnames=list(row), delimiter="\t", lineterminator="\n"
            )
            writer.writeheader()
            writer.writerow(row)

    def summary(self) -> str:
        reasons = ", ".join(f"{r} {n}" for r, n in sorted(self.rejected_total.items()) if n)
        extra = ""
        if self.lifted_records:
            extra += f"; lifted over from {self.source_build}: {self.lifted_records} lifted"
        if self.swapped_total:
            extra += f"; {self.swapped_total} REF/ALT swapped"
        if self.reference_blocks:
            extra += f"; {self.reference_blocks} reference blocks"
            if self.block_bases_out != self.block_bases_in:
                extra += f" ({self.block_bases_in - self.block_bases_out} bases not lifted)"
        return (
            f"{self.input_records} input records -> {self.output_records} output records "
            f"({self.split_added} added by splitting); rejected: {reasons or 'none'}{extra}"
        )


def measure(
    *,
    path: Path | str,
    work: Path,
    input_records: int,
    output_numbers: OutputNumbers | np.ndarray,
    rejects: Path,
    blocks: Path,
    pieces: np.ndarray,
    samples: tuple[str, ...],
    source_build: str,
    swapped: Mapping[str, int],
    lifted_records: int = 0,
    block_bases_in: int = 0,
) -> Accounting:
    """Read rejects and blocks; check every source number is in exactly one of them and the
    output (``output_numbers``: the source numbers of the output file, :func:`output_numbers`).

    ``pieces[n]`` is the number of ALT alleles of source record ``n`` that entered
    normalisation (0 for records rejected or sent to the blocks file before it). Raises
    :class:`AccountingError` naming the first source numbers that break the identity.

    Memory: two bytes per source number (where it was found; its records in the output and
    among the duplicates, counted up to 255) besides ``pieces``; the files are read in batches.
    """
    check_source_range(path, input_records)
    size = input_records + 1
    numbers = (
        output_numbers
        if isinstance(output_numbers, OutputNumbers)
        else OutputNumbers.of(output_numbers)
    )
    # records per source number, output + duplicates, up to 255 (pieces are counted up to 255)
    seen = numbers.take_counts(input_records)
    output_records, bad_output = numbers.records, numbers.outside
    where = (seen > 0).view(np.uint8)  # IN_OUTPUT == 1
    bad_duplicates: list[int] = []
    bad_rejects: list[int] = []
    bad_blocks: list[int] = []
    twice: list[np.ndarray] = []

    def valid(batch: np.ndarray, bad: list[int]) -> np.ndarray:
        inside = (batch >= 1) & (batch <= input_records)
        if not inside.all():
            if len(bad) <= MAX_SHOWN:
                bad.extend(batch[~inside][: MAX_SHOWN + 1 - len(bad)].tolist())
            batch = batch[inside]
        return batch

    rejected: Counter[tuple[str, str]] = Counter()
    duplicate_records = 0
    for rows in _query_rejects(rejects, work / "measure-rejects.tsv"):
        is_duplicate = rows["reason"][rows["reason_code"]] == DUPLICATE
        duplicates = rows["number"][is_duplicate]
        duplicate_records += len(duplicates)
        duplicates = valid(duplicates, bad_duplicates)
        where[duplicates] |= IN_DUPLICATES
        add_counts(seen, duplicates)
        whole = valid(rows["number"][~is_duplicate], bad_rejects)
        ordered = np.sort(whole)
        twice.append(ordered[1:][ordered[1:] == ordered[:-1]])
        twice.append(whole[(where[whole] & IN_REJECTS) != 0])
        where[whole] |= IN_REJECTS
        steps = len(rows["step"])
        pairs = rows["reason_code"][~is_duplicate].astype(np.int64) * steps
        pairs += rows["step_code"][~is_duplicate]
        for pair, count in zip(*np.unique(pairs, return_counts=True), strict=True):
            reason, step = divmod(int(pair), steps)
            key = (str(rows["step"][step]), reason_class(str(rows["reason"][reason])))
            rejected[key] += int(count)
    block_bases_out = 0
    for intervals in iter_tsv(blocks, ["chrom", "start", "end", "number"], "sqqq", BLOCK_COLUMNS):
        where[valid(intervals["number"], bad_blocks)] |= IN_BLOCKS
        block_bases_out += int(np.sum(intervals["end"] - intervals["start"]))

    def outside(bad: list[int], what: str) -> None:
        if bad:
            problems.append(
                f"{what} have source numbers outside 1..{input_records} ({_shown(bad)})"
            )

    problems: list[str] = []
    outside(bad_output, "output records")
    outside(bad_duplicates, "duplicate rejects")
    found_twice = np.unique(np.concatenate(twice)) if twice else np.zeros(0, dtype=np.int64)
    if len(found_twice):
        problems.append(f"source records rejected twice ({_shown(found_twice.tolist())})")
    del twice, found_twice
    outside(bad_rejects, "rejects")
    outside(bad_blocks, "reference blocks")

    missing, crossed, lost = _Found(), _Found(), _Found()
    output_sources = reference_blocks = only_duplicates = 0
    for first in range(1, size, CHUNK):  # in chunks: the temporary arrays stay small
        last = min(first + CHUNK, size)
        state = where[first:last]
        rejected_or_block = ((state & IN_REJECTS) != 0) & (state != IN_REJECTS)
        rejected_or_block |= ((state & IN_BLOCKS) != 0) & (state != IN_BLOCKS)
        in_output = (state & (IN_OUTPUT | IN_DUPLICATES)) != 0
        short = in_output & (seen[first:last] != pieces[first:last])
        missing.add(np.flatnonzero(state == 0) + first)
        crossed.add(np.flatnonzero(rejected_or_block) + first)
        lost.add(np.flatnonzero(short) + first)
        output_sources += int(np.count_nonzero(state & IN_OUTPUT))
        reference_blocks += int(np.count_nonzero(state & IN_BLOCKS))
        only_duplicates += int(np.count_nonzero((state & (IN_OUTPUT | IN_DUPLICATES)) == 4))
    if missing.count:
        problems.append(f"{missing.count} source records are nowhere ({_shown(missing.first)})")
    if crossed.count:
        problems.append(
            f"{crossed.count} source records are in more than one of output, rejects and "
            f"blocks ({_shown(crossed.first)})"
        )
    if lost.count:
        shown = [
            f"{n} ({_counted(seen[n])} of {pieces[n]} alleles)" for n in lost.first[:MAX_SHOWN]
        ]
        problems.append(f"source records lost alleles in splitting: {_shown(shown)}")
    del where, seen
    if problems:
        raise AccountingError(f"{path}: accounting does not add up: " + "; ".join(problems))

    if only_duplicates:
        rejected[("harmonise", DUPLICATE)] = only_duplicates
    return Accounting(
        samples=samples,
        source_build=source_build,
        input_records=input_records,
        output_records=output_records,
        output_source_records=output_sources,
        rejected=dict(sorted(rejected.items())),
        duplicate_records=duplicate_records,
        reference_blocks=reference_blocks,
        swapped=dict(swapped),
        lifted_records=lifted_records,
        block_bases_in=block_bases_in,
        block_bases_out=block_bases_out,
    )


CHUNK = 1 << 20  # source numbers checked at a time
SATURATED = 255  # per-number counters are uint8: 255 means 255 or more
MAX_SOURCE_RECORDS = (1 << 32) - 1


def check_source_range(path: Path | str, records: int) -> None:
    """Refuse inputs whose source numbers would not fit 32 bits (the accounting's limit)."""
    if records > MAX_SOURCE_RECORDS:
        raise AccountingError(
            f"{path}: {records} records; the accounting counts at most {MAX_SOURCE_RECORDS} "
            f"records in one file: split the input into files of fewer records (by contig)"
        )


def add_counts(counts: np.ndarray, numbers: np.ndarray) -> None:
    """``counts[n] += (occurrences of n in numbers)`` for uint8 ``counts``, stopping at 255;
    temporary memory in proportion to ``numbers`` (a batch), not to ``counts``."""
    if not len(numbers):
        return
    low, high = int(numbers.min()), int(numbers.max())
    if high - low < 2 * len(numbers) + 1024:  # a run of numbers (files in input order)
        span = counts[low : high + 1]
        added = np.bincount(numbers - low, minlength=high - low + 1)
        added += span
        np.minimum(added, SATURATED, out=added)
        span[:] = added
        return
    ordered = np.sort(numbers)
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    unique = ordered[starts]
    added = np.diff(np.append(starts, len(ordered)))
    added += counts[unique]
    counts[unique] = np.minimum(added, SATURATED)


def _counted(count: int) -> str:
    return f"{SATURATED}+" if count >= SATURATED else str(count)


class _Found:
    """How many numbers were found, and the first few (in order)."""

    def __init__(self) -> None:
        self.count = 0
        self.first: list[int] = []

    def add(self, numbers: np.ndarray) -> None:
        self.count += len(numbers)
        if len(self.first) <= MAX_SHOWN:
            self.first.extend(numbers[: MAX_SHOWN + 1 - len(self.first)].tolist())


class OutputNumbers:
    """The source numbers of an output file's records, as the file holds them (a table that
    ``bcftools query`` wrote, read in batches), counted per source number on demand."""

    def __init__(self, table: Path | None = None, about: Path | str = "", numbers=None) -> None:
        self.table, self.about, self.numbers = table, about, numbers
        self._counts: tuple[int, np.ndarray] | None = None
        self.records = 0
        self.outside: list[int] = []  # the first numbers outside 1..size, in file order

    @classmethod
    def of(cls, numbers: np.ndarray) -> OutputNumbers:
        """From an array held in memory (tests, small files)."""
        return cls(numbers=np.asarray(numbers, dtype=np.int64))

    def _batches(self) -> Iterator[np.ndarray]:
        if self.numbers is not None:
            yield self.numbers
            return
        try:
            for batch in iter_tsv(self.table, ["number"], "q"):
                yield batch["number"]
        except (ValueError, OSError) as exc:  # Arrow: a record without a number ('.')
            raise AccountingError(f"{self.about}: a record has no source number ({exc})") from None

    def counts(self, size: int) -> np.ndarray:
        """Records per source number 0..``size`` (uint8, 255 meaning 255 or more); numbers
        outside 1..``size`` are left out and the first of them kept in :attr:`outside`."""
        if self._counts is not None and self._counts[0] == size:
            return self._counts[1]
        check_source_range(self.about, size)
        counts = np.zeros(size + 1, dtype=np.uint8)
        records, outside = 0, []
        for batch in self._batches():
            records += len(batch)
            inside = (batch >= 1) & (batch <= size)
            if not inside.all():
                if len(outside) <= MAX_SHOWN:
                    outside.extend(batch[~inside][: MAX_SHOWN + 1 - len(outside)].tolist())
                batch = batch[inside]
            add_counts(counts, batch)
        self.records, self.outside = records, outside
        self._counts = (size, counts)
        return counts

    def take_counts(self, size: int) -> np.ndarray:
        """:meth:`counts`, handed over: the caller may change it (it is not kept here)."""
        counts = self.counts(size)
        self._counts = None
        return counts

    def __len__(self) -> int:
        return self.records


BLOCK_COLUMNS = ["start", "end", "number"]


def _shown(items: list) -> str:
    text = ", ".join(map(str, items[:MAX_SHOWN]))
    return text + (", ..." if len(items) > MAX_SHOWN else "")


def _query(vcf: Path, fmt: str, out: Path) -> None:
    """``bcftools query`` into ``out`` (a work file can hold millions of records)."""
    try:
        run_tool(["bcftools", "query", "-f", fmt, vcf], about=vcf, stdout=out)
    except PipelineError as error:
        raise AccountingError(
            f"{vcf}: cannot read it back to count its records: {error.stderrs[0][-300:]}"
        ) from None


def output_numbers(vcf: Path, work: Path) -> OutputNumbers:
    """The source number of every record of ``vcf``, read back from the file by bcftools
    (into a table of the work folder, counted per source number when asked)."""
    fd, name = tempfile.mkstemp(prefix="output-numbers.", suffix=".tsv", dir=work)
    os.close(fd)
    out = Path(name)
    _query(vcf, "%INFO/GENOPASS_SOURCE\n", out)
    return OutputNumbers(out, vcf)


def _query_rejects(vcf: Path, out: Path) -> Iterator[dict[str, np.ndarray]]:
    _query(vcf, "%INFO/GENOPASS_SOURCE\t%INFO/GENOPASS_REJECT\t%INFO/GENOPASS_STEP\n", out)
    try:
        yield from iter_tsv(out, ["number", "reason", "step"], "qss")
    except (ValueError, OSError) as exc:
        raise AccountingError(f"{vcf}: a reject has no source number ({exc})") from None
