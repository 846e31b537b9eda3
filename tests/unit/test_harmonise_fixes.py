"""REF/ALT swaps in the GRCh38 stream, gVCF reference blocks, split alleles that meet again."""

from __future__ import annotations

import gzip
from pathlib import Path

import pandas as pd
import pysam
import pytest
from helpers import random_sequence, write_fasta, write_vcf

from genopass.harmonise.stream import HarmoniseOptions, harmonise_vcf

# chr1: random, then C + AAAAAA + G at 100-107 (1-based), random.
SEQ = random_sequence(99, 11) + "CAAAAAAG" + random_sequence(193, 12)
HEADER = """##fileformat=VCFv4.2
##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
##contig=<ID=chr1,length=300>
#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT S1"""
PAIR = {"A": "T", "T": "A", "C": "G", "G": "C"}


def base(pos: int) -> str:
    return SEQ[pos - 1]


def swappable(pos: int) -> str:
    """A base that is neither the reference nor its strand-ambiguous partner."""
    return next(b for b in "ACGT" if b not in (base(pos), PAIR[base(pos)]))


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    return write_fasta(tmp_path / "ref.fa", {"chr1": SEQ})


def run(tmp_path: Path, reference: Path, body: str, header: str = HEADER, **kwargs):
    vcf = write_vcf(tmp_path / "in.vcf", header + "\n" + body)
    options = HarmoniseOptions(
        reference=reference,
        out=tmp_path / "out" / "s.vcf.gz",
        rejects=tmp_path / "out" / "s.rejects.vcf.gz",
        accounting=tmp_path / "out" / "s.tsv",
        blocks=tmp_path / "out" / "s.blocks.bed.gz",
        **kwargs,
    )
    accounting = harmonise_vcf(vcf, options)
    with pysam.VariantFile(str(options.out)) as out:
        records = [
            (r.pos, r.ref, r.alts[0], r.samples[0]["GT"], r.samples[0].get("AD"), r.info.get("AF"))
            for r in out
        ]
    with pysam.VariantFile(str(options.rejects)) as rejects:
        reasons = [(r.pos, r.info["GENOPASS_REJECT"]) for r in rejects]
    table = pd.read_csv(options.accounting, sep="\t").iloc[0]
    return accounting, records, reasons, table, options


def test_swapped_ref_alt_is_fixed_with_genotypes_ad_and_af_recoded(tmp_path, reference):
    x20, x30, x40 = swappable(20), swappable(30), PAIR[base(40)]
    body = "\n".join(
        [
            f"chr1 10 . {base(10)} {swappable(10)} . . AF=0.5 GT:AD 0/1:5,5",  # fine as it is
            f"chr1 20 . {x20} {base(20)} . . AF=0.25 GT:AD 0/1:7,3",  # swapped
            f"chr1 30 . {x30} {base(30)} . . AF=1 GT:AD 1/1:0,9",  # swapped: hom-ref
            f"chr1 40 . {x40} {base(40)} . . . GT:AD 0/1:4,4",  # A/T or C/G: never guessed
            f"chr1 50 . {swappable(50)} {PAIR[swappable(50)]} . . . GT 0/1",  # neither allele
        ]
    )
    accounting, records, reasons, table, _ = run(tmp_path, reference, body)
    assert records == [
        (10, base(10), swappable(10), (0, 1), (5, 5), (0.5,)),
        (20, base(20), x20, (0, 1), (3, 7), (0.75,)),
        (30, base(30), x30, (0, 0), (9, 0), (0.0,)),
    ]
    assert reasons == [(40, "ref_mismatch"), (50, "ref_mismatch")]
    assert (table.swapped_ref_alt, table.harmonise_swapped, table.rejected_ref_mismatch) == (
        2,
        2,
        2,
    )
    assert table.input_records == table.output_source_records + table.rejected_source_records
    assert table.output_records == 3


def test_a_swapped_record_that_repeats_one_in_the_output_is_a_duplicate(tmp_path, reference):
    x = swappable(20)
    body = f"chr1 20 . {base(20)} {x} . . . GT 0/1\nchr1 20 . {x} {base(20)} . . . GT 0/1"
    accounting, records, reasons, table, _ = run(tmp_path, reference, body)
    assert [r[:4] for r in records] == [(20, base(20), x, (0, 1))]
    assert reasons == [(20, "duplicate")]
    assert (table.rejected_duplicate, table.swapped_ref_alt, table.output_records) == (1, 1, 1)


def test_multiallelic_alleles_that_normalise_to_an_existing_record_are_deduplicated(
    tmp_path, reference
):
    # 99 C | 100-105 AAAAAA: a multiallelic record (one A less, one A more) and the same
    # deletion written at the right end of the run
    body = "chr1 100 . CA C,CAA . . . GT 1/2\nchr1 104 . AA A . . . GT 0/1"
    accounting, records, reasons, table, _ = run(tmp_path, reference, body)
    assert [r[:3] for r in records] == [(100, "CA", "C"), (100, "C", "CA")]
    assert reasons == [(100, "duplicate")]
    assert (table.input_records, table.split_added, table.rejected_duplicate) == (2, 1, 1)
    assert table.output_records == 2


GVCF_HEADER = HEADER.replace(
    "##contig",
    '##ALT=<ID=NON_REF,Description="Any other allele">\n'
    '##INFO=<ID=END,Number=1,Type=Integer,Description="End of the block">\n##contig',
)


def test_gvcf_blocks_go_to_a_bed_and_non_ref_alleles_never_reach_the_output(tmp_path, reference):
    body = "\n".join(
        [
            f"chr1 1 . {base(1)} <NON_REF> . . END=9 GT:AD 0/0:12,0",
            f"chr1 10 . {base(10)} {swappable(10)},<NON_REF> . . . GT:AD 0/1:5,5,0",
            f"chr1 11 . {base(11)} <NON_REF> . . END=60 GT:AD 0/0:20,0",
            f"chr1 80 . {base(80)} <NON_REF> . . END=80 GT ./.",
        ]
    )
    accounting, records, reasons, table, options = run(
        tmp_path, reference, body, header=GVCF_HEADER
    )
    assert records == [(10, base(10), swappable(10), (0, 1), (5, 5), None)]
    assert reasons == []
    with gzip.open(options.blocks, "rt") as handle:
        # BED intervals and the source number of each block (the 1st, 3rd and 4th record)
        assert handle.read().splitlines() == [
            "chr1\t0\t9\t1",
            "chr1\t10\t60\t3",
            "chr1\t79\t80\t4",
        ]
    assert Path(f"{options.blocks}.tbi").exists()
    assert (table.input_records, table.reference_blocks, table.output_records) == (4, 3, 1)
    assert table.input_records == (
        table.output_source_records + table.rejected_source_records + table.reference_blocks
    )


def test_plain_vcf_gets_an_empty_blocks_file(tmp_path, reference):
    _, _, _, table, options = run(tmp_path, reference, f"chr1 10 . {base(10)} G . . . GT 0/1")
    assert gzip.open(options.blocks).read() == b""
    assert table.reference_blocks == 0
