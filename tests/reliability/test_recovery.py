"""Crash recovery of `genopass run`: a dead run's lock and work folders are cleared, a live
run's never (docs/validation.md, README Troubleshooting)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from genopass.errors import UsageError
from genopass.workflow import LOCKS, RUN_PID, prepare_recovery, recovery_args

pytestmark = pytest.mark.reliability


def test_rerun_incomplete_is_passed_by_default():
    assert recovery_args(["--cores", "2"]) == ["--rerun-incomplete", "--cores", "2"]
    assert recovery_args(["--unlock"]) == ["--unlock"]
    assert recovery_args(["--ri"]) == ["--ri"]


def test_a_dead_runs_lock_and_work_folders_are_cleared(tmp_path):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / RUN_PID).parent.mkdir(parents=True)
    (tmp_path / RUN_PID).write_text(f"{dead.pid}\n")
    (tmp_path / LOCKS).mkdir()
    (tmp_path / LOCKS / "0.input.lock").write_text("x")
    work = tmp_path / "results/harmonise/harmonise_vcf/.genopass-abc123"
    work.mkdir(parents=True)
    (work / "input.vcf.gz").write_text("source records")
    assert prepare_recovery(["--cores", "1"], cwd=tmp_path) == tmp_path
    assert list((tmp_path / LOCKS).iterdir()) == []
    assert not work.exists()


def test_a_live_runs_lock_is_never_cleared(tmp_path):
    # a live process whose command line names snakemake
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)", "snakemake"])
    cmdline = Path(f"/proc/{live.pid}/cmdline")
    while b"snakemake" not in cmdline.read_bytes():  # until the child has exec'd
        time.sleep(0.01)
    try:
        (tmp_path / RUN_PID).parent.mkdir(parents=True)
        (tmp_path / RUN_PID).write_text(f"{live.pid}\n")
        (tmp_path / LOCKS).mkdir()
        (tmp_path / LOCKS / "0.input.lock").write_text("x")
        with pytest.raises(UsageError) as refused:
            prepare_recovery(["--cores", "1"], cwd=tmp_path)
        assert str(refused.value) == (
            f"another genopass run (Snakemake pid {live.pid}) is working in {tmp_path}; wait "
            f"for it to finish (or stop it) and run again: this run changed nothing"
        )
        assert (tmp_path / LOCKS / "0.input.lock").exists()
    finally:
        live.kill()
        live.wait()
