"""Property: random valid records go VCF -> genopass harmonise -> genopass parquet with every
value intact after normalisation. The oracle for "after normalisation" is bcftools norm on the
input (split, left-align), read with bcftools query; genopass's own code is not consulted."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from helpers import BIN, ENV, write_fasta, write_vcf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.reliability

LENGTH = 300
BASES = "ACGT"
HEADER = """##fileformat=VCFv4.2
##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Quality">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
##contig=<ID=chr1,length=300>
#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT S1"""


@st.composite
def cases(draw):
    sequence = "".join(draw(st.lists(st.sampled_from(BASES), min_size=LENGTH, max_size=LENGTH)))
    # positions far apart: left-aligned indels never meet another record's position
    slots = sorted(draw(st.lists(st.integers(1, 27), min_size=1, max_size=12, unique=True)))
    records = []
    for slot in slots:
        pos = slot * 10
        size = draw(st.integers(1, 3))
        ref = sequence[pos - 1 : pos - 1 + size]
        allele = st.text(alphabet=BASES, min_size=1, max_size=4).filter(lambda a, r=ref: a != r)
        alts = draw(st.lists(allele, min_size=1, max_size=3, unique=True))
        n = len(alts)
        alleles = st.integers(0, n)
        first, second = draw(alleles), draw(alleles)
        phased = draw(st.booleans())
        gt = draw(st.sampled_from([f"{first}{'|' if phased else '/'}{second}", "./."]))
        ad = ",".join(str(draw(st.integers(0, 60))) for _ in range(n + 1))
        qual = draw(st.sampled_from([".", f"{draw(st.integers(0, 9999)) / 10:.1f}"]))
        dp, gq = draw(st.integers(0, 500)), draw(st.integers(0, 99))
        sample = f"{gt}:{dp}:{gq}:{ad}"
        fields = f"{qual} PASS DP={dp} GT:DP:GQ:AD {sample}"
        records.append(f"chr1 {pos} . {ref} {','.join(alts)} {fields}")
    return sequence, records


def query(vcf: Path, fmt: str) -> list[list[str]]:
    text = subprocess.run(
        ["bcftools", "query", "-f", fmt, str(vcf)], capture_output=True, text=True, check=True
    ).stdout
    return [row.split("\t") for row in text.splitlines()]


def number(value: str) -> int | None:
    return None if value == "." else int(value)


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(cases())
def test_values_in_parquet_equal_the_normalised_input(case):
    sequence, records = case
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fasta = write_fasta(work / "ref.fa", {"chr1": sequence})
        vcf = write_vcf(work / "in.vcf", HEADER + "\n" + "\n".join(records))
        normalised = work / "norm.vcf"
        subprocess.run(
            ["bcftools", "norm", "-m-any", "-f", str(fasta), "-o", str(normalised), str(vcf)],
            check=True, capture_output=True,
        )  # fmt: skip
        rows = query(normalised, "%POS\t%REF\t%ALT\t%QUAL[\t%GT\t%DP\t%GQ\t%AD]\n")
        rows.sort(key=lambda r: (int(r[0]), r[1], r[2]))
        run = [str(BIN / "genopass")]
        harmonised = work / "h.vcf.gz"
        subprocess.run(
            [*run, "harmonise", str(vcf), "--reference", str(fasta), "--out", str(harmonised)],
            check=True, capture_output=True, env=ENV,
        )  # fmt: skip
        subprocess.run(
            [*run, "parquet", str(harmonised), "--out", str(work / "pq"), "--reference",
             str(fasta)],
            check=True, capture_output=True, env=ENV,
        )  # fmt: skip
        variants = pq.read_table(work / "pq/variants/chrom=chr1/part-0.parquet").to_pylist()
        genotypes = pq.read_table(work / "pq/genotypes/chrom=chr1/part-0.parquet").to_pylist()
        got = [(v["pos"], v["ref"], v["alt"], v["qual"]) for v in variants]
        expected = [
            (int(p), r, a, None if q == "." else float(np.float32(float(q))))
            for p, r, a, q, *_ in rows
        ]
        assert sorted(got, key=lambda v: v[:3]) == expected
        expected_gt = []
        for pos, ref, alt, _q, gt, dp, gq, ad in rows:
            if gt.replace("|", "/") == "0/0":
                continue  # hom-ref rows are implied, not written
            depths = ad.split(",")
            expected_gt.append(
                ("S1", int(pos), ref, alt, gt, number(dp), number(gq), number(depths[0]),
                 number(depths[1]))
            )  # fmt: skip
        got_gt = sorted(
            (g["sample"], g["pos"], g["ref"], g["alt"], g["gt"], g["dp"], g["gq"], g["ad_ref"],
             g["ad_alt"])
            for g in genotypes
        )  # fmt: skip
        assert got_gt == sorted(expected_gt)
