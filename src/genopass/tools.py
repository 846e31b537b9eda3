"""Running external tools (bcftools, tabix) in streams, with errors a user can act on."""

from __future__ import annotations

import logging
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from genopass.errors import InputError, UsageError

log = logging.getLogger(__name__)

HTSLIB_ERROR = re.compile(r"^\[E::", re.MULTILINE)
ERROR_LINE = re.compile(r"(\[E::|error|Error|ERROR|Could not|Failed|failed|truncated|Cannot)")


class PipelineError(InputError):
    """A stage of a pipeline failed; ``stderrs`` holds what every stage printed."""

    def __init__(self, message: str, stderrs: list[str]):
        super().__init__(message)
        self.stderrs = stderrs


def require_tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise UsageError(
            f"'{name}' is not on PATH: run 'make setup' (Debian: apt-get install bcftools "
            f"samtools tabix) or run the workflow with 'snakemake --sdm conda' (envs/)"
        )
    return found


def first_error(stderr: str) -> str:
    """The most telling line of a tool's stderr: the first error line, else the last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if ERROR_LINE.search(line):
            return line
    return lines[-1] if lines else "no message"


def run_tool(args: Sequence[str], *, about: Path | str, stdout: Path | None = None) -> str:
    """Run one command; return its stdout (unless redirected to a file). Errors name ``about``."""
    require_tool(args[0])
    log.debug("running %s", " ".join(map(str, args)))
    if stdout is None:
        proc = subprocess.run(list(map(str, args)), capture_output=True, text=True)
        out = proc.stdout
    else:
        with open(stdout, "wb") as handle:
            proc = subprocess.run(list(map(str, args)), stdout=handle, stderr=subprocess.PIPE)
        out = ""
        proc.stderr = proc.stderr.decode(errors="replace")
    if proc.returncode != 0:
        raise InputError(f"{about}: {args[0]} {args[1]} failed: {first_error(proc.stderr)}")
    return out


def run_pipeline(stages: Sequence[Sequence[str]], *, about: Path | str, stdout: Path) -> list[str]:
    """Run ``stage1 | stage2 | ...`` into ``stdout``; return every stage's stderr.

    If any stage fails, the error of the earliest failing stage is raised: later stages
    usually fail only because their input stopped.
    """
    for stage in stages:
        require_tool(stage[0])
    procs: list[subprocess.Popen[bytes]] = []
    previous = None
    with open(stdout, "wb") as sink:
        for index, stage in enumerate(stages):
            last = index == len(stages) - 1
            log.debug("pipeline stage %s", " ".join(map(str, stage)))
            proc = subprocess.Popen(
                list(map(str, stage)),
                stdin=previous.stdout if previous else subprocess.DEVNULL,
                stdout=sink if last else subprocess.PIPE,
                stderr=subprocess.PIPE,
            )
            if previous is not None and previous.stdout is not None:
                previous.stdout.close()  # so that the upstream stage sees SIGPIPE if we stop
            if not last and proc.stdout is not None:
                _widen_pipe(proc.stdout.fileno())
            procs.append(proc)
            previous = proc
        # Read stderr of every stage concurrently-safe: stderr volumes are small, but a stage
        # that fills its stderr pipe would block, so drain them in threads.
        stderrs = _drain_stderr(procs)
    for stage, proc, err in zip(stages, procs, stderrs, strict=True):
        # bcftools 1.16 can exit 0 after an htslib read error: its error lines count too.
        if proc.returncode != 0 or HTSLIB_ERROR.search(err):
            raise PipelineError(
                f"{about}: {stage[0]} {stage[1]} failed: {first_error(err)}", stderrs
            )
    return stderrs


PIPE_SIZE = 1 << 20


def _widen_pipe(fd: int) -> None:
    """A 1 MiB pipe instead of 64 KiB: far fewer context switches between stages sharing
    two cores (Linux only; elsewhere, or above the system's limit, the default stays)."""
    import fcntl

    setting = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setting is not None:
        try:
            fcntl.fcntl(fd, setting, PIPE_SIZE)
        except OSError:
            pass


def _drain_stderr(procs: Sequence[subprocess.Popen[bytes]]) -> list[str]:
    import threading

    chunks: list[list[bytes]] = [[] for _ in procs]

    def drain(i: int) -> None:
        stream = procs[i].stderr
        if stream is None:
            return
        for block in iter(lambda: stream.read(65536), b""):
            chunks[i].append(block)

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(len(procs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for proc in procs:
        proc.wait()
    return [b"".join(c).decode(errors="replace") for c in chunks]
