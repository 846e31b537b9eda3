"""CLI wiring, in process with click's CliRunner (as sgkit-dev/bio2zarr's tests/test_cli.py):
every subcommand's --help; exit 2 and click's message for a bad path or an unknown option; exit 1
and one ``genopass: error:`` line (no traceback) for bad data. The subprocess tests beside this
file (test_cli.py) check the same contract through the installed entry point.

Expected messages are written out here; bad data are made here by hand (a VCF cut before its
BGZF end-of-file block, a duplicated sheet row, a file name with a tab, ...).
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from helpers import write_fasta, write_vcf

from genopass.cli import main

# Each subcommand, its arguments as its usage line spells them, and options it must offer.
COMMANDS = {
    "harmonise": ("VCF", ["--reference", "--out", "--rejects", "--accounting", "--build"]),
    "parquet": ("VCFS...", ["--out", "--reference", "--info-keep", "--threads"]),
    "export-vcf": ("VCF", ["--out", "--sample", "--info-keep", "--format-keep"]),
    "pseudonyms": ("", ["--samples", "--key-file", "--out"]),
    "manifest": ("FOLDER", ["--out"]),
    "demo-data": ("OUTDIR", ["--seed"]),
    "check-fastq": ("FQ1 [FQ2]", ["--out", "--threads"]),
    "check-alignment": ("ALIGNMENT", ["--reference", "--dict", "--build", "--out"]),
}
# a VCF cut before its BGZF end-of-file block: the message names the file and says what to do
TRUNCATED = ("truncated", "BGZF end-of-file block", "ask the centre to send it again")


def invoke(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(arg) for arg in args], prog_name="genopass")


def usage_error(result: Result, command: str, message: str) -> None:
    """Exit 2 with click's usage line, its pointer to --help and ``message``; nothing on stdout."""
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert lines[0].startswith(f"Usage: genopass {command} [OPTIONS]")
    assert lines[1] == f"Try 'genopass {command} --help' for help."
    assert lines[3] == f"Error: {message}", result.stderr


def data_error(result: Result, start: str, *more: str) -> None:
    """Exit 1, one line on stderr that starts with ``start`` and holds ``more``, nothing on
    stdout, and no exception but the exit."""
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit)  # an uncaught error would be kept here
    assert result.stdout == ""
    (line,) = result.stderr.splitlines()
    assert line.startswith(f"genopass: error: {start}"), line
    for text in more:
        assert text in line, line


@pytest.fixture
def data(tmp_path: Path) -> Path:
    """A reference, a VCF on it, the same VCF cut short, a sheet and a private key."""
    write_fasta(tmp_path / "ref.fa", {"chr1": "ACGT" * 50})
    vcf = write_vcf(
        tmp_path / "in.vcf",
        """##fileformat=VCFv4.2
        ##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
        ##contig=<ID=chr1,length=200>
        #CHROM POS ID REF ALT QUAL FILTER INFO FORMAT S1
        chr1 2 . C T . . . GT 0/1
        chr1 6 . C G . . . GT 1/1""",
    )
    (tmp_path / "cut.vcf.gz").write_bytes(vcf.read_bytes()[:-28])  # no BGZF EOF block
    (tmp_path / "samples.tsv").write_text(
        "sample\tcentre\tcountry\tsex\nA-1\tCTR-A\tDE\tfemale\nB-1\tCTR-B\tFR\tmale\n"
    )
    (tmp_path / "key").write_text("a-test-key-that-is-long-enough\n")
    (tmp_path / "key").chmod(0o600)
    return tmp_path


@pytest.mark.parametrize("command", list(COMMANDS))
def test_help(command: str) -> None:
    arguments, options = COMMANDS[command]
    result = invoke(command, "--help")
    assert result.exit_code == 0, result.output
    assert (
        result.stdout.splitlines()[0] == f"Usage: genopass {command} [OPTIONS] {arguments}".strip()
    )
    offered = set(re.findall(r"^\s+(?:-\w, )?(--[\w-]+)", result.stdout, flags=re.MULTILINE))
    assert {*options, "--help"} <= offered


def test_every_subcommand_is_listed_in_the_group_help() -> None:
    result = invoke("--help")
    assert result.exit_code == 0
    listed = {line.split()[0] for line in result.stdout.split("Commands:")[1].splitlines()[1:]}
    assert set(COMMANDS) <= listed


# command -> (arguments with a missing input, click's message); every other argument is valid
BAD_PATHS: dict[str, Callable[[Path], tuple[list[str | Path], str]]] = {
    "harmonise": lambda d: (
        [d / "no.vcf.gz", "--reference", d / "ref.fa", "--out", d / "o.vcf.gz"],
        f"Invalid value for 'VCF': File '{d / 'no.vcf.gz'}' does not exist.",
    ),
    "parquet": lambda d: (
        [d / "in.vcf.gz", d / "no.vcf.gz", "--out", d / "pq"],
        f"Invalid value for 'VCFS...': File '{d / 'no.vcf.gz'}' does not exist.",
    ),
    "export-vcf": lambda d: (
        [d / "no.vcf.gz", "--out", d / "e.vcf.gz"],
        f"Invalid value for 'VCF': File '{d / 'no.vcf.gz'}' does not exist.",
    ),
    "pseudonyms": lambda d: (
        ["--samples", d / "no.tsv", "--out", d / "p.tsv"],
        f"Invalid value for '--samples': File '{d / 'no.tsv'}' does not exist.",
    ),
    "manifest": lambda d: (
        [d / "no-folder"],
        f"Invalid value for 'FOLDER': Directory '{d / 'no-folder'}' does not exist.",
    ),
    "demo-data": lambda d: (
        [d / "ref.fa"],
        f"Invalid value for 'OUTDIR': Directory '{d / 'ref.fa'}' is a file.",
    ),
    "check-fastq": lambda d: (
        [d / "no_1.fq.gz", "--out", d / "c.tsv"],
        f"Invalid value for 'FQ1 [FQ2]': File '{d / 'no_1.fq.gz'}' does not exist.",
    ),
    "check-alignment": lambda d: (
        [d / "no.bam", "--reference", d / "ref.fa", "--out", d / "a.tsv"],
        f"Invalid value for 'ALIGNMENT': File '{d / 'no.bam'}' does not exist.",
    ),
}


@pytest.mark.parametrize("command", list(BAD_PATHS))
def test_a_bad_path_is_a_usage_error_naming_it(command: str, data: Path) -> None:
    args, message = BAD_PATHS[command](data)
    usage_error(invoke(command, *args), command, message)
    assert sorted(p.name for p in data.iterdir()) == sorted(
        ["ref.fa", "ref.fa.fai", "in.vcf.gz", "in.vcf.gz.tbi", "cut.vcf.gz", "samples.tsv", "key"]
    )  # nothing written


@pytest.mark.parametrize("command", list(COMMANDS))
def test_an_unknown_option_is_a_usage_error(command: str) -> None:
    usage_error(invoke(command, "--zzz"), command, "No such option '--zzz'.")


def test_three_fastq_files_are_a_usage_error(data: Path) -> None:
    fastq = data / "r.fq"
    fastq.write_text("@r\nACGT\n+\nFFFF\n")
    result = invoke("check-fastq", fastq, fastq, fastq, "--out", data / "c.tsv")
    usage_error(result, "check-fastq", "give one FASTQ or the two files of a pair")


def test_liftover_options_go_together(data: Path) -> None:
    result = invoke(
        "harmonise", data / "in.vcf.gz", "--reference", data / "ref.fa", "--out", data / "o.vcf.gz",
        "--liftover-fasta", data / "ref.fa",
    )  # fmt: skip
    usage_error(result, "harmonise", "--liftover-fasta and --liftover-chain go together: give both")


def test_an_unreadable_key_is_exit_2_in_one_line(data: Path) -> None:
    (data / "key").chmod(0o644)
    result = invoke("pseudonyms", "--samples", data / "samples.tsv", "--key-file", data / "key",
                    "--out", data / "p.tsv")  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.startswith(f"genopass: error: pseudonym key file {data / 'key'}")
    assert len(result.stderr.splitlines()) == 1
    assert not (data / "p.tsv").exists()


def cut_fastq(d: Path) -> Path:
    with gzip.open(d / "r.fq.gz", "wt") as handle:
        handle.write("@r\nACGT\n+\nFFFF\n" * 50)
    data = (d / "r.fq.gz").read_bytes()
    (d / "r.fq.gz").write_bytes(data[: len(data) // 2])
    return d / "r.fq.gz"


def duplicated_sample(d: Path) -> Path:
    sheet = d / "samples.tsv"
    sheet.write_text(sheet.read_text() + "A-1\tCTR-A\tDE\tfemale\n")
    return sheet


def tab_in_a_name(d: Path) -> Path:
    (d / "export").mkdir()
    (d / "export" / "a\tb.txt").write_text("x")
    return d / "export"


def not_an_alignment(d: Path) -> Path:
    (d / "x.bam").write_bytes(b"not a BAM file")
    return d / "x.bam"


# command -> (arguments naming bad data, (the error's start, texts it holds), the output that must
# not exist)
BAD_DATA: dict[str, Callable[[Path], tuple[list[str | Path], tuple[str, ...], Path]]] = {
    "harmonise": lambda d: (
        [d / "cut.vcf.gz", "--reference", d / "ref.fa", "--out", d / "o.vcf.gz"],
        (f"{d / 'cut.vcf.gz'}: {TRUNCATED[0]}", *TRUNCATED[1:]),
        d / "o.vcf.gz",
    ),
    "parquet": lambda d: (
        [d / "in.vcf.gz", d / "cut.vcf.gz", "--out", d / "pq"],
        (f"{d / 'cut.vcf.gz'}: {TRUNCATED[0]}", *TRUNCATED[1:]),
        d / "pq",
    ),
    "export-vcf": lambda d: (
        [d / "cut.vcf.gz", "--out", d / "e.vcf.gz"],
        (f"{d / 'cut.vcf.gz'}: {TRUNCATED[0]}", *TRUNCATED[1:]),
        d / "e.vcf.gz",
    ),
    "pseudonyms": lambda d: (
        ["--samples", duplicated_sample(d), "--key-file", d / "key", "--out", d / "p.tsv"],
        (f"{d / 'samples.tsv'} row 4, column sample: 'A-1' is already in row 2", "one row"),
        d / "p.tsv",
    ),
    "manifest": lambda d: (
        [tab_in_a_name(d)],
        (f"{d / 'export' / 'a'}\tb.txt: file name contains a tab", "rename it"),
        d / "export" / "MANIFEST.tsv",
    ),
    "check-fastq": lambda d: (
        [cut_fastq(d), "--out", d / "c.tsv"],
        (f"{d / 'r.fq.gz'}: truncated", "gzip stream", "ask the centre to send it again"),
        d / "c.tsv",
    ),
    "check-alignment": lambda d: (
        [not_an_alignment(d), "--reference", d / "ref.fa", "--out", d / "a.tsv"],
        (f"{d / 'x.bam'}: neither BAM nor CRAM (the file starts with b'not ')",),
        d / "a.tsv",
    ),
}


@pytest.mark.parametrize("command", list(BAD_DATA))
def test_bad_data_is_exit_1_and_one_line(command: str, data: Path) -> None:
    args, message, output = BAD_DATA[command](data)
    data_error(invoke(command, *args), *message)
    assert not output.exists()


# --- the commands hand their arguments to the library: results checked by hand -------------------


def test_harmonise_writes_the_records_it_counts(data: Path) -> None:
    out = data / "o.vcf.gz"
    result = invoke("harmonise", data / "in.vcf.gz", "--reference", data / "ref.fa", "--out", out)
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        "2 input records -> 2 output records (0 added by splitting); rejected: none\n"
    )
    with gzip.open(out, "rt") as handle:
        records = [line.split("\t")[:5] for line in handle if not line.startswith("#")]
    assert records == [["chr1", "2", ".", "C", "T"], ["chr1", "6", ".", "C", "G"]]


def test_pseudonyms_are_the_keyed_hmac_of_centre_and_sample(data: Path) -> None:
    out = data / "private" / "p.tsv"
    result = invoke("pseudonyms", "--samples", data / "samples.tsv", "--key-file", data / "key",
                    "--out", out)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote 2 pseudonyms to {out}\n"
    key = b"a-test-key-that-is-long-enough"
    header, *rows = (line.split("\t") for line in out.read_text().splitlines())
    found = {row[header.index("sample")]: row[header.index("pseudonym")] for row in rows}
    expected = {}
    for sample, centre in (("A-1", "CTR-A"), ("B-1", "CTR-B")):
        digest = hmac.new(key, f"{centre}\t{sample}".encode(), hashlib.sha256).hexdigest()
        expected[sample] = "gp" + digest[:16]
    assert found == expected


def test_manifest_lists_sizes_and_digests(data: Path) -> None:
    folder = data / "export"
    (folder / "sub").mkdir(parents=True)
    (folder / "sub" / "b.txt").write_bytes(b"genopass\n")
    result = invoke("manifest", folder)
    assert result.exit_code == 0, result.output
    assert result.stdout == f"wrote {folder / 'MANIFEST.tsv'} (1 files)\n"
    content = b"genopass\n"
    assert (folder / "MANIFEST.tsv").read_text().splitlines() == [
        "path\tsize\tsha256\tmd5",
        f"sub/b.txt\t9\t{hashlib.sha256(content).hexdigest()}\t{hashlib.md5(content).hexdigest()}",
    ]


def test_check_fastq_counts_a_pair(data: Path) -> None:
    pair = []
    for mate in (1, 2):
        path = data / f"r_{mate}.fq"
        path.write_text("".join(f"@r{i}/{mate}\nACGT\n+\nFFFF\n" for i in range(3)))
        pair.append(path)
    result = invoke("check-fastq", *pair, "--out", data / "c.tsv")
    assert result.exit_code == 0, result.output
    assert result.stdout == f"{pair[0]}: 3 reads; {pair[1]}: 3 reads\n"


def test_demo_data_hands_the_folder_and_seed_to_the_generator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = []

    def generate_demo(outdir: Path, seed: int) -> list[Path]:
        calls.append((outdir, seed))
        return [outdir / "a", outdir / "b"]

    monkeypatch.setattr("genopass.demo.make.generate_demo", generate_demo)
    result = invoke("demo-data", tmp_path / "demo", "--seed", "7")
    assert result.exit_code == 0, result.output
    assert calls == [(tmp_path / "demo", 7)]
    assert result.stdout == f"wrote demo data to {tmp_path / 'demo'} (2 files)\n"
    usage_error(
        invoke("demo-data", tmp_path / "demo", "--seed", "x"),
        "demo-data",
        "Invalid value for '--seed': 'x' is not a valid integer.",
    )
