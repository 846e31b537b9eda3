"""Running external tools (bcftools, samtools, tabix, awk...): one runner, one error type.

:func:`run` runs a pipeline of command stages, with at most one Python stage and at most one side
branch, and gives every pipeline the same semantics:

- cancel on the first failure: when a command exits non-zero or the Python stage raises, every
  other stage is terminated (then killed if it lingers) and waited for: no hang, no zombie;
- the error raised is the earliest failing stage's (later stages usually fail only because
  their input stopped): a :class:`PipelineError` naming the file (``about``), the command (tool
  and subcommand) and the most telling line of its stderr. An exception raised by the Python
  stage itself propagates unchanged (it is the caller's code);
- the stderr of every command goes to a temporary file of its own (no pipe to fill up, however
  much a tool prints) and is scanned for htslib/bcftools error lines even when the exit code is
  0: bcftools 1.16 can exit 0 after an htslib read error, having printed only part of the data.

A stage killed by SIGPIPE is no failure (its reader stopped, like ``yes | head``); nor is one
that this module terminated. :func:`run_tool` and :func:`run_pipeline` are the short forms.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import select
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from genopass.errors import GenopassError, InputError, UsageError

log = logging.getLogger(__name__)

Command = Sequence["str | os.PathLike[str]"]

# The most telling line of a failed tool's stderr is its first line that looks like an error.
ERROR_LINE = re.compile(r"(\[E::|error|Error|ERROR|Could not|Failed|failed|truncated|Cannot)")
# Lines that mean failure whatever the exit code (htslib errors; bcftools' own error phrasing).
FAILURE_LINE = re.compile(r"^[ \t]*(?:\[E::|Failed to |Could not )[^\n]*", re.MULTILINE)
PIPE_SIZE = 1 << 20
GRACE_SECONDS = 5.0  # a terminated stage that has not ended by then is killed
_POLL_SECONDS = 0.2
_OURS = frozenset({-signal.SIGTERM, -signal.SIGKILL})
_EXTERNAL = -1  # the failure that stopped a run came from its Cancel (another pipeline)


class PipelineError(InputError):
    """An external command failed: the one error the callers of this module catch.

    ``stderrs`` holds what every stage printed (stage order; "" for the Python stage; the side
    branch last), ``stage`` the index of the failed stage, ``command`` its tool and subcommand.
    """

    def __init__(
        self,
        message: str,
        stderrs: list[str],
        *,
        stage: int = -1,
        command: str = "",
        returncode: int | None = None,
    ):
        super().__init__(message)
        self.stderrs = stderrs
        self.stage = stage
        self.command = command
        self.returncode = returncode


class Cancelled(GenopassError):
    """The run was stopped through its :class:`Cancel`: another pipeline failed first."""


@dataclass(frozen=True)
class PythonStage:
    """Python code in a pipeline, run in the calling thread.

    Between two commands, ``func(stdin, stdout)`` reads the previous stage's stdout and writes
    the next stage's stdin; last, ``func(stdin)`` consumes the last command's stdout and its
    return value is :attr:`Finished.value`. ``text``: str streams instead of bytes. A stage
    that returns before the end of its input stops the stages before it (no more is wanted).
    """

    func: Callable[..., Any]
    name: str  # how an error names it
    text: bool = False


@dataclass(frozen=True)
class Branch:
    """A side branch: the stdout of stage ``after`` is also copied into ``command``."""

    after: int
    command: Command
    stdout: Path | None = None  # None: the branch's stdout is discarded


@dataclass(frozen=True)
class Finished:
    stderrs: list[str]  # as PipelineError.stderrs
    value: Any = None  # what a last Python stage returned


class Cancel:
    """Stops every pipeline run with it, e.g. the parallel jobs of one export.

    After :meth:`set`, running pipelines are terminated and raise :class:`Cancelled`, and
    pipelines started later raise it at once.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._set = False
        self._runs: set[_Run] = set()

    def set(self) -> None:
        with self._lock:
            self._set = True
            runs = list(self._runs)
        for run_ in runs:
            run_.fail(_EXTERNAL)

    def is_set(self) -> bool:
        return self._set

    def _join(self, run_: _Run) -> None:
        with self._lock:
            if self._set:
                raise Cancelled("cancelled: another job failed first")
            self._runs.add(run_)

    def _leave(self, run_: _Run) -> None:
        with self._lock:
            self._runs.discard(run_)


def require_tool(name: str) -> str:
    found = shutil.which(name)
    if not found:
        raise UsageError(
            f"'{name}' is not on PATH: run 'make setup' (Debian: apt-get install bcftools "
            f"samtools tabix) or run the workflow with 'snakemake --sdm conda' (envs/)"
        )
    return found


def awk() -> str:
    """The awk to run genopass's programs with: ``mawk`` where it is installed (it runs them in
    about half the time of GNU awk), else the system's ``awk``. The programs are POSIX awk and
    run in the C locale (bytes, not characters), so every awk writes the same bytes."""
    return "mawk" if shutil.which("mawk") else "awk"


AWK_ENV = {"LC_ALL": "C"}  # the environment of awk stages (byte semantics, locale-independent)


def first_error(stderr: str) -> str:
    """The most telling line of a tool's stderr: the first error line, else the last line."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in lines:
        if ERROR_LINE.search(line):
            return line
    return lines[-1] if lines else "no message"


def command_name(args: Command) -> str:
    """'bcftools query' for a command line (past a leading ``stdbuf``/``env`` and options)."""
    words = [str(a) for a in args]
    start = _program_index(words)
    if start >= len(words):
        return os.path.basename(words[0]) if words else "?"
    tool = os.path.basename(words[start])
    sub = words[start + 1] if start + 1 < len(words) else ""
    return f"{tool} {sub}" if re.fullmatch(r"\+?[A-Za-z][\w-]*", sub) else tool


def _program_index(words: Sequence[str]) -> int:
    """Where the program is in a command line: past ``stdbuf -o 1M`` or ``env A=B``."""
    if not words or os.path.basename(words[0]) not in ("stdbuf", "env"):
        return 0
    start = 1
    while start < len(words) and (words[start].startswith("-") or "=" in words[start]):
        start += 2 if words[start] in ("-i", "-o", "-e") else 1
    return start


def run(
    stages: Sequence[Command | PythonStage],
    *,
    about: Path | str,
    stdout: Path | None = None,
    branch: Branch | None = None,
    cancel: Cancel | None = None,
    env: Mapping[str, str] | None = None,
) -> Finished:
    """Run ``stage | stage | ...``; the last command's stdout goes to ``stdout`` (a file).

    Without ``stdout`` and without a last Python stage, that output is discarded. ``env``:
    variables set for every command. Raises :class:`PipelineError` (or the Python stage's own
    exception, or :class:`Cancelled`) as the module docstring says.
    """
    run_ = _Run(list(stages), about, stdout, branch, env)
    if cancel is not None:
        cancel._join(run_)
    try:
        value = run_.execute()
    finally:
        if cancel is not None:
            cancel._leave(run_)
    return run_.outcome(value)


def run_pipeline(
    stages: Sequence[Command],
    *,
    about: Path | str,
    stdout: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> list[str]:
    """Run ``stage1 | stage2 | ...`` into ``stdout``; return every stage's stderr."""
    return run(stages, about=about, stdout=stdout, env=env).stderrs


def run_tool(
    args: Command,
    *,
    about: Path | str,
    stdout: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> str:
    """Run one command; return its stdout as text (unless it goes to the file ``stdout``)."""
    if stdout is not None:
        run([args], about=about, stdout=stdout, env=env)
        return ""
    return run([args, PythonStage(_read_text, "reading its output")], about=about, env=env).value


def _read_text(stream: IO[bytes]) -> str:
    return stream.read().decode(errors="replace")


def _widen_pipe(fd: int) -> None:
    """A 1 MiB pipe instead of 64 KiB: far fewer context switches between stages sharing
    two cores (Linux only; elsewhere, or above the system's limit, the default stays)."""
    import fcntl

    setting = getattr(fcntl, "F_SETPIPE_SZ", None)
    if setting is not None:
        with contextlib.suppress(OSError):
            fcntl.fcntl(fd, setting, PIPE_SIZE)


def _pipe() -> tuple[IO[bytes], IO[bytes]]:
    read, write = os.pipe()
    _widen_pipe(write)
    return os.fdopen(read, "rb"), os.fdopen(write, "wb")


def _close(stream: IO[Any] | None) -> None:
    if stream is not None:
        with contextlib.suppress(OSError):  # flushing into a reader that stopped
            stream.close()


class _Run:
    """One pipeline: its processes, the thread that waits for each, and who failed first."""

    def __init__(
        self,
        stages: list[Command | PythonStage],
        about: Path | str,
        stdout: Path | None,
        branch: Branch | None,
        env: Mapping[str, str] | None,
    ):
        python = [i for i, s in enumerate(stages) if isinstance(s, PythonStage)]
        if not stages or len(python) > 1 or python == [0]:
            raise ValueError("a pipeline is commands with at most one Python stage after one")
        if python and python[0] == len(stages) - 1 and stdout is not None:
            raise ValueError("a last Python stage consumes the output: no stdout file")
        if branch is not None and (
            not 0 <= branch.after < len(stages) or isinstance(stages[branch.after], PythonStage)
        ):
            raise ValueError("a branch follows a command stage of the pipeline")
        self.stages = stages
        self.about = about
        self.stdout = stdout
        self.branch = branch
        self.env = {**os.environ, **env} if env else None
        self.python = python[0] if python else None
        self.commands: dict[int, list[str]] = {
            i: [os.fspath(a) for a in s] for i, s in enumerate(stages) if i != self.python
        }
        if branch is not None:
            self.commands[len(stages)] = [os.fspath(a) for a in branch.command]
        self.procs: dict[int, subprocess.Popen[bytes]] = {}
        self.errs: dict[int, IO[bytes]] = {}
        self.waiters: list[threading.Thread] = []
        self.killed: set[int] = set()
        self.lock = threading.Lock()
        self.first: int | None = None  # the stage whose failure stopped the run
        self.stopped_at: float | None = None
        self.python_error: BaseException | None = None
        self.py_in: IO[bytes] | None = None
        self.py_out: IO[bytes] | None = None
        self.stderrs: list[str] = []

    # -- running ---------------------------------------------------------------------------

    def execute(self) -> Any:
        for command in self.commands.values():
            for program in {command[0], command[min(_program_index(command), len(command) - 1)]}:
                require_tool(program)
        value = None
        try:
            self._start()
            value = self._run_python()
            self._wait()
        finally:
            if any(p.returncode is None for p in self.procs.values()):
                self.terminate()  # an exception (or Ctrl-C) got here first
                self._wait()
            _close(self.py_in)
            _close(self.py_out)
            self.stderrs = [self._stderr(i) for i in range(len(self.stages) + bool(self.branch))]
        return value

    def _start(self) -> None:
        sink = open(self.stdout, "wb") if self.stdout is not None else None  # noqa: SIM115
        try:
            previous: IO[bytes] | None = None  # what the next stage reads
            for i, stage in enumerate(self.stages):
                last = i == len(self.stages) - 1
                if isinstance(stage, PythonStage):
                    self.py_in, previous = previous, None
                    if not last:
                        previous, self.py_out = _pipe()
                    continue
                tee = self.branch is not None and self.branch.after == i
                target = (sink or subprocess.DEVNULL) if last and not tee else subprocess.PIPE
                proc = self._popen(i, previous, target)
                _close(previous)  # the child holds it now: EOF and SIGPIPE reach the right end
                previous = proc.stdout
                if previous is not None:
                    _widen_pipe(previous.fileno())
                if tee:
                    previous = self._tee(i, previous, sink if last else None)
        finally:
            _close(sink)

    def _popen(self, i: int, stdin: IO[bytes] | None, stdout: Any) -> subprocess.Popen[bytes]:
        command = self.commands[i]
        log.debug("running %s", " ".join(command))
        err = tempfile.TemporaryFile()  # noqa: SIM115  # closed in _stderr
        self.errs[i] = err
        try:
            proc = subprocess.Popen(
                command,
                stdin=stdin if stdin is not None else subprocess.DEVNULL,
                stdout=stdout,
                stderr=err,
                env=self.env,
            )
        except OSError as exc:
            raise UsageError(f"{self.about}: cannot run {command_name(command)}: {exc}") from None
        with self.lock:
            self.procs[i] = proc
            if self.first is not None:  # stopped while starting
                self.killed.add(i)
                proc.terminate()
        waiter = threading.Thread(target=self._await, args=(i, proc), daemon=True)
        waiter.start()
        self.waiters.append(waiter)
        return proc

    def _tee(self, i: int, source: IO[bytes] | None, sink: IO[bytes] | None) -> IO[bytes] | None:
        """Start the branch on a copy of ``source``; return what the main line reads."""
        assert self.branch is not None and source is not None
        branch_in, to_branch = _pipe()
        target = open(self.branch.stdout, "wb") if self.branch.stdout else None  # noqa: SIM115
        try:
            self._popen(len(self.stages), branch_in, target or subprocess.DEVNULL)
        finally:
            _close(branch_in)
            _close(target)
        main_in: IO[bytes] | None = None
        if i < len(self.stages) - 1:
            main_in, to_main = _pipe()
        elif sink is not None:  # the branch follows the last command: the copy goes to the file
            to_main = os.fdopen(os.dup(sink.fileno()), "wb")
        else:
            to_main = None
        targets = [t for t in (to_main, to_branch) if t is not None]
        pump = threading.Thread(target=_copy, args=(source, targets), daemon=True)
        pump.start()
        self.waiters.append(pump)
        return main_in

    def _await(self, i: int, proc: subprocess.Popen[bytes]) -> None:
        returncode = proc.wait()
        if returncode != 0 and not self._ours(i, returncode):
            self.fail(i)

    def _ours(self, i: int, returncode: int) -> bool:
        """SIGPIPE (the reader stopped) or a signal this module sent."""
        return returncode == -signal.SIGPIPE or (i in self.killed and returncode in _OURS)

    def fail(self, i: int) -> None:
        """Stage ``i`` failed (or the run's Cancel was set): stop every other stage."""
        with self.lock:
            if self.first is None:
                self.first = i
        self.terminate()

    def terminate(self) -> None:
        with self.lock:
            if self.stopped_at is None:
                self.stopped_at = time.monotonic()
            for i, proc in self.procs.items():
                if proc.returncode is None:
                    self.killed.add(i)
                    proc.terminate()

    def _run_python(self) -> Any:
        if self.python is None:
            return None
        stage = self.stages[self.python]
        assert isinstance(stage, PythonStage)
        stdin: IO[Any] | None = self.py_in
        stdout: IO[Any] | None = self.py_out
        if stage.text:
            stdin = io.TextIOWrapper(stdin) if stdin else None  # type: ignore[arg-type]
            stdout = io.TextIOWrapper(stdout) if stdout else None  # type: ignore[arg-type]
            self.py_in, self.py_out = stdin, stdout  # closed through the wrappers
        try:
            value = stage.func(stdin) if stdout is None else stage.func(stdin, stdout)
            if stdout is not None:
                stdout.flush()
            if stdin is not None and not _at_end(stdin):
                self.terminate()  # it stopped reading early: no more output is wanted
            return value
        except BrokenPipeError:
            return None  # the next stage stopped reading; its own outcome tells why
        except Exception as exc:
            with self.lock:
                if self.first is None:  # else a consequence of the failure that stopped us
                    self.python_error = exc
            self.fail(self.python)
            return None
        finally:
            _close(self.py_out)

    def _wait(self) -> None:
        for thread in self.waiters:
            while thread.is_alive():
                thread.join(_POLL_SECONDS)
                stopped = self.stopped_at
                if stopped is not None and time.monotonic() - stopped > GRACE_SECONDS:
                    for proc in self.procs.values():
                        if proc.returncode is None:
                            proc.kill()

    def _stderr(self, i: int) -> str:
        err = self.errs.pop(i, None)
        if err is None:
            return ""
        with err:
            err.seek(0)
            return err.read().decode(errors="replace")

    # -- the outcome -----------------------------------------------------------------------

    def outcome(self, value: Any) -> Finished:
        if self.first == _EXTERNAL:
            raise Cancelled(f"{self.about}: cancelled: another job failed first")
        for i in range(len(self.stages) + bool(self.branch)):
            if i == self.python:
                if self.python_error is not None:
                    raise self.python_error
                continue
            returncode = self.procs[i].returncode
            stderr = self.stderrs[i]
            printed = FAILURE_LINE.search(stderr)
            if returncode != 0 and not self._ours(i, returncode):
                line = first_error(stderr) if stderr.strip() else _exit_status(returncode)
            elif printed:  # the stage said it failed, whatever its exit code
                line = printed.group(0).strip()
            else:
                continue
            name = command_name(self.commands[i])
            raise PipelineError(
                f"{self.about}: {name} failed: {line}",
                self.stderrs,
                stage=i,
                command=name,
                returncode=returncode,
            )
        return Finished(self.stderrs, value)


def _exit_status(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        return f"killed by {signal.Signals(-returncode).name}"
    return f"exit code {returncode}"


def _at_end(stream: IO[Any]) -> bool:
    """Whether a Python stage read its input to the end (without waiting for more)."""
    with contextlib.suppress(ValueError, OSError):  # closed by the stage itself: done with it
        # End of file is readable at once; a writer that is still alive may never write again.
        ready, _, _ = select.select([stream.fileno()], [], [], 0)
        return bool(ready) and not stream.read(1)
    return True


def _copy(source: IO[bytes], targets: list[IO[bytes]]) -> None:
    """The branch's pump: copy ``source`` into every target that still reads."""
    live = list(targets)
    try:
        fd = source.fileno()
        while live:
            block = os.read(fd, PIPE_SIZE)
            if not block:
                break
            for target in list(live):
                try:
                    target.write(block)
                except (BrokenPipeError, ValueError):
                    live.remove(target)
                    _close(target)
    finally:
        for target in [source, *targets]:
            _close(target)
