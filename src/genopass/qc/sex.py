"""Inferred genetic sex, and its comparison with the sex the sheet reports.

Two kinds of evidence, each used when present:

- chrX heterozygosity: heterozygous calls over ALT-carrying calls (het + hom-ALT) among the PASS
  biallelic SNVs on chrX outside the pseudo-autosomal regions (:func:`x_pars`: GRCh38's PAR1
  chrX:10,001-2,781,479 and PAR2 chrX:155,701,383-156,030,895 on a chrX of GRCh38's length;
  none on a chrX of another length, such as the demo's short synthetic one, which has no PAR).
  One X (male) gives almost no heterozygous call; two X (female) give about as many
  heterozygous as homozygous ones, or more. Below ``min_x_sites`` ALT-carrying calls the
  evidence is too thin and the answer is ``unknown``, never a guess.
- read depth, where reads exist (mosdepth summary): chrX and chrY mean depth over the autosomes'
  mean. Two X: X ratio ~1, Y ~0; XY: both ~0.5.

When both kinds speak and disagree, the answer is ``unknown`` with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass

from genopass.inputs.contigs import pseudo_autosomal_regions
from genopass.qc.alignment import ContigDepth

FEMALE, MALE, UNKNOWN = "female", "male", "unknown"
MATCH, MISMATCH = "match", "mismatch"
MIN_X_SITES = 50
MALE_MAX_HET = 0.15  # het / (het + hom) at or below: one X
FEMALE_MIN_HET = 0.30  # at or above: two X
MALE_X_RATIO = (0.35, 0.65)  # chrX depth / autosome depth of one X
FEMALE_X_RATIO = (0.8, 1.2)
MALE_MIN_Y_RATIO = 0.2
FEMALE_MAX_Y_RATIO = 0.05


def x_pars(length: int | None) -> tuple[tuple[int, int], ...]:
    """The pseudo-autosomal regions to leave out of a chrX of ``length`` (its ##contig or .fai
    length): :func:`genopass.inputs.contigs.pseudo_autosomal_regions` of ``X``."""
    return pseudo_autosomal_regions("X", length)


@dataclass(frozen=True)
class SexCall:
    inferred: str  # female | male | unknown
    reason: str  # how it was inferred, or why it could not be
    x_het: int = 0
    x_hom: int = 0
    x_depth_ratio: float | None = None
    y_depth_ratio: float | None = None

    @property
    def x_heterozygosity(self) -> float | None:
        total = self.x_het + self.x_hom
        return self.x_het / total if total else None


def infer_sex(
    x_het: int,
    x_hom: int,
    depth: ContigDepth | None = None,
    *,
    min_x_sites: int = MIN_X_SITES,
) -> SexCall:
    """Infer sex from chrX het/hom counts and, when given, the mosdepth depths."""
    votes: list[tuple[str, str]] = []
    notes: list[str] = []
    sites = x_het + x_hom
    if sites >= min_x_sites:
        fraction = x_het / sites
        label = f"chrX heterozygosity {fraction:.3f} over {sites} non-PAR SNVs"
        if fraction <= MALE_MAX_HET:
            votes.append((MALE, label))
        elif fraction >= FEMALE_MIN_HET:
            votes.append((FEMALE, label))
        else:
            notes.append(f"{label} is between one X and two")
    else:
        notes.append(
            f"{sites} ALT-carrying non-PAR chrX SNVs (at least {min_x_sites} needed to call sex "
            f"from heterozygosity)"
        )
    x_ratio = y_ratio = None
    if depth is not None and depth.autosomes:
        if depth.x is not None:
            x_ratio = depth.x / depth.autosomes
        if depth.y is not None:
            y_ratio = depth.y / depth.autosomes
        if x_ratio is not None:
            label = f"chrX/autosome depth {x_ratio:.2f}"
            if y_ratio is not None:
                label += f", chrY/autosome {y_ratio:.2f}"
            male_y = y_ratio is None or y_ratio >= MALE_MIN_Y_RATIO
            female_y = y_ratio is None or y_ratio <= FEMALE_MAX_Y_RATIO
            if MALE_X_RATIO[0] <= x_ratio <= MALE_X_RATIO[1] and male_y:
                votes.append((MALE, label))
            elif FEMALE_X_RATIO[0] <= x_ratio <= FEMALE_X_RATIO[1] and female_y:
                votes.append((FEMALE, label))
            else:
                notes.append(f"{label} fits neither XX nor XY")
    found = {sex for sex, _ in votes}
    extra = {"x_het": x_het, "x_hom": x_hom, "x_depth_ratio": x_ratio, "y_depth_ratio": y_ratio}
    if len(found) == 1:
        return SexCall(found.pop(), "; ".join(label for _, label in votes), **extra)
    if len(found) > 1:
        reason = "evidence disagrees: " + "; ".join(f"{label} ({sex})" for sex, label in votes)
        return SexCall(UNKNOWN, reason, **extra)
    return SexCall(UNKNOWN, "; ".join(notes) or "no chrX data", **extra)


def compare_sex(reported: str, inferred: str) -> str:
    """match | mismatch | unknown (either side unknown)."""
    if reported not in (FEMALE, MALE) or inferred not in (FEMALE, MALE):
        return UNKNOWN
    return MATCH if reported == inferred else MISMATCH
