"""Swapping REF and ALT on VCF text: genotypes, per-allele and per-genotype fields recoded."""

from __future__ import annotations

import pytest

from genopass.harmonise.alleles import (
    FieldNumbers,
    invalid_allele,
    is_strand_ambiguous,
    is_valid_alt,
    permute_alleles,
    revcomp,
    swap_allele_index,
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


def test_revcomp():
    assert revcomp("AACGTn") == "nACGTT"


@pytest.mark.parametrize(
    ("ref", "alts", "reference", "expected"),
    [
        ("C", ["G"], "GTT", 0),  # SNV written the wrong way round
        ("C", ["T", "<NON_REF>", "G"], "GTT", 2),
        ("CA", ["GT"], "GTT", 0),  # MNP of equal length
        ("C", ["T"], "GTT", None),  # neither allele is the reference
        # a deletion whose deleted bases differ from the reference: the ALT anchor matches by
        # construction, which proves nothing; never turned into the insertion T>TATA
        ("TATA", ["T"], "TATG", None),
        # an insertion written as a deletion: the longer ALT spells the reference over the span
        ("TG", ["TATG"], "TATGC", 0),
        ("G", ["G"], "GTT", None),  # REF matches: nothing to swap
        ("A", ["<DEL>"], "GTT", None),
    ],
)
def test_swap_only_where_the_whole_allele_spells_the_reference(ref, alts, reference, expected):
    assert swap_allele_index(ref, alts, reference) == expected


@pytest.mark.parametrize(
    ("ref", "alt", "bad"),
    [
        ("T", "R", "R"),  # IUPAC purine
        ("C", "I", "I"),  # old indel notation
        ("M", "A", "M"),
        (".", "A", "."),
        ("A", "C,,T", ""),  # an empty ALT entry
        ("A", "C", None),
        ("A", ".", None),
        ("acgtn", "<DEL>,*", None),
        ("A", "A[chr2:100[,]chr3:5]A,A.,.A", None),
    ],
)
def test_invalid_alleles_are_named(ref, alt, bad):
    assert invalid_allele(ref, alt.split(",")) == bad


def test_the_stream_and_the_liftover_judge_alleles_alike(tmp_path):
    """harmonise's awk triage applies the rule of is_valid_alt: the two must agree."""
    import subprocess

    from genopass.harmonise.stream import TRIAGE_AWK

    program = TRIAGE_AWK[: TRIAGE_AWK.index("function rename_mates")]
    program += '{ print bad_alleles("A", $0) }'
    alleles = ["A", "acgtN", "R", "I", "<DEL>", "<DUP:TANDEM>", "<>", "*", "**", "A[chr2:1[",
               "]2:100]T", "[2:x[A", "A.", ".A", ".", "", "A<DEL>"]  # fmt: skip
    text = "\n".join(alleles) + "\n"
    awk = subprocess.run(["awk", program], input=text, capture_output=True, text=True, check=True)
    verdicts = [line == "1" for line in awk.stdout.splitlines()]
    assert verdicts == [not is_valid_alt(a) and a != "." for a in alleles]


@pytest.mark.parametrize("gt", ["0/1", "1/0"])
def test_unphased_genotypes_are_written_in_ascending_order(gt):
    assert swap(f"1 10 . A G . . . GT {gt}")[9] == "0/1"
