"""The plan without Snakemake: small hand-made sheets, and the answers the rules get, by hand.

Pseudonyms come from a stand-in ``(centre, sample) -> "P-centre-sample"`` so that every expected
value can be written out; one test uses the real HMAC pseudonym, computed here with hmac.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from functools import partial
from pathlib import Path

import pysam
import pytest

from genopass.errors import InputError, UsageError
from genopass.export.pseudonym import pseudonym
from genopass.inputs.plan import OTHER_REGION, FastqUnit, Region, load_plan

SAMPLES = "sample\tcentre\tcountry\tsex\n"
UNITS = "sample\tunit\tfq1\tfq2\tbam\tvcf\tvcf_sample\tbuild\n"
# chr1 and chr2 are primary chromosomes (called on); chrUn_x is not
TARGET = ">chr1\nACGTACGTAC\n>chr2\nACGTAC\n>chrUn_x\nACGT\n"
GRCH37 = ">chr1\nACGTACGTACGT\n>chr2\nACGTACGT\n"


def by_name(centre: str, sample: str) -> str:
    return f"P-{centre}-{sample}"


def write_vcf(path: Path, samples: list[str]) -> str:
    columns = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT"
    text = "".join(
        [
            "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=10>\n",
            '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n',
            "\t".join([columns, *samples]) + "\n",
            "\t".join(
                ["chr1", "2", ".", "C", "G", ".", "PASS", ".", "GT", *["0/1"] * len(samples)]
            ),
            "\n",
        ]
    )
    plain = path.with_suffix("")
    plain.write_text(text)
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    return path.name


def write_bam(path: Path, lengths: dict[str, int]) -> str:
    header = {
        "HD": {"VN": "1.6", "SO": "coordinate"},
        "SQ": [{"SN": n, "LN": ln} for n, ln in lengths.items()],
    }
    with pysam.AlignmentFile(str(path), "wb", header=header):
        pass
    return path.name


def fastq_gz(path: Path) -> str:
    with pysam.BGZFile(str(path), "wb") as handle:
        handle.write(b"@r1\nACGT\n+\nFFFF\n")
    return path.name


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "target.fa").write_text(TARGET)
    (tmp_path / "b37.fa").write_text(GRCH37)
    return tmp_path


def config(workdir: Path, samples: list[str], units: list[str], **extra: object) -> dict:
    (workdir / "samples.tsv").write_text(SAMPLES + "".join(f"{row}\n" for row in samples))
    (workdir / "units.tsv").write_text(UNITS + "".join(f"{row}\n" for row in units))
    return {
        "samples": "samples.tsv",
        "units": "units.tsv",
        "reference": {"name": "GRCh38", "fasta": "target.fa"},
        **extra,
    }


LIFTOVER = {"GRCh37": {"fasta": "b37.fa", "chain": "b37ToHg38.over.chain.gz"}}


# --- VCF units ----------------------------------------------------------------------------------


@pytest.fixture
def vcf_config(workdir: Path) -> dict:
    write_vcf(workdir / "cohort.vcf.gz", ["LAB_1", "LAB_2"])
    write_vcf(workdir / "S3.vcf.gz", ["S3"])
    return config(
        workdir,
        ["S1\tKI\tSE\tfemale", "S2\tKI\tSE\tmale", "S3\tCNAG\tES\tmale"],
        [
            "S1\td1\t\t\t\tcohort.vcf.gz\tLAB_1\tGRCh38",
            "S2\td1\t\t\t\tcohort.vcf.gz\tLAB_2\t",
            "S3\td2\t\t\t\tS3.vcf.gz\t\t",
        ],
        pseudonymisation={"key_file": "my key.txt"},
        export={"dataset": "batch1", "info_keep": ["DP"]},
    )


def test_vcf_samples(vcf_config: dict) -> None:
    plan = load_plan(vcf_config, by_name)
    assert plan.sample_ids == ["S1", "S2", "S3"]
    s1, s2, s3 = (plan.samples[name] for name in plan.sample_ids)
    assert (s1.kind, s1.vcf, s1.column, s1.centre) == ("vcf", "cohort.vcf.gz", "LAB_1", "KI")
    assert s1.rename == "LAB_1=P-KI-S1"
    assert s2.rename == "LAB_2=P-KI-S2"
    # no vcf_sample: the sample ID names the column
    assert (s3.vcf, s3.rename, s3.units) == ("S3.vcf.gz", "S3=P-CNAG-S3", ("d2",))
    # the declared build, empty = auto
    assert [plan.build(name) for name in plan.sample_ids] == ["GRCh38", "auto", "auto"]
    assert plan.reads_samples == []
    assert plan.contigs == []  # no reads: no reference is opened
    assert plan.unit_ids == ["d1", "d2"]


def test_vcf_dataset_answers(vcf_config: dict) -> None:
    plan = load_plan(vcf_config, by_name)
    assert plan.pseudonyms == ["P-CNAG-S3", "P-KI-S1", "P-KI-S2"]
    digest = hashlib.sha256(b"P-CNAG-S3\nP-KI-S1\nP-KI-S2").hexdigest()
    assert plan.pseudonyms_digest == digest
    assert plan.of_pseudonym("P-KI-S2").sample == "S2"
    assert plan.export == Path("results/export/batch1")
    assert (plan.logs, plan.benchmarks) == (Path("results/logs"), Path("results/benchmarks"))
    assert plan.key_option == "--key-file 'my key.txt'"
    assert plan.info_keep_options == "--info-keep DP"
    assert plan.format_keep_options == ""
    assert plan.harmonise_options == ""  # no liftover, non-primary contigs rejected
    assert plan.liftover_files == {}
    assert plan.reference_dict == "target.dict"
    assert plan.fasta_of_name == {"target.fa": "target.fa"}


def test_key_from_the_environment_gives_no_option(vcf_config: dict) -> None:
    vcf_config["pseudonymisation"] = {"key_file": None}
    assert load_plan(vcf_config, by_name).key_option == ""


def test_real_pseudonyms(vcf_config: dict) -> None:
    key = b"a-test-key-that-is-long-enough"
    plan = load_plan(vcf_config, partial(pseudonym, key))
    expected = "gp" + hmac.new(key, b"KI\tS1", hashlib.sha256).hexdigest()[:16]
    assert plan.samples["S1"].pseudonym == expected


def test_pseudonym_collision(vcf_config: dict) -> None:
    with pytest.raises(UsageError, match="pseudonym collision between samples S1, S2, S3"):
        load_plan(vcf_config, lambda centre, sample: "same")


def test_missing_vcf_sample_found_only_when_inputs_are_checked(vcf_config: dict) -> None:
    Path("S3.vcf.gz").unlink()
    plan = load_plan(vcf_config, by_name, check_inputs=False)  # as a job re-parsing the workflow
    assert plan.samples["S3"].vcf == "S3.vcf.gz"
    with pytest.raises(InputError, match="units.tsv row 4, column vcf: file 'S3.vcf.gz' does not"):
        load_plan(vcf_config, by_name)


# --- GRCh37 VCF and the liftover -----------------------------------------------------------------


def grch37_vcf_config(workdir: Path, **extra: object) -> dict:
    write_vcf(workdir / "E1.vcf.gz", ["E1"])
    return config(workdir, ["E1\tE\tDE\tfemale"], ["E1\td1\t\t\t\tE1.vcf.gz\t\tGRCh37"], **extra)


def test_grch37_vcf_without_liftover(workdir: Path) -> None:
    with pytest.raises(InputError) as excinfo:
        load_plan(grch37_vcf_config(workdir), by_name)
    assert str(excinfo.value).startswith(
        "units.tsv row 2, column build: VCF 'E1.vcf.gz' is declared GRCh37, but the config has "
        "no liftover from GRCh37 to the target GRCh38: add 'liftover: {GRCh37: "
    )


def test_grch37_vcf_with_liftover(workdir: Path) -> None:
    plan = load_plan(grch37_vcf_config(workdir, liftover=LIFTOVER), by_name)
    assert plan.build("E1") == "GRCh37"
    assert plan.liftover_files == {"fasta37": "b37.fa", "chain": "b37ToHg38.over.chain.gz"}
    assert plan.harmonise_options == (
        "--liftover-fasta b37.fa --liftover-chain b37ToHg38.over.chain.gz"
    )


def test_keep_non_primary_contigs(workdir: Path) -> None:
    cfg = grch37_vcf_config(workdir, liftover=LIFTOVER, harmonise={"non_primary_contigs": "keep"})
    assert load_plan(cfg, by_name).harmonise_options.endswith(" --keep-non-primary")


# --- FASTQ and BAM units ------------------------------------------------------------------------


@pytest.fixture
def reads_config(workdir: Path) -> dict:
    for name in ("a_1.fq.gz", "a_2.fq.gz", "b_1.fq.gz", "se.fq.gz"):
        fastq_gz(workdir / name)
    write_bam(workdir / "x.bam", {"chr1": 10, "chr2": 6})
    return config(
        workdir,
        ["F1\tC\tES\tfemale", "F2\tC\tES\tmale", "B1\tC\tES\tmale"],
        [
            "F1\tlane1\ta_1.fq.gz\ta_2.fq.gz\t\t\t\t",
            "F1\tlane2\tb_1.fq.gz\t\t\t\t\t",
            "F2\tu1\tse.fq.gz\t\t\t\t\t",
            "B1\tu1\t\t\tx.bam\t\t\t",
        ],
        reads={"aligner": "minimap2"},
    )


def test_fastq_units(reads_config: dict) -> None:
    plan = load_plan(reads_config, by_name)
    f1 = plan.samples["F1"]
    assert f1.kind == "fastq"
    assert f1.fastq == (
        FastqUnit(unit="lane1", fq1="a_1.fq.gz", fq2="a_2.fq.gz"),
        FastqUnit(unit="lane2", fq1="b_1.fq.gz", fq2=None),
    )
    assert f1.fastq_unit("lane1").files == ["a_1.fq.gz", "a_2.fq.gz"]
    assert (f1.fastq_unit("lane1").paired, f1.fastq_unit("lane2").paired) == (True, False)
    assert plan.samples["F2"].fastq_unit("u1").files == ["se.fq.gz"]
    # calls from reads are named by the sample ID, and are on the target
    assert f1.rename == "F1=P-C-F1"
    assert plan.build("F1") == "GRCh38"
    assert plan.sample_reference("F1") == "target.fa"
    assert plan.call_contigs("F1") == ["chr1", "chr2"]  # chrUn_x is not a primary chromosome
    assert plan.aligner == "minimap2"


def test_bam_unit(reads_config: dict) -> None:
    plan = load_plan(reads_config, by_name)
    b1 = plan.samples["B1"]
    assert (b1.kind, b1.alignment, b1.index_extension, b1.fastq) == ("bam", "x.bam", "bai", ())
    # build auto, @SQ lengths of no GRCh37 chromosome: called on the target
    assert plan.build("B1") == "GRCh38"
    assert plan.reads_samples == ["F1", "F2", "B1"]
    assert plan.contigs == ["chr1", "chr2"]
    assert plan.unit_ids == ["lane1", "lane2", "u1"]
    assert plan.fasta_index("target.fa") == {"fasta": "target.fa", "fai": "target.fa.fai"}


def test_reading_a_bam_header_leaves_the_environment_alone(
    reads_config: dict, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REF_PATH", raising=False)
    load_plan(reads_config, by_name).build("B1")
    assert "REF_PATH" not in os.environ


def test_grch37_bam_is_called_on_grch37(reads_config: dict, workdir: Path) -> None:
    units = (workdir / "units.tsv").read_text().replace("x.bam\t\t\t", "x.bam\t\t\tGRCh37")
    (workdir / "units.tsv").write_text(units)
    plan = load_plan({**reads_config, "liftover": LIFTOVER}, by_name)
    assert plan.build("B1") == "GRCh37"
    assert plan.sample_reference("B1") == "b37.fa"
    assert plan.fasta_index("b37.fa") == {"fasta": "b37.fa"}  # its .fai: built where it is read
    assert plan.call_contigs("B1") == ["chr1", "chr2"]
    assert plan.fasta_of_name == {"target.fa": "target.fa", "b37.fa": "b37.fa"}
    with pytest.raises(InputError) as excinfo:
        load_plan(reads_config, by_name)
    message = str(excinfo.value)
    assert message.startswith("units.tsv row 5, column build: BAM 'x.bam' is declared GRCh37;")
    assert "add 'liftover: {GRCh37: {fasta: ..., chain: ...}}' to the config" in message


# --- scatter by region --------------------------------------------------------------------------


def test_no_scatter_by_default(vcf_config: dict) -> None:
    plan = load_plan(vcf_config, by_name)
    assert plan.region_size is None and plan.regions == [] and plan.region_ids == []
    assert plan.scattered_samples == [] and plan.unsplit_samples == ["S1", "S2", "S3"]


def test_scatter_regions_from_the_target_fai(workdir: Path) -> None:
    """The target: chr1 of 10 bases, chr2 of 6, chrUn_x of 4 (not primary): windows of 4."""
    write_vcf(workdir / "S1.vcf.gz", ["S1"])
    write_vcf(workdir / "S2.vcf.gz", ["S2"])
    write_vcf(workdir / "S3.vcf.gz", ["S3"])
    cfg = config(
        workdir,
        ["S1	KI	SE	female", "S2	KI	SE	male", "S3	KI	SE	male"],
        [
            "S1	d1				S1.vcf.gz		GRCh38",
            "S2	d1				S2.vcf.gz		",
            "S3	d1				S3.vcf.gz		GRCh37",
        ],
        liftover=LIFTOVER,
        scatter={"region_size": 1000},
    )
    plan = load_plan(cfg, by_name, check_inputs=False)
    assert plan.regions == [Region("chr1.1", "chr1", 1, None), Region("chr2.1", "chr2", 1, None),
                            Region(OTHER_REGION, "", 0, None)]  # fmt: skip
    # on the target: region by region; auto with a liftover to detect, and GRCh37: one job
    assert plan.scattered_samples == ["S1"] and plan.unsplit_samples == ["S2", "S3"]
    assert plan.region_harmonise_options == ""
    from genopass.inputs.plan import scatter_regions

    assert [r.name for r in scatter_regions({"chr1": 10, "chr2": 6, "chrUn_x": 4}, 4)] == [
        "chr1.1", "chr1.2", "chr1.3", "chr2.1", "chr2.2", OTHER_REGION,
    ]  # fmt: skip


def test_auto_build_without_liftover_is_scattered(vcf_config: dict) -> None:
    plan = load_plan({**vcf_config, "scatter": {"region_size": 1000}}, by_name)
    assert plan.scattered_samples == ["S1", "S2", "S3"]
    assert plan.region_ids == ["chr1.1", "chr2.1", OTHER_REGION]


def test_too_many_regions_name_the_key(workdir: Path) -> None:
    (workdir / "target.fa").write_text(">chr1\n" + "A" * 60 + "\n")
    (workdir / "target.fa.fai").write_text("chr1\t200000000\t6\t60\t61\n")
    write_vcf(workdir / "S1.vcf.gz", ["S1"])
    cfg = config(
        workdir, ["S1\tKI\tSE\tfemale"], ["S1\td1\t\t\t\tS1.vcf.gz\t\tGRCh38"],
        scatter={"region_size": 1000},
    )  # fmt: skip
    plan = load_plan(cfg, by_name, check_inputs=False)
    with pytest.raises(InputError, match=r"scatter.region_size.*200001 regions"):
        _ = plan.regions
