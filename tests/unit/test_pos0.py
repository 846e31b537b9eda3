"""POS 0 records (valid VCF: telomeric records) come through harmonisation whole.

bcftools norm 1.16 cannot check or normalise a record at position 0 (there is no reference base
before the contig), so the stream takes such records around it. The expected output is written
by hand and read back from the files by bcftools and pysam, never from genopass's counters.
"""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pysam
import pytest
from helpers import random_sequence, write_fasta, write_vcf

from genopass.harmonise.stream import HarmoniseOptions, harmonise_vcf

SEQ = random_sequence(300, 7)
HEADER = """##fileformat=VCFv4.2
##INFO=<ID=END,Number=1,Type=Integer,Description="End">
##INFO=<ID=SVTYPE,Number=1,Type=String,Description="Type">
##ALT=<ID=DEL,Description="Deletion">
##ALT=<ID=DUP,Description="Duplication">
##ALT=<ID=INV,Description="Inversion">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
##contig=<ID=1,length=300>
##contig=<ID=2,length=300>
##contig=<ID=3,length=300>
#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT S1"""


def base(pos: int) -> str:
    return SEQ[pos - 1]


def other(pos: int) -> str:
    return next(b for b in "ACGT" if b != base(pos))


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    return write_fasta(tmp_path / "ref.fa", {"chr1": SEQ, "chr2": SEQ, "chr3": SEQ})


def harmonise(tmp_path: Path, reference: Path, body: list[str], header: str = HEADER, **more):
    vcf = write_vcf(tmp_path / "in.vcf", header + "\n" + "\n".join(body))
    out = tmp_path / "out"
    options = HarmoniseOptions(
        reference=reference,
        out=out / "s.vcf.gz",
        rejects=out / "s.rejects.vcf.gz",
        accounting=out / "s.tsv",
        blocks=out / "s.blocks.bed.gz",
        **more,
    )
    return harmonise_vcf(vcf, options), options


def query(vcf: Path, fmt: str) -> list[str]:
    return subprocess.run(
        ["bcftools", "query", "-f", fmt, str(vcf)], capture_output=True, text=True, check=True
    ).stdout.splitlines()


BODY = [
    "1 0 del0 N <DEL> 50 PASS SVTYPE=DEL;END=120 GT:AD 0/1:4,5",
    "1 0 bnd0 N .N . PASS . GT 1/1",
    "1 0 cnv0 N <DUP>,<DEL> . PASS END=40 GT:AD 1/2:1,2,3",
    "1 0 again N <DEL> 50 PASS SVTYPE=DEL;END=120 GT:AD 0/1:4,5",  # a repeat of the first
    f"1 1 . {base(1)} {other(1)} . PASS . GT:AD 0/1:3,3",
    f"1 9 . {base(9)} {other(9)} . PASS . GT:AD 1/1:0,7",
    "2 0 inv0 N <INV> . PASS END=30 GT 0|1",
    f"2 20 . {base(20)} {other(20)} . PASS . GT:AD 0/1:2,2",
    "3 0 only0 N <DEL> . PASS END=9 GT 1/1",  # a contig whose only record is at POS 0
    "scaffold_x 0 . N <DEL> . PASS END=9 GT 1/1",  # a contig no alias table knows
]


def test_pos0_records_come_through_with_their_alleles_and_genotypes(tmp_path, reference):
    accounting, options = harmonise(tmp_path, reference, BODY)
    rows = query(options.out, "%CHROM %POS %ID %REF %ALT %INFO/END [%GT %AD]\n")
    assert rows == [
        "chr1 0 del0 N <DEL> 120 0/1 4,5",
        "chr1 0 bnd0 N .N . 1/1 .",
        "chr1 0 cnv0 N <DUP> 40 1/0 1,2",  # split as every multiallelic record is
        "chr1 0 cnv0 N <DEL> 40 0/1 1,3",
        f"chr1 1 . {base(1)} {other(1)} . 0/1 3,3",
        f"chr1 9 . {base(9)} {other(9)} . 1/1 0,7",
        "chr2 0 inv0 N <INV> 30 0|1 .",
        f"chr2 20 . {base(20)} {other(20)} . 0/1 2,2",
        "chr3 0 only0 N <DEL> 9 1/1 .",
    ]
    # pysam reads the same records back, in this order, with their sample's genotype
    with pysam.VariantFile(str(options.out)) as vcf:
        got = [(r.chrom, r.pos, r.alts, r.samples["S1"]["GT"]) for r in vcf]
    assert got[:4] == [
        ("chr1", 0, ("<DEL>",), (0, 1)),
        ("chr1", 0, (".N",), (1, 1)),
        ("chr1", 0, ("<DUP>",), (1, 0)),
        ("chr1", 0, ("<DEL>",), (0, 1)),
    ]
    assert got[6] == ("chr2", 0, ("<INV>",), (0, 1)) and got[8][:2] == ("chr3", 0)
    # the repeat and the unknown contig are the rejects, each with its reason
    assert sorted(query(options.rejects, "%CHROM %POS %ID %INFO/GENOPASS_REJECT\n")) == [
        "chr1 0 again duplicate",
        "scaffold_x 0 . unknown_contig",
    ]
    # every source number in exactly one place, read from the files
    numbers = [int(n) for n in query(options.out, "%INFO/GENOPASS_SOURCE\n")]
    rejected = [int(n) for n in query(options.rejects, "%INFO/GENOPASS_SOURCE\n")]
    assert sorted(rejected) == [4, 10] and sorted(set(numbers)) == [1, 2, 3, 5, 6, 7, 8, 9]
    assert (accounting.input_records, accounting.output_records) == (10, 9)
    assert accounting.rejected_total == {"duplicate": 1, "unknown_contig": 1}
    # the output is sorted, indexed and readable to its end by bcftools
    view = subprocess.run(
        ["bcftools", "view", "-H", str(options.out)], capture_output=True, text=True, check=True
    )
    assert len(view.stdout.splitlines()) == 9 and "[E::" not in view.stderr
    assert Path(f"{options.out}.tbi").exists()
    assert query(options.out, "%CHROM\t%POS\n") == sorted(
        query(options.out, "%CHROM\t%POS\n"), key=lambda r: (r.split()[0], int(r.split()[1]))
    )


def test_a_file_without_pos0_records_is_unchanged_by_the_detour(tmp_path, reference):
    """The records around POS 0 are exactly what the same file without them gives."""
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    _, with_pos0 = harmonise(tmp_path / "a", reference, BODY)
    rest = [line for line in BODY if line.split()[1] != "0"]
    _, without = harmonise(tmp_path / "b", reference, rest)
    fmt = "%CHROM %POS %REF %ALT [%GT %AD]\n"
    kept = [row for row in query(with_pos0.out, fmt) if row.split()[1] != "0"]
    assert kept == query(without.out, fmt)


def test_a_gvcf_block_at_pos0_starts_at_the_contig_start(tmp_path, reference):
    header = HEADER.replace("##ALT=<ID=DEL", '##ALT=<ID=NON_REF,Description="Any">\n##ALT=<ID=DEL')
    body = [
        "1 0 . N <NON_REF> . . END=4 GT 0/0",
        f"1 5 . {base(5)} {other(5)},<NON_REF> . . . GT:AD 0/1:3,3,0",
        f"1 6 . {base(6)} <NON_REF> . . END=9 GT 0/0",
    ]
    accounting, options = harmonise(tmp_path, reference, body, header=header)
    with gzip.open(options.blocks, "rt") as handle:
        assert handle.read().splitlines() == ["chr1\t0\t4\t1", "chr1\t5\t9\t3"]
    assert query(options.out, "%POS %ALT\n") == [f"5 {other(5)}"]
    assert accounting.reference_blocks == 2


def test_pos0_records_and_swapped_records_both_come_through(tmp_path, reference):
    """Swapped records are merged by position (bcftools concat -a, which skips POS 0): the POS 0
    records are put back after them."""
    body = [
        "1 0 tel N <DEL> . PASS END=5 GT 0/1",
        f"1 4 . {base(4)} {other(4)} . PASS . GT:AD 0/1:2,2",
        f"1 7 . {other(7)} {base(7)} . PASS . GT:AD 0/1:5,1",  # ALT is the reference: swapped
        f"1 8 . {base(8)} {other(8)} . PASS . GT:AD 1/1:0,4",
    ]
    accounting, options = harmonise(tmp_path, reference, body)
    assert query(options.out, "%POS %REF %ALT [%GT %AD]\n") == [
        "0 N <DEL> 0/1 .",
        f"4 {base(4)} {other(4)} 0/1 2,2",
        f"7 {base(7)} {other(7)} 0/1 1,5",
        f"8 {base(8)} {other(8)} 1/1 0,4",
    ]
    assert accounting.swapped_total == 1 and accounting.rejected_source_records == 0


def test_every_awk_writes_the_same_bytes(tmp_path, reference, monkeypatch):
    """The stream's awk programs give the same files under mawk and GNU awk (and the system's
    awk): records at POS 0, breakend mates renamed, a repeat, an unknown contig and a listed
    malformed record with bytes outside ASCII."""
    import shutil

    import genopass.harmonise.stream as stream

    body = [
        *BODY[:6],
        f"1 12 . {base(12)} {base(12)}[2:100[ . PASS . GT 0/1",
        "1 15 caf\u00e9 A C . PASS . GT 0/1",  # record 8, listed as malformed below
        *BODY[6:],
    ]
    listed = tmp_path / "malformed.tsv"
    listed.write_text("8\tinfo_type\n")
    awks = sorted({p for p in (shutil.which(a) for a in ("mawk", "gawk", "awk")) if p})
    outputs = []
    for i, program in enumerate(awks):
        monkeypatch.setattr(stream, "awk", lambda program=program: program)
        (tmp_path / str(i)).mkdir()
        _, options = harmonise(tmp_path / str(i), reference, body, malformed=listed)
        files = (options.out, options.rejects, options.blocks)
        outputs.append([gzip.decompress(f.read_bytes()) for f in files])
        outputs[-1].append(options.accounting.read_bytes())
    assert len(awks) >= 1
    assert all(o == outputs[0] for o in outputs)
    text = outputs[0][1].decode()
    # the ID shown byte by byte: each of the two bytes of \u00e9 is a "?", whatever the awk
    assert "1\t15\tcaf??\tA\tC\t.\t.\tGENOPASS_SOURCE=8;GENOPASS_REJECT=malformed:info_type" in text
    assert f"{base(12)}[chr2:100[" in outputs[0][0].decode()
