"""Reject reason codes: every place that rejects a record or counts rejects uses these names
(contig planning in inputs/, the harmonise stream and liftover, the accounting, validation).

A rejected record goes to the sample's rejects file with INFO/GENOPASS_REJECT set to one of
these codes and INFO/GENOPASS_STEP naming the step (liftover or harmonise).
"""

from __future__ import annotations

UNKNOWN_CONTIG = "unknown_contig"  # the alias tables do not know the contig's name
NON_PRIMARY_CONTIG = "non_primary_contig"  # alt, scaffold, decoy... (harmonise.non_primary)
CONTIG_NOT_IN_REFERENCE = "contig_not_in_reference"  # known, but the target FASTA lacks it
INVALID_ALLELE = "invalid_allele"  # REF/ALT with IUPAC or other non-ACGTN codes, empty ALT
LIFTOVER_UNMAPPED = "liftover_unmapped"  # no chain block holds the record
LIFTOVER_AMBIGUOUS = "liftover_ambiguous"  # several chains, or a span across a chain gap
UNSUPPORTED_ALLELE = "unsupported_allele"  # symbolic alleles the liftover cannot place
REF_MISMATCH = "ref_mismatch"  # REF differs from the reference and no swap is justified
DUPLICATE = "duplicate"  # the same allele (symbolic: with END/SVLEN/CN) already in the output
# The input check (genopass.inputs.vcfcheck) found the record malformed; the rejects' INFO names
# the defect, "malformed:<defect>" (malformed:gt_allele_out_of_range...), the accounting counts
# them all in one column.
MALFORMED = "malformed"

# The reasons each step can give, in the order of the accounting table's columns.
STEP_REASONS: dict[str, tuple[str, ...]] = {
    "liftover": (
        UNKNOWN_CONTIG,
        NON_PRIMARY_CONTIG,
        CONTIG_NOT_IN_REFERENCE,
        INVALID_ALLELE,
        LIFTOVER_UNMAPPED,
        LIFTOVER_AMBIGUOUS,
        UNSUPPORTED_ALLELE,
        REF_MISMATCH,
    ),
    "harmonise": (
        UNKNOWN_CONTIG,
        NON_PRIMARY_CONTIG,
        CONTIG_NOT_IN_REFERENCE,
        INVALID_ALLELE,
        REF_MISMATCH,
        DUPLICATE,
        MALFORMED,
    ),
}
# Every reason code once, in step order.
REASONS: tuple[str, ...] = tuple(dict.fromkeys(r for rs in STEP_REASONS.values() for r in rs))


def reason_class(reason: str) -> str:
    """The accounting column of a reject's reason: ``malformed:<defect>`` counts as
    ``malformed``, every other reason as itself."""
    return MALFORMED if reason.startswith(MALFORMED + ":") else reason
