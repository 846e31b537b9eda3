"""Benchmark: genopass against the floor (what bcftools needs to read the same file).

Generates, seeded and deterministic, a synthetic reference and two VCFs on it (1 sample, 1M
records; 100 samples, 200k records; made by ``genopass.demo.synthetic``, reused while their
arguments and generator version are the same), then times in the same run, ``--repeats`` times each:

- the floor ``bcftools view -Ou in.vcf.gz > /dev/null``;
- ``bcftools norm -m-any -f REF -Oz`` with 1 thread and with ``--threads N``;
- ``genopass harmonise`` and ``genopass parquet`` (on the harmonised output).

It prints a Markdown table per file (median wall time, ratio to the floor, peak memory) and the
headline ratios of DESIGN.md ("Performance targets") with PASS/MISS. It is a measurement, not a
test: it exits 0 whatever the outcome (unless the data cannot be generated).

Peak memory: "peak RSS" is the largest single process of the command's tree (``/usr/bin/time``'s
``%M``, or ``getrusage(RUSAGE_CHILDREN)`` in a wrapper process), "tree RSS" is the largest sum of
the RSS of all processes of the tree, sampled from /proc every 0.1 s (Linux only; shared pages are
counted once per process, so it is an upper bound on what the tree really needs).

Usage: ``make bench``, or ``PATH=.venv/bin:$PATH .venv/bin/python scripts/bench.py [--quick]``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from genopass.demo.synthetic import (
    DEFAULT_CONTIGS,
    GENERATOR_VERSION,
    SyntheticReference,
    digest,
    generate_vcf,
)

TARGET_HARMONISE = 1.15
TARGET_PARQUET = {1: 2.0, 100: 3.0}  # by number of samples (files with more than 1: the 3x)
TARGET_MEMORY_MB = 500.0


# --------------------------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------------------------

RUSAGE_WRAPPER = """
import resource, subprocess, sys
code = subprocess.call(sys.argv[2:])
peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
if sys.platform == "darwin":
    peak //= 1024
with open(sys.argv[1], "w") as handle:
    handle.write(f"{code} {peak}\\n")
sys.exit(code)
"""


def time_method() -> str:
    """'time' if GNU time works here, else 'getrusage'."""
    gnu = shutil.which("time") or ("/usr/bin/time" if Path("/usr/bin/time").exists() else None)
    if gnu:
        with tempfile.NamedTemporaryFile("r") as out:
            probe = subprocess.run(
                [gnu, "-f", "%e %M", "-o", out.name, "true"], capture_output=True, check=False
            )
            fields = Path(out.name).read_text().split()
            if probe.returncode == 0 and len(fields) == 2:
                return "time"
    return "getrusage"


def _children(root: int) -> list[int]:
    parent: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as handle:
                stat = handle.read()
        except OSError:
            continue
        ppid = int(stat[stat.rindex(b")") + 2 :].split()[1])
        parent.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        kids = parent.get(pid, [])
        found.extend(kids)
        todo.extend(kids)
    return found


class TreeSampler(threading.Thread):
    """Largest summed RSS of the descendants of ``root`` (not root itself), every ``interval``."""

    page = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096

    def __init__(self, root: int, interval: float = 0.1):
        super().__init__(daemon=True)
        self.root, self.interval = root, interval
        self.peak = 0
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            total = 0
            for pid in _children(self.root):
                try:
                    with open(f"/proc/{pid}/statm", "rb") as handle:
                        total += int(handle.read().split()[1]) * self.page
                except (OSError, IndexError, ValueError):
                    continue
            self.peak = max(self.peak, total)
            self.done.wait(self.interval)


@dataclass
class Run:
    seconds: float
    rss_mb: float | None
    tree_mb: float | None
    returncode: int
    stderr: str = ""


def measure(argv: Sequence[str], method: str, log: Path) -> Run:
    """Run ``argv`` once; wall time, peak RSS of its largest process, sampled tree RSS."""
    with tempfile.NamedTemporaryFile("r", suffix=".rss") as report:
        if method == "time":
            wrapped = ["/usr/bin/time", "-f", "%e %M", "-o", report.name, *argv]
        else:
            wrapped = [sys.executable, "-c", RUSAGE_WRAPPER, report.name, *argv]
        with open(log, "wb") as err:
            start = time.perf_counter()
            proc = subprocess.Popen(wrapped, stdout=subprocess.DEVNULL, stderr=err)
            sampler = TreeSampler(proc.pid) if Path("/proc/self/stat").exists() else None
            if sampler:
                sampler.start()
            code = proc.wait()
            seconds = time.perf_counter() - start
            if sampler:
                sampler.done.set()
                sampler.join()
        fields = Path(report.name).read_text().split()
    rss_kb = None
    if method == "time" and len(fields) >= 2:
        rss_kb = float(fields[-1])
    elif method == "getrusage" and len(fields) == 2:
        rss_kb = float(fields[1])
    stderr = log.read_text(errors="replace")[-2000:] if code else ""
    return Run(
        seconds=seconds,
        rss_mb=None if rss_kb is None else rss_kb / 1024,
        tree_mb=sampler.peak / 2**20 if sampler and sampler.peak else None,
        returncode=code,
        stderr=stderr,
    )


@dataclass
class Step:
    key: str
    label: str
    argv: list[str]
    cleanup: list[Path] = field(default_factory=list)
    requires: str | None = None
    runs: list[Run] = field(default_factory=list)
    failed: str | None = None

    @property
    def median(self) -> float | None:
        if self.failed or not self.runs:
            return None
        return statistics.median(r.seconds for r in self.runs)

    def peak(self, attr: str) -> float | None:
        values = [getattr(r, attr) for r in self.runs if getattr(r, attr) is not None]
        return max(values) if values and not self.failed else None


def _remove(path: Path) -> None:
    if path.is_dir():
        shutil.rmtree(path)
    elif path.exists():
        path.unlink()


def steps_for(
    vcf: Path, fasta: Path, run_dir: Path, threads: int, genopass: list[str]
) -> list[Step]:
    run_dir.mkdir(parents=True, exist_ok=True)
    norm1, norm2 = run_dir / "norm-1thread.vcf.gz", run_dir / "norm-threads.vcf.gz"
    harmonised, rejects = run_dir / "harmonised.vcf.gz", run_dir / "rejects.vcf.gz"
    accounting, parquet = run_dir / "accounting.tsv", run_dir / "parquet"
    norm = ["bcftools", "norm", "-m-any", "-f", str(fasta), "-Oz"]
    harmonised_files = [harmonised, Path(f"{harmonised}.tbi"), rejects, accounting]
    return [
        Step(
            "floor",
            "floor: bcftools view -Ou > /dev/null",
            ["bash", "-c", f"bcftools view -Ou {shlex.quote(str(vcf))} > /dev/null"],
        ),
        Step(
            "norm", "bcftools norm -m-any -f REF -Oz", [*norm, "-o", str(norm1), str(vcf)], [norm1]
        ),
        Step(
            "norm_threads",
            f"bcftools norm -m-any -f REF -Oz --threads {threads}",
            [*norm, "--threads", str(threads), "-o", str(norm2), str(vcf)],
            [norm2],
        ),
        Step(
            "harmonise",
            f"genopass harmonise --threads {threads}",
            [
                *genopass,
                "harmonise",
                str(vcf),
                "--reference",
                str(fasta),
                "--out",
                str(harmonised),
                "--rejects",
                str(rejects),
                "--accounting",
                str(accounting),
                "--threads",
                str(threads),
            ],
            harmonised_files,
        ),
        Step(
            "parquet",
            f"genopass parquet --threads {threads}",
            [
                *genopass,
                "parquet",
                str(harmonised),
                "--out",
                str(parquet),
                "--threads",
                str(threads),
            ],
            [parquet],
            requires="harmonise",
        ),
    ]


def run_steps(steps: list[Step], repeats: int, method: str, log_dir: Path) -> None:
    """Round-robin over the steps, ``repeats`` times, so that drift in machine load hits all."""
    by_key = {s.key: s for s in steps}
    for rep in range(repeats):
        for step in steps:
            if step.failed:
                continue
            if step.requires and by_key[step.requires].failed:
                step.failed = f"needs {step.requires}, which failed"
                continue
            for path in step.cleanup:
                _remove(path)
            run = measure(step.argv, method, log_dir / f"{step.key}.{rep + 1}.log")
            if run.returncode != 0:
                step.failed = f"exit {run.returncode}: {run.stderr.strip()[-600:]}"
                print(f"  {step.label}: FAILED ({step.failed.splitlines()[0]})", flush=True)
                continue
            step.runs.append(run)
            mem = f", {run.rss_mb:.0f} MB" if run.rss_mb is not None else ""
            print(f"  [{rep + 1}/{repeats}] {step.label}: {run.seconds:.2f} s{mem}", flush=True)


def _fmt(value: float | None, spec: str, missing: str = "n/a") -> str:
    return missing if value is None else format(value, spec)


def table(steps: list[Step]) -> str:
    floor = next(s for s in steps if s.key == "floor").median
    lines = [
        "| command | median s | x floor | peak RSS MB | tree RSS MB | runs (s) |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for step in steps:
        if step.failed:
            lines.append(f"| {step.label} | not available | | | | |")
            continue
        median = step.median
        ratio = median / floor if median is not None and floor else None
        runs = ", ".join(f"{r.seconds:.2f}" for r in step.runs)
        lines.append(
            f"| {step.label} | {_fmt(median, '.2f')} | {_fmt(ratio, '.2f')}x "
            f"| {_fmt(step.peak('rss_mb'), '.0f')} | {_fmt(step.peak('tree_mb'), '.0f')} | {runs} |"
        )
    return "\n".join(lines)


def headline(steps: list[Step], samples: int) -> list[dict[str, object]]:
    by_key = {s.key: s for s in steps}

    def ratio(a: str, b: str) -> float | None:
        top, bottom = by_key[a].median, by_key[b].median
        return top / bottom if top is not None and bottom else None

    parquet_limit = TARGET_PARQUET[1] if samples == 1 else TARGET_PARQUET[100]
    rss = [by_key[k].peak("rss_mb") for k in ("harmonise", "parquet")]
    tree = [by_key[k].peak("tree_mb") for k in ("harmonise", "parquet")]
    memory = max(rss) if all(v is not None for v in rss) else None
    rows: list[dict[str, object]] = [
        {
            "target": "harmonise / bcftools norm -Oz --threads",
            "measured": ratio("harmonise", "norm_threads"),
            "limit": TARGET_HARMONISE,
            "unit": "x",
        },
        {
            "target": "parquet / floor",
            "measured": ratio("parquet", "floor"),
            "limit": parquet_limit,
            "unit": "x",
        },
        {
            "target": "peak memory, largest process (harmonise, parquet)",
            "measured": memory,
            "limit": TARGET_MEMORY_MB,
            "unit": "MB",
            "tree_mb": max((v for v in tree if v is not None), default=None),
        },
    ]
    for row in rows:
        value = row["measured"]
        if value is None:
            row["result"] = "NOT AVAILABLE"
        elif row["unit"] == "MB":
            row["result"] = "PASS" if value < row["limit"] else "MISS"  # type: ignore[operator]
        else:
            row["result"] = "PASS" if value <= row["limit"] else "MISS"  # type: ignore[operator]
    return rows


def headline_table(rows: list[dict[str, object]]) -> str:
    lines = ["| target | measured | limit | result |", "|---|---:|---:|---|"]
    for row in rows:
        unit, value = row["unit"], row["measured"]
        if unit == "MB":
            shown = _fmt(value, ".0f") + " MB"  # type: ignore[arg-type]
            if row.get("tree_mb") is not None:
                shown += f" (tree {row['tree_mb']:.0f} MB)"
            limit = f"< {row['limit']:.0f} MB"
        else:
            shown = _fmt(value, ".2f") + "x"  # type: ignore[arg-type]
            limit = f"<= {row['limit']}x"
        lines.append(f"| {row['target']} | {shown} | {limit} | {row['result']} |")
    return "\n".join(lines)


def _count(argv: list[str]) -> int | None:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=True).stdout
        return int(out.split()[0])
    except (subprocess.CalledProcessError, ValueError, IndexError, OSError):
        return None


def _load() -> list[float] | None:
    """1, 5 and 15 minute load averages."""
    return [round(x, 2) for x in os.getloadavg()] if hasattr(os, "getloadavg") else None


def _genopass_command() -> list[str]:
    found = shutil.which("genopass") or shutil.which(
        "genopass", path=str(Path(sys.executable).parent)
    )
    return [found] if found else [sys.executable, "-m", "genopass.cli"]


def _tool_version(argv: list[str]) -> str:
    try:
        out = subprocess.run(argv, capture_output=True, text=True, check=False)
        return (out.stdout or out.stderr).splitlines()[0].strip()
    except (OSError, IndexError):
        return "unknown"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=Path("bench-work"))
    parser.add_argument("--records-1", type=int, default=1_000_000, help="records, 1-sample VCF")
    parser.add_argument(
        "--records-100", type=int, default=200_000, help="records, multi-sample VCF"
    )
    parser.add_argument("--samples", type=int, default=100, help="samples of the multi-sample VCF")
    parser.add_argument("--quick", action="store_true", help="100k / 20k records")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", type=Path, help="also save the results here")
    parser.add_argument("--generate-only", action="store_true", help="only generate the data")
    args = parser.parse_args(argv)
    if args.quick:
        args.records_1, args.records_100 = 100_000, 20_000
    began = time.perf_counter()
    for tool in ("bcftools", "bgzip", "tabix", "samtools"):
        if not shutil.which(tool):
            print(f"bench: {tool} not found on PATH", file=sys.stderr)
            return 2

    work = args.workdir.resolve()
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    reference = SyntheticReference(DEFAULT_CONTIGS, args.seed)
    fasta = data / f"reference-{reference.key}.fa"
    files = [(args.records_1, 1), (args.records_100, args.samples)]
    print(f"# genopass benchmark\n\ndata in {data}", flush=True)
    t0 = time.perf_counter()
    reference.write_fasta(fasta)
    generated: dict[str, float] = {"reference": time.perf_counter() - t0}
    vcfs = []
    for records, samples in files:
        name = f"bench-{samples}s-{records}r-{digest(reference.key, args.seed, records, samples)}"
        path = data / f"{name}.vcf.gz"
        t0 = time.perf_counter()
        reused = path.exists() and Path(f"{path}.tbi").exists()
        generate_vcf(
            path,
            reference,
            records,
            samples,
            seed=args.seed,
            fasta_name=fasta.name,
        )
        generated[path.name] = time.perf_counter() - t0
        state = "reused" if reused else f"generated in {generated[path.name]:.1f} s"
        print(f"{path.name}: {records} records, {samples} sample(s) ({state})", flush=True)
        vcfs.append((path, records, samples))
    if args.generate_only:
        return 0

    method = time_method()
    method_text = {
        "time": "/usr/bin/time -f '%e %M' (max RSS of the largest process of the tree)",
        "getrusage": "getrusage(RUSAGE_CHILDREN) in a wrapper (max RSS of the largest process)",
    }[method]
    genopass = _genopass_command()
    machine = {
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "bcftools": _tool_version(["bcftools", "--version"]),
        "genopass": _tool_version([*genopass, "--version"]),
        "load_before": _load(),
    }
    print(f"memory measured with {method_text}; tree RSS sampled from /proc every 0.1 s")
    print(
        f"{machine['bcftools']}; {machine['genopass']}; {machine['cpus']} CPUs; "
        f"load average {machine['load_before']}"
    )
    print(f"wall time: median of {args.repeats} runs; run order round-robin", flush=True)
    busy = machine["load_before"]
    if busy and busy[0] > 0.5 * (os.cpu_count() or 1):
        print(
            f"warning: load average {busy[0]:.1f} at start: other processes compete for the CPUs,"
            " timings will be noisy",
            flush=True,
        )
    print(flush=True)

    results = []
    outputs = []
    for path, records, samples in vcfs:
        tag = f"{samples} sample{'s' if samples > 1 else ''}, {records:,} records"
        print(f"## {tag}", flush=True)
        run_dir = work / "runs" / path.name.removesuffix(".vcf.gz")
        log_dir = run_dir / "logs"
        log_dir.mkdir(parents=True, exist_ok=True)
        steps = steps_for(path, fasta, run_dir, args.threads, genopass)
        subprocess.run(steps[0].argv, check=True)  # warm the page cache
        run_steps(steps, args.repeats, method, log_dir)
        rows = headline(steps, samples)
        harmonise = next(s for s in steps if s.key == "harmonise")
        notes = {}
        if not harmonise.failed:
            notes = {
                "input_records": _count(["bcftools", "index", "-n", str(path)]),
                "harmonised_records": _count(
                    ["bcftools", "index", "-n", str(run_dir / "harmonised.vcf.gz")]
                ),
                "rejected_records": _count(
                    [
                        "bash",
                        "-c",
                        f"bcftools view -H {shlex.quote(str(run_dir / 'rejects.vcf.gz'))} | wc -l",
                    ]
                ),
            }
        text = f"### {tag}\n\n{table(steps)}\n\n{headline_table(rows)}"
        if notes:
            text += (
                f"\n\nharmonised: {notes['harmonised_records']} records out "
                f"(input {notes['input_records']}, rejected {notes['rejected_records']})"
            )
        for step in steps:
            if step.failed:
                text += f"\n\n{step.label}: not available ({step.failed.splitlines()[0][:300]})"
        outputs.append(text)
        print(f"\n{text}\n", flush=True)
        results.append(
            {
                "file": str(path),
                "records": records,
                "samples": samples,
                "steps": [
                    {
                        "key": s.key,
                        "command": s.label,
                        "argv": s.argv,
                        "median_seconds": s.median,
                        "runs": [asdict(r) for r in s.runs],
                        "peak_rss_mb": s.peak("rss_mb"),
                        "tree_rss_mb": s.peak("tree_mb"),
                        "failed": s.failed,
                    }
                    for s in steps
                ],
                "headline": rows,
                "notes": notes,
            }
        )

    total = time.perf_counter() - began
    machine["load_after"] = _load()
    print("# Summary\n")
    print("\n\n".join(outputs))
    print(f"\nmemory: {method_text}")
    print(
        f"total run time {total:.0f} s (generation {sum(generated.values()):.0f} s); "
        f"load average after {machine['load_after']}"
    )
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "generator_version": GENERATOR_VERSION,
                    "seed": args.seed,
                    "repeats": args.repeats,
                    "threads": args.threads,
                    "memory_method": method,
                    "machine": machine,
                    "generation_seconds": generated,
                    "files": results,
                    "total_seconds": total,
                },
                indent=2,
                default=str,
            )
            + "\n"
        )
        print(f"results saved to {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
