"""A user's project stands alone: its own sheets, config, VCF and FASTA in a folder outside the
repository, run through `genopass run --configfile`. It gets the schema's defaults and nothing of
the demo (no liftover, nothing under resources/demo); config keys of features that do not exist
yet, and a GRCh37 VCF without a liftover, stop the run before any job with one line.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import BIN, ENV, REPO, genopass_run, random_sequence, write_fasta, write_vcf

pytestmark = pytest.mark.workflow

CHR1 = random_sequence(3000, 7)
# 1-based positions of the SNVs of the VCF; each REF is the reference base there
POSITIONS = (101, 1001, 2001)
SAMPLES = ("LAB-1", "LAB-2")
CONFIG = """\
samples: samples.tsv
units: units.tsv
reference: {fasta: data/ref.fa}
pseudonymisation: {key_file: data/key}
export: {dataset: study1}
"""


def other_base(base: str) -> str:
    return "C" if base != "C" else "G"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """Two samples of one centre in one VCF on a 3 kb reference, with the project's own sheets."""
    project = tmp_path / "project"
    data = project / "data"
    data.mkdir(parents=True)
    write_fasta(data / "ref.fa", {"chr1": CHR1})
    records = "\n".join(
        f"chr1 {pos} . {CHR1[pos - 1]} {other_base(CHR1[pos - 1])} 50 PASS . GT 0/1 1/1"
        for pos in POSITIONS
    )
    write_vcf(
        data / "cohort.vcf.gz",
        f"""
        ##fileformat=VCFv4.2
        ##contig=<ID=chr1,length={len(CHR1)}>
        ##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
        #CHROM POS ID REF ALT QUAL FILTER INFO FORMAT {" ".join(SAMPLES)}
        {records}
        """,
    )
    key = data / "key"
    key.write_text("a-user-key-that-is-long-enough\n")
    key.chmod(0o600)
    (project / "samples.tsv").write_text(
        "sample\tcentre\tcountry\tsex\nP1\tLABX\tFR\tfemale\nP2\tLABX\tFR\tmale\n"
    )
    (project / "units.tsv").write_text(
        "sample\tunit\tvcf\tvcf_sample\tbuild\n"
        f"P1\tu1\tdata/cohort.vcf.gz\t{SAMPLES[0]}\tGRCh38\n"
        f"P2\tu1\tdata/cohort.vcf.gz\t{SAMPLES[1]}\tauto\n"
    )
    (project / "config.yaml").write_text(CONFIG)
    return project


def run(project: Path, *args: str) -> subprocess.CompletedProcess:
    return genopass_run(project, "--configfile", "config.yaml", "--printshellcmds", *args)


def output_of(proc: subprocess.CompletedProcess) -> str:
    return proc.stdout + proc.stderr


def assert_nothing_of_the_demo(output: str) -> None:
    """No job names a file of the demo, a GRCh37 file or a liftover option."""
    assert "resources/demo" not in output, output
    assert "GRCh37" not in output, output
    assert "--liftover" not in output, output


def test_the_project_is_outside_the_repository(project: Path) -> None:
    assert not project.resolve().is_relative_to(REPO.resolve())
    assert not (project / "resources").exists()


def test_dry_run_plans_only_the_project(project: Path) -> None:
    proc = run(project, "--dry-run")
    output = output_of(proc)
    assert proc.returncode == 0, output
    assert_nothing_of_the_demo(output)
    assert "genopass harmonise data/cohort.vcf.gz --reference data/ref.fa" in output
    assert "results/export/study1/MANIFEST.tsv" in output


def test_real_run(project: Path) -> None:
    proc = run(project)
    output = output_of(proc)
    assert proc.returncode == 0, output
    assert_nothing_of_the_demo(output)
    export = project / "results" / "export" / "study1"
    assert (export / "MANIFEST.tsv").is_file()
    assert len(list((export / "vcf").glob("gp*.vcf.gz"))) == len(SAMPLES)
    # what the jobs read and ran, as their logs tell it
    for log in (project / "results" / "logs").rglob("*.log"):
        assert_nothing_of_the_demo(log.read_text())


def test_the_demo_config_beside_it_is_not_read(project: Path) -> None:
    """A project started from a copy of genopass's config/ (the demo's config.yaml, naming the
    demo's GRCh37 FASTA and chain) runs with --configfile config.yaml only."""
    shutil.copytree(REPO / "config", project / "config")
    proc = run(project, "--dry-run")
    output = output_of(proc)
    assert proc.returncode == 0, output
    assert_nothing_of_the_demo(output)


def test_empty_liftover_means_no_liftover(project: Path) -> None:
    shutil.copytree(REPO / "config", project / "config")
    (project / "config.yaml").write_text(CONFIG + "liftover: {}\n")
    proc = run(project, "--dry-run")
    output = output_of(proc)
    assert proc.returncode == 0, output
    assert_nothing_of_the_demo(output)


# --- stopped before any job, with one line ------------------------------------------------------


def fails_before_any_job(project: Path, config: str | None, expected: str) -> None:
    """With ``config`` as config.yaml (None: no --configfile at all), `genopass run` exits 1 with
    the expected line among its output, no traceback and no results folder."""
    given = []
    if config is not None:
        (project / "config.yaml").write_text(config)
        given = ["--configfile", "config.yaml"]
    proc = subprocess.run(
        [str(BIN / "genopass"), "run", "--cores", "1", *given],
        cwd=project,
        capture_output=True,
        text=True,
        env=ENV,
    )
    output = output_of(proc)
    assert proc.returncode == 1, output
    assert expected in output.splitlines(), output
    assert "Traceback" not in output
    assert not (project / "results").exists()


def test_no_config(project: Path) -> None:
    """Without --configfile the workflow has no config at all (the demo's is not a default)."""
    shutil.copytree(REPO / "config", project / "config")
    fails_before_any_job(
        project,
        None,
        "no config given: run 'genopass run --configfile path/to/config.yaml' (start from a copy "
        "of config/config.yaml and config/README.md; 'make demo' runs the demo with "
        "config/config.yaml)",
    )


def test_grch37_vcf_without_liftover(project: Path) -> None:
    units = project / "units.tsv"
    units.write_text(units.read_text().replace("\tGRCh38\n", "\tGRCh37\n"))
    fails_before_any_job(
        project,
        CONFIG + "liftover: {}\n",
        "units.tsv row 2, column build: VCF 'data/cohort.vcf.gz' is declared GRCh37, but the "
        "config has no liftover from GRCh37 to the target GRCh38: add 'liftover: {GRCh37: "
        "{fasta: ..., chain: ...}}' to the config (the GRCh37 FASTA and the chain to the "
        "target), or correct the build if the VCF is on GRCh38",
    )


def test_unknown_qc_preset(project: Path) -> None:
    fails_before_any_job(
        project,
        CONFIG + "qc: {preset: genomics_england}\n",
        "config.yaml: key 'qc.preset': unknown preset 'genomics_england'; choose one of gel, "
        "permissive, qphi or give a preset YAML file",
    )


ENCRYPTED = CONFIG.replace("export: {dataset: study1}", "export: {encrypt: {recipients: [b.pub]}}")


def test_encryption_recipient_missing(project: Path) -> None:
    fails_before_any_job(
        project,
        ENCRYPTED,
        "config.yaml: key 'export.encrypt.recipients' (item 1): public key file b.pub does not "
        f"exist (relative paths start from the working directory {project}); give the "
        "recipient's Crypt4GH public key ('genopass keys NAME' makes a pair)",
    )


def test_encryption_recipient_secret_key(project: Path) -> None:
    (project / "b.pub").write_text("-----BEGIN CRYPT4GH PRIVATE KEY-----\n")
    fails_before_any_job(
        project,
        ENCRYPTED,
        "config.yaml: key 'export.encrypt.recipients' (item 1): b.pub is a secret key; give the "
        "recipient's public key (.pub) and keep the secret key with its owner",
    )


def test_misspelt_key(project: Path) -> None:
    fails_before_any_job(
        project,
        CONFIG + "harmonize: {}\n",
        "config.yaml: unknown key 'harmonize' at the top level; check the spelling (allowed: "
        "export, harmonise, liftover, outdir, pseudonymisation, qc, reads, reference, samples, "
        "scatter, units)",
    )
