"""``genopass run``: find the workflow and hand the command line to Snakemake."""

from __future__ import annotations

import importlib.util
import logging
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
    command = snakemake_command(args, find_snakefile())
    log.debug("running %s", " ".join(command))
    process = subprocess.Popen(command)
    while True:
        try:
            return process.wait()
        except KeyboardInterrupt:
            # The terminal sent Ctrl-C to Snakemake too: let it stop its jobs and clean up.
            continue
