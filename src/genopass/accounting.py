"""Per-sample record accounting: every input record is in the output or in the rejects."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from genopass.errors import GenopassError

REASONS = (
    "malformed",
    "unknown_contig",
    "non_primary_contig",
    "contig_not_in_reference",
    "ref_mismatch",
    "duplicate",
)

MAX_NAMED_SAMPLES = 20


class AccountingError(GenopassError):
    """The counts do not add up: a record was lost or invented. Never the user's fault."""

    exit_code = 1


@dataclass(frozen=True)
class Accounting:
    """Record counts of one harmonisation, measured independently at each stage.

    input_records     records in the input (from its index)
    rejected          source records rejected before normalisation, by reason
    passed_to_norm    records that entered bcftools norm (its own count)
    normalised_records records after splitting multiallelics (counted on the stream)
    duplicates        normalised records removed as exact repeats (in the rejects as 'duplicate')
    output_records    records in the output (from its index)
    """

    samples: tuple[str, ...]
    input_records: int
    rejected: Mapping[str, int]
    passed_to_norm: int
    normalised_records: int
    duplicates: int
    output_records: int | None = None
    reject_lines: Mapping[str, int] = field(default_factory=dict)

    @property
    def rejected_source_records(self) -> int:
        return sum(self.rejected.values())

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
        expected = {r: n for r, n in self.rejected.items() if n} | (
            {"duplicate": self.duplicates} if self.duplicates else {}
        )
        if dict(written) != expected:
            raise AccountingError(
                f"{path}: rejects do not add up: counted {expected}, fetched {dict(written)}"
            )

    def check(self, *, path: Path | str) -> None:
        """Raise if a record went missing between stages."""
        contig_rejects = self.rejected_source_records - self.rejected.get("ref_mismatch", 0)
        problems = []
        if self.input_records != self.passed_to_norm + contig_rejects:
            # The index counts lines it could parse; bcftools reads some malformed lines anyway.
            raise AccountingError(
                f"{path}: its index counts {self.input_records} records but "
                f"{self.passed_to_norm + contig_rejects} were read: the file has malformed "
                f"lines or a stale index; re-index it with 'tabix -f' and look for errors"
            )
        if self.input_records != self.output_source_records + self.rejected_source_records:
            problems.append(
                f"input {self.input_records} != output source records "
                f"{self.output_source_records} + rejected {self.rejected_source_records}"
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
        return {
            # A cohort file would make a line of thousands of names: count them instead.
            "samples": ",".join(self.samples)
            if len(self.samples) <= MAX_NAMED_SAMPLES
            else f"{len(self.samples)} samples",
            "input_records": self.input_records,
            "output_source_records": self.output_source_records,
            "rejected_source_records": self.rejected_source_records,
            **{f"rejected_{r}": self.rejected.get(r, 0) for r in REASONS if r != "duplicate"},
            "split_added": self.split_added,
            "rejected_duplicate": self.duplicates,
            "output_records": self.output_records,
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
        reasons = ", ".join(f"{r} {n}" for r, n in self.rejected.items() if n)
        if self.duplicates:
            reasons = ", ".join(filter(None, [reasons, f"duplicate {self.duplicates}"]))
        return (
            f"{self.input_records} input records -> {self.output_records} output records "
            f"({self.split_added} added by splitting); rejected: {reasons or 'none'}"
        )
