"""A generated corpus of bad VCFs, one per defect class of docs/validation.md: each gives its
documented outcome through the check and harmonisation the workflow runs (check_vcf, then
harmonise_vcf): a record rejected with its reason, or one clear line and exit 1; never a
traceback. Expected messages and reasons are written here by hand."""

from __future__ import annotations

import bz2
import gzip
import lzma
import re
import subprocess
import zipfile
from pathlib import Path

import pysam
import pytest
from helpers import BIN, ENV, random_sequence, write_fasta

pytestmark = pytest.mark.reliability

SEQ = random_sequence(500, 41)
HEADER = [
    "##fileformat=VCFv4.2",
    '##FILTER=<ID=q10,Description="Quality below 10">',
    '##INFO=<ID=END,Number=1,Type=Integer,Description="End">',
    '##INFO=<ID=SVTYPE,Number=1,Type=String,Description="Type">',
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">',
    '##INFO=<ID=NOTE,Number=1,Type=String,Description="Note">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">',
    "##contig=<ID=chr1,length=500>",
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1",
]


def ref(pos: int) -> str:
    return SEQ[pos - 1]


def alt(pos: int) -> str:
    return next(b for b in "ACGT" if b != ref(pos))


def good(pos: int) -> str:
    return f"chr1\t{pos}\t.\t{ref(pos)}\t{alt(pos)}\t50\tPASS\tDP=10\tGT:AD\t0/1:5,5"


def text(*records: str, header: list[str] = HEADER) -> bytes:
    return ("\n".join([*header, *records]) + "\n").encode()


def bgzip(path: Path, data: bytes) -> Path:
    plain = path.with_suffix("")
    plain.write_bytes(data)
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    return path


# defect -> (records with one bad record at 20, expected reject reason of record 2)
RECORD_DEFECTS = {
    "pos_12x": ("chr1\t12x\t.\tA\tC\t50\tPASS\tDP=1\tGT:AD\t0/1:5,5", "malformed:pos_not_integer"),
    "gt_out_of_range": (
        f"chr1\t20\t.\t{ref(20)}\t{alt(20)},G\t50\tPASS\tDP=1\tGT:AD\t0/3:1,1,1",
        "malformed:gt_allele_out_of_range",
    ),
    "format_number": (
        f"chr1\t20\t.\t{ref(20)}\t{alt(20)}\t50\tPASS\tDP=1\tGT:AD\t0/1:1,2,3",
        "malformed:format_number",
    ),
    "wrong_column_count": (
        f"chr1\t20\t.\t{ref(20)}\t{alt(20)}\t50\tPASS\tDP=1\tGT:AD",
        "malformed:column_count",
    ),
    "truncated_line": (f"chr1\t20\t.\t{ref(20)}\t{alt(20)}\t50\tPA", "malformed:column_count"),
    "negative_qual": (
        f"chr1\t20\t.\t{ref(20)}\t{alt(20)}\t-5\tPASS\tDP=1\tGT:AD\t0/1:5,5",
        "malformed:qual_negative",
    ),
    "info_type": (
        f"chr1\t20\t.\t{ref(20)}\t{alt(20)}\t50\tPASS\tDP=1,2\tGT:AD\t0/1:5,5",
        "malformed:info_number",
    ),
    "end_past_contig": (
        f"chr1\t20\t.\t{ref(20)}\t<DEL>\t50\tPASS\tSVTYPE=DEL;END=900\tGT:AD\t0/1:5,5",
        "malformed:end_beyond_contig",
    ),
    "qual_not_number": (
        f"chr1\t20\t.\t{ref(20)}\t{alt(20)}\tabc\tPASS\tDP=1\tGT:AD\t0/1:5,5",
        "malformed:qual_not_number",
    ),
    "info_not_integer": (
        f"chr1\t20\t.\t{ref(20)}\t{alt(20)}\t50\tPASS\tDP=x\tGT:AD\t0/1:5,5",
        "malformed:info_type",
    ),
    "format_not_integer": (
        f"chr1\t20\t.\t{ref(20)}\t{alt(20)}\t50\tPASS\tDP=1\tGT:AD\t0/1:abc",
        "malformed:format_type",
    ),
    "gt_unparseable": (
        f"chr1\t20\t.\t{ref(20)}\t{alt(20)}\t50\tPASS\tDP=1\tGT:AD\t0/x:5,5",
        "malformed:gt_invalid",
    ),
    "gt_leading_phase": (
        f"chr1\t20\t.\t{ref(20)}\t{alt(20)}\t50\tPASS\tDP=1\tGT:AD\t|0|1:5,5",
        "malformed:gt_invalid",
    ),
    "gt_not_first": (
        f"chr1\t20\t.\t{ref(20)}\t{alt(20)}\t50\tPASS\tDP=1\tAD:GT\t5,5:0/1",
        "malformed:gt_not_first",
    ),
    "empty_sample_column": (
        f"chr1\t20\t.\t{ref(20)}\t{alt(20)}\t50\tPASS\tDP=1\tGT:AD\t",
        "malformed:column_count",
    ),
    "undeclarable_format_key": (
        f"chr1\t20\t.\t{ref(20)}\t{alt(20)}\t50\tPASS\tDP=1\tGT::AD\t0/1::5,5",
        "malformed:bad_tag_name",
    ),
    "end_before_pos": (
        f"chr1\t20\t.\t{ref(20)}\t<DEL>\t50\tPASS\tSVTYPE=DEL;END=5\tGT:AD\t0/1:5,5",
        "malformed:end_before_pos",
    ),
    "iupac_ref": (f"chr1\t20\t.\tR\t{alt(20)}\t50\tPASS\tDP=1\tGT:AD\t0/1:5,5", "invalid_allele"),
    "empty_alt_entry": (
        f"chr1\t20\t.\t{ref(20)}\tA,,T\t50\tPASS\tDP=1\tGT:AD\t0/1:5,5,5,5",
        "invalid_allele",
    ),
}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    return write_fasta(tmp_path_factory.mktemp("ref") / "ref.fa", {"chr1": SEQ})


def genopass(*args: str | Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "genopass"), *map(str, args)], capture_output=True, text=True, env=ENV
    )


def check_and_harmonise(vcf: Path, reference: Path) -> tuple[subprocess.CompletedProcess, Path]:
    """What the workflow runs: check_vcf, then harmonise_vcf with its malformed list."""
    out = vcf.parent / "out"
    listed = vcf.parent / "malformed.tsv"
    checked = genopass("validate", "--level", "vcf", vcf, "--malformed", listed)
    if checked.returncode:
        return checked, out
    done = genopass(
        "harmonise", vcf, "--reference", reference, "--out", out / "s.vcf.gz",
        "--rejects", out / "s.rejects.vcf.gz", "--accounting", out / "s.tsv",
        "--malformed", listed,
    )  # fmt: skip
    return done, out


def query(vcf: Path, fmt: str) -> list[str]:
    return subprocess.run(
        ["bcftools", "query", "-f", fmt, str(vcf)], capture_output=True, text=True, check=True
    ).stdout.splitlines()


@pytest.mark.parametrize("defect", sorted(RECORD_DEFECTS))
def test_a_malformed_record_is_rejected_with_its_reason(defect, tmp_path, reference):
    bad, reason = RECORD_DEFECTS[defect]
    vcf = bgzip(tmp_path / "in.vcf.gz", text(good(10), bad, good(30)))
    done, out = check_and_harmonise(vcf, reference)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    assert query(out / "s.rejects.vcf.gz", "%INFO/GENOPASS_SOURCE %INFO/GENOPASS_REJECT\n") == [
        f"2 {reason}"
    ]
    # the good records come out as they went in
    assert query(out / "s.vcf.gz", "%POS %REF %ALT %QUAL %INFO/DP [%GT %AD]\n") == [
        f"{p} {ref(p)} {alt(p)} 50 10 0/1 5,5" for p in (10, 30)
    ]
    columns = (out / "s.tsv").read_text().splitlines()
    row = dict(zip(columns[0].split("\t"), columns[1].split("\t"), strict=True))
    expected = "1" if reason.startswith("malformed") else "0"
    assert row["rejected_malformed"] == expected


def test_non_utf8_info_is_rejected_and_not_exported(tmp_path, reference):
    bad = f"chr1\t20\t.\t{ref(20)}\t{alt(20)}\t50\tPASS\tNOTE=caf\xe9\tGT:AD\t0/1:5,5"
    data = text(good(10)) + bad.encode("latin-1") + b"\n" + (good(30) + "\n").encode()
    vcf = bgzip(tmp_path / "in.vcf.gz", data)
    done, out = check_and_harmonise(vcf, reference)
    assert done.returncode == 0, done.stderr
    assert query(out / "s.rejects.vcf.gz", "%INFO/GENOPASS_REJECT\n") == ["malformed:not_utf8"]
    assert query(out / "s.vcf.gz", "%POS\n") == ["10", "30"]


def test_pos_past_the_contig_is_rejected(tmp_path, reference):
    # last, so that the records stay sorted
    bad = "chr1\t600\t.\tA\tC\t50\tPASS\tDP=1\tGT:AD\t0/1:5,5"
    vcf = bgzip(tmp_path / "in.vcf.gz", text(good(10), good(30), bad))
    done, out = check_and_harmonise(vcf, reference)
    assert done.returncode == 0, done.stderr
    assert query(out / "s.rejects.vcf.gz", "%INFO/GENOPASS_SOURCE %INFO/GENOPASS_REJECT\n") == [
        "3 malformed:pos_beyond_contig"
    ]
    assert query(out / "s.vcf.gz", "%POS\n") == ["10", "30"]


def test_undeclared_filter_is_declared_with_a_warning(tmp_path, reference):
    record = good(20).replace("PASS", "q20")
    vcf = bgzip(tmp_path / "in.vcf.gz", text(record))
    checked = genopass("validate", "--level", "vcf", vcf)
    assert checked.returncode == 0
    assert (
        "warning: " in checked.stdout
        and "undeclared_filter: not declared in the header: q20" in checked.stdout
    )
    done, out = check_and_harmonise(vcf, reference)
    assert done.returncode == 0, done.stderr
    assert query(out / "s.vcf.gz", "%POS %FILTER\n") == ["20 q20"]


def refused(path: Path, reference: Path) -> str:
    """The one line of a refused file; the check and harmonise both refuse it, exit 1."""
    checked = genopass("validate", "--level", "vcf", path)
    assert checked.returncode == 1 and "Traceback" not in checked.stdout + checked.stderr
    errors = [x for x in checked.stdout.splitlines() if x.startswith("error: ")]
    assert len(errors) == 1
    out = path.parent / "o"
    done = genopass("harmonise", path, "--reference", reference, "--out", out / "s.vcf.gz")
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr
    assert not out.exists() or not any(out.iterdir())
    return errors[0].removeprefix("error: ")


def test_file_refusals(tmp_path, reference):
    valid = text(good(10), good(20))
    cases = {}
    name = tmp_path / "empty.vcf.gz"
    name.write_bytes(b"")
    cases[name] = "empty_file: the file is empty (0 bytes)"
    name = tmp_path / "plain-gzip.vcf.gz"
    name.write_bytes(gzip.compress(valid))
    cases[name] = "not_bgzip: compressed with gzip, not bgzip"
    name = tmp_path / "in.vcf.bz2"
    name.write_bytes(bz2.compress(valid))
    cases[name] = "not_bgzip: compressed with bzip2, not bgzip"
    name = tmp_path / "in.vcf.xz"
    name.write_bytes(lzma.compress(valid))
    cases[name] = "not_bgzip: compressed with xz, not bgzip"
    name = tmp_path / "in.vcf.zip"
    with zipfile.ZipFile(name, "w") as archive:
        archive.writestr("in.vcf", valid)
    cases[name] = "not_bgzip: compressed with zip, not bgzip"
    whole = bgzip(tmp_path / "whole.vcf.gz", valid)
    name = tmp_path / "truncated.vcf.gz"
    name.write_bytes(whole.read_bytes()[:-28])
    cases[name] = "truncated: the file ends without the BGZF end-of-file block"
    dup = [*HEADER[:-1], HEADER[-1] + "\tS1"]
    name = bgzip(tmp_path / "dup.vcf.gz", text(header=dup))
    cases[name] = "line 10: duplicate_sample: sample name S1 appears more than once"
    name = bgzip(tmp_path / "crlf.vcf.gz", valid.replace(b"\n", b"\r\n"))
    cases[name] = "line 1: crlf_line_ends: lines end in CRLF (Windows)"
    name = bgzip(tmp_path / "unsorted.vcf.gz", text(good(20), good(10)))
    cases[name] = "line 12: unsorted: chr1:10 after chr1:20"
    name = bgzip(tmp_path / "noheader.vcf.gz", ("\n".join(HEADER[:-1]) + "\n").encode())
    cases[name] = "line 9: no_column_header"
    name = tmp_path / "in.vcf.zst"
    name.write_bytes(b"\x28\xb5\x2f\xfd" + bytes(40))  # a zstd frame's magic number
    cases[name] = "not_bgzip: compressed with zstd, not bgzip"
    name = tmp_path / "plain.vcf.gz"
    name.write_bytes(valid)
    cases[name] = "not_bgzip: not compressed"
    name = bgzip(tmp_path / "nofileformat.vcf.gz", text(good(10), header=HEADER[1:]))
    cases[name] = "line 1: no_fileformat"
    spaces = [*HEADER[:-1], HEADER[-1].replace("\t", " ")]
    name = bgzip(tmp_path / "spaces.vcf.gz", text(good(10), header=spaces))
    cases[name] = "line 10: bad_column_header"
    meta = [*HEADER[:4], "##INFO=<ID=AF,Number=A,Type=Decimal,Description=x>", *HEADER[4:]]
    name = bgzip(tmp_path / "meta.vcf.gz", text(good(10), header=meta))
    cases[name] = "line 5: bad_meta_line: INFO/AF: Number=A Type=Decimal"
    latin = text(good(10)).replace(b"Quality below", "Qualité".encode("latin-1"))
    name = bgzip(tmp_path / "latin1.vcf.gz", latin)
    cases[name] = "line 2: header_not_utf8"
    # a damaged block (one flipped byte inside the compressed data; the EOF block is there)
    many = text(*(good(p) for p in range(1, 500)))
    whole = bytearray(bgzip(tmp_path / "many.vcf.gz", many).read_bytes())
    whole[len(whole) // 2] ^= 0xFF
    name = tmp_path / "damaged.vcf.gz"
    name.write_bytes(bytes(whole))
    cases[name] = "truncated: a compressed block is damaged or cut short"
    for path, expected in cases.items():
        line = refused(path, reference)
        assert line.startswith(f"{path}: {expected}"), line


def test_header_only_is_valid_and_harmonises_to_nothing(tmp_path, reference):
    vcf = bgzip(tmp_path / "in.vcf.gz", text())
    checked = genopass("validate", "--level", "vcf", vcf)
    assert checked.returncode == 0
    assert "no_records: the file holds a header and no record" in checked.stdout
    done, out = check_and_harmonise(vcf, reference)
    assert done.returncode == 0, done.stderr
    assert query(out / "s.vcf.gz", "%POS\n") == []
    columns = (out / "s.tsv").read_text().splitlines()
    row = dict(zip(columns[0].split("\t"), columns[1].split("\t"), strict=True))
    assert row["input_records"] == "0"


def test_the_defect_table_names_every_outcome_the_check_has():
    """docs/validation.md's table against the check's codes, and each code against a case of
    this corpus (its expected reasons and refusal lines above are written by hand)."""
    from helpers import REPO

    from genopass.inputs import vcfcheck

    table = [
        row
        for row in (REPO / "docs/validation.md").read_text().splitlines()
        if row.startswith("| ") and "outcome" not in row
    ]
    documented_malformed = {
        code for row in table for code in re.findall(r"`malformed:([a-z0-9_]+)`", row)
    }
    documented_refusals = {
        code for row in table for code in re.findall(r"refused: `([a-z0-9_]+)`", row)
    }
    assert documented_malformed == set(vcfcheck.RECORD_DEFECTS)
    refusals = {
        vcfcheck.EMPTY_FILE, vcfcheck.NOT_BGZIP, vcfcheck.TRUNCATED, vcfcheck.NO_FILEFORMAT,
        vcfcheck.NO_COLUMN_HEADER, vcfcheck.BAD_COLUMN_HEADER, vcfcheck.DUPLICATE_SAMPLE,
        vcfcheck.BAD_META_LINE, vcfcheck.HEADER_NOT_UTF8, vcfcheck.CRLF, vcfcheck.UNSORTED,
    }  # fmt: skip
    assert documented_refusals == refusals
    # every malformed code has a record of this corpus (pos_beyond_contig, not_utf8: own tests)
    exercised = {reason.removeprefix("malformed:") for _r, reason in RECORD_DEFECTS.values()}
    exercised |= {"pos_beyond_contig", "not_utf8"}
    assert set(vcfcheck.RECORD_DEFECTS) <= exercised, set(vcfcheck.RECORD_DEFECTS) - exercised
