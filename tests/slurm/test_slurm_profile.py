"""`genopass run --profile slurm`: the shipped profile from any folder, and one line when the
SLURM executor plugin is missing. No cluster needed (these run in the default `pytest`)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from helpers import REPO

from genopass import workflow
from genopass.cli import main

SNAKEFILE = REPO / "workflow" / "Snakefile"
SHIPPED = REPO / "workflow" / "profiles"


def test_a_bare_name_is_the_shipped_profile(tmp_path: Path) -> None:
    assert workflow.shipped_profile("slurm", SNAKEFILE, tmp_path) == SHIPPED / "slurm"
    assert workflow.shipped_profile("local", SNAKEFILE, tmp_path) == SHIPPED / "local"


def test_a_folder_of_the_working_directory_wins(tmp_path: Path) -> None:
    (tmp_path / "slurm").mkdir()
    assert workflow.shipped_profile("slurm", SNAKEFILE, tmp_path) is None


@pytest.mark.parametrize("name", ["./slurm", "profiles/slurm", "/etc/slurm", "nosuchprofile", ""])
def test_paths_and_unknown_names_go_to_snakemake_as_given(tmp_path: Path, name: str) -> None:
    assert workflow.shipped_profile(name, SNAKEFILE, tmp_path) is None


def test_both_spellings_of_the_option_are_resolved(tmp_path: Path) -> None:
    args = ["--profile", "slurm", "-n", "--profile=local", "--profile", "./mine"]
    assert workflow.resolve_profiles(args, SNAKEFILE, tmp_path) == [
        "--profile", str(SHIPPED / "slurm"), "-n", f"--profile={SHIPPED / 'local'}",
        "--profile", "./mine",
    ]  # fmt: skip


def test_the_executor_comes_from_the_command_line_then_the_profile(tmp_path: Path) -> None:
    slurm = str(SHIPPED / "slurm")
    assert workflow.requested_executor(["--profile", slurm], tmp_path) == "slurm"
    assert workflow.requested_executor(["--profile", slurm, "-e", "local"], tmp_path) == "local"
    assert workflow.requested_executor(["--profile", str(SHIPPED / "local")], tmp_path) is None
    assert workflow.requested_executor(["--executor=slurm"], tmp_path) == "slurm"


def test_the_shipped_slurm_profile() -> None:
    profile = yaml.safe_load((SHIPPED / "slurm" / "config.yaml").read_text())
    assert profile["executor"] == "slurm"
    assert profile["retries"] >= 1
    assert {"mem_mb", "runtime"} <= set(profile["default-resources"])
    # no placeholder partition: jobs go to the cluster's default unless the user names one
    assert "slurm_partition" not in profile["default-resources"]


def without_slurm_plugin(monkeypatch: pytest.MonkeyPatch) -> None:
    find_spec = importlib.util.find_spec

    def hide(name: str, *args: object) -> object:
        return None if name == "snakemake_executor_plugin_slurm" else find_spec(name, *args)

    monkeypatch.setattr(workflow.importlib.util, "find_spec", hide)


def test_without_the_plugin_one_line_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    without_slurm_plugin(monkeypatch)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["run", "--profile", "slurm", "-n"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "pip install genopass[slurm]" in lines[0]
    assert "usage" not in result.output.lower()


def test_builtin_executors_need_no_plugin() -> None:
    for executor in (None, "local", "dryrun", "touch"):
        workflow.check_executor(executor)


def test_other_missing_plugins_name_their_package() -> None:
    with pytest.raises(workflow.UsageError, match="pip install snakemake-executor-plugin-nope"):
        workflow.check_executor("nope")
