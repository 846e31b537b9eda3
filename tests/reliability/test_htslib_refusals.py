"""Every record that htslib cannot read is malformed to the input check, so that it goes to the
rejects and never reaches bcftools (a sample subset is read by `bcftools view -s`, which parses
every sample column, and `bcftools norm` parses the records the triage passes on).

The oracle is bcftools 1.16 itself: each record, alone in a two-sample file whose header
declares the tags it uses but the source did not (what harmonisation does before it reads a
file again), is read by `bcftools view`, `bcftools view -s S1` and `bcftools norm -m-any -f`
(`--check-ref wx`, as the stream runs it). When any of them fails, the check must list the
record. The check may be stricter than htslib (it also rejects values htslib sets to missing)."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

import pysam
import pytest
from helpers import BIN, ENV, random_sequence, write_fasta

from genopass.inputs.vcfcheck import check_vcf, parse_meta

pytestmark = pytest.mark.reliability

SEQ = random_sequence(500, 7)
HEADER = [
    "##fileformat=VCFv4.2",
    '##FILTER=<ID=q10,Description="Quality below 10">',
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">',
    '##INFO=<ID=AF,Number=A,Type=Float,Description="Frequency">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">',
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">',
    '##FORMAT=<ID=GL,Number=G,Type=Float,Description="Likelihoods">',
    '##FORMAT=<ID=FT,Number=1,Type=String,Description="Filter">',
    "##contig=<ID=chr1,length=500>",
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\tS2",
]
REF, ALT = SEQ[99], next(b for b in "ACGT" if b != SEQ[99])
SITE = f"chr1\t100\t.\t{REF}\t{ALT}\t50"


def line(samples: str, fmt: str = "GT:AD:DP", filters: str = "PASS", info: str = "DP=9") -> str:
    return f"{SITE}\t{filters}\t{info}\t{fmt}\t{samples}"


# Records written by hand: what centres' files hold, and the sample-column defects htslib stops
# at (found by running bcftools on each). Good records are here so that the oracle is seen
# to accept as well as refuse.
CASES = {
    "good": line("0/1:5,4:9\t0/0:9,0:9"),
    "good_phased_missing": line("0|1:5,4:9\t./.:.:."),
    "good_dropped_trailing": line("0/1:5,4\t./."),
    "good_likelihoods": line("0/1:-1,-0.1,-9\t1/1:-9,-3,0", "GT:GL"),
    "good_haploid_likelihoods": line("1:-9,0\t0:0,-9", "GT:GL"),
    "good_undeclared_filter": line("0/1:5,4:9\t0/0:9,0:9", filters="q20"),
    "good_undeclared_format": line("0/1:7\t0/0:1", "GT:ZZ"),
    "good_signed": line("0/1:+5,4:9\t0/0:9,0:9"),
    "ad_letters": line("0/1:abc:9\t0/0:9,0:9"),
    "ad_space": line("0/1:5, 4:9\t0/0:9,0:9"),
    "dp_float": line("0/1:5,4:1.5\t0/0:9,0:9"),
    "gl_letter": line("0/1:-1,x,-9\t1/1:-9,-3,0", "GT:GL"),
    "gt_letter": line("0/x:5,4:9\t0/0:9,0:9"),
    "gt_allele_3": line("0/1:5,4:9\t0/3:9,0:9"),
    "gt_allele_huge": line("0/99999999999:5,4:9\t0/0:9,0:9"),
    "gt_leading_slash": line("/1:5,4:9\t0/0:9,0:9"),
    "gt_leading_bar": line("|0|1:5,4:9\t0/0:9,0:9"),
    "gt_double_slash": line("0//1:5,4:9\t0/0:9,0:9"),
    "gt_empty": line(":5,4:9\t0/0:9,0:9"),
    "sample_empty": line("\t0/0:9,0:9"),
    "too_many_values": line("0/1:5,4:9:1\t0/0:9,0:9"),
    "one_sample_column": line("0/1:5,4:9"),
    "format_empty_key": line("0/1::9\t0/0::9", "GT::DP"),
    "format_empty": line("0/1\t0/0", ""),
    # undeclared names that no header line can declare
    "format_key_comma": line("0/1:1\t0/0:1", "GT:A,B"),
    "info_key_angle": line("0/1:5,4:9\t0/0:9,0:9", info="DP=9;A<B=1"),
    "filter_comma": line("0/1:5,4:9\t0/0:9,0:9", filters="q,10"),
    "format_key_space": line("0/1:5,4\t0/0:9,0", "GT:AD "),
    "info_key_space": line("0/1:5,4:9\t0/0:9,0:9", info="DP=9; AF=0.5"),
    "gt_not_first": line("1|1\t0|1E", "FT:GT"),
    "last_column_empty": line("PASS\t", "FT"),
    "filter_name_empty": line("0/1:5,4:9\t0/0:9,0:9", filters=";PASS"),
    "good_undeclared_dash": line("0/1:1\t0/0:1", "GT:G-Q", info="X-Y=1", filters="q-1"),
}


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Path:
    path = write_fasta(tmp_path_factory.mktemp("ref") / "ref.fa", {"chr1": SEQ})
    pysam.faidx(str(path))
    return path


def declared_header(record: str) -> list[str]:
    """HEADER plus the FILTER/INFO/FORMAT names the record uses and HEADER lacks, declared as
    harmonisation declares them (a name htslib cannot declare, the empty one, stays out)."""
    known: dict[str, set[str]] = {"FILTER": {"PASS"}, "INFO": set(), "FORMAT": set()}
    for text in HEADER:
        parsed = parse_meta(text)
        if parsed and parsed[0] in known:
            known[parsed[0]].add(parsed[1]["ID"])
    cols = record.split("\t")
    used = {
        "FILTER": cols[6].split(";") if len(cols) > 6 and cols[6] != "." else [],
        "INFO": [i.split("=")[0] for i in cols[7].split(";")] if len(cols) > 7 else [],
        "FORMAT": cols[8].split(":") if len(cols) > 8 else [],
    }
    extra = []
    for kind, names in used.items():
        for name in dict.fromkeys(names):
            if name and name != "." and name not in known[kind]:
                extra.append(
                    f'##FILTER=<ID={name},Description="declared">'
                    if kind == "FILTER"
                    else f'##{kind}=<ID={name},Number=.,Type=String,Description="declared">'
                )
    return [*HEADER[:-1], *extra, HEADER[-1]]


def bgzipped(path: Path, lines: list[str]) -> Path:
    plain = path.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    return path


def htslib_refuses(record: str, folder: Path, reference: Path) -> list[str]:
    """The bcftools commands that fail on the record (with their first error line)."""
    vcf = bgzipped(folder / "oracle.vcf.gz", [*declared_header(record), record])
    commands = {
        "view": ["bcftools", "view", "--no-version", "-Ov", str(vcf)],
        "view -s": ["bcftools", "view", "--no-version", "-Ov", "-s", "S1", str(vcf)],
        "norm": [
            "bcftools", "norm", "--no-version", "-Ov", "-m-any", "-f", str(reference),
            "-c", "wx", str(vcf),
        ],
    }  # fmt: skip
    failed = []
    for name, command in commands.items():
        done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        if done.returncode:
            errors = [x for x in done.stderr.decode(errors="replace").splitlines() if x]
            failed.append(f"{name}: {errors[-1] if errors else done.returncode}")
    return failed


def check_defect(record: str, folder: Path) -> str | None:
    """The input check's defect of the record (the file's record 2, between two good ones)."""
    good = line("0/1:5,4:9\t0/0:9,0:9").replace("\t100\t", "\t{}\t")
    records = [good.format(50), record, good.format(150)]
    vcf = bgzipped(folder / "checked.vcf.gz", [*HEADER, *records])
    listed = folder / "malformed.tsv"
    check_vcf(vcf, listed)
    rows = dict(row.split("\t") for row in listed.read_text().splitlines())
    assert set(rows) <= {"2"}, rows  # the good records stay good
    return rows.get("2")


def test_every_record_htslib_refuses_is_malformed(tmp_path, reference):
    refused = {}
    for name, record in CASES.items():
        failed = htslib_refuses(record, tmp_path, reference)
        defect = check_defect(record, tmp_path)
        if failed:
            refused[name] = defect
            assert defect, f"{name}: bcftools refuses it ({failed}) but the check passes it"
        if name.startswith("good"):
            assert not failed and defect is None, (name, failed, defect)
    # the oracle refuses what the hand-written cases were written for
    assert set(refused) == {name for name in CASES if not name.startswith("good")}
    assert refused["gt_leading_slash"] == refused["gt_leading_bar"] == "gt_invalid"
    assert refused["gt_not_first"] == "gt_not_first"
    for name in (
        "format_empty_key",
        "format_empty",
        "format_key_comma",
        "info_key_angle",
        "format_key_space",
        "info_key_space",
    ):
        assert refused[name] == "bad_tag_name", name
    assert refused["filter_comma"] == refused["filter_name_empty"] == "bad_tag_name"
    assert refused["last_column_empty"] == "column_count"
    assert refused["gt_allele_3"] == "gt_allele_out_of_range"
    assert refused["one_sample_column"] == "column_count"


ALPHABET = list("0123456789,:/|.-+eE \tax") + ["", "", "10", "::", ",,"]


def mutated(rng: random.Random) -> str:
    """A good record with one to three random edits in its FORMAT and sample columns."""
    fmt = rng.choice(["GT:AD:DP", "GT:GL", "GT:AD:DP:FT", "GT"])
    values = {"AD": "5,4", "DP": "9", "GL": "-1,-0.5,-9", "FT": "PASS"}
    columns = ":".join(fmt.split(":")[1:])
    samples = []
    for gt in (rng.choice(["0/1", "1|1", "./.", "0"]), rng.choice(["0/0", "0|1", "1"])):
        fields = [gt] + [values[k] for k in columns.split(":") if k]
        if gt in ("0", "1") and "GL" in fmt:
            fields[fmt.split(":").index("GL")] = "-1,0"
        samples.append(":".join(fields))
    text = fmt + "\t" + "\t".join(samples)
    for _ in range(rng.randint(1, 3)):
        i = rng.randrange(len(text) + 1)
        piece = rng.choice(ALPHABET)
        text = text[:i] + piece + text[i + rng.choice([0, 1]) :]
    fmt, _, samples_text = text.partition("\t")
    return f"{SITE}\tPASS\tDP=9\t{fmt}\t{samples_text}"


def test_random_sample_column_damage(tmp_path, reference):
    """Seeded random edits of the sample columns: whatever bcftools refuses, the check lists."""
    rng = random.Random(20261201)
    refused = 0
    for _ in range(120):
        record = mutated(rng)
        failed = htslib_refuses(record, tmp_path, reference)
        if failed:
            refused += 1
            assert check_defect(record, tmp_path), f"{record!r}: bcftools: {failed}"
    assert refused >= 30  # the edits do damage: the oracle refuses many of them


SUBSET_CASES = ["ad_letters", "gt_allele_3", "gt_leading_slash", "too_many_values",
                "one_sample_column", "format_empty_key", "gt_not_first"]  # fmt: skip


@pytest.mark.parametrize("name", SUBSET_CASES)
def test_a_subset_goes_on_past_a_record_htslib_refuses(name, tmp_path, reference):
    """What check_vcf then harmonise_vcf run for one sample of a multi-sample file: the record
    `bcftools view -s` stops at goes to the rejects with the check's reason; the rest go on."""
    record = CASES[name]
    assert any(f.startswith("view -s") for f in htslib_refuses(record, tmp_path, reference))

    def good(pos: int) -> str:
        base = SEQ[pos - 1]
        other = next(b for b in "ACGT" if b != base)
        return f"chr1\t{pos}\t.\t{base}\t{other}\t50\tPASS\tDP=9\tGT:AD:DP\t0/1:5,4:9\t0/0:9,0:9"

    vcf = bgzipped(tmp_path / "in.vcf.gz", [*HEADER, good(50), record, good(150)])
    listed, out = tmp_path / "malformed.tsv", tmp_path / "out"
    genopass = [str(BIN / "genopass")]
    checked = subprocess.run(
        [*genopass, "validate", "--level", "vcf", str(vcf), "--malformed", str(listed)],
        capture_output=True, text=True, env=ENV,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout
    done = subprocess.run(
        [*genopass, "harmonise", str(vcf), "--reference", str(reference), "--sample", "S1",
         "--out", str(out / "s.vcf.gz"), "--rejects", str(out / "r.vcf.gz"),
         "--malformed", str(listed)],
        capture_output=True, text=True, env=ENV,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    query = ["bcftools", "query", "-f", "%INFO/GENOPASS_SOURCE %INFO/GENOPASS_REJECT\n"]
    rejects = subprocess.run([*query, str(out / "r.vcf.gz")], capture_output=True, text=True)
    defect = listed.read_text().split("\t")[1].strip()
    assert rejects.stdout.splitlines() == [f"2 malformed:{defect}"]
    kept = subprocess.run(
        ["bcftools", "query", "-f", "%POS [%GT]\n", str(out / "s.vcf.gz")],
        capture_output=True, text=True,
    )  # fmt: skip
    assert kept.stdout.splitlines() == ["50 0/1", "150 0/1"]
