"""``genopass run``: find the workflow and hand the command line to Snakemake."""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from genopass.errors import UsageError
from genopass.paths import REPO_ROOT

log = logging.getLogger(__name__)

SNAKEFILE = Path("workflow") / "Snakefile"

# Options that already tell Snakemake how many jobs to run; without one, Snakemake refuses to
# run, so genopass asks for one core.
PARALLELISM_OPTIONS = ("--cores", "-c", "--jobs", "-j", "--profile", "--workflow-profile")


def find_snakefile(cwd: Path | None = None) -> Path:
    """``workflow/Snakefile`` of the working directory, else that of the installed genopass."""
    for root in (cwd or Path.cwd(), REPO_ROOT):
        candidate = root / SNAKEFILE
        if candidate.is_file():
            return candidate
    raise UsageError(
        f"cannot find {SNAKEFILE} in the working directory nor in {REPO_ROOT}; run genopass from "
        f"a checkout of the genopass repository or install it with 'pip install -e'"
    )


def gives_parallelism(args: Sequence[str]) -> bool:
    """Whether the Snakemake arguments already set cores, jobs or a profile."""
    for arg in args:
        name = arg.split("=", 1)[0]
        if name in PARALLELISM_OPTIONS:
            return True
        # short options with the value attached: -c4, -j8
        if name[:2] in ("-c", "-j") and name[2:].isdigit():
            return True
    return False


def snakemake_command(args: Sequence[str], snakefile: Path) -> list[str]:
    """The Snakemake command line for ``genopass run ARGS``."""
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(snakefile)]
    if not gives_parallelism(args):
        command += ["--cores", "1"]
    return command + list(args)


def run_workflow(args: list[str]) -> int:
    """Run the workflow with the Snakemake arguments ``args``; return Snakemake's exit code."""
    if importlib.util.find_spec("snakemake") is None:
        raise UsageError(
            "Snakemake is not installed in this Python environment; install genopass with its "
            "dependencies ('pip install -e .') or 'pip install \"snakemake>=9,<10\"'"
        )
    args = recovery_args(args)
    workdir = prepare_recovery(args)
    command = snakemake_command(args, find_snakefile())
    log.debug("running %s", " ".join(command))
    process = subprocess.Popen(command)
    if workdir is not None:
        write_run_pid(workdir, process.pid)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            # The terminal sent Ctrl-C to Snakemake too: let it stop its jobs and clean up.
            continue


# -- crash recovery: one re-run finishes the work after a kill -----------------------------------
# genopass writes the pid of the Snakemake process it starts here, beside Snakemake's locks; a
# lock whose run's pid is dead is stale and is cleared; a live run's lock never is.
RUN_PID = Path(".snakemake") / "genopass-run.pid"
LOCKS = Path(".snakemake") / "locks"
WORK_PREFIX = ".genopass-"
# Folders the search for left-over work folders does not enter.
NOT_SEARCHED = frozenset({".snakemake", ".git", ".venv", "resources", "node_modules"})
READ_ONLY_OPTIONS = ("--dry-run", "-n", "--unlock", "--lint", "--list-rules", "--summary")


def recovery_args(args: Sequence[str]) -> list[str]:
    """``args`` with ``--rerun-incomplete``: a killed run's half-written outputs are redone."""
    given = [arg.split("=", 1)[0] for arg in args]
    if any(name in given for name in ("--rerun-incomplete", "--ri", "--unlock")):
        return list(args)
    return ["--rerun-incomplete", *args]


def run_workdir(args: Sequence[str], cwd: Path | None = None) -> Path:
    """The folder Snakemake works in: ``--directory``/``-d``, else the working directory."""
    base = cwd or Path.cwd()
    for index in range(len(args) - 1, -1, -1):
        name, sep, value = args[index].partition("=")
        if name in ("--directory", "-d"):
            if not sep and index + 1 < len(args):
                value = args[index + 1]
            return base / value
    return base


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` is a running Snakemake (a reused pid of another program is not)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    cmdline = Path(f"/proc/{pid}/cmdline")
    if cmdline.is_file():
        try:
            return b"snakemake" in cmdline.read_bytes()
        except OSError:
            return True
    return True


def prepare_recovery(args: Sequence[str], cwd: Path | None = None) -> Path | None:
    """Refuse a second run on a folder a live run holds; clear a dead run's lock and work
    folders. Returns the run's folder (None for a dry run, unlock or lint: they lock nothing)."""
    workdir = run_workdir(args, cwd)
    if any(name.split("=", 1)[0] in READ_ONLY_OPTIONS for name in args):
        return None
    pid_file, locks = workdir / RUN_PID, workdir / LOCKS
    pid = _read_pid(pid_file)
    if pid is not None and pid_alive(pid):
        raise UsageError(
            f"another genopass run (Snakemake pid {pid}) is working in {workdir}; wait for it "
            f"to finish (or stop it) and run again: this run changed nothing"
        )
    if pid is not None and locks.is_dir() and any(locks.iterdir()):
        log.warning("clearing the lock of a run that was killed (pid %s no longer runs)", pid)
        for lock in locks.iterdir():
            lock.unlink(missing_ok=True)
    if pid is not None or not (locks.is_dir() and any(locks.iterdir())):
        clean_work_folders(workdir)
    pid_file.unlink(missing_ok=True)
    return workdir


def clean_work_folders(workdir: Path) -> list[Path]:
    """Remove the ``.genopass-*`` work folders a killed run left (they hold source records)."""
    import shutil

    removed = []
    for dirpath, dirnames, _files in os.walk(workdir):
        for name in list(dirnames):
            if name in NOT_SEARCHED:
                dirnames.remove(name)
            elif name.startswith(WORK_PREFIX):
                dirnames.remove(name)
                path = Path(dirpath) / name
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    if removed:
        log.warning("removed %d work folder(s) a killed run left behind", len(removed))
    return removed


def write_run_pid(workdir: Path, pid: int) -> None:
    path = workdir / RUN_PID
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"{pid}\n")


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
