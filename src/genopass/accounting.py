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
import gzip
import subprocess
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from genopass.errors import GenopassError
from genopass.reasons import DUPLICATE, REASONS, STEP_REASONS
from genopass.tools import require_tool

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
    input_records: int,
    output: Path,
    rejects: Path,
    blocks: Path,
    pieces: bytearray,
    samples: tuple[str, ...],
    source_build: str,
    swapped: Mapping[str, int],
    lifted_records: int = 0,
    block_bases_in: int = 0,
) -> Accounting:
    """Read output, rejects and blocks; check every source number is in exactly one of them.

    ``pieces[n]`` is the number of ALT alleles of source record ``n`` that entered
    normalisation (0 for records rejected or sent to the blocks file before it). Raises
    :class:`AccountingError` naming the first source numbers that break the identity.
    """
    where = bytearray(input_records + 1)
    seen = bytearray(input_records + 1)  # records per source number, output + duplicates
    problems: list[str] = []

    def place(number: int, flag: int, what: str) -> None:
        if not 0 < number <= input_records:
            problems.append(f"{what} has source number {number}, not one of 1..{input_records}")
            return
        state = where[number]
        if flag == IN_REJECTS and state & IN_REJECTS:
            problems.append(f"source record {number} is rejected twice")
        where[number] = state | flag
        if flag in (IN_OUTPUT, IN_DUPLICATES):
            seen[number] = min(255, seen[number] + 1)

    output_records = 0
    for number in _query_numbers(output, "%INFO/GENOPASS_SOURCE\n"):
        output_records += 1
        place(number, IN_OUTPUT, "an output record")
    rejected: Counter[tuple[str, str]] = Counter()
    duplicate_records = 0
    duplicate_sources: set[int] = set()
    query = "%INFO/GENOPASS_SOURCE\t%INFO/GENOPASS_REJECT\t%INFO/GENOPASS_STEP\n"
    for number, reason, step in _query_rows(rejects, query):
        if reason == DUPLICATE:
            duplicate_records += 1
            duplicate_sources.add(number)
            place(number, IN_DUPLICATES, "a duplicate reject")
        else:
            rejected[(step, reason)] += 1
            place(number, IN_REJECTS, f"a {reason} reject")
    block_bases_out = 0
    for number, bases in _block_numbers(blocks):
        block_bases_out += bases
        place(number, IN_BLOCKS, "a reference block")

    missing, crossed, short = [], [], []
    in_output = in_blocks = 0
    for number in range(1, input_records + 1):
        state = where[number]
        in_output += state & IN_OUTPUT
        in_blocks += bool(state & IN_BLOCKS)
        if not state:
            missing.append(number)
        elif state & IN_REJECTS and state != IN_REJECTS or state & IN_BLOCKS and state != IN_BLOCKS:
            crossed.append(number)
        elif state & (IN_OUTPUT | IN_DUPLICATES) and pieces[number] != seen[number]:
            short.append(f"{number} ({seen[number]} of {pieces[number]} alleles)")
    if missing:
        problems.append(f"{len(missing)} source records are nowhere (numbers {_shown(missing)})")
    if crossed:
        problems.append(
            f"{len(crossed)} source records are in more than one of output, rejects and blocks "
            f"(numbers {_shown(crossed)})"
        )
    if short:
        problems.append(f"source records lost alleles in splitting: {_shown(short)}")
    if problems:
        raise AccountingError(f"{path}: accounting does not add up: " + "; ".join(problems))

    only_duplicates = sum(1 for n in duplicate_sources if not where[n] & IN_OUTPUT)
    if only_duplicates:
        rejected[("harmonise", DUPLICATE)] = only_duplicates
    return Accounting(
        samples=samples,
        source_build=source_build,
        input_records=input_records,
        output_records=output_records,
        output_source_records=in_output,
        rejected=dict(sorted(rejected.items())),
        duplicate_records=duplicate_records,
        reference_blocks=in_blocks,
        swapped=dict(swapped),
        lifted_records=lifted_records,
        block_bases_in=block_bases_in,
        block_bases_out=block_bases_out,
    )


def _shown(items: list) -> str:
    text = ", ".join(map(str, items[:MAX_SHOWN]))
    return text + (", ..." if len(items) > MAX_SHOWN else "")


def _query_rows(vcf: Path, fmt: str) -> Iterator[tuple[int, str, str]]:
    for line in _query(vcf, fmt):
        number, reason, step = line.split("\t")
        yield _number(number, vcf), reason, step


def _query_numbers(vcf: Path, fmt: str) -> Iterator[int]:
    for line in _query(vcf, fmt):
        yield _number(line, vcf)


def _number(text: str, vcf: Path) -> int:
    try:
        return int(text)
    except ValueError:
        raise AccountingError(f"{vcf}: a record has no source number ({text!r})") from None


def _query(vcf: Path, fmt: str) -> Iterator[str]:
    """``bcftools query`` lines, streamed (a work file can hold millions of records)."""
    require_tool("bcftools")
    with subprocess.Popen(
        ["bcftools", "query", "-f", fmt, str(vcf)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            yield line.rstrip("\n")
        error = proc.stderr.read() if proc.stderr else ""
    if proc.returncode != 0 or "[E::" in error:
        raise AccountingError(f"{vcf}: cannot read it back to count its records: {error[-300:]}")


def _block_numbers(bed: Path) -> Iterator[tuple[int, int]]:
    """(source number, bases) of every interval of a blocks file (BED + source number)."""
    with gzip.open(bed, "rt") as handle:
        for line in handle:
            _chrom, start, end, number = line.rstrip("\n").split("\t")[:4]
            yield _number(number, bed), int(end) - int(start)
