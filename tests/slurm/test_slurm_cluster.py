"""The demo on a real SLURM cluster: `make test-slurm` (pytest -m slurm tests/slurm).

A one-node cluster on localhost (scripts/slurm_cluster.py: munged, MariaDB, slurmdbd, slurmctld,
slurmd, as root) runs the demo through the shipped profile, named bare (`--profile slurm`, as
from any folder). The jobs must have gone through sbatch (sacct, from slurmdbd's accounting,
lists one job per job of the workflow, named by the SLURM executor's run ID, its comment
`rule_<rule>[_wildcards_<values>]`), and the export must equal a local run's (MANIFEST.tsv, and
every file's sha256 computed here). A cluster that does not start fails the test with the
daemons' logs. Every daemon is stopped by PID and the temporary folder removed at the end.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import pytest
from helpers import ENV, REPO, genopass_run, make_demo

pytestmark = pytest.mark.slurm

CLUSTER_SCRIPT = REPO / "scripts" / "slurm_cluster.py"
# The first status check 2 s after a submission, not the plugin's 40 s: the demo's jobs take
# seconds. Everything else is the shipped profile.
SLURM_ARGS = ("--profile", "slurm", "--slurm-init-seconds-before-status-checks", "2")
SACCT_FIELDS = ("JobID", "JobName", "Comment", "State", "Elapsed")
EXPORT = Path("results") / "export" / "demo"


@dataclass(frozen=True)
class Cluster:
    env: dict[str, str] | None  # the environment for commands on the cluster; None: not started
    message: str  # start's output (the daemons' logs when it failed)


@dataclass(frozen=True)
class Run:
    workdir: Path
    proc: subprocess.CompletedProcess
    seconds: float


@pytest.fixture(scope="module")
def workspace() -> Iterator[Path]:
    root = Path(tempfile.mkdtemp(prefix="genopass-slurm-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster(workspace: Path) -> Iterator[Cluster]:
    folder = workspace / "cluster"
    start = subprocess.run(
        [sys.executable, str(CLUSTER_SCRIPT), "start", str(folder)],
        capture_output=True,
        text=True,
    )
    try:
        env = None
        if start.returncode == 0:
            env = dict(ENV)
            for line in start.stdout.splitlines():
                match = re.fullmatch(r'export (\w+)="?(.*?)"?', line.strip())
                if match:
                    env[match[1]] = match[2].replace("$PATH", env["PATH"])
        yield Cluster(env, start.stdout + start.stderr)
    finally:
        stop = subprocess.run(
            [sys.executable, str(CLUSTER_SCRIPT), "stop", str(folder)],
            capture_output=True,
            text=True,
        )
        print(f"\nstopping the SLURM cluster:\n{stop.stdout}{stop.stderr}")


def require(cluster: Cluster) -> dict[str, str]:
    if cluster.env is None:
        pytest.fail(f"the SLURM cluster did not start:\n{cluster.message}", pytrace=False)
    return cluster.env


def demo_project(folder: Path) -> Path:
    folder.mkdir()
    make_demo(folder)
    (folder / "resources" / "demo" / "pseudonym.key").chmod(0o600)
    return folder


def timed_run(workdir: Path, *args: str, env: dict[str, str] | None = None) -> Run:
    started = time.monotonic()
    proc = genopass_run(workdir, *args, env=env)
    return Run(workdir, proc, time.monotonic() - started)


@pytest.fixture(scope="module")
def runs(workspace: Path, cluster: Cluster) -> tuple[Run, Run]:
    """The demo run locally and on the cluster, at the same time (the SLURM run mostly waits)."""
    env = require(cluster)
    local_dir, slurm_dir = demo_project(workspace / "local"), demo_project(workspace / "slurm")
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(timed_run, local_dir, "--profile", "local")
        slurm = timed_run(slurm_dir, *SLURM_ARGS, env=env)
        local = pending.result()
    assert local.proc.returncode == 0, local.proc.stdout + local.proc.stderr
    assert slurm.proc.returncode == 0, (
        slurm.proc.stdout + slurm.proc.stderr + "\n" + cluster_logs(workspace)
    )
    return local, slurm


def cluster_logs(workspace: Path) -> str:
    logs = sorted((workspace / "cluster" / "log").glob("*.log"))
    return "\n".join(f"==> {p} <==\n{p.read_text(errors='replace')[-4000:]}" for p in logs)


def rules_run(log: str, where: str) -> Counter[str]:
    """How many jobs of each rule (checkpoints included) a Snakemake log says ran ``where``:
    "local" (``localrule NAME:``, ``localcheckpoint NAME:``) or "remote" (``rule NAME:``)."""
    prefix = "local" if where == "local" else ""
    pattern = rf"^{prefix}(?:rule|checkpoint) (\w+):$"
    return Counter(re.findall(pattern, log, flags=re.MULTILINE))


def sacct_jobs(env: dict[str, str], run_id: str) -> list[dict[str, str]]:
    proc = subprocess.run(
        ["sacct", "--allusers", "--allocations", "--noheader", "--parsable2",
         "--starttime", "now-1days", "--name", run_id, "--format", ",".join(SACCT_FIELDS)],
        capture_output=True, text=True, env=env, check=True,
    )  # fmt: skip
    rows = [line.split("|") for line in proc.stdout.splitlines()]
    return [dict(zip(SACCT_FIELDS, row, strict=True)) for row in rows]


def rule_of(comment: str) -> str:
    """The rule of a job from the comment the SLURM executor gives it."""
    assert comment.startswith("rule_"), comment
    return comment.removeprefix("rule_").split("_wildcards_", 1)[0]


def manifest(workdir: Path) -> list[list[str]]:
    lines = (workdir / EXPORT / "MANIFEST.tsv").read_text().splitlines()
    return [line.split("\t") for line in lines]


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_cluster_starts(cluster: Cluster) -> None:
    env = require(cluster)
    nodes = subprocess.run(
        ["sinfo", "--noheader", "--format", "%N %T"], capture_output=True, text=True, env=env
    )
    assert nodes.stdout.split() == ["localhost", "idle"], nodes.stdout + nodes.stderr


def test_jobs_went_through_sbatch(cluster: Cluster, runs: tuple[Run, Run]) -> None:
    env = require(cluster)
    local_run, slurm_run = runs
    log = slurm_run.proc.stdout + slurm_run.proc.stderr
    run_id = re.search(r"SLURM run ID: (\S+)", log)
    assert run_id, log
    jobs = sacct_jobs(env, run_id[1])
    table = "\n".join("\t".join(job.values()) for job in jobs)
    print(f"\nsacct of the demo's SLURM run ({len(jobs)} jobs):\n" + table)
    print(f"local run {local_run.seconds:.0f} s, SLURM run {slurm_run.seconds:.0f} s (at once)")
    # Every job the local run ran, less those the SLURM run ran in the driver (rule all).
    local_log = local_run.proc.stdout + local_run.proc.stderr
    expected = rules_run(local_log, "local") - rules_run(log, "local")
    assert expected, local_log
    assert Counter(rule_of(job["Comment"]) for job in jobs) == expected, table
    assert rules_run(log, "remote") == expected, log
    assert {job["State"] for job in jobs} == {"COMPLETED"}, table
    assert len({job["JobID"] for job in jobs}) == len(jobs), table


def test_export_equals_local_run(runs: tuple[Run, Run]) -> None:
    local_run, slurm_run = runs
    on_slurm, local = manifest(slurm_run.workdir), manifest(local_run.workdir)
    print("\nMANIFEST.tsv sha256, SLURM run | local run:")
    for row, other in zip(on_slurm[1:], local[1:], strict=False):
        print(f"{row[0]}\t{row[2]}\t{other[2] if other[0] == row[0] else '(other file)'}")
    assert on_slurm == local
    header = on_slurm[0]
    assert header[:3] == ["path", "size", "sha256"], header
    # The manifest tells the truth about the files of the SLURM run's export.
    export = slurm_run.workdir / EXPORT
    assert len(on_slurm) > 1, on_slurm
    for path, size, digest, *_ in on_slurm[1:]:
        assert (export / path).stat().st_size == int(size), path
        assert sha256(export / path) == digest, path
