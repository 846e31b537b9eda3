"""The guarantees of harmonisation, on inputs whose right answers are known by hand.

Every input record ends in exactly one of output, rejects and blocks; nothing is changed into
something else; one bad allele does not stop a sample. Expected outcomes are written by hand or
computed by bcftools, never taken from genopass's counters.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import random_sequence, write_fasta, write_vcf

from genopass.errors import InputError
from genopass.harmonise.stream import HarmoniseOptions, harmonise_vcf

# chr1: random; 200-203 reads TATG (the deletion test); 300 is the 301st base.
SEQ = random_sequence(199, 31) + "TATG" + random_sequence(297, 32)
HEADER = """##fileformat=VCFv4.2
##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
##contig=<ID=chr1,length=500>
#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT S1"""


def base(pos: int) -> str:
    return SEQ[pos - 1]


def not_base(pos: int, *also: str) -> str:
    """A base that is neither the reference at ``pos`` nor any of ``also``."""
    return next(b for b in "ACGT" if b != base(pos) and b not in also)


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    return write_fasta(tmp_path / "ref.fa", {"chr1": SEQ})


def harmonise(tmp_path: Path, reference: Path, body: list[str], header: str = HEADER, **more):
    vcf = write_vcf(tmp_path / "in.vcf", header + "\n" + "\n".join(body))
    options = HarmoniseOptions(
        reference=reference,
        out=tmp_path / "out" / "s.vcf.gz",
        rejects=tmp_path / "out" / "s.rejects.vcf.gz",
        accounting=tmp_path / "out" / "s.tsv",
        blocks=tmp_path / "out" / "s.blocks.bed.gz",
        **more,
    )
    return harmonise_vcf(vcf, options), options


def query(vcf: Path, fmt: str) -> list[list[str]]:
    text = subprocess.run(
        ["bcftools", "query", "-f", fmt, str(vcf)], capture_output=True, text=True, check=True
    ).stdout
    return [line.split("\t") for line in text.splitlines()]


def test_non_acgtn_alleles_are_rejected_not_lost(tmp_path, reference):
    """T>R, C>I, REF M, REF '.' are each rejected as invalid_allele, even when a multiallelic
    record elsewhere adds a split record (the case where a count-based identity still held)."""
    body = [
        f"chr1 10 . {base(10)} R . . . GT 0/1",
        f"chr1 20 . {base(20)} I . . . GT 0/1",
        f"chr1 30 . M {not_base(30)} . . . GT 0/1",
        f"chr1 40 . . {not_base(40)} . . . GT 0/1",
        f"chr1 50 . {base(50)} {not_base(50)},{not_base(50, not_base(50))} . . . GT 1/2",
        f"chr1 60 . {base(60)} {not_base(60)},,{not_base(60, not_base(60))} . . . GT 0/1",
    ]
    _, options = harmonise(tmp_path, reference, body)
    rejected = query(options.rejects, "%POS\t%INFO/GENOPASS_REJECT\n")
    assert rejected == [[str(p), "invalid_allele"] for p in (10, 20, 30, 40, 60)]
    assert query(options.out, "%POS\t%REF\t%ALT\n") == [
        ["50", base(50), not_base(50)],
        ["50", base(50), not_base(50, not_base(50))],
    ]


def test_a_mismatching_multiallelic_record_is_one_reject_and_the_sample_goes_on(
    tmp_path, reference
):
    wrong = not_base(70)
    alts = [b for b in "ACGT" if b not in (wrong, base(70))]  # neither ALT is the reference
    body = [
        f"chr1 70 . {wrong} {alts[0]},{alts[1]} . . . GT:AD 1/2:0,3,4",
        f"chr1 80 . {base(80)} {not_base(80)} . . . GT:AD 0/1:5,5",
    ]
    accounting, options = harmonise(tmp_path, reference, body)
    assert query(options.rejects, "%POS\t%REF\t%ALT\t%INFO/GENOPASS_REJECT\n") == [
        ["70", wrong, ",".join(alts), "ref_mismatch"]
    ]
    assert query(options.out, "%POS\n") == [["80"]]
    assert accounting.rejected_total == {"ref_mismatch": 1}


GVCF_HEADER = HEADER.replace(
    "##contig",
    '##ALT=<ID=NON_REF,Description="Any other allele">\n'
    '##INFO=<ID=END,Number=1,Type=Integer,Description="End of the block">\n##contig',
)


def test_a_mismatching_gvcf_variant_with_non_ref_is_one_reject(tmp_path, reference):
    """In a gVCF every variant record has <NON_REF>: a single REF mismatch stopped the sample."""
    wrong = not_base(90)
    alt = not_base(90, wrong)
    body = [
        f"chr1 1 . {base(1)} <NON_REF> . . END=89 GT 0/0",
        f"chr1 90 . {wrong} {alt},<NON_REF> . . . GT:AD 0/1:3,3,0",
        f"chr1 91 . {base(91)} <NON_REF> . . END=120 GT 0/0",
        f"chr1 121 . {base(121)} {not_base(121)},<NON_REF> . . . GT:AD 0/1:3,3,0",
    ]
    accounting, options = harmonise(tmp_path, reference, body, header=GVCF_HEADER)
    assert query(options.rejects, "%POS\t%INFO/GENOPASS_REJECT\n") == [["90", "ref_mismatch"]]
    assert query(options.out, "%POS\t%ALT\n") == [["121", not_base(121)]]
    assert (accounting.reference_blocks, accounting.rejected_source_records) == (2, 1)


def test_a_deletion_whose_bases_differ_is_a_mismatch_never_an_insertion(tmp_path, reference):
    """TATA>T GT 1/1 where the reference reads TATG: the ALT's anchor matching proves nothing."""
    assert SEQ[199:203] == "TATG"
    body = ["chr1 200 . TATA T . . . GT 1/1"]
    accounting, options = harmonise(tmp_path, reference, body)
    assert query(options.out, "%POS\n") == []
    assert query(options.rejects, "%POS\t%REF\t%ALT\t%INFO/GENOPASS_REJECT\n") == [
        ["200", "TATA", "T", "ref_mismatch"]
    ]
    assert accounting.swapped_total == 0


def test_an_insertion_written_as_a_deletion_is_swapped(tmp_path, reference):
    """REF TG ALT TATG where the reference reads TATG: the ALT spells the reference over the
    whole span, so the record is the deletion TATG>TG with the genotype recoded."""
    body = ["chr1 200 . TG TATG . . . GT:AD 0/1:2,9"]
    _, options = harmonise(tmp_path, reference, body)
    # bcftools' own normal form of the record written the right way round
    right = write_vcf(tmp_path / "right.vcf", HEADER + "\nchr1 200 . TATG TG . . . GT:AD 0/1:9,2")
    norm = subprocess.run(
        ["bcftools", "norm", "-f", str(reference), "-Ov", str(right)],
        capture_output=True,
        text=True,
        check=True,
    )
    expected = [line.split("\t")[1:5] for line in norm.stdout.splitlines() if line[:1] != "#"]
    got = query(options.out, "%POS\t%ID\t%REF\t%ALT\t[%GT:%AD]\n")
    assert [row[:4] for row in got] == expected
    assert got[0][4] == "0/1:9,2"


def test_a_file_whose_sites_all_mismatch_names_a_rate_between_0_and_100(tmp_path, reference):
    """Multiallelic records used to be counted once per ALT: "-4%"."""
    body = []
    for pos in range(250, 490, 8):
        wrong = not_base(pos)
        alts = [b for b in "ACGT" if b not in (wrong, base(pos))]
        body.append(f"chr1 {pos} . {wrong} {alts[0]},{alts[1]} . . . GT 1/2")
    with pytest.raises(InputError, match=r"REF matches .* at only 0% of 30 source records"):
        harmonise(tmp_path, reference, body)
    assert not (tmp_path / "out" / "s.vcf.gz").exists()


def test_breakend_mates_are_renamed_with_the_record(tmp_path):
    fasta = write_fasta(tmp_path / "ref.fa", {"chr1": SEQ, "chr2": SEQ})
    header = (
        HEADER.replace("chr1,length=500", "1,length=500")
        .replace("#CHROM", "##contig=<ID=2,length=500>\n#CHROM")
        .replace("##FORMAT", '##ALT=<ID=BND,Description="Breakend">\n##FORMAT', 1)
    )
    body = [f"1 300 . {base(300)} {base(300)}[2:100[ . . . GT 0/1"]
    _, options = harmonise(tmp_path, fasta, body, header=header)
    assert query(options.out, "%CHROM\t%ALT\n") == [["chr1", f"{base(300)}[chr2:100["]]


def test_two_equal_symbolic_alleles_of_one_record_are_both_kept(tmp_path, reference):
    """T <DUP>,<DUP> GT 1|2 is a valid CNV record: its second allele is no duplicate."""
    header = HEADER.replace(
        "##FORMAT", '##ALT=<ID=DUP,Description="Duplication">\n##FORMAT', 1
    ).replace("##INFO", '##INFO=<ID=END,Number=1,Type=Integer,Description="End">\n##INFO', 1)
    body = [f"chr1 300 . {base(300)} <DUP>,<DUP> . . END=320 GT 1|2"]
    accounting, options = harmonise(tmp_path, reference, body, header=header)
    assert query(options.out, "%POS\t%ALT\t[%GT]\n") == [
        ["300", "<DUP>", "1|0"],
        ["300", "<DUP>", "0|1"],
    ]
    assert accounting.rejected_source_records == 0


COHORT_HEADER = HEADER.replace("FORMAT S1", "FORMAT S1 S2 S3")


def test_a_sample_subset_never_lets_htslib_read_a_listed_malformed_record(tmp_path, reference):
    """Records the input check listed as malformed are rejected, not the stop of the sample,
    when a sample is cut from a cohort file (bcftools view -s stops at a record it cannot
    parse); the other records keep their place in the input as their source number."""
    body = [
        f"chr1 10 . {base(10)} {not_base(10)} . . . GT:AD 0/1:3,3 1/1:0,6 0/0:5,0",
        f"chr1 20 . {base(20)} {not_base(20)} . . . GT:AD 0/1:abc 0/1:2,2 0/0:4,0",
        f"chr1 30 . {base(30)} {not_base(30)} . . . GT:AD 0/0:7,0 0/1:4,3 0/1:2,2",
        f"chr1 40 . {base(40)} {not_base(40)} . . . GT:AD 0/1:1,1 0/1:1,1 0/1:x,y",
    ]
    listed = tmp_path / "malformed.tsv"
    listed.write_text("2\tformat_value\n4\tformat_value\n")  # what the input check lists
    accounting, options = harmonise(
        tmp_path, reference, body, COHORT_HEADER, samples={"S2": "P2"}, malformed=listed
    )
    assert query(options.out, "%POS\t%INFO/GENOPASS_SOURCE\t[%SAMPLE=%GT:%AD]\n") == [
        ["10", "1", "P2=1/1:0,6"],
        ["30", "3", "P2=0/1:4,3"],
    ]
    assert query(options.rejects, "%POS\t%INFO/GENOPASS_SOURCE\t%INFO/GENOPASS_REJECT\n") == [
        ["20", "2", "malformed:format_value"],
        ["40", "4", "malformed:format_value"],
    ]
    assert (accounting.input_records, accounting.output_source_records) == (4, 2)
    assert accounting.rejected_source_records == 2


def test_a_listed_malformed_record_keeps_its_place_among_the_sites(tmp_path, reference):
    """A REF mismatch after a listed (parsable) malformed record at the same position is read
    again as itself, not as its neighbour: the pre-filter's sites are among the triage's."""
    wrong = not_base(50)
    body = [
        f"chr1 50 . {base(50)} {not_base(50)} . . . GT 0/1 0/1 0/1",  # listed, htslib reads it
        f"chr1 50 . {wrong} {not_base(50, wrong)} . . . GT 0/1 0/1 0/0",  # a REF mismatch
        f"chr1 60 . {base(60)} {not_base(60)} . . . GT 0/1 1/1 0/0",
    ]
    listed = tmp_path / "malformed.tsv"
    listed.write_text("1\tgt_allele_out_of_range\n")
    _, options = harmonise(
        tmp_path, reference, body, COHORT_HEADER, samples={"S2": "P2"}, malformed=listed
    )
    assert query(options.rejects, "%INFO/GENOPASS_SOURCE\t%REF\t%INFO/GENOPASS_REJECT\n") == [
        ["1", base(50), "malformed:gt_allele_out_of_range"],
        ["2", wrong, "ref_mismatch"],
    ]
    assert query(options.out, "%POS\t%INFO/GENOPASS_SOURCE\n") == [["60", "3"]]
