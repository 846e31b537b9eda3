"""samples.tsv / units.tsv loading: good input loads, bad input fails with a message naming the
file, the row (header = row 1), the column and the value. The files a sheet names are checked by
the plan (check_input_files), tested here with the sheets; the config is in test_config.py."""

from __future__ import annotations

import gzip
from pathlib import Path

import pysam
import pytest

from genopass.errors import InputError
from genopass.inputs.plan import check_input_files, check_vcf_builds
from genopass.inputs.sheets import load_sheets, read_samples, read_units, records, vcf_column

SAMPLES_HEADER = "sample\tcentre\tcountry\tsex\tconsent"
GOOD_SAMPLES = [
    "S1\tCNAG\tES\tfemale\tDUO:0000042",
    "S2\tCNAG\tES\tmale\t",
    "S3\tKI\tSE\tunknown\tDUO:0000042,DUO:0000006",
]
UNITS_HEADER = "sample\tunit\tvcf\tvcf_sample\tbuild"


def write_vcf(path: Path, samples: list[str]) -> Path:
    """A tiny bgzipped VCF with the given sample columns."""
    columns = "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"])
    lines = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=chr1,length=1000>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "\t".join([columns, *samples]),
        "\t".join(["chr1", "10", ".", "A", "C", ".", "PASS", ".", "GT", *["0/1"] * len(samples)]),
    ]
    plain = path.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    return path


def write_sheet(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory with a multi-sample VCF (A, B) and a single-sample one (S3)."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "data").mkdir()
    write_vcf(tmp_path / "data" / "centre1.vcf.gz", ["A", "B"])
    write_vcf(tmp_path / "data" / "S3.vcf.gz", ["S3"])
    write_sheet(tmp_path / "samples.tsv", SAMPLES_HEADER, GOOD_SAMPLES)
    write_sheet(
        tmp_path / "units.tsv",
        UNITS_HEADER,
        [
            "S1\tu1\tdata/centre1.vcf.gz\tA\tGRCh38",
            "S2\tu1\tdata/centre1.vcf.gz\tB\t",
            "S3\tu1\tdata/S3.vcf.gz\t\t",
        ],
    )
    return tmp_path


def assert_message(excinfo: pytest.ExceptionInfo[InputError], *parts: str) -> None:
    message = str(excinfo.value)
    for part in parts:
        assert part in message, f"{part!r} not in {message!r}"


def units_error(workdir: Path, rows: list[str], header: str = UNITS_HEADER) -> pytest.ExceptionInfo:
    write_sheet(workdir / "bad_units.tsv", header, rows)
    samples = read_samples("samples.tsv")
    with pytest.raises(InputError) as excinfo:
        check_input_files(read_units("bad_units.tsv", samples=samples))
    return excinfo


def samples_error(
    workdir: Path, rows: list[str], header: str = SAMPLES_HEADER
) -> pytest.ExceptionInfo:
    write_sheet(workdir / "bad_samples.tsv", header, rows)
    with pytest.raises(InputError) as excinfo:
        read_samples("bad_samples.tsv")
    return excinfo


# --- good sheets ---------------------------------------------------------------------------------


def test_good_sheets_load(workdir: Path) -> None:
    sheets = load_sheets("samples.tsv", "units.tsv")
    assert list(sheets.samples["sample"]) == ["S1", "S2", "S3"]
    assert list(sheets.samples.index) == [2, 3, 4]  # rows as in the file, header = row 1
    assert sheets.samples.loc[3, "consent"] != sheets.samples.loc[3, "consent"]  # empty -> NaN
    assert list(sheets.units["build"]) == ["GRCh38", "auto", "auto"]  # schema default filled


def test_vcf_column_of_each_unit(workdir: Path) -> None:
    units = load_sheets("samples.tsv", "units.tsv").units
    check_input_files(units)  # both VCFs hold the columns the units name
    assert [(row, unit["vcf"], vcf_column(unit)) for row, unit in records(units)] == [
        (2, "data/centre1.vcf.gz", "A"),
        (3, "data/centre1.vcf.gz", "B"),
        (4, "data/S3.vcf.gz", "S3"),  # no vcf_sample: the sample ID names the column
    ]


def test_blank_lines_are_skipped_but_counted(workdir: Path) -> None:
    excinfo = samples_error(workdir, [GOOD_SAMPLES[0], "", "S9\tKI\tSE\tfemme\t"])
    assert_message(excinfo, "bad_samples.tsv row 4", "column sex", "'femme'")


# --- samples.tsv ---------------------------------------------------------------------------------


def test_duplicated_sample(workdir: Path) -> None:
    excinfo = samples_error(workdir, [*GOOD_SAMPLES, "S2\tKI\tSE\tmale\t"])
    assert_message(excinfo, "bad_samples.tsv", "row 5", "column sample", "'S2'", "row 3")


def test_bad_country(workdir: Path) -> None:
    excinfo = samples_error(workdir, [GOOD_SAMPLES[0], "S2\tCNAG\tSpain\tmale\t"])
    assert_message(excinfo, "bad_samples.tsv", "row 3", "column country", "'Spain'", "ISO 3166-1")


def test_bad_sex(workdir: Path) -> None:
    excinfo = samples_error(workdir, ["S1\tCNAG\tES\tF\t"])
    assert_message(excinfo, "bad_samples.tsv", "row 2", "column sex", "'F'", "female, male")


def test_bad_consent(workdir: Path) -> None:
    excinfo = samples_error(workdir, ["S1\tCNAG\tES\tfemale\tDUO:42"])
    assert_message(excinfo, "bad_samples.tsv", "row 2", "column consent", "'DUO:42'")


def test_bad_sample_id(workdir: Path) -> None:
    excinfo = samples_error(workdir, ["S 1\tCNAG\tES\tfemale\t"])
    assert_message(excinfo, "bad_samples.tsv", "row 2", "column sample", "'S 1'")


def test_empty_required_cell(workdir: Path) -> None:
    excinfo = samples_error(workdir, ["S1\t\tES\tfemale\t"])
    assert_message(excinfo, "bad_samples.tsv", "row 2", "column centre", "empty")


def test_misspelt_column(workdir: Path) -> None:
    excinfo = samples_error(
        workdir, ["S1\tCNAG\tES\tfemale\t"], header="sample\tcentre\tcountry\tsex\tconsnet"
    )
    assert_message(excinfo, "bad_samples.tsv", "row 1", "column 5", "'consnet'", "allowed")


def test_missing_column(workdir: Path) -> None:
    excinfo = samples_error(workdir, ["S1\tCNAG\tES"], header="sample\tcentre\tcountry")
    assert_message(excinfo, "bad_samples.tsv", "row 1", "'sex'", "missing")


def test_missing_sheet(workdir: Path) -> None:
    with pytest.raises(InputError) as excinfo:
        read_samples("nope.tsv")
    assert_message(excinfo, "nope.tsv", "does not exist")


# --- units.tsv -----------------------------------------------------------------------------------


def test_unknown_sample_in_units(workdir: Path) -> None:
    excinfo = units_error(
        workdir, ["S1\tu1\tdata/centre1.vcf.gz\tA\t", "S7\tu1\tdata/S3.vcf.gz\t\t"]
    )
    assert_message(excinfo, "bad_units.tsv", "row 3", "column sample", "'S7'", "samples.tsv")


def test_sample_without_unit(workdir: Path) -> None:
    excinfo = units_error(
        workdir, ["S1\tu1\tdata/centre1.vcf.gz\tA\t", "S2\tu1\tdata/centre1.vcf.gz\tB\t"]
    )
    assert_message(excinfo, "samples.tsv", "row 4", "column sample", "'S3'", "no unit")


def test_duplicated_unit(workdir: Path) -> None:
    excinfo = units_error(
        workdir,
        [
            "S1\tu1\tdata/centre1.vcf.gz\tA\t",
            "S2\tu1\tdata/centre1.vcf.gz\tB\t",
            "S3\tu1\tdata/S3.vcf.gz\t\t",
            "S3\tu1\tdata/S3.vcf.gz\t\t",
        ],
    )
    assert_message(excinfo, "bad_units.tsv", "row 5", "columns sample and unit", "'S3/u1'", "row 4")


def test_two_input_kinds(workdir: Path) -> None:
    excinfo = units_error(
        workdir,
        ["S1\tu1\tdata/centre1.vcf.gz\tA\tx.bam"],
        header="sample\tunit\tvcf\tvcf_sample\tbam",
    )
    assert_message(excinfo, "bad_units.tsv", "row 2", "bam", "vcf", "'x.bam'", "exactly one")


def test_no_input(workdir: Path) -> None:
    excinfo = units_error(workdir, ["S1\tu1\t\t\t"])
    assert_message(excinfo, "bad_units.tsv", "row 2", "fq1, bam, cram, vcf", "all empty")


def test_fq2_without_fq1(workdir: Path) -> None:
    excinfo = units_error(workdir, ["S1\tu1\tr2.fq.gz"], header="sample\tunit\tfq2")
    assert_message(excinfo, "bad_units.tsv", "row 2", "column fq2", "'r2.fq.gz'", "without fq1")


def test_vcf_sample_without_vcf(workdir: Path) -> None:
    excinfo = units_error(workdir, ["S1\tu1\tx.bam\tA"], header="sample\tunit\tbam\tvcf_sample")
    assert_message(excinfo, "bad_units.tsv", "row 2", "column vcf_sample", "'A'", "without vcf")


def test_bad_build(workdir: Path) -> None:
    excinfo = units_error(workdir, ["S1\tu1\tdata/centre1.vcf.gz\tA\thg19"])
    assert_message(excinfo, "bad_units.tsv", "row 2", "column build", "'hg19'", "GRCh37, GRCh38")


def test_missing_file(workdir: Path) -> None:
    excinfo = units_error(
        workdir,
        [
            "S1\tu1\tdata/centre1.vcf.gz\tA\t",
            "S2\tu1\tdata/centre2.vcf.gz\tB\t",
            "S3\tu1\tdata/S3.vcf.gz\t\t",
        ],
    )
    assert_message(
        excinfo, "bad_units.tsv", "row 3", "column vcf", "'data/centre2.vcf.gz'", "does not exist"
    )


def test_one_vcf_per_sample(workdir: Path) -> None:
    excinfo = units_error(
        workdir,
        [
            "S1\tu1\tdata/centre1.vcf.gz\tA\t",
            "S2\tu1\tdata/centre1.vcf.gz\tB\t",
            "S3\tu1\tdata/S3.vcf.gz\t\t",
            "S3\tu2\tdata/S3.vcf.gz\t\t",
        ],
    )
    assert_message(excinfo, "bad_units.tsv", "row 5", "column sample", "'S3'", "row 4")


def test_one_vcf_column_per_sample(workdir: Path) -> None:
    excinfo = units_error(
        workdir,
        [
            "S1\tu1\tdata/centre1.vcf.gz\tA\t",
            "S2\tu1\tdata/centre1.vcf.gz\tA\t",
            "S3\tu1\tdata/S3.vcf.gz\t\t",
        ],
    )
    assert_message(excinfo, "bad_units.tsv", "row 3", "column vcf_sample", "'A'", "'S1'", "row 2")


def test_vcf_sample_absent_from_header(workdir: Path) -> None:
    excinfo = units_error(
        workdir,
        [
            "S1\tu1\tdata/centre1.vcf.gz\tA\t",
            "S2\tu1\tdata/centre1.vcf.gz\tC\t",
            "S3\tu1\tdata/S3.vcf.gz\t\t",
        ],
    )
    assert_message(
        excinfo,
        "bad_units.tsv",
        "row 3",
        "column vcf_sample",
        "'C'",
        "data/centre1.vcf.gz",
        "'A', 'B'",
    )


def test_sample_id_absent_from_header(workdir: Path) -> None:
    # no vcf_sample: the sample ID must be the VCF's column name
    excinfo = units_error(
        workdir,
        [
            "S1\tu1\tdata/centre1.vcf.gz\tA\t",
            "S2\tu1\tdata/centre1.vcf.gz\tB\t",
            "S3\tu1\tdata/centre1.vcf.gz\t\t",
        ],
    )
    assert_message(
        excinfo,
        "bad_units.tsv",
        "row 4",
        "column sample",
        "'S3'",
        "data/centre1.vcf.gz",
        "vcf_sample",
    )


def test_truncated_bgzip(workdir: Path) -> None:
    whole = (workdir / "data" / "S3.vcf.gz").read_bytes()
    (workdir / "data" / "cut.vcf.gz").write_bytes(whole[:-28])  # without the BGZF EOF block
    excinfo = units_error(
        workdir,
        [
            "S1\tu1\tdata/centre1.vcf.gz\tA\t",
            "S2\tu1\tdata/centre1.vcf.gz\tB\t",
            "S3\tu1\tdata/cut.vcf.gz\t\t",
        ],
    )
    assert_message(excinfo, "bad_units.tsv", "row 4", "column vcf", "data/cut.vcf.gz", "truncated")


def test_plain_gzip(workdir: Path) -> None:
    with gzip.open(workdir / "data" / "plain.vcf.gz", "wb") as handle:
        handle.write(b"##fileformat=VCFv4.2\n")
    excinfo = units_error(
        workdir,
        [
            "S1\tu1\tdata/centre1.vcf.gz\tA\t",
            "S2\tu1\tdata/centre1.vcf.gz\tB\t",
            "S3\tu1\tdata/plain.vcf.gz\t\t",
        ],
    )
    assert_message(excinfo, "bad_units.tsv", "row 4", "column vcf", "data/plain.vcf.gz", "bgzip")


def test_the_sheet_loader_opens_no_input_file(workdir: Path) -> None:
    write_sheet(workdir / "later.tsv", UNITS_HEADER, ["S1\tu1\tnot/yet/there.vcf.gz\t\t"])
    units = read_units("later.tsv")
    assert list(units["vcf"]) == ["not/yet/there.vcf.gz"]
    with pytest.raises(InputError, match="later.tsv row 2, column vcf: file 'not/yet/there"):
        check_input_files(units)


# --- builds that need a liftover -----------------------------------------------------------------


def test_grch37_vcf_without_liftover(workdir: Path) -> None:
    units = read_units("units.tsv")
    units.loc[3, "build"] = "GRCh37"
    with pytest.raises(InputError) as excinfo:
        check_vcf_builds(units, target_name="GRCh38", liftover={})
    assert str(excinfo.value) == (
        "units.tsv row 3, column build: VCF 'data/centre1.vcf.gz' is declared GRCh37, but the "
        "config has no liftover from GRCh37 to the target GRCh38: add 'liftover: {GRCh37: "
        "{fasta: ..., chain: ...}}' to the config (the GRCh37 FASTA and the chain to the "
        "target), or correct the build if the VCF is on GRCh38"
    )


def test_grch37_vcf_with_liftover(workdir: Path) -> None:
    units = read_units("units.tsv")
    units.loc[3, "build"] = "GRCh37"
    liftover = {"GRCh37": {"fasta": "b37.fa", "chain": "b37ToHg38.over.chain.gz"}}
    check_vcf_builds(units, target_name="GRCh38", liftover=liftover)


def test_target_and_auto_builds_need_no_liftover(workdir: Path) -> None:
    # rows 2 and 3: GRCh38 and auto (an empty cell)
    check_vcf_builds(read_units("units.tsv"), target_name="GRCh38", liftover={})
