"""Cross-sample contamination estimated by maximum likelihood from read allele counts.

VerifyBamID2 (the standard's tool) is not packaged here, so genopass fits the same mixture on
the FORMAT/AD counts of the sample's calls (docs/qc.md states the model):

At a biallelic SNV with population ALT frequency ``p``, the sample has ``g`` ALT copies and an
unrelated contaminating person ``h``, both drawn from Hardy-Weinberg proportions
(``(1-p)^2, 2p(1-p), p^2``). A fraction ``a`` of the reads comes from the contaminant, so a read
shows ALT with probability ``f = (1-a) g/2 + a h/2``, seen through a symmetric sequencing error
``e``: ``q = f (1-e) + (1-f) e``. With ``n`` reads of which ``k`` ALT, the site's likelihood is
``sum_g sum_h P(g) P(h) q^k (1-q)^(n-k)``; the estimate maximises the sum of the sites' log
likelihoods over ``a`` in [0, 0.5]. A per-sample VCF holds the sites where the sample carries an
ALT allele, so ``g`` is summed over 1 and 2 only (its prior renormalised): the sites are
ascertained on the sample's own genotype.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genopass.errors import InputError
from genopass.qc.variants import pass_snvs_view
from genopass.tools import run_pipeline

MAX_RATE = 0.5
ERROR_RATE = 0.001
MIN_SITES = 100
MIN_FREQUENCY = 0.01
GRID_STEP = 0.01
CHUNK = 20_000
PREFIX = "GENOPASS_QC_"  # frequencies carried into the sample's stream under these INFO names


@dataclass(frozen=True)
class Contamination:
    rate: float | None  # None when it cannot be estimated (``reason`` says why)
    sites: int
    reason: str = ""


def estimate(
    alt_reads: np.ndarray,
    depth: np.ndarray,
    frequency: np.ndarray,
    *,
    error: float = ERROR_RATE,
    ascertained: bool = True,
    min_sites: int = MIN_SITES,
) -> Contamination:
    """The maximum-likelihood mixture fraction from per-site ALT reads, depth and ALT frequency.

    ``ascertained``: the sites are those where the sample carries an ALT allele (g in {1, 2});
    otherwise all sites, g in {0, 1, 2}.
    """
    k = np.asarray(alt_reads, dtype=float)
    n = np.asarray(depth, dtype=float)
    p = np.asarray(frequency, dtype=float)
    keep = (n > 0) & (p >= MIN_FREQUENCY) & (p <= 1 - MIN_FREQUENCY) & (k <= n)
    k, n, p = k[keep], n[keep], p[keep]
    if len(k) < min_sites:
        return Contamination(
            None,
            int(len(k)),
            f"{len(k)} SNVs with read counts (AD) and a population frequency; at least "
            f"{min_sites} are needed",
        )
    prior_g = _hwe(p)
    if ascertained:
        prior_g[:, 0] = 0.0
        prior_g /= prior_g.sum(axis=1, keepdims=True)
    prior_h = _hwe(p)
    # log P(g) + log P(h) for the 9 (g, h) pairs, per site
    with np.errstate(divide="ignore"):
        log_prior = (np.log(prior_g)[:, :, None] + np.log(prior_h)[:, None, :]).reshape(len(p), 9)
    g = np.repeat(np.arange(3), 3) / 2.0
    h = np.tile(np.arange(3), 3) / 2.0

    def log_likelihood(a: float) -> float:
        f = (1 - a) * g + a * h
        q = f * (1 - error) + (1 - f) * error
        total = 0.0
        for start in range(0, len(k), CHUNK):
            sl = slice(start, start + CHUNK)
            terms = (
                log_prior[sl]
                + k[sl, None] * np.log(q)[None, :]
                + (n[sl] - k[sl])[:, None] * np.log1p(-q)[None, :]
            )
            top = terms.max(axis=1)
            total += float(np.sum(top + np.log(np.exp(terms - top[:, None]).sum(axis=1))))
        return total

    grid = np.arange(0.0, MAX_RATE + GRID_STEP / 2, GRID_STEP)
    values = [log_likelihood(a) for a in grid]
    best = int(np.argmax(values))
    low, high = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    rate = _golden_max(log_likelihood, float(low), float(high))
    return Contamination(round(rate, 4), int(len(k)))


def sample_contamination(
    vcf: Path | str,
    autosomes_bed: Path | str,
    frequencies: Path | str,
    *,
    leave_out_sample: bool,
    error: float = ERROR_RATE,
    min_sites: int = MIN_SITES,
) -> Contamination:
    """:func:`estimate` on a sample's (indexed) VCF, with frequencies from an indexed sites VCF
    (INFO/AF, or INFO/AC and AN), matched on CHROM, POS, REF and ALT by ``bcftools annotate``.

    ``leave_out_sample``: the frequencies are the cohort's own (``genopass qc-cohort``), which
    count this sample: its alleles are taken out of AC and AN so that it is compared with the
    others only. A panel (e.g. 1000 Genomes) is used as it is.
    """
    tags = _frequency_tags(frequencies)
    if leave_out_sample and not {"AC", "AN"} <= tags:
        raise InputError(
            f"{frequencies}: cohort frequencies need INFO/AC and INFO/AN (to leave the sample "
            f"out); make them with 'genopass qc-cohort'"
        )
    if not ({"AF"} <= tags or {"AC", "AN"} <= tags):
        raise InputError(
            f"{frequencies}: no INFO/AF or INFO/AC+AN in its header; give a sites VCF with "
            f"allele frequencies (genopass qc-cohort writes one)"
        )
    if not _has_format_ad(vcf):
        return Contamination(
            None, 0, "the VCF has no FORMAT/AD (read counts per allele): nothing to estimate from"
        )
    wanted = [t for t in ("AF", "AC", "AN") if t in tags]
    annotate = [
        "bcftools",
        "annotate",
        "--no-version",
        "-a",
        str(frequencies),
        "-c",
        ",".join(f"INFO/{PREFIX}{t}:=INFO/{t}" for t in wanted),
        "-Ou",
        str(vcf),
    ]
    view = pass_snvs_view(autosomes_bed, "-i", 'GT="alt"', "-Ou", "-")
    fmt = "\\t".join(f"%{PREFIX}{t}" if t in tags else "." for t in ("AF", "AC", "AN"))
    query = ["bcftools", "query", "-f", fmt + r"[\t%GT\t%AD]\n", "-"]
    k, n, p = [], [], []
    with tempfile.TemporaryDirectory(prefix="genopass-qc-") as tmp:
        out = Path(tmp) / "sites.tsv"
        run_pipeline([annotate, view, query], about=vcf, stdout=out)
        with open(out) as handle:
            for line in handle:
                fields = line.rstrip("\n").split("\t")
                if len(fields) != 5:
                    raise InputError(
                        f"{vcf}: expected one sample column; give the sample's own (harmonised) VCF"
                    )
                af, ac, an, gt, ad = fields
                counts = ad.split(",")
                if len(counts) != 2 or "." in counts:
                    continue
                freq = _frequency(af, ac, an, gt if leave_out_sample else None)
                if freq is None:
                    continue
                k.append(int(counts[1]))
                n.append(int(counts[0]) + int(counts[1]))
                p.append(freq)
    return estimate(np.array(k), np.array(n), np.array(p), error=error, min_sites=min_sites)


def _has_format_ad(vcf: Path | str) -> bool:
    import pysam

    try:
        with pysam.VariantFile(str(vcf)) as handle:
            return "AD" in handle.header.formats
    except (OSError, ValueError) as exc:
        raise InputError(f"{vcf}: cannot read the VCF: {exc}") from None


def _frequency_tags(frequencies: Path | str) -> set[str]:
    import pysam

    try:
        with pysam.VariantFile(str(frequencies)) as handle:
            return {t for t in ("AF", "AC", "AN") if t in handle.header.info}
    except (OSError, ValueError) as exc:
        raise InputError(f"{frequencies}: cannot read the frequencies VCF: {exc}") from None


def _frequency(af: str, ac: str, an: str, own_gt: str | None) -> float | None:
    """ALT frequency of a site; with ``own_gt``, of the cohort without the sample."""
    if own_gt is None:
        if af not in (".", ""):
            return float(af.split(",")[0])
        if ac not in (".", "") and an not in (".", "", "0"):
            return int(ac.split(",")[0]) / int(an)
        return None
    if ac in (".", "") or an in (".", ""):
        return None  # a site the cohort file does not have
    alleles = [a for a in own_gt.replace("|", "/").split("/") if a != "."]
    rest_an = int(an) - len(alleles)
    rest_ac = int(ac.split(",")[0]) - sum(1 for a in alleles if a == "1")
    if rest_an <= 0:
        return None
    return rest_ac / rest_an


def _hwe(p: np.ndarray) -> np.ndarray:
    return np.stack([(1 - p) ** 2, 2 * p * (1 - p), p**2], axis=1)


def _golden_max(func, low: float, high: float, tol: float = 1e-6) -> float:
    """The maximum of a unimodal function on [low, high] by golden-section search."""
    ratio = (math.sqrt(5) - 1) / 2
    c, d = high - ratio * (high - low), low + ratio * (high - low)
    fc, fd = func(c), func(d)
    while high - low > tol:
        if fc > fd:
            high, d, fd = d, c, fc
            c = high - ratio * (high - low)
            fc = func(c)
        else:
            low, c, fc = c, d, fd
            d = low + ratio * (high - low)
            fd = func(d)
    best = (low + high) / 2
    # the boundaries themselves (a = 0 is the common answer)
    return max((low, best, high), key=func) if low == 0.0 else best
