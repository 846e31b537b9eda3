"""``genopass run``: find the workflow and hand the command line to Snakemake.

``--profile NAME`` with a bare name (no ``/``) that is not a folder of the working directory is
the shipped profile ``workflow/profiles/NAME`` (``local``, ``slurm``), so that
``genopass run --profile slurm`` works from any folder. A profile or ``--executor`` that names an
executor whose Snakemake plugin is not installed stops with one line saying what to install.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import yaml

from genopass.errors import UsageError
from genopass.io import WORK_PREFIX
from genopass.paths import REPO_ROOT

log = logging.getLogger(__name__)

SNAKEFILE = Path("workflow") / "Snakefile"

# Options that already tell Snakemake how many jobs to run; without one, Snakemake refuses to
# run, so genopass asks for one core.
PARALLELISM_OPTIONS = ("--cores", "-c", "--jobs", "-j", "--profile", "--workflow-profile")

# The shipped profiles: workflow/profiles/<name>, next to the Snakefile.
PROFILES_DIR = "profiles"
# Files Snakemake 9 reads in a profile folder, first found wins.
PROFILE_FILES = ("config.v9+.yaml", "config.v8+.yaml", "config.yaml")
# Executors built into Snakemake; every other one is a plugin package.
BUILTIN_EXECUTORS = ("local", "dryrun", "touch")
# How to install the plugins genopass ships a profile for.
PLUGIN_INSTALL = {"slurm": "pip install genopass[slurm] (in a checkout: pip install -e '.[slurm]')"}


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


def option_values(args: Sequence[str], names: Sequence[str]) -> list[tuple[int, str]]:
    """(index, value) of every ``NAME VALUE`` or ``NAME=VALUE`` among ``args``."""
    found = []
    for index, arg in enumerate(args):
        name, sep, value = arg.partition("=")
        if name not in names:
            continue
        if sep:
            found.append((index, value))
        elif index + 1 < len(args):
            found.append((index + 1, args[index + 1]))
    return found


def shipped_profile(name: str, snakefile: Path, cwd: Path | None = None) -> Path | None:
    """The shipped ``workflow/profiles/NAME`` for a bare profile name that is not a folder of
    the working directory; None when ``name`` is a path, a local folder or no shipped profile."""
    if not name or os.sep in name or "/" in name or name in (".", ".."):
        return None
    if ((cwd or Path.cwd()) / name).is_dir():
        return None
    candidate = snakefile.parent / PROFILES_DIR / name
    return candidate.resolve() if candidate.is_dir() else None


def resolve_profiles(args: Sequence[str], snakefile: Path, cwd: Path | None = None) -> list[str]:
    """``args`` with every bare ``--profile NAME`` of a shipped profile made its full path."""
    resolved = list(args)
    for index, value in option_values(args, ("--profile",)):
        path = shipped_profile(value, snakefile, cwd)
        if path is None:
            continue
        log.debug("profile %s is the shipped %s", value, path)
        if resolved[index].startswith("--profile="):
            resolved[index] = f"--profile={path}"
        else:
            resolved[index] = str(path)
    return resolved


def profile_settings(profile: Path) -> dict:
    """The settings of a profile folder (empty when it has no config file Snakemake reads)."""
    for name in PROFILE_FILES:
        path = profile / name
        if path.is_file():
            try:
                settings = yaml.safe_load(path.read_text())
            except yaml.YAMLError as exc:
                raise UsageError(f"{path} is not valid YAML: {exc}") from exc
            return settings if isinstance(settings, dict) else {}
    return {}


def requested_executor(args: Sequence[str], cwd: Path | None = None) -> str | None:
    """The executor that ``args`` ask for: ``--executor``/``-e``, else the profile's."""
    given = option_values(args, ("--executor", "-e"))
    if given:
        return given[-1][1]
    for _, value in reversed(option_values(args, ("--profile", "--workflow-profile"))):
        profile = Path(value) if Path(value).is_absolute() else (cwd or Path.cwd()) / value
        executor = profile_settings(profile).get("executor")
        if executor:
            return str(executor)
    return None


def check_executor(executor: str | None) -> None:
    """Stop with what to install when ``executor`` is a plugin that is not installed."""
    if executor is None or executor in BUILTIN_EXECUTORS:
        return
    module = "snakemake_executor_plugin_" + executor.replace("-", "_")
    if importlib.util.find_spec(module) is not None:
        return
    install = PLUGIN_INSTALL.get(executor, f"pip install snakemake-executor-plugin-{executor}")
    raise UsageError(
        f"executor '{executor}' needs Snakemake's {executor} executor plugin, which is not "
        f"installed in this Python environment: {install}"
    )


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
    snakefile = find_snakefile()
    args = resolve_profiles(args, snakefile)
    check_executor(requested_executor(args))
    args = recovery_args(args)
    workdir = prepare_recovery(args)
    command = snakemake_command(args, snakefile)
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
