"""The process runner: cancel on the first failure, the earliest failing stage named, stderr
scanned even after exit code 0, no deadlock on large stderr, Python stages in the line."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import IO

import pytest

from genopass.errors import InputError
from genopass.tools import (
    Branch,
    Cancel,
    Cancelled,
    PipelineError,
    PythonStage,
    command_name,
    run,
    run_pipeline,
    run_tool,
)

SLOW = ["sleep", "30"]  # a producer that would take 30 s if nothing stopped it
BOUND = 10.0  # seconds: far under the producer's natural length


def sh(script: str) -> list[str]:
    return ["sh", "-c", script]


def test_output_and_stderrs_of_a_pipeline(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    stderrs = run_pipeline(
        [sh("printf 'b\\na\\n'; echo note >&2"), ["sort"]], about="x.vcf", stdout=out
    )
    assert out.read_text() == "a\nb\n"
    assert stderrs == ["note\n", ""]
    assert run_tool(["echo", "hello"], about="x.vcf") == "hello\n"


def test_failing_middle_stage_is_named_and_the_others_are_stopped() -> None:
    start = time.monotonic()
    with pytest.raises(PipelineError) as caught:
        run([SLOW, sh("echo 'Error: bad record at line 3' >&2; exit 3"), ["cat"]], about="in.vcf")
    assert time.monotonic() - start < BOUND
    error = caught.value
    assert str(error) == "in.vcf: sh failed: Error: bad record at line 3"
    assert error.stage == 1
    assert error.returncode == 3
    assert isinstance(error, InputError)  # what the CLI turns into one line


def test_the_earliest_failure_is_reported_not_its_consequence() -> None:
    # `false` fails first in the line; `cat` downstream fails too (exit 4 after EOF)
    with pytest.raises(PipelineError) as caught:
        run([["false"], sh("cat; exit 4")], about="in.vcf")
    assert caught.value.stage == 0
    assert str(caught.value) == "in.vcf: false failed: exit code 1"


def test_a_reader_that_stops_early_is_no_failure(tmp_path: Path) -> None:
    out = tmp_path / "out.txt"
    run([["yes"], ["head", "-n", "3"]], about="x", stdout=out)  # yes dies of SIGPIPE
    assert out.read_text() == "y\ny\ny\n"


@pytest.mark.parametrize(
    "line",
    [
        "[E::bgzf_read_block] Invalid BGZF header at offset 1234",
        "Failed to read from in.vcf.gz: unknown file type",
        "Could not parse the record",
    ],
)
def test_an_error_line_after_exit_code_0_fails(line: str) -> None:
    with pytest.raises(PipelineError) as caught:
        run([sh(f"echo ok; echo '{line}' >&2; exit 0"), ["cat"]], about="in.vcf.gz")
    assert str(caught.value) == f"in.vcf.gz: sh failed: {line}"
    assert caught.value.returncode == 0


def test_warnings_after_exit_code_0_pass() -> None:
    script = "echo \"[W::vcf_parse] Contig 'chrUn' is not defined in the header\" >&2"
    assert run([sh(script)], about="x").stderrs[0].startswith("[W::vcf_parse]")


def test_python_stage_that_raises_stops_the_commands() -> None:
    def convert(stdin: IO[bytes]) -> None:
        stdin.readline()
        raise ValueError("cannot convert line 1")

    start = time.monotonic()
    with pytest.raises(ValueError, match="cannot convert line 1"):
        run([sh("echo first; exec sleep 30"), PythonStage(convert, "convert")], about="x")
    assert time.monotonic() - start < BOUND


def test_python_stage_between_commands(tmp_path: Path) -> None:
    def upper(stdin: IO[str], stdout: IO[str]) -> None:
        for line in stdin:
            stdout.write(line.upper())

    out = tmp_path / "out.txt"
    run([["printf", "b\\na\\n"], PythonStage(upper, "upper", text=True), ["sort"]], about="x",
        stdout=out)  # fmt: skip
    assert out.read_text() == "A\nB\n"


def test_python_stage_between_commands_when_the_next_fails() -> None:
    def copy(stdin: IO[bytes], stdout: IO[bytes]) -> None:
        for line in stdin:
            stdout.write(line)

    start = time.monotonic()
    with pytest.raises(PipelineError) as caught:
        run([["yes"], PythonStage(copy, "copy"), sh("head -c 10 >/dev/null; exit 5")], about="x")
    assert time.monotonic() - start < BOUND
    assert caught.value.stage == 2


def test_python_sink_returns_its_value_and_an_early_stop_ends_the_producer() -> None:
    start = time.monotonic()
    found = run([sh("echo one; exec sleep 30"), PythonStage(lambda f: f.readline(), "first")],
                about="x").value  # fmt: skip
    assert found == b"one\n"
    assert time.monotonic() - start < BOUND


def test_a_long_producer_is_killed_when_the_consumer_fails() -> None:
    start = time.monotonic()
    with pytest.raises(PipelineError) as caught:
        run([SLOW, ["false"]], about="x")
    assert time.monotonic() - start < BOUND
    assert caught.value.command == "false"


def test_a_producer_that_ignores_sigterm_is_killed() -> None:
    start = time.monotonic()
    with pytest.raises(PipelineError):
        run([sh("trap '' TERM; sleep 30"), ["false"]], about="x")
    assert time.monotonic() - start < BOUND + 5  # SIGTERM ignored: SIGKILL after the grace


def test_stderr_larger_than_a_pipe_does_not_deadlock(tmp_path: Path) -> None:
    # 4 MB of warnings on stderr beside 4 MB of data: with a pipe nobody read, both would block
    noisy = sh("i=0; while [ $i -lt 4 ]; do head -c 1000000 /dev/zero | tr '\\0' 'w' >&2; "
               "head -c 1000000 /dev/zero; i=$((i+1)); done")  # fmt: skip
    out = tmp_path / "out.bin"
    stderrs = run_pipeline([noisy, ["cat"]], about="x", stdout=out)
    assert out.stat().st_size == 4_000_000
    assert len(stderrs[0]) == 4_000_000


def test_side_branch_gets_a_copy(tmp_path: Path) -> None:
    out, copy = tmp_path / "out.txt", tmp_path / "copy.txt"
    run([["printf", "1\\n2\\n3\\n"], ["tac"]], about="x", stdout=out,
        branch=Branch(0, ["wc", "-l"], copy))  # fmt: skip
    assert out.read_text() == "3\n2\n1\n"
    assert copy.read_text().strip() == "3"


def test_failing_side_branch_stops_the_line() -> None:
    start = time.monotonic()
    with pytest.raises(PipelineError) as caught:
        run([["yes"], ["cat"]], about="x", branch=Branch(0, sh("head -c 5 >/dev/null; exit 2")))
    assert time.monotonic() - start < BOUND
    assert caught.value.stage == 2  # the branch comes after the stages


def test_cancel_stops_a_pipeline_in_another_thread() -> None:
    cancel = Cancel()
    raised: list[BaseException] = []

    def job() -> None:
        try:
            run([SLOW, ["cat"]], about="x", cancel=cancel)
        except BaseException as exc:  # noqa: BLE001  # the outcome is what the test checks
            raised.append(exc)

    start = time.monotonic()
    thread = threading.Thread(target=job)
    thread.start()
    time.sleep(0.5)
    cancel.set()
    thread.join(BOUND)
    assert not thread.is_alive() and time.monotonic() - start < BOUND
    assert [type(e) for e in raised] == [Cancelled]
    with pytest.raises(Cancelled):
        run([["true"]], about="x", cancel=cancel)  # a set Cancel stops later runs at once


def test_missing_tool_is_a_usage_error() -> None:
    from genopass.errors import UsageError

    with pytest.raises(UsageError, match="'no-such-tool-x' is not on PATH"):
        run([["no-such-tool-x", "view"]], about="x")


def test_command_names() -> None:
    assert command_name(["bcftools", "view", "-h", "in.vcf"]) == "bcftools view"
    assert command_name(["stdbuf", "-o", "1M", "bcftools", "query", "-f", "%POS"]) == (
        "bcftools query"
    )
    assert command_name(["bcftools", "+fill-tags", "-"]) == "bcftools +fill-tags"
    assert command_name(["awk", "-v", "x=1", "{print}"]) == "awk"
    assert command_name(["/usr/bin/bgzip", "-c"]) == "bgzip"
