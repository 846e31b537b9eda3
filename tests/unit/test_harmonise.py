"""Harmonisation on a tiny hand-made reference and VCF whose right answers are known by hand."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pandas as pd
import pysam
import pytest
from helpers import random_sequence, write_fasta, write_vcf

from genopass.errors import InputError
from genopass.harmonise.stream import HarmoniseOptions, harmonise_vcf

# chr1: 99 random bases, C (pos 100), AAAAAA (101-106), G (107), random.
CHR1 = random_sequence(99, 1) + "C" + "AAAAAA" + "G" + random_sequence(193, 2)
CHR2 = random_sequence(300, 3)


def base(seq: str, pos: int) -> str:
    return seq[pos - 1]


def other(b: str) -> str:
    return "T" if b != "T" else "G"


def other2(b: str) -> str:
    return "C" if b not in "C" else "A"


def third(*bases: str) -> str:
    return next(b for b in "ACGT" if b not in bases)


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    return write_fasta(tmp_path / "ref.fa", {"chr1": CHR1, "chr2": CHR2})


def centre_vcf(tmp_path: Path, *, index: bool = True) -> Path:
    b50, b60, b61, b70, b80 = (base(CHR1, p) for p in (50, 60, 61, 70, 80))
    wrong80 = other(b80)
    records = [
        f"1 50 rs1 {b50} {other(b50)} 50 PASS DP=10 GT:DP 0/1:10",
        f"1 50 rs1 {b50} {other(b50)} 50 PASS DP=10 GT:DP 0/1:10",  # exact duplicate
        # not trimmed: a shared trailing base
        f"1 60 . {b60}{b61} {other(b60)}{b61} . PASS . GT:DP 1/1:8",
        f"1 70 . {b70} {other(b70)},{other2(b70)} . PASS . GT:DP 1/2:9",
        # neither REF nor ALT is the reference base (an ALT that is would be swapped)
        f"1 80 . {wrong80} {third(b80, wrong80)} . PASS . GT:DP 0/1:7",
        "1 105 . AA A . PASS . GT:DP 0/1:12",  # deletion written at the right end of AAAAAA
        f"2 10 . {base(CHR2, 10)} {other(base(CHR2, 10))} . LowQual . GT:DP 0|1:3",
        "GL000195.1 5 . A G . PASS . GT:DP 0/1:4",
        "scaffold_9 7 . C T . PASS . GT:DP 0/1:5",
    ]
    header = """##fileformat=VCFv4.2
##source=caller --bam /home/alice/s1.bam
##SAMPLE=<ID=LAB_S1,Description="Alice">
##FILTER=<ID=LowQual,Description="Low quality">
##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
##contig=<ID=1,length=300>
##contig=<ID=2,length=300>
##contig=<ID=GL000195.1,length=182896>
##contig=<ID=scaffold_9,length=1000>
#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT LAB_S1"""
    return write_vcf(tmp_path / "centre.vcf", header + "\n" + "\n".join(records), index=index)


def run(tmp_path: Path, vcf: Path, reference: Path, **kwargs) -> tuple:
    out = tmp_path / "out" / "s1.vcf.gz"
    options = HarmoniseOptions(
        reference=reference,
        out=out,
        rejects=tmp_path / "out" / "s1.rejects.vcf.gz",
        accounting=tmp_path / "out" / "s1.accounting.tsv",
        samples={"LAB_S1": "gpPSEUDO"},
        **kwargs,
    )
    return harmonise_vcf(vcf, options), options


def records(path: Path) -> list[tuple]:
    with pysam.VariantFile(str(path)) as vcf:
        return [(r.chrom, r.pos, r.ref, r.alts[0], r.samples[0]["GT"]) for r in vcf]


def test_output_is_renamed_trimmed_left_aligned_split_and_deduplicated(tmp_path, reference):
    accounting, options = run(tmp_path, centre_vcf(tmp_path), reference)
    b = {p: base(CHR1, p) for p in (50, 60, 70)}
    assert records(options.out) == [
        ("chr1", 50, b[50], other(b[50]), (0, 1)),
        ("chr1", 60, b[60], other(b[60]), (1, 1)),
        ("chr1", 70, b[70], other(b[70]), (1, 0)),
        ("chr1", 70, b[70], other2(b[70]), (0, 1)),
        ("chr1", 100, "CA", "C", (0, 1)),
        ("chr2", 10, base(CHR2, 10), other(base(CHR2, 10)), (0, 1)),
    ]
    assert accounting.input_records == 9
    assert accounting.output_records == 6
    assert accounting.split_added == 1
    assert accounting.duplicate_records == 1
    # the repeated record at 50 is a source record all of whose alleles are duplicates
    assert accounting.rejected_total == {
        "non_primary_contig": 1,
        "unknown_contig": 1,
        "ref_mismatch": 1,
        "duplicate": 1,
    }


def test_bcftools_finds_nothing_left_to_normalise(tmp_path, reference):
    _, options = run(tmp_path, centre_vcf(tmp_path), reference)
    check = subprocess.run(
        [
            "bcftools",
            "norm",
            "--check-ref",
            "e",
            "-f",
            str(reference),
            "-Ov",
            "-o",
            "/dev/null",
            str(options.out),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    # total/split/realigned/skipped
    assert "6/0/0/0" in check.stderr


def test_rejects_carry_a_reason_and_the_accounting_table_adds_up(tmp_path, reference):
    _, options = run(tmp_path, centre_vcf(tmp_path), reference)
    with pysam.VariantFile(str(options.rejects)) as rejects:
        reasons = sorted((r.chrom, r.pos, r.info["GENOPASS_REJECT"]) for r in rejects)
    assert reasons == [
        ("1", 80, "ref_mismatch"),
        ("GL000195.1", 5, "non_primary_contig"),
        ("chr1", 50, "duplicate"),
        ("scaffold_9", 7, "unknown_contig"),
    ]
    table = pd.read_csv(options.accounting, sep="\t").iloc[0]
    assert table.samples == "gpPSEUDO"
    assert table.input_records == table.output_source_records + table.rejected_source_records
    # by hand: sources at 50, 60, 70 (split in two), 105 and chr2:10 are output; the repeat of
    # 50, the mismatch at 80, GL000195.1 and scaffold_9 are rejected
    assert (table.input_records, table.output_source_records, table.rejected_source_records) == (
        9,
        5,
        4,
    )
    assert table.output_records == 6


def test_header_is_standard_and_pseudonymised(tmp_path, reference):
    _, options = run(tmp_path, centre_vcf(tmp_path), reference)
    text = gzip.open(options.out, "rt").read()
    header = [line for line in text.splitlines() if line.startswith("#")]
    assert "##contig=<ID=chr1,length=300>" in header
    assert "##contig=<ID=chr2,length=300>" in header
    assert "##reference=GRCh38" in header
    assert header[-1].endswith("FORMAT\tgpPSEUDO")
    for secret in ("alice", "LAB_S1", "##SAMPLE", "##source", str(tmp_path)):
        assert secret not in text


def test_same_input_same_bytes(tmp_path, reference):
    vcf = centre_vcf(tmp_path)
    first = tmp_path / "first"
    first.mkdir()
    _, options = run(first, vcf, reference)
    _, again = run(tmp_path, vcf, reference)
    for attr in ("out", "rejects", "accounting"):
        assert getattr(options, attr).read_bytes() == getattr(again, attr).read_bytes(), attr


def test_input_without_index_is_indexed_in_a_work_folder(tmp_path, reference):
    vcf = centre_vcf(tmp_path, index=False)
    accounting, _ = run(tmp_path, vcf, reference)
    assert accounting.output_records == 6
    assert not Path(str(vcf) + ".tbi").exists()


def test_undeclared_info_tag_is_declared_not_fatal(tmp_path, reference):
    b = base(CHR1, 50)
    vcf = write_vcf(
        tmp_path / "undeclared.vcf",
        f"""##fileformat=VCFv4.2
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##contig=<ID=chr1,length=300>
#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT LAB_S1 OTHER
chr1 50 . {b} {other(b)} . . CTR_SCORE=3 GT 0/1 0/0""",
    )
    accounting, options = run(tmp_path, vcf, reference)
    assert accounting.output_records == 1
    with pysam.VariantFile(str(options.out)) as out:
        assert "CTR_SCORE" in out.header.info
        assert next(iter(out)).info["CTR_SCORE"] == ("3",)


def test_sample_missing_from_vcf_names_file_and_samples(tmp_path, reference):
    vcf = centre_vcf(tmp_path)
    options = HarmoniseOptions(
        reference=reference, out=tmp_path / "o" / "x.vcf.gz", samples={"NOPE": "gpX"}
    )
    with pytest.raises(
        InputError,
        match=r"centre.vcf.gz: sample NOPE not in the VCF "
        r"\(its samples: LAB_S1\)",
    ):
        harmonise_vcf(vcf, options)
    assert not (tmp_path / "o" / "x.vcf.gz").exists()


def test_truncated_bgzip_is_refused(tmp_path, reference):
    vcf = centre_vcf(tmp_path)
    data = vcf.read_bytes()
    vcf.write_bytes(data[: len(data) - 40])
    with pytest.raises(InputError, match="centre.vcf.gz: truncated"):
        run(tmp_path, vcf, reference)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_corrupt_record_is_an_error_naming_the_file_and_leaves_no_output(tmp_path, reference):
    vcf = write_vcf(
        tmp_path / "bad.vcf",
        """##fileformat=VCFv4.2
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##contig=<ID=chr1,length=300>
#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT LAB_S1
chr1 50 . A C . . . GT 0/1
chr1 notanumber . A C . . . GT 0/1""",
        index=False,
    )
    with pytest.raises(InputError, match="bad.vcf.gz: malformed record: .chr1.tnotanumber"):
        run(tmp_path, vcf, reference)
    assert not (tmp_path / "out" / "s1.vcf.gz").exists()


def test_unknown_contig_naming_is_an_error(tmp_path, reference):
    vcf = write_vcf(
        tmp_path / "odd.vcf",
        """##fileformat=VCFv4.2
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##contig=<ID=Chromosome_1,length=400>
#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT LAB_S1
Chromosome_1 50 . A C . . . GT 0/1""",
    )
    with pytest.raises(
        InputError,
        match=r"odd.vcf.gz: none of its contigs with records "
        r"\(Chromosome_1\) maps to the target reference",
    ):
        run(tmp_path, vcf, reference)


def test_single_sample_file_with_other_names_and_nothing_to_reject(tmp_path, reference):
    """Renaming alone (no subset, no rejected contig): the rename stage reads the file itself."""
    b = base(CHR1, 50)
    vcf = write_vcf(
        tmp_path / "plain.vcf",
        f"""##fileformat=VCFv4.2
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##contig=<ID=1,length=300>
#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT LAB_S1
1 50 . {b} {other(b)} . . . GT 0/1""",
    )
    accounting, options = run(tmp_path, vcf, reference)
    assert records(options.out) == [("chr1", 50, b, other(b), (0, 1))]
    assert accounting.output_records == 1


def test_damaged_block_inside_an_unindexed_file_is_named(tmp_path, reference):
    """A block corrupted in transfer (the end-of-file block intact) is found while indexing."""
    positions = sorted(list(range(2, 290)) * 40)
    records = "\n".join(
        f"chr1\t{p}\t.\t{base(CHR1, p)}\t{other(base(CHR1, p))}\t.\t.\tDP={i}\tGT\t0/1"
        for i, p in enumerate(positions)
    )
    text = f"""##fileformat=VCFv4.2
##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##contig=<ID=chr1,length=300>
#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT LAB_S1
{records}"""
    assert len(text) > 4 * 65536, "the test needs several BGZF blocks (64 KiB of text each)"
    vcf = write_vcf(tmp_path / "big.vcf", text, index=False)
    data = bytearray(vcf.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 40] = bytes(x ^ 0x5A for x in data[middle : middle + 40])
    vcf.write_bytes(bytes(data))
    with pytest.raises(InputError, match="big.vcf.gz: a compressed block is damaged"):
        run(tmp_path, vcf, reference)
    assert not (tmp_path / "out" / "s1.vcf.gz").exists()
