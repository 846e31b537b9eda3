"""``genopass run``: which Snakefile it runs, the one core it adds, the arguments it passes on and
the exit code it returns, each checked by what Snakemake itself does or plans.

A workspace with a Snakefile of its own (a rule that writes the threads Snakemake gave it: the
threads are capped to the cores provided), and a copy of the demo workspace (no workflow/ of its
own: the installed genopass's Snakefile), planned by `genopass run` and by plain Snakemake.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import BIN, ENV, REPO, copy_demo, job_counts

pytestmark = pytest.mark.workflow

SNAKEFILE = """\
rule all:
    input:
        "threads.txt",


rule threads:
    output:
        "{name}.txt",
    threads: 8
    shell:
        "echo {threads} > {output}"


rule fails:
    output:
        "never.txt",
    shell:
        "exit 3"
"""


def genopass_run(workdir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "genopass"), "run", *args], cwd=workdir, capture_output=True, text=True, env=ENV
    )


@pytest.fixture
def own_workflow(tmp_path: Path) -> Path:
    (tmp_path / "workflow").mkdir()
    (tmp_path / "workflow" / "Snakefile").write_text(SNAKEFILE)
    return tmp_path


def test_runs_the_working_directory_snakefile_on_one_core(own_workflow: Path) -> None:
    proc = genopass_run(own_workflow)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (own_workflow / "threads.txt").read_text() == "1\n"  # 8 threads capped to 1 core


@pytest.mark.parametrize("cores", [["--cores", "2"], ["-c2"]])
def test_given_cores_are_passed_on_not_replaced(own_workflow: Path, cores: list[str]) -> None:
    proc = genopass_run(own_workflow, *cores)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (own_workflow / "threads.txt").read_text() == "2\n"


def test_targets_are_passed_on(own_workflow: Path) -> None:
    proc = genopass_run(own_workflow, "other.txt")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert (own_workflow / "other.txt").read_text() == "1\n"
    assert not (own_workflow / "threads.txt").exists()


def test_snakemake_exit_codes_are_returned(own_workflow: Path) -> None:
    failed = genopass_run(own_workflow, "never.txt")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Error in rule fails" in failed.stderr
    bad_option = genopass_run(own_workflow, "--no-such-option")
    assert bad_option.returncode == 2
    assert "unrecognized arguments: --no-such-option" in bad_option.stderr


def test_the_demo_plans_as_with_snakemake_and_the_installed_snakefile(
    demo_workspace: Path, tmp_path: Path
) -> None:
    workdir = copy_demo(demo_workspace, tmp_path)
    assert not (workdir / "workflow").exists()
    config = ["--configfile", "config/config.yaml"]
    ours = genopass_run(workdir, "--dry-run", *config)
    assert ours.returncode == 0, ours.stdout + ours.stderr
    plain = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "workflow" / "Snakefile")]
        + ["--cores", "1", "--dry-run", *config],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=ENV,
    )
    assert plain.returncode == 0, plain.stdout + plain.stderr
    planned = job_counts(ours.stdout + ours.stderr)
    assert planned == job_counts(plain.stdout + plain.stderr)
    # every sample of the demo's sheet harmonised, one manifest; which samples are exported is
    # known only after the QC gate (a checkpoint), so a dry run plans no export_vcf job yet
    samples = (workdir / "config" / "samples.tsv").read_text().splitlines()[1:]
    assert planned["export_manifest"] == 1
    assert planned["harmonise_vcf"] == len([line for line in samples if line.strip()])
    assert "export_vcf" not in planned
