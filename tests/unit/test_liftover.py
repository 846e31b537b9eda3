"""Liftover on a hand-made pair of builds whose chain is written out by hand.

GRCh38-like ``chr1`` (3,000 bases) and the GRCh37-like one made from it:

    GRCh38 [0, 1000)     -> GRCh37 [0, 1000)       forward
    GRCh38 [1000, 1050)     not in GRCh37           (a GRCh38-only block)
    GRCh38 [1050, 1600)  -> GRCh37 [1000, 1550)    forward
                            GRCh37 [1550, 1650)     100 bases GRCh38 lacks
    GRCh38 [1600, 2200)  -> GRCh37 [1650, 2250)    inverted (reverse complement)
    GRCh38 [2200, 2600)  -> GRCh37 [2250, 2650)    forward
                            GRCh37 2650             one base GRCh38 lacks
    GRCh38 [2600, 3000)  -> GRCh37 [2651, 3051)    forward
    and GRCh38 500 is another base on GRCh37 (the reference changed).

Expected records are GRCh38 records normalised by bcftools itself.
"""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pysam
import pytest
from helpers import random_sequence, write_fasta, write_vcf

from genopass.errors import InputError
from genopass.harmonise.chain import ChainMap
from genopass.harmonise.liftover import LiftoverSource
from genopass.harmonise.stream import HarmoniseOptions, harmonise_vcf

COMP = str.maketrans("ACGT", "TGCA")
SEQ38 = random_sequence(3000, 38)
EXTRA = random_sequence(100, 37)
CHANGED = 500  # 0-based GRCh38 position whose GRCh37 base differs


def other(base: str) -> str:
    return "G" if base != "G" else "T"


def third(*bases: str) -> str:
    return next(b for b in "ACGT" if b not in bases)


SEQ37 = (
    SEQ38[:CHANGED]
    + other(SEQ38[CHANGED])
    + SEQ38[CHANGED + 1 : 1000]
    + SEQ38[1050:1600]
    + EXTRA
    + SEQ38[1600:2200].translate(COMP)[::-1]
    + SEQ38[2200:2600]
    + ("T" if SEQ38[2599] != "T" else "C")
    + SEQ38[2600:]
)
CHAIN = """chain 2400 chr1 3051 + 0 3051 chr1 3000 + 0 3000 1
1000\t0\t50
550\t700\t600
400\t1\t0
400

chain 600 chr1 3051 + 1650 2250 chr1 3000 - 800 1400 2
600
"""
HEADER = """##fileformat=VCFv4.2
##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
##contig=<ID=1,length=3051>
#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT S1"""


def comp(seq: str) -> str:
    return seq.translate(COMP)[::-1]


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Path]:
    chain = tmp_path / "37to38.chain.gz"
    with gzip.open(chain, "wt") as handle:
        handle.write(CHAIN)
    return {
        "fa38": write_fasta(tmp_path / "grch38.fa", {"chr1": SEQ38}),
        "fa37": write_fasta(tmp_path / "grch37.fa", {"chr1": SEQ37}),
        "chain": chain,
    }


def lift(
    tmp_path: Path, world: dict[str, Path], records: list[str], header: str = HEADER, **kwargs
) -> tuple:
    tmp_path.mkdir(parents=True, exist_ok=True)
    records = sorted(records, key=lambda line: int(line.split()[1]))
    vcf = write_vcf(tmp_path / "in37.vcf", header + "\n" + "\n".join(records))
    options = HarmoniseOptions(
        reference=world["fa38"],
        out=tmp_path / "out" / "s.vcf.gz",
        rejects=tmp_path / "out" / "s.rejects.vcf.gz",
        accounting=tmp_path / "out" / "s.tsv",
        build=kwargs.pop("build", "GRCh37"),
        liftover=(LiftoverSource("GRCh37", world["fa37"], world["chain"]),),
        **kwargs,
    )
    accounting = harmonise_vcf(vcf, options)
    with pysam.VariantFile(str(options.out)) as out:
        got = [(r.pos, r.ref, r.alts[0], r.samples[0]["GT"], r.samples[0].get("AD")) for r in out]
    with pysam.VariantFile(str(options.rejects)) as rejects:
        reasons = [(r.pos, r.info["GENOPASS_REJECT"], r.info["GENOPASS_STEP"]) for r in rejects]
    return accounting, got, reasons


def norm38(tmp_path: Path, fa38: Path, pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """bcftools' normal form of a GRCh38 record."""
    text = "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=3000>\n"
    text += f"#CHROM POS ID REF ALT QUAL FILTER INFO\nchr1 {pos} . {ref} {alt} . . ."
    vcf = write_vcf(tmp_path / "one.vcf", text)
    out = subprocess.run(
        ["bcftools", "norm", "-f", str(fa38), str(vcf)], capture_output=True, text=True, check=True
    ).stdout
    fields = [line for line in out.splitlines() if not line.startswith("#")][0].split("\t")
    return int(fields[1]), fields[3], fields[4]


def test_chain_blocks_map_both_strands(world):
    chain = ChainMap.load(world["chain"])
    assert [b.lift(100) for b in chain.blocks_at("chr1", 100)] == [100]
    assert [b.lift(1100) for b in chain.blocks_at("chr1", 1100)] == [1150]
    (inverted,) = chain.blocks_at("chr1", 1650)
    assert inverted.reverse and inverted.lift(1650) == 2199
    assert chain.blocks_at("chr1", 1600) == []  # GRCh37-only sequence
    assert [b.lift(2651) for b in chain.blocks_at("chr1", 2651)] == [2600]


def test_forward_reverse_and_gapped_records_lift_to_grch38(tmp_path, world):
    b = SEQ38
    del38 = norm38(tmp_path, world["fa38"], 1800, b[1799:1802], b[1799])  # in the inversion
    ins38 = norm38(tmp_path, world["fa38"], 1900, b[1899], b[1899] + "AC")
    records = [
        f"1 101 . {b[100]} {other(b[100])} . . . GT:AD 0/1:4,5",
        f"1 1151 . {b[1200]} {other(b[1200])} . . . GT:AD 1/1:0,9",
        # inverted: a SNV, a deletion anchored on GRCh37's left (GRCh38's right), an insertion
        f"1 2150 . {comp(b[1700])} {comp(other(b[1700]))} . . . GT:AD 0/1:3,3",
        f"1 2048 . {SEQ37[2047:2050]} {SEQ37[2047]} . . . GT:AD 0/1:6,2",
        f"1 1950 . {SEQ37[1949]} {SEQ37[1949]}GT . . . GT:AD 1/1:0,8",
    ]
    accounting, got, reasons = lift(tmp_path, world, records)
    assert reasons == []
    assert got == [
        (101, b[100], other(b[100]), (0, 1), (4, 5)),
        (1201, b[1200], other(b[1200]), (1, 1), (0, 9)),
        (1701, b[1700], other(b[1700]), (0, 1), (3, 3)),
        (*del38, (0, 1), (6, 2)),
        (*ins38, (1, 1), (0, 8)),
    ]
    assert accounting.lifted_records == 5


def test_changed_reference_base_swaps_alleles_and_recodes_genotypes(tmp_path, world):
    ref37, ref38 = SEQ37[CHANGED], SEQ38[CHANGED]
    records = [f"1 {CHANGED + 1} . {ref37} {ref38} . . AF=0.25 GT:AD 0/1:7,3"]
    accounting, got, _ = lift(tmp_path, world, records)
    assert got == [(CHANGED + 1, ref38, ref37, (0, 1), (3, 7))]
    assert accounting.swapped["liftover"] == 1 and accounting.swapped_total == 1


def test_deletion_of_bases_grch38_lacks_becomes_a_hom_ref_or_an_insertion(tmp_path, world):
    """GRCh37 has one base more at 2650: deleting it is GRCh38's reference state."""
    anchor = SEQ37[2649]
    records = [
        f"1 2650 . {anchor}{SEQ37[2650]} {anchor} . . . GT:AD 1/1:0,9",
    ]
    _, got, reasons = lift(tmp_path, world, records)
    assert reasons == []
    expected = norm38(tmp_path, world["fa38"], 2600, SEQ38[2599], SEQ38[2599] + SEQ37[2650])
    assert got == [(*expected, (0, 0), (9, 0))]


def test_unliftable_records_are_rejected_with_reasons(tmp_path, world):
    records = [
        f"1 1600 . {SEQ37[1599]} {other(SEQ37[1599])} . . . GT 0/1",  # GRCh37 only
        # a deletion across the GRCh38-only block: the span is 50 bases longer on GRCh38
        f"1 999 . {SEQ37[998:1001]} {SEQ37[998]} . . . GT 0/1",
        # neither allele is the GRCh38 base
        f"1 201 . {other(SEQ38[200])} {third(SEQ38[200], other(SEQ38[200]))} . . . GT 0/1",
    ]
    accounting, got, reasons = lift(tmp_path, world, records)
    assert got == []
    assert sorted(reasons) == [
        (201, "ref_mismatch", "liftover"),
        (999, "liftover_ambiguous", "liftover"),
        (1600, "liftover_unmapped", "liftover"),
    ]
    row = accounting.as_row()
    assert row["liftover_rejected_liftover_unmapped"] == 1
    assert row["rejected_liftover_ambiguous"] == 1
    assert row["input_records"] == 3 and row["output_records"] == 0


def test_strand_ambiguous_snv_is_swapped_only_with_grch37_evidence(tmp_path, world):
    # GRCh37 REF at 101 is b[100]; a record saying otherwise, whose ALT is the GRCh38 base
    ref38 = SEQ38[100]
    wrong = {"A": "T", "T": "A", "C": "G", "G": "C"}[ref38]
    records = [f"1 101 . {wrong} {ref38} . . . GT 0/1"]
    _, got, reasons = lift(tmp_path, world, records)
    assert got == [] and reasons == [(101, "ref_mismatch", "liftover")]


def test_build_is_detected_and_a_contradicting_declaration_is_an_error(tmp_path, world):
    records = [f"1 {p + 1} . {SEQ38[p]} {other(SEQ38[p])} . . . GT 0/1" for p in range(5, 999, 20)]
    records37 = [
        f"1 {p + 1} . {SEQ37[p]} {other(SEQ37[p])} . . . GT 0/1" for p in range(1100, 3000, 20)
    ]
    accounting, got, _ = lift(tmp_path, world, records37, build="auto")
    assert accounting.source_build == "GRCh37" and len(got) > 50
    with pytest.raises(
        InputError,
        match=r"declared build GRCh38, but the data are on GRCh37 "
        r".*GRCh37: REF matches at 100%.*GRCh38: REF matches at",
    ):
        lift(tmp_path / "b", world, records37, build="GRCh38")
    # a header without contig lengths (truncated, renamed contigs): the REFs still tell
    renamed = [line.replace("1 ", "chr1 ", 1) for line in records37]
    header = HEADER.replace("##contig=<ID=1,length=3051>\n", "")
    with pytest.raises(InputError, match=r"declared build GRCh38, but the data are on GRCh37"):
        lift(tmp_path / "d", world, renamed, build="GRCh38", header=header)
    accounting, _, _ = lift(tmp_path / "e", world, renamed, build="auto", header=header)
    assert accounting.source_build == "GRCh37"
    # the first kilobase is the same on both builds: a GRCh38 declaration stands
    accounting, got, _ = lift(tmp_path / "c", world, records, build="GRCh38", header=header)
    assert accounting.source_build == "GRCh38"


def test_chain_that_does_not_match_the_reference_is_an_error(tmp_path, world):
    bad = tmp_path / "bad.chain"
    bad.write_text(CHAIN.replace("chr1 3000", "chr1 3100"))
    options = HarmoniseOptions(
        reference=world["fa38"],
        out=tmp_path / "o.vcf.gz",
        build="GRCh37",
        liftover=(LiftoverSource("GRCh37", world["fa37"], bad),),
    )
    vcf = write_vcf(
        tmp_path / "in.vcf", HEADER + f"\n1 101 . {SEQ37[100]} {other(SEQ37[100])} . . . GT 0/1"
    )
    with pytest.raises(
        InputError,
        match=r"bad.chain: the chain's target contig chr1 has length 3100, "
        r"but chr1 of the target reference has length 3000",
    ):
        harmonise_vcf(vcf, options)
    assert not (tmp_path / "o.vcf.gz").exists()


def test_grch37_without_a_liftover_configured_is_an_error(tmp_path, world):
    vcf = write_vcf(
        tmp_path / "in.vcf", HEADER + f"\n1 101 . {SEQ37[100]} {other(SEQ37[100])} . . . GT 0/1"
    )
    options = HarmoniseOptions(reference=world["fa38"], out=tmp_path / "o.vcf.gz", build="GRCh37")
    with pytest.raises(InputError, match="declared build GRCh37, but no liftover from GRCh37"):
        harmonise_vcf(vcf, options)


def test_b37_named_fasta_ucsc_input_undeclared_tag_and_gvcf_blocks(tmp_path, world):
    """A GRCh37 FASTA named 1, MT (b37), input named chr1, a tag the header never declared."""
    fa37 = write_fasta(tmp_path / "b37.fa", {"1": SEQ37})
    header = HEADER.replace("ID=1,", "ID=chr1,").replace(
        "##contig",
        '##ALT=<ID=NON_REF,Description="Any other allele">\n'
        '##INFO=<ID=END,Number=1,Type=Integer,Description="End">\n##contig',
    )
    body = [
        f"chr1 101 . {SEQ37[100]} {other(SEQ37[100])},<NON_REF> . . CTR_X=3 GT:AD 0/1:3,4,0",
        # a reference block across the GRCh38-only block: two pieces on GRCh38
        f"chr1 901 . {SEQ37[900]} <NON_REF> . . END=1100 GT:AD 0/0:9,0",
        f"chr1 1601 . {SEQ37[1600]} <NON_REF> . . END=1620 GT 0/0",  # GRCh37 only: unmapped
    ]
    vcf = write_vcf(tmp_path / "in.vcf", header + "\n" + "\n".join(body))
    options = HarmoniseOptions(
        reference=world["fa38"],
        out=tmp_path / "o.vcf.gz",
        rejects=tmp_path / "r.vcf.gz",
        blocks=tmp_path / "b.bed.gz",
        build="GRCh37",
        liftover=(LiftoverSource("GRCh37", fa37, world["chain"]),),
    )
    accounting = harmonise_vcf(vcf, options)
    with pysam.VariantFile(str(options.out)) as out:
        (record,) = list(out)
    assert (record.chrom, record.pos, record.alts, record.info["CTR_X"]) == (
        "chr1",
        101,
        (other(SEQ37[100]),),
        ("3",),
    )
    with gzip.open(options.blocks, "rt") as handle:
        # both pieces of the second record (source number 2)
        assert handle.read().splitlines() == ["chr1\t900\t1000\t2", "chr1\t1050\t1150\t2"]
    rejected = {reason: n for reason, n in accounting.rejected_total.items() if n}
    assert (accounting.reference_blocks, rejected) == (1, {"liftover_unmapped": 1})
    # bases of blocks in: 200 + 20 (the unmapped block); out: the two pieces of 100
    assert (accounting.block_bases_in, accounting.block_bases_out) == (220, 200)
