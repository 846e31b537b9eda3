"""Contamination on planted mixtures: reads simulated from seeded random genotypes."""

from __future__ import annotations

import numpy as np
import pytest
from qc_helpers import bcftools_count, run, write_vcf

from genopass.demo import planted
from genopass.qc.contamination import estimate, sample_contamination

PLANTED = (0.0, 0.02, 0.05, 0.10)


def simulate(rate: float, *, seed: int, sites: int = 3000, depth: int = 30, error=0.001):
    """Reads of a sample mixed (1 - rate) with an unrelated person's, at HWE frequencies."""
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.05, 0.95, sites)
    own, other = rng.binomial(2, p), rng.binomial(2, p)
    n = rng.poisson(depth, sites)
    f = (1 - rate) * own / 2 + rate * other / 2
    k = rng.binomial(n, f * (1 - error) + (1 - f) * error)
    return own, k, n, p


@pytest.mark.parametrize("rate", PLANTED)
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_estimate_recovers_planted_rate_within_one_point(rate, seed):
    own, k, n, p = simulate(rate, seed=seed)
    carriers = own > 0  # a per-sample VCF holds the sites where the sample carries an ALT
    found = estimate(k[carriers], n[carriers], p[carriers])
    assert found.rate is not None
    assert abs(found.rate - rate) <= 0.01, (rate, found)


@pytest.mark.parametrize("rate", PLANTED)
def test_all_sites_model_recovers_planted_rate(rate):
    _, k, n, p = simulate(rate, seed=7)
    found = estimate(k, n, p, ascertained=False)
    assert abs(found.rate - rate) <= 0.01


def test_too_few_sites_is_not_a_guess():
    found = estimate(np.array([5]), np.array([10]), np.array([0.3]))
    assert found.rate is None
    assert "at least 100" in found.reason


@pytest.mark.parametrize("rate", [0.0, 0.05])
def test_vcf_with_ad_and_a_panel(tmp_path, rate):
    """The same estimate through files: the sample's VCF (GT, AD) and a panel VCF (AF)."""
    own, k, n, p = simulate(rate, seed=11, sites=2000)
    header = ["##fileformat=VCFv4.2", "##contig=<ID=chr1,length=10000000>"]
    sample_rows, panel_rows = [], []
    bases = "ACGT"
    for i in range(len(p)):
        pos = 1000 + 10 * i
        ref, alt = bases[i % 4], bases[(i + 1) % 4]
        panel_rows.append(f"chr1\t{pos}\t.\t{ref}\t{alt}\t.\tPASS\tAF={p[i]:.6f}")
        if own[i]:
            gt = "0/1" if own[i] == 1 else "1/1"
            sample_rows.append(
                f"chr1\t{pos}\t.\t{ref}\t{alt}\t50\tPASS\t.\tGT:AD\t{gt}:{n[i] - k[i]},{k[i]}"
            )
    sample = write_vcf(
        tmp_path / "s.vcf",
        header
        + [
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
            '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">',
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1",
        ],
        sample_rows,
    )
    panel = write_vcf(
        tmp_path / "panel.vcf",
        header
        + [
            '##INFO=<ID=AF,Number=A,Type=Float,Description="Frequency">',
            "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO",
        ],
        panel_rows,
    )
    bed = tmp_path / "auto.bed"
    bed.write_text("chr1\t0\t10000000\n")
    found = sample_contamination(sample, bed, panel, leave_out_sample=False)
    assert found.sites == int((own > 0).sum())
    direct = estimate(k[own > 0], n[own > 0], np.round(p[own > 0], 6))
    assert found.rate == direct.rate
    assert abs(found.rate - rate) <= 0.01


def test_demo_chrx_sites_are_left_out_of_the_estimate(demo, tmp_path):
    """The demo's contaminated A-001 (harmonised, with its chrX calls) against the demo panel
    (which lists chrX sites too): the same estimate, on the same sites, as its VCF with chrX
    removed by bcftools; a male's hemizygous chrX would otherwise read as homozygous there."""
    vcf = demo / "A-001.harmonised.vcf.gz"
    panel = demo / "panel.vcf.gz"
    assert bcftools_count("-r", "chrX", str(vcf)) >= 50
    assert bcftools_count("-r", "chrX", str(panel)) >= 50
    autosomal = tmp_path / "autosomal.vcf.gz"
    run(["bcftools", "view", "-t", "^chrX", "-Oz", "-o", autosomal, vcf])
    run(["bcftools", "index", "-t", autosomal])
    assert bcftools_count("-r", "chrX", str(autosomal)) == 0
    bed = demo / "autosomes.bed"
    found = sample_contamination(vcf, bed, panel, leave_out_sample=False)
    without = sample_contamination(autosomal, bed, panel, leave_out_sample=False)
    assert (found.rate, found.sites) == (without.rate, without.sites)
    ((_, fraction),) = planted.CONTAMINATION.values()  # A-001: 10% of B-002's reads
    assert abs(found.rate - fraction) <= 0.01
