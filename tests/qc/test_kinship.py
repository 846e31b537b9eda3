"""Kinship with plink2 on simulated genotypes with a planted duplicate and parent-child pair,
checked against the KING-robust formula (Manichaikul et al. 2010) computed here with numpy."""

from __future__ import annotations

import numpy as np
from qc_helpers import write_vcf

from genopass.qc.kinship import (
    DUPLICATE,
    FIRST,
    UNRELATED,
    classify,
    king_table,
    relatedness_rows,
    write_cohort,
)


def king_robust(a: np.ndarray, b: np.ndarray) -> float:
    """phi = 1/2 - (N_het_a + N_het_b - 2 N_hethet + 4 N_ibs0) / (4 min(N_het_a, N_het_b))."""
    het_a, het_b = (a == 1).sum(), (b == 1).sum()
    hethet = ((a == 1) & (b == 1)).sum()
    ibs0 = (np.abs(a - b) == 2).sum()
    return 0.5 - (het_a + het_b - 2 * hethet + 4 * ibs0) / (4 * min(het_a, het_b))


def simulate(sites=2000, seed=5):
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.1, 0.9, sites)
    unrelated = [rng.binomial(2, p) for _ in range(3)]
    parent, mate = unrelated[0], unrelated[1]
    # a child: one allele transmitted from each parent
    child = rng.binomial(1, parent / 2) + rng.binomial(1, mate / 2)
    names = ["U1", "U2", "U3", "CHILD", "U1_AGAIN"]
    genotypes = [*unrelated, child, unrelated[0].copy()]
    return names, genotypes


def test_plink2_king_equals_formula_and_classifies_planted_pairs(tmp_path):
    names, genotypes = simulate()
    bed = tmp_path / "auto.bed"
    bed.write_text("chr1\t0\t100000000\n")
    vcfs = []
    for name, g in zip(names, genotypes, strict=True):
        rows = [
            f"chr1\t{1000 + 10 * i}\t.\tA\tG\t50\tPASS\t.\tGT\t{['0/0', '0/1', '1/1'][x]}"
            for i, x in enumerate(g)
        ]
        header = [
            "##fileformat=VCFv4.2",
            "##contig=<ID=chr1,length=100000000>",
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
            f"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{name}",
        ]
        vcfs.append(write_vcf(tmp_path / f"{name}.vcf", header, rows))
    cohort = tmp_path / "cohort.vcf.gz"
    assert write_cohort(vcfs, bed, cohort) == 2000
    pairs = king_table(cohort, maf=0.0)
    assert len(pairs) == 10
    index = {name: i for i, name in enumerate(names)}
    for pair in pairs:
        expected = king_robust(genotypes[index[pair.a]], genotypes[index[pair.b]])
        assert abs(pair.kinship - expected) < 1e-4, pair
        assert pair.n_sites == 2000
    rows = relatedness_rows(pairs, {n: (n.lower(), "CTR") for n in names}, floor=-1)
    found = {frozenset((r.sample_a, r.sample_b)): r.relationship for r in rows}
    assert found[frozenset(("u1", "u1_again"))] == DUPLICATE
    assert found[frozenset(("u1", "child"))] == FIRST
    assert found[frozenset(("u2", "child"))] == FIRST
    assert found[frozenset(("u3", "child"))] == UNRELATED


def test_king_bounds():
    assert classify(0.36, 500) == DUPLICATE
    assert classify(0.354, 500) == FIRST
    assert classify(0.177, 500) == FIRST
    assert classify(0.12, 500) == "second_degree"
    assert classify(0.0884, 500) == "second_degree"
    assert classify(0.05, 500) == UNRELATED
    assert classify(0.5, 99) == "insufficient_data"
