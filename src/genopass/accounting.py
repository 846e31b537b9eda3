"""Per-sample record accounting: every input record is in the output or in the rejects."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from genopass.errors import GenopassError

# The reasons each step can give (the table has a column per step and reason).
STEP_REASONS = {
    "liftover": (
        "unknown_contig",
        "non_primary_contig",
        "contig_not_in_reference",
        "liftover_unmapped",
        "liftover_ambiguous",
        "unsupported_allele",
        "ref_mismatch",
    ),
    "harmonise": (
        "unknown_contig",
        "non_primary_contig",
        "contig_not_in_reference",
        "ref_mismatch",
        "duplicate",
    ),
}
# Every reason code, each once, in the order of the steps (a malformed record is an error that
# stops the sample, not a reject).
REASONS = tuple(dict.fromkeys(r for reasons in STEP_REASONS.values() for r in reasons))

MAX_NAMED_SAMPLES = 20


class AccountingError(GenopassError):
    """The counts do not add up: a record was lost or invented. Never the user's fault."""

    exit_code = 1


@dataclass(frozen=True)
class LiftoverCounts:
    """Counts of the liftover pre-step (only for inputs on another build)."""

    input_records: int  # records read from the input
    output_records: int  # records lifted (the harmonisation stream's input)
    rejected: Mapping[str, int]  # by reason
    swapped: int = 0  # lifted records whose REF/ALT were swapped (reference changed)
    reference_blocks: int = 0  # gVCF reference blocks (their intervals go to the blocks file)


@dataclass(frozen=True)
class Accounting:
    """Record counts of one harmonisation, measured independently at each stage.

    input_records     records in the input (from its index)
    rejected          source records rejected before normalisation, by reason
    passed_to_norm    records that entered bcftools norm (its own count)
    normalised_records records after splitting multiallelics (counted on the stream)
    duplicates        normalised records removed as exact repeats (in the rejects as 'duplicate')
    output_records    records in the output (from its index)
    source_build      the build the input was on (lifted over when not the target's)
    liftover          counts of the liftover pre-step, when there was one
    swapped           source records whose REF/ALT were swapped in the harmonisation step
    reference_blocks  gVCF reference blocks of the harmonisation step (to the blocks file)

    ``rejected`` and the counts above are the harmonisation step's; the totals add the liftover
    step's. Identity: input = output source records + rejected (all steps) + reference blocks.
    """

    samples: tuple[str, ...]
    input_records: int
    rejected: Mapping[str, int]
    passed_to_norm: int
    normalised_records: int
    duplicates: int
    output_records: int | None = None
    reject_lines: Mapping[str, int] = field(default_factory=dict)
    source_build: str = ""
    liftover: LiftoverCounts | None = None
    swapped: int = 0
    reference_blocks: int = 0

    @property
    def harmonise_input(self) -> int:
        """Records that entered the harmonisation stream: the lifted ones after a liftover."""
        return self.liftover.output_records if self.liftover else self.input_records

    @property
    def rejected_total(self) -> dict[str, int]:
        """Rejected source records by reason, all steps."""
        total = dict(self.rejected)
        if self.liftover:
            for reason, count in self.liftover.rejected.items():
                total[reason] = total.get(reason, 0) + count
        return total

    @property
    def rejected_source_records(self) -> int:
        return sum(self.rejected_total.values())

    @property
    def blocks_total(self) -> int:
        lifted = self.liftover.reference_blocks if self.liftover else 0
        return self.reference_blocks + lifted

    @property
    def swapped_total(self) -> int:
        return self.swapped + (self.liftover.swapped if self.liftover else 0)

    @property
    def output_source_records(self) -> int:
        """Source records that reached normalisation: their records (maybe split) are output."""
        return self.passed_to_norm - self.rejected.get("ref_mismatch", 0)

    @property
    def split_added(self) -> int:
        """Extra records created by splitting multiallelic records."""
        return self.normalised_records - self.output_source_records

    def with_output(self, output_records: int) -> Accounting:
        return replace(self, output_records=output_records)

    def check_rejects(self, written: Mapping[str, int], *, path: Path | str) -> None:
        """The rejects fetched for the rejects file match the counted rejects, reason by reason."""
        expected = {r: n for r, n in self.rejected_total.items() if n} | (
            {"duplicate": self.duplicates} if self.duplicates else {}
        )
        if dict(written) != expected:
            raise AccountingError(
                f"{path}: rejects do not add up: counted {expected}, fetched {dict(written)}"
            )

    def check(self, *, path: Path | str) -> None:
        """Raise if a record went missing between stages."""
        contig_rejects = sum(self.rejected.values()) - self.rejected.get("ref_mismatch", 0)
        problems = []
        read = self.passed_to_norm + contig_rejects + self.reference_blocks
        if self.harmonise_input != read:
            # The index counts lines it could parse; bcftools reads some malformed lines anyway.
            raise AccountingError(
                f"{path}: its index counts {self.harmonise_input} records but "
                f"{read} were read: the file has malformed "
                f"lines or a stale index; re-index it with 'tabix -f' and look for errors"
            )
        if self.liftover is not None:
            lift = self.liftover
            lifted = lift.output_records + sum(lift.rejected.values()) + lift.reference_blocks
            if lift.input_records != self.input_records or lift.input_records != lifted:
                problems.append(
                    f"liftover read {lift.input_records} of {self.input_records} input records "
                    f"and accounts for {lifted} (lifted {lift.output_records} + rejected "
                    f"{sum(lift.rejected.values())} + reference blocks {lift.reference_blocks})"
                )
        accounted = self.output_source_records + self.rejected_source_records + self.blocks_total
        if self.input_records != accounted:
            problems.append(
                f"input {self.input_records} != output source records "
                f"{self.output_source_records} + rejected {self.rejected_source_records}"
                f" + reference blocks {self.blocks_total}"
            )
        if self.split_added < 0:
            problems.append(f"normalisation lost {-self.split_added} records")
        if self.output_records is not None and (
            self.output_records != self.normalised_records - self.duplicates
        ):
            problems.append(
                f"output {self.output_records} != normalised {self.normalised_records} "
                f"- duplicates {self.duplicates}"
            )
        if problems:
            raise AccountingError(f"{path}: accounting does not add up: " + "; ".join(problems))

    def as_row(self) -> dict[str, object]:
        """One row; the columns are the same whatever the input, so that tables concatenate."""
        total = self.rejected_total
        lift = self.liftover
        step_rejects = {
            "liftover": dict(lift.rejected) if lift else {},
            "harmonise": {**self.rejected, "duplicate": self.duplicates},
        }
        return {
            # A cohort file would make a line of thousands of names: count them instead.
            "samples": ",".join(self.samples)
            if len(self.samples) <= MAX_NAMED_SAMPLES
            else f"{len(self.samples)} samples",
            "source_build": self.source_build,
            "input_records": self.input_records,
            "output_source_records": self.output_source_records,
            "rejected_source_records": self.rejected_source_records,
            "reference_blocks": self.blocks_total,
            **{f"rejected_{r}": total.get(r, 0) for r in REASONS if r != "duplicate"},
            "split_added": self.split_added,
            "rejected_duplicate": self.duplicates,
            "output_records": self.output_records,
            "swapped_ref_alt": self.swapped_total,
            "liftover_input_records": lift.input_records if lift else 0,
            "liftover_output_records": lift.output_records if lift else 0,
            "liftover_swapped": lift.swapped if lift else 0,
            **{
                f"liftover_rejected_{r}": step_rejects["liftover"].get(r, 0)
                for r in STEP_REASONS["liftover"]
            },
            "harmonise_input_records": self.harmonise_input,
            "harmonise_swapped": self.swapped,
            **{
                f"harmonise_rejected_{r}": step_rejects["harmonise"].get(r, 0)
                for r in STEP_REASONS["harmonise"]
            },
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
        if self.duplicates:
            reasons = ", ".join(filter(None, [reasons, f"duplicate {self.duplicates}"]))
        extra = ""
        if self.liftover:
            lifted = self.liftover.output_records
            extra += f"; lifted over from {self.source_build}: {lifted} lifted"
        if self.swapped_total:
            extra += f"; {self.swapped_total} REF/ALT swapped"
        if self.blocks_total:
            extra += f"; {self.blocks_total} reference blocks"
        return (
            f"{self.input_records} input records -> {self.output_records} output records "
            f"({self.split_added} added by splitting); rejected: {reasons or 'none'}{extra}"
        )
