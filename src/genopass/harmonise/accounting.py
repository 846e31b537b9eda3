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
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genopass.errors import GenopassError
from genopass.io import read_tsv
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
    output_numbers: np.ndarray,
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
    """
    size = input_records + 1
    where = np.zeros(size, dtype=np.uint8)
    seen = np.zeros(size, dtype=np.int64)  # records per source number, output + duplicates
    problems: list[str] = []

    def place(numbers: np.ndarray, flag: int, what: str) -> None:
        bad = numbers[(numbers < 1) | (numbers > input_records)]
        if len(bad):
            problems.append(
                f"{what} have source numbers outside 1..{input_records} ({_shown(bad.tolist())})"
            )
            numbers = numbers[(numbers >= 1) & (numbers <= input_records)]
        where[numbers] |= flag
        if flag in (IN_OUTPUT, IN_DUPLICATES):
            seen[:] += np.bincount(numbers, minlength=size)

    output_records = len(output_numbers)
    place(output_numbers, IN_OUTPUT, "output records")
    rows = _query_rejects(rejects, work / "measure-rejects.tsv")
    is_duplicate = rows["reason"][rows["reason_code"]] == DUPLICATE
    duplicate_numbers = rows["number"][is_duplicate]
    place(duplicate_numbers, IN_DUPLICATES, "duplicate rejects")
    whole = rows["number"][~is_duplicate]
    twice = np.nonzero(np.bincount(whole[(whole >= 1) & (whole <= input_records)]) > 1)[0]
    if len(twice):
        problems.append(f"source records rejected twice ({_shown(twice.tolist())})")
    place(whole, IN_REJECTS, "rejects")
    intervals = read_tsv(blocks, ["chrom", "start", "end", "number"], "sqqq", BLOCK_COLUMNS)
    place(intervals["number"], IN_BLOCKS, "reference blocks")
    block_bases_out = int(np.sum(intervals["end"] - intervals["start"]))

    state = where[1:]
    rejected_or_block = (state & IN_REJECTS).astype(bool) & (state != IN_REJECTS)
    rejected_or_block |= (state & IN_BLOCKS).astype(bool) & (state != IN_BLOCKS)
    in_output = (state & (IN_OUTPUT | IN_DUPLICATES)).astype(bool)
    short = in_output & (np.minimum(seen[1:], 255) != pieces[1:size])
    missing = np.nonzero(state == 0)[0] + 1
    if len(missing):
        problems.append(f"{len(missing)} source records are nowhere ({_shown(missing.tolist())})")
    crossed = np.nonzero(rejected_or_block)[0] + 1
    if len(crossed):
        problems.append(
            f"{len(crossed)} source records are in more than one of output, rejects and blocks "
            f"({_shown(crossed.tolist())})"
        )
    lost = np.nonzero(short)[0] + 1
    if len(lost):
        shown = [f"{n} ({seen[n]} of {pieces[n]} alleles)" for n in lost[:MAX_SHOWN].tolist()]
        problems.append(f"source records lost alleles in splitting: {_shown(shown)}")
    if problems:
        raise AccountingError(f"{path}: accounting does not add up: " + "; ".join(problems))

    rejected: Counter[tuple[str, str]] = Counter()
    codes = rows["reason_code"][~is_duplicate], rows["step_code"][~is_duplicate]
    for reason, step in zip(*codes, strict=True):
        rejected[(str(rows["step"][step]), reason_class(str(rows["reason"][reason])))] += 1
    only_duplicates = np.unique(duplicate_numbers)
    only_duplicates = only_duplicates[(where[only_duplicates] & IN_OUTPUT) == 0]
    if len(only_duplicates):
        rejected[("harmonise", DUPLICATE)] = len(only_duplicates)
    return Accounting(
        samples=samples,
        source_build=source_build,
        input_records=input_records,
        output_records=output_records,
        output_source_records=int(np.count_nonzero(state & IN_OUTPUT)),
        rejected=dict(sorted(rejected.items())),
        duplicate_records=len(duplicate_numbers),
        reference_blocks=int(np.count_nonzero(state & IN_BLOCKS)),
        swapped=dict(swapped),
        lifted_records=lifted_records,
        block_bases_in=block_bases_in,
        block_bases_out=block_bases_out,
    )


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


def output_numbers(vcf: Path, work: Path) -> np.ndarray:
    """The source number of every record of ``vcf``, read back from the file by bcftools."""
    out = work / "output-numbers.tsv"
    _query(vcf, "%INFO/GENOPASS_SOURCE\n", out)
    try:
        return read_tsv(out, ["number"], "q")["number"]
    except (ValueError, OSError) as exc:  # Arrow: a record without a number ('.')
        raise AccountingError(f"{vcf}: a record has no source number ({exc})") from None


def _query_rejects(vcf: Path, out: Path) -> dict[str, np.ndarray]:
    _query(vcf, "%INFO/GENOPASS_SOURCE\t%INFO/GENOPASS_REJECT\t%INFO/GENOPASS_STEP\n", out)
    try:
        return read_tsv(out, ["number", "reason", "step"], "qss")
    except (ValueError, OSError) as exc:
        raise AccountingError(f"{vcf}: a reject has no source number ({exc})") from None
