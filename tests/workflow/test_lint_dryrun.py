"""The workflow parses, passes ``snakemake --lint`` and plans the expected jobs (dry run).

Two workspaces: a tiny one written here, and the demo made by ``genopass demo-data``.
"""

from __future__ import annotations

import csv
import gzip
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pysam
import pytest
from helpers import fasta_primary_contigs, job_counts, make_demo

from genopass.paths import REPO_ROOT

pytestmark = pytest.mark.workflow

SNAKEFILE = REPO_ROOT / "workflow" / "Snakefile"
SNAKEMAKE = [sys.executable, "-m", "snakemake", "--snakefile", str(SNAKEFILE)]
KEY = "a-test-key-that-is-long-enough"
DEMO_KEY_FILE = "key_file: resources/demo/pseudonym.key"
CONFIG = Path("config") / "config.yaml"


def run_snakemake(
    workdir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """Snakemake in ``workdir`` with its config/config.yaml (as `make demo` passes the demo's),
    unless ``args`` give a --configfile."""
    config = [] if "--configfile" in args else ["--configfile", str(workdir / CONFIG)]
    return subprocess.run(
        [*SNAKEMAKE, "--directory", str(workdir), *config, *args],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def snakemake(workdir: Path, *args: str, env: dict[str, str] | None = None) -> str:
    """Run Snakemake in ``workdir``; return stdout + stderr (it logs to stderr)."""
    result = run_snakemake(workdir, *args, env=env)
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise AssertionError(f"snakemake {' '.join(args)} exited {result.returncode}:\n{output}")
    return output


def snakemake_fails(workdir: Path, *args: str, env: dict[str, str] | None = None) -> str:
    result = run_snakemake(workdir, *args, env=env)
    assert result.returncode != 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def planned(dry_run_output: str, field: str) -> list[str]:
    """Every path listed as ``field:`` (output, log, benchmark) in a dry run's job list."""
    paths: list[str] = []
    for line in re.findall(rf"^\s+{field}: (.+)$", dry_run_output, flags=re.MULTILINE):
        paths += [path.strip() for path in line.split(",")]
    return paths


def assert_lint_clean(workdir: Path) -> None:
    output = snakemake(workdir, "--lint")
    assert "Lints for" not in output, output
    assert "Congratulations, your workflow is in a good condition!" in output


def assert_export_is_clean(dry_run_output: str, sample_ids: list[str]) -> None:
    """Logs and benchmarks stay out of the export; export paths carry no sample ID."""
    for field in ("log", "benchmark"):
        paths = planned(dry_run_output, field)
        assert paths, f"no {field} in the dry run"
        assert not [path for path in paths if "/export/" in path], paths
    exported = [path for path in planned(dry_run_output, "output") if "/export/" in path]
    assert exported
    for sample in sample_ids:
        assert not [path for path in exported if sample in path], (sample, exported)


# --- a tiny workspace written here ---------------------------------------------------------------


def write_vcf(path: Path, samples: list[str]) -> None:
    columns = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT", *samples]
    record = ["chr1", "10", ".", "A", "C", ".", "PASS", ".", "GT", *["0/1"] * len(samples)]
    plain = path.with_suffix("")
    plain.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=120>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        + "\t".join(columns)
        + "\n"
        + "\t".join(record)
        + "\n"
    )
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """Sheets for three samples (two in one VCF), a reference, a key and the shipped config."""
    data = tmp_path / "resources" / "demo"
    data.mkdir(parents=True)
    (data / "GRCh38.demo.fa").write_text(">chr1\n" + "ACGT" * 30 + "\n")
    # the liftover files the shipped config names (GRCh37 FASTA and chain)
    (data / "GRCh37.demo.fa").write_text(">chr1\n" + "ACGT" * 30 + "\n")
    with gzip.open(data / "GRCh37ToGRCh38.demo.over.chain.gz", "wt") as chain:
        chain.write("chain 120 chr1 120 + 0 120 chr1 120 + 0 120 1\n120\n\n")
    (data / "pseudonym.key").write_text(KEY + "\n")
    (data / "pseudonym.key").chmod(0o600)  # a key readable by others is refused
    write_vcf(data / "centre1.vcf.gz", ["LAB-001", "LAB-002"])
    write_vcf(data / "S3.vcf.gz", ["S3"])
    config = tmp_path / "config"
    config.mkdir()
    shutil.copy(REPO_ROOT / "config" / "config.yaml", config / "config.yaml")
    (config / "samples.tsv").write_text(
        "sample\tcentre\tcountry\tsex\tconsent\n"
        "S1\tCNAG\tES\tfemale\tDUO:0000042\n"
        "S2\tCNAG\tES\tmale\t\n"
        "S3\tKI\tSE\tunknown\t\n"
    )
    (config / "units.tsv").write_text(
        "sample\tunit\tvcf\tvcf_sample\tbuild\n"
        "S1\tu1\tresources/demo/centre1.vcf.gz\tLAB-001\tGRCh38\n"
        "S2\tu1\tresources/demo/centre1.vcf.gz\tLAB-002\t\n"
        "S3\tu1\tresources/demo/S3.vcf.gz\t\t\n"
    )
    return tmp_path


def test_lint(workspace: Path) -> None:
    assert_lint_clean(workspace)


def test_dry_run(workspace: Path) -> None:
    output = snakemake(workspace, "--dry-run", "--printshellcmds")
    # export_vcf (one job per exported sample) is planned once the QC gate (a checkpoint) has run
    assert job_counts(output) == {
        "check_vcf": 3,
        "samtools_faidx": 1,
        "write_pseudonyms": 1,
        "harmonise_vcf": 3,
        "write_autosomes": 1,
        "bcftools_stats": 3,
        "summarise_accounting": 1,
        "write_qc_cohort": 1,
        "write_qc_metrics": 3,
        "write_relatedness": 1,
        "gate_samples": 1,
        "write_report_content": 1,
        "multiqc": 1,
        "export_cohort": 1,
        "export_parquet": 1,
        "export_samples": 1,
        "export_frequencies": 1,
        "export_metadata": 1,
        "export_crate": 1,
        "export_manifest": 1,
        "all": 1,
    }
    assert_export_is_clean(output, ["S1", "S2", "S3", "LAB-001", "LAB-002"])
    # The VCF column is renamed to the pseudonym, and the key itself is never on a command line.
    assert re.search(r"--sample LAB-001=gp[0-9a-f]{16} ", output)
    assert KEY not in output
    assert "results/private/pseudonyms.tsv" in planned(output, "output")


def test_key_from_environment(workspace: Path) -> None:
    config = workspace / "config" / "config.yaml"
    config.write_text(config.read_text().replace(DEMO_KEY_FILE, "key_file: null"))
    env = {**dict(os.environ), "GENOPASS_PSEUDONYM_KEY": KEY}
    output = snakemake(workspace, "--dry-run", "--printshellcmds", env=env)
    assert "--key-file" not in output
    assert "genopass pseudonyms --samples config/samples.tsv" in output


def test_no_key_stops_before_any_job(workspace: Path) -> None:
    config = workspace / "config" / "config.yaml"
    config.write_text(config.read_text().replace(DEMO_KEY_FILE, "key_file: null"))
    env = {
        name: value for name, value in dict(os.environ).items() if name != "GENOPASS_PSEUDONYM_KEY"
    }
    output = snakemake_fails(workspace, "--dry-run", env=env)
    assert "no pseudonym key" in output
    assert "GENOPASS_PSEUDONYM_KEY" in output


def test_bad_sheet_stops_before_any_job(workspace: Path) -> None:
    units = workspace / "config" / "units.tsv"
    units.write_text(units.read_text().replace("LAB-002", "LAB-009"))
    output = snakemake_fails(workspace, "--dry-run")
    assert "config/units.tsv row 3, column vcf_sample: sample 'LAB-009'" in output
    assert "resources/demo/centre1.vcf.gz" in output


def test_bad_config_stops_before_any_job(workspace: Path) -> None:
    config = workspace / "config" / "config.yaml"
    config.write_text(config.read_text().replace("mode: gate", "mode: strict"))
    output = snakemake_fails(workspace, "--dry-run")
    assert "strict" in output
    assert "gate" in output and "warn" in output


def test_one_sample_cohort(workspace: Path) -> None:
    """A cohort of one: genopass cohort writes it (bcftools merge would need two files)."""
    (workspace / "config" / "samples.tsv").write_text(
        "sample\tcentre\tcountry\tsex\nS3\tKI\tSE\tunknown\n"
    )
    (workspace / "config" / "units.tsv").write_text(
        "sample\tunit\tvcf\nS3\tu1\tresources/demo/S3.vcf.gz\n"
    )
    assert_lint_clean(workspace)
    counts = job_counts(snakemake(workspace, "--dry-run"))
    assert counts["export_cohort"] == 1


def test_genopass_run(workspace: Path) -> None:
    """`genopass run` finds the Snakefile, adds --cores 1 and passes the rest to Snakemake."""
    genopass = Path(sys.executable).parent / "genopass"
    result = subprocess.run(
        [str(genopass), "run", "--configfile", str(CONFIG), "--dry-run", "--quiet", "rules"],
        cwd=workspace,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "export_manifest" in result.stdout + result.stderr


def test_genopass_run_returns_snakemake_exit_code(workspace: Path) -> None:
    (workspace / "config" / "units.tsv").write_text("sample\tunit\n")
    genopass = Path(sys.executable).parent / "genopass"
    result = subprocess.run(
        [str(genopass), "run", "--configfile", str(CONFIG), "--dry-run"],
        cwd=workspace,
        capture_output=True,
        text=True,
    )
    assert result.returncode == 1
    assert "config/units.tsv: has a header but no rows" in result.stdout + result.stderr


def test_snakefmt_clean() -> None:
    snakefmt = Path(sys.executable).parent / "snakefmt"
    result = subprocess.run(
        [str(snakefmt), "--check", str(REPO_ROOT / "workflow")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


# --- the demo ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo as a user makes it: `genopass demo-data resources/demo` and the shipped config/."""
    return make_demo(tmp_path_factory.mktemp("demo"))


def test_demo_lint(demo: Path) -> None:
    assert_lint_clean(demo)


def test_demo_dry_run(demo: Path) -> None:
    output = snakemake(demo, "--dry-run")
    counts = job_counts(output)
    n_samples = counts["harmonise_vcf"]
    assert n_samples >= 1
    # export_vcf jobs come after the QC gate (a checkpoint), one per sample it exports
    assert counts["gate_samples"] == 1
    assert counts["export_cohort"] == counts["export_manifest"] == 1
    samples = (demo / "config" / "samples.tsv").read_text().splitlines()[1:]
    assert_export_is_clean(output, [line.split("\t")[0] for line in samples if line])


def _fastq_units(demo: Path) -> list[dict[str, str]]:
    """The FASTQ rows of the demo's units sheet."""
    with (demo / "config" / "units.tsv").open() as sheet:
        return [row for row in csv.DictReader(sheet, delimiter="\t") if row["fq1"]]


def test_demo_dry_run_plans_the_reads_path(demo: Path) -> None:
    """Every FASTQ unit checked, trimmed and aligned; each reads sample merged, marked, called per
    primary contig of the reference (counted from the demo's own sheet and FASTA, not the plan)."""
    counts = job_counts(snakemake(demo, "--dry-run"))
    fastq_units = _fastq_units(demo)
    reads_samples = {row["sample"] for row in fastq_units}
    primary = fasta_primary_contigs(demo / "resources" / "demo" / "GRCh38.demo.fa")
    assert len(fastq_units) >= 2 and len(reads_samples) >= 2 and len(primary) >= 3
    per_sample = len(reads_samples)
    expected = {
        "check_fastq": len(fastq_units),
        "fastp_pe": len(fastq_units),
        "bwa_index": 1,
        "bwa_mem": len(fastq_units),
        "samtools_merge": per_sample,
        "samtools_markdup": per_sample,
        "bcftools_call": per_sample * len(primary),
        "bcftools_concat": per_sample,
        "samtools_stats": per_sample,
        "samtools_flagstat": per_sample,
        "mosdepth": per_sample,
        "write_autosomes": 1,
    }
    assert {rule: counts.get(rule) for rule in expected} == expected


def test_demo_dry_run_with_minimap2(demo: Path, tmp_path: Path) -> None:
    config = tmp_path / "config.yaml"
    text = (demo / "config" / "config.yaml").read_text()
    config.write_text(text.replace("aligner: bwa", "aligner: minimap2"))
    output = snakemake(demo, "--dry-run", "--printshellcmds", "--configfile", str(config))
    counts = job_counts(output)
    assert counts["minimap2_sr"] == len(_fastq_units(demo)) and counts["minimap2_index"] == 1
    assert "bwa_mem" not in counts and "bwa_index" not in counts
    assert "minimap2 -ax sr" in output
