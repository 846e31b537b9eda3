"""Swapping REF and ALT on VCF text: genotypes, per-allele and per-genotype fields recoded."""

from __future__ import annotations

import pytest

from genopass.alleles import (
    FieldNumbers,
    is_strand_ambiguous,
    permute_alleles,
    reference_allele_index,
    revcomp,
    swap_order,
)

HEADER = [
    '##INFO=<ID=AC,Number=A,Type=Integer,Description="x">',
    '##INFO=<ID=AF,Number=A,Type=Float,Description="x">',
    '##INFO=<ID=AN,Number=1,Type=Integer,Description="x">',
    '##INFO=<ID=MQRS,Number=A,Type=Float,Description="an ALT-only score">',
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="x">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="x">',
    '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="x">',
    '##FORMAT=<ID=PL,Number=G,Type=Integer,Description="x">',
    '##FORMAT=<ID=VAF,Number=A,Type=Float,Description="x">',
]
NUMBERS = FieldNumbers.from_header(HEADER)


def swap(line: str, new_ref: int = 1) -> list[str]:
    fields = line.split()
    n = len(fields[4].split(",")) + 1
    return permute_alleles(fields, swap_order(n, new_ref), NUMBERS)


def test_biallelic_swap_recodes_gt_ad_pl_af_ac():
    out = swap("1 10 . A G . PASS AC=1;AF=0.25;AN=4;MQRS=1.5;DP=9 GT:AD:PL:VAF 0/1:7,3:40,0,90:0.3")
    assert out[3:5] == ["G", "A"]
    # AF 0.25 -> 0.75; AC = AN - AC; MQRS (Number=A, unknowable for the old REF) dropped
    assert out[7] == "AC=3;AF=0.75;AN=4;DP=9"
    # PL order 0/0, 0/1, 1/1 -> the old 1/1 is the new 0/0
    assert out[8:] == ["GT:AD:PL:VAF", "0/1:3,7:90,0,40:."]


def test_hom_alt_becomes_hom_ref_and_phase_is_kept():
    assert swap("1 10 . A G . . . GT:AD 1/1:0,12")[9] == "0/0:12,0"
    assert swap("1 10 . A G . . . GT 1|0")[9] == "0|1"
    assert swap("1 10 . A G . . . GT ./.")[9] == "./."
    assert swap("1 10 . A G . . . GT 1")[9] == "0"  # haploid


def test_multiallelic_swap_keeps_other_alleles_in_place():
    # the reference is C (ALT 2): new order C, A, T
    out = swap("1 10 . A T,C . . AF=0.1,0.2 GT:AD:PL 1/2:1,5,6:10,20,30,40,0,50", new_ref=2)
    assert out[3:5] == ["C", "A,T"]
    assert out[7] == "AF=0.7,0.1"
    # old genotype order AA AT TT AC TC CC = 10 20 30 40 0 50; the new one CC CA AA CT AT TT;
    # the call T/C is 2/0 in the new numbering
    assert out[9] == "0/2:6,1,5:50,40,10,0,20,30"


def test_strand_ambiguous_pairs():
    assert is_strand_ambiguous("A", "T") and is_strand_ambiguous("g", "c")
    assert not is_strand_ambiguous("A", "G")
    assert not is_strand_ambiguous("AT", "A")


def test_reference_allele_index_and_revcomp():
    assert reference_allele_index(["C", "<NON_REF>", "GT"], "GTT") == 2
    assert reference_allele_index(["C"], "GTT") is None
    assert revcomp("AACGTn") == "nACGTT"


@pytest.mark.parametrize("gt", ["0/1", "1/0"])
def test_unphased_genotypes_are_written_in_ascending_order(gt):
    assert swap(f"1 10 . A G . . . GT {gt}")[9] == "0/1"
