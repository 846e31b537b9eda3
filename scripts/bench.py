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


def step_json(step: Step) -> dict[str, object]:
    """A step's results, for --json."""
    return {
        "key": step.key,
        "command": step.label,
        "argv": step.argv,
        "median_seconds": step.median,
        "runs": [asdict(r) for r in step.runs],
        "peak_rss_mb": step.peak("rss_mb"),
        "tree_rss_mb": step.peak("tree_mb"),
        "failed": step.failed,
    }


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


# --------------------------------------------------------------------------------------------
# Scaling table (--scaling)
# --------------------------------------------------------------------------------------------

TARGET_SPEEDUP = 1.8  # 2 cores against 1, multi-contig inputs
TARGET_FREQUENCIES = 1.0  # genopass frequencies / bcftools +fill-tags, same cohort, same cores
TARGET_MEMORY_GROWTH = 1.5  # "flat": peak at the largest input / peak at the smallest
CORES = (1, 2)
FILL_TAGS = "AC,AN,AF,AC_Het,AC_Hom,AC_Hemi"  # what genopass frequencies computes
COUNTRIES = ("DE", "ES", "FR", "IT")
GENOPASS_STEPS = ("harmonise", "parquet", "cohort", "frequencies")


@dataclass
class ScaledStep(Step):
    """A step of the scaling table: one command (``base``) on ``cores`` pinned cores."""

    base: str = ""
    cores: int = 1


@dataclass
class ScaleInput:
    tag: str
    records: int
    samples: int
    kind: str  # "vcf" (one input VCF) or "cohort" (per-sample VCFs, merged)
    repeats: int
    steps: list[ScaledStep] = field(default_factory=list)

    def step(self, base: str, cores: int) -> ScaledStep | None:
        return next((s for s in self.steps if s.base == base and s.cores == cores), None)

    def seconds(self, base: str, cores: int) -> float | None:
        step = self.step(base, cores)
        return step.median if step else None


def pinned(cores: int, argv: Sequence[str]) -> list[str]:
    """``argv`` on the first ``cores`` CPUs (``taskset -c 0[,1...]``); as is without taskset."""
    if not shutil.which("taskset"):
        return list(argv)
    return ["taskset", "-c", ",".join(str(i) for i in range(cores)), *argv]


def _threads(cores: int) -> list[str]:
    """bcftools' --threads: extra compression threads, none on one core."""
    return ["--threads", str(cores)] if cores > 1 else []


def _scaled(base: str, label: str, cores: int, argv: list[str], **kw: object) -> ScaledStep:
    return ScaledStep(
        f"{base}@{cores}",
        label,
        pinned(cores, argv),
        base=base,
        cores=cores,
        **kw,  # type: ignore[arg-type]
    )


def scaling_vcf_steps(
    vcf: Path, fasta: Path, run_dir: Path, cores: Sequence[int], genopass: list[str]
) -> list[ScaledStep]:
    """Floor (one core), then bcftools norm, genopass harmonise and genopass parquet (on that
    harmonised output) on each number of cores; in this order, round-robin."""
    run_dir.mkdir(parents=True, exist_ok=True)
    steps = [
        _scaled(
            "floor",
            "floor: bcftools view -Ou > /dev/null",
            1,
            ["bash", "-c", f"bcftools view -Ou {shlex.quote(str(vcf))} > /dev/null"],
        )
    ]
    norm = ["bcftools", "norm", "-m-any", "-f", str(fasta), "-Oz"]
    for n in cores:
        out = run_dir / f"norm-{n}.vcf.gz"
        steps.append(
            _scaled(
                "norm",
                "bcftools norm -m-any -f REF -Oz [--threads N]",
                n,
                [*norm, *_threads(n), "-o", str(out), str(vcf)],
                cleanup=[out],
            )
        )
    for n in cores:
        out, rejects, accounting = (
            run_dir / f"harmonised-{n}.vcf.gz",
            run_dir / f"rejects-{n}.vcf.gz",
            run_dir / f"accounting-{n}.tsv",
        )
        argv = [
            *genopass,
            "harmonise",
            str(vcf),
            "--reference",
            str(fasta),
            "--out",
            str(out),
            "--rejects",
            str(rejects),
            "--accounting",
            str(accounting),
            "--threads",
            str(n),
        ]
        steps.append(
            _scaled(
                "harmonise",
                "genopass harmonise --threads N",
                n,
                argv,
                cleanup=[out, Path(f"{out}.tbi"), rejects, accounting],
            )
        )
    for n in cores:
        out = run_dir / f"parquet-{n}"
        argv = [
            *genopass,
            "parquet",
            str(run_dir / f"harmonised-{n}.vcf.gz"),
            "--out",
            str(out),
            "--threads",
            str(n),
        ]
        steps.append(
            _scaled(
                "parquet",
                "genopass parquet --threads N (harmonised)",
                n,
                argv,
                cleanup=[out],
                requires=f"harmonise@{n}",
            )
        )
    return steps


@dataclass
class CohortData:
    members: list[Path]  # per-sample VCFs (their ALT sites only, as genopass export-vcf writes)
    member_list: Path  # their paths, one a line (bcftools merge -l)
    samples_parquet: Path  # the samples table (country, sex) genopass frequencies reads
    populations: Path  # the same populations for bcftools +fill-tags -S
    cohort: Path  # the members merged, absent = 0/0 (made once, input of the timed steps)
    parquet: Path  # genopass parquet of the cohort


def _sample_records(names: Sequence[str]) -> list[object]:
    from genopass.export.samples import SampleRecord

    return [
        SampleRecord(
            sample=name,
            country=COUNTRIES[i % len(COUNTRIES)],
            sex=("female", "male")[(i // len(COUNTRIES)) % 2],
            consent=("GRU",),
            centre="bench",
        )
        for i, name in enumerate(names)
    ]


def prepare_cohort(
    source: Path, fasta: Path, folder: Path, genopass: list[str], threads: int
) -> CohortData:
    """Per-sample VCFs of ``source`` (normalised, INFO dropped, each sample's ALT sites only:
    ``bcftools +split -i 'GT="alt"'``), their samples table and +fill-tags populations, the
    cohort VCF (absent = 0/0) and its Parquet tables; each made once and reused (``folder``
    is the cache)."""
    import pyarrow.parquet as pq

    from genopass.export.samples import PARQUET_OPTIONS, samples_table

    folder.mkdir(parents=True, exist_ok=True)
    members_dir = folder / "members"
    if not (members_dir / ".complete").exists():
        tmp = folder / ".tmp.members"
        _remove(tmp)
        subprocess.run(
            [
                "bash",
                "-o",
                "pipefail",
                "-c",
                f"bcftools norm -m-any -f {shlex.quote(str(fasta))} -Ou {shlex.quote(str(source))}"
                f" | bcftools annotate -x INFO -Ou - | bcftools +split -i 'GT=\"alt\"' -Oz"
                f" -o {shlex.quote(str(tmp))} -",
            ],
            check=True,
            stderr=subprocess.DEVNULL,
        )
        from concurrent.futures import ThreadPoolExecutor

        files = sorted(tmp.glob("*.vcf.gz"))
        with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
            for done in pool.map(
                lambda p: subprocess.run(["bcftools", "index", "-t", str(p)], check=False), files
            ):
                done.check_returncode()
        (tmp / ".complete").write_text(f"{len(files)}\n")
        _remove(members_dir)
        os.replace(tmp, members_dir)
    members = sorted(members_dir.glob("*.vcf.gz"))
    member_list = folder / "members.txt"
    samples_parquet = folder / "samples.parquet"
    populations = folder / "populations.txt"
    if not populations.exists():  # written last of the three
        names = [p.name.removesuffix(".vcf.gz") for p in members]
        records = _sample_records(names)
        member_list.write_text("".join(f"{p}\n" for p in members))
        pq.write_table(samples_table(records), samples_parquet, **PARQUET_OPTIONS)  # type: ignore[arg-type]
        code = {"female": "F", "male": "M"}
        populations.write_text(
            "".join(
                f"{r.sample}\t{code[r.sex]},{r.country},{r.country}_{code[r.sex]}\n"  # type: ignore[attr-defined]
                for r in records
            )
        )
    # The cohort as `genopass cohort --missing-genotypes reference` writes it (0/0 where a
    # sample has no record, AC/AN/AF... by +fill-tags), made by bcftools alone: that mode runs
    # five bcftools commands per sample, and a cohort of ./. would leave frequencies nothing
    # to count.
    cohort = folder / "cohort-ref.vcf.gz"
    if not Path(f"{cohort}.tbi").exists():
        tmp = folder / ".tmp.cohort-ref.vcf.gz"
        subprocess.run(
            ["bash", "-o", "pipefail", "-c",
             f"bcftools merge -m none --missing-to-ref --no-version -Ou"
             f" -l {shlex.quote(str(member_list))} | bcftools +fill-tags --no-version -Oz"
             f" --threads {threads} -o {shlex.quote(str(tmp))} - -- -t {FILL_TAGS}"],
            check=True,
        )  # fmt: skip
        subprocess.run(["bcftools", "index", "-t", "-f", str(tmp)], check=True)
        os.replace(f"{tmp}.tbi", f"{cohort}.tbi.tmp")
        os.replace(tmp, cohort)
        os.replace(f"{cohort}.tbi.tmp", f"{cohort}.tbi")
    parquet = folder / "parquet-ref"
    if not (parquet / "genotypes").is_dir():
        tmp = folder / ".tmp.parquet"
        _remove(tmp)
        subprocess.run(
            [*genopass, "parquet", str(cohort), "--out", str(tmp), "--threads", str(threads)],
            check=True,
            stdout=subprocess.DEVNULL,
        )
        os.replace(tmp, parquet)
    return CohortData(members, member_list, samples_parquet, populations, cohort, parquet)


def scaling_cohort_steps(
    data: CohortData, run_dir: Path, cores: Sequence[int], genopass: list[str]
) -> list[ScaledStep]:
    """Floor (reading the cohort VCF), the bare ``bcftools merge`` of the per-sample VCFs,
    ``genopass cohort`` of them, ``genopass parquet`` of the cohort, ``bcftools +fill-tags``
    of the cohort for the populations genopass frequencies computes, and genopass
    frequencies (from the cohort's Parquet tables)."""
    run_dir.mkdir(parents=True, exist_ok=True)
    cohort = shlex.quote(str(data.cohort))
    steps = [
        _scaled(
            "floor",
            "floor: bcftools view -Ou > /dev/null (cohort VCF)",
            1,
            ["bash", "-c", f"bcftools view -Ou {cohort} > /dev/null"],
        )
    ]
    for n in cores:
        out = run_dir / f"merge-{n}.vcf.gz"
        steps.append(
            _scaled(
                "merge",
                "bcftools merge -m none -Oz [--threads N]",
                n,
                [
                    "bcftools",
                    "merge",
                    "-m",
                    "none",
                    "-Oz",
                    *_threads(n),
                    "-o",
                    str(out),
                    "-l",
                    str(data.member_list),
                ],
                cleanup=[out],
            )
        )
    for n in cores:
        out = run_dir / f"cohort-{n}.vcf.gz"
        steps.append(
            _scaled(
                "cohort",
                "genopass cohort --threads N",
                n,
                [
                    *genopass,
                    "cohort",
                    *map(str, data.members),
                    "--out",
                    str(out),
                    "--threads",
                    str(n),
                ],
                cleanup=[out, Path(f"{out}.tbi")],
            )
        )
    for n in cores:
        out = run_dir / f"parquet-{n}"
        steps.append(
            _scaled(
                "parquet",
                "genopass parquet --threads N (cohort VCF)",
                n,
                [*genopass, "parquet", str(data.cohort), "--out", str(out), "--threads", str(n)],
                cleanup=[out],
            )
        )
    pops = shlex.quote(str(data.populations))
    for n in cores:
        threads = f" --threads {n}" if n > 1 else ""
        steps.append(
            _scaled(
                "fill_tags",
                "bcftools +fill-tags -S POPS -Ou > /dev/null",
                n,
                [
                    "bash",
                    "-c",
                    f"bcftools +fill-tags{threads} -Ou {cohort} -- -S {pops}"
                    f" -t {FILL_TAGS} > /dev/null",
                ],
            )
        )
    for n in cores:
        out = run_dir / f"frequencies-{n}"
        steps.append(
            _scaled(
                "frequencies",
                "genopass frequencies --threads N (cohort Parquet)",
                n,
                [
                    *genopass,
                    "frequencies",
                    str(data.parquet),
                    "--samples-table",
                    str(data.samples_parquet),
                    "--dataset",
                    "bench",
                    "--out",
                    str(out),
                    "--threads",
                    str(n),
                ],
                cleanup=[out],
            )
        )
    return steps


def _ratio(top: float | None, bottom: float | None) -> float | None:
    return top / bottom if top is not None and bottom else None


def _mb(step: ScaledStep | None) -> str:
    if step is None or step.failed:
        return "n/a"
    rss, tree = step.peak("rss_mb"), step.peak("tree_mb")
    text = _fmt(rss, ".0f")
    return f"{text} ({tree:.0f})" if tree is not None else text


def scaling_table(inputs: Sequence[ScaleInput], cores: Sequence[int]) -> str:
    """One row per input and command: per number of cores the median wall time, records per
    second, ratio to that input's floor (measured in the same run, one core), peak memory;
    then the speed-up from the fewest to the most cores."""
    head = ["input", "command"]
    for n in cores:
        c = f"{n} core{'s' if n > 1 else ''}"
        head += [f"{c}: s", f"{c}: records/s", f"{c}: x floor", f"{c}: peak MB (tree)"]
    head += [f"speed-up {cores[0]}->{cores[-1]}" if len(cores) > 1 else "speed-up", "runs"]
    lines = [
        "| " + " | ".join(head) + " |",
        "|" + "|".join(["---"] * 2 + ["---:"] * (len(head) - 3) + ["---"]) + "|",
    ]
    for item in inputs:
        floor = item.seconds("floor", 1)
        bases = list(dict.fromkeys(s.base for s in item.steps))
        for base in bases:
            row = [item.tag, next(s.label for s in item.steps if s.base == base)]
            for n in cores:
                step = item.step(base, n)
                if step is None:
                    row += ["", "", "", ""]
                    continue
                median = step.median
                row += [
                    "failed" if step.failed else _fmt(median, ".2f"),
                    _fmt(_ratio(item.records, median), ",.0f"),
                    _fmt(_ratio(median, floor), ".2f") + ("x" if median and floor else ""),
                    _mb(step),
                ]
            speed = _ratio(item.seconds(base, cores[0]), item.seconds(base, cores[-1]))
            runs = "; ".join(
                f"{s.cores}c: " + ", ".join(f"{r.seconds:.1f}" for r in s.runs)
                for s in item.steps
                if s.base == base and s.runs
            )
            row += [_fmt(speed, ".2f") + ("x" if speed else "") if base != "floor" else "", runs]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def _verdict(value: float | None, limit: float, below: bool = False) -> str:
    if value is None:
        return "NOT AVAILABLE"
    ok = value < limit if below else value <= limit
    return "PASS" if ok else "MISS"


def scaling_targets(inputs: Sequence[ScaleInput], cores: Sequence[int]) -> list[dict[str, object]]:
    """The targets of DESIGN.md ("Performance targets") against the scaling table."""
    most = cores[-1]
    rows: list[dict[str, object]] = []

    def add(target: str, value: float | None, limit: float, unit: str, result: str) -> None:
        rows.append(
            {"target": target, "measured": value, "limit": limit, "unit": unit, "result": result}
        )

    for item in inputs:
        if item.kind != "vcf":
            continue
        value = _ratio(item.seconds("harmonise", most), item.seconds("norm", most))
        add(
            f"harmonise / norm, {most} cores: {item.tag}",
            value,
            TARGET_HARMONISE,
            "x",
            _verdict(value, TARGET_HARMONISE),
        )
    for item in inputs:
        limit = TARGET_PARQUET[1] if item.samples == 1 else TARGET_PARQUET[100]
        value = _ratio(item.seconds("parquet", most), item.seconds("floor", 1))
        add(f"parquet / floor, {most} cores: {item.tag}", value, limit, "x", _verdict(value, limit))
    for item in inputs:
        if item.kind != "cohort":
            continue
        for n in cores:
            value = _ratio(item.seconds("frequencies", n), item.seconds("fill_tags", n))
            add(
                f"frequencies / +fill-tags, {n} core{'s' if n > 1 else ''}: {item.tag}",
                value,
                TARGET_FREQUENCIES,
                "x",
                _verdict(value, TARGET_FREQUENCIES),
            )
    for item in inputs:
        peaks = [s.peak("rss_mb") for s in item.steps if s.base in GENOPASS_STEPS and not s.failed]
        value = max((p for p in peaks if p is not None), default=None)
        add(
            f"peak memory, largest genopass process: {item.tag}",
            value,
            TARGET_MEMORY_MB,
            "MB",
            _verdict(value, TARGET_MEMORY_MB, below=True),
        )
    series = sorted(
        (i for i in inputs if i.kind == "vcf" and i.samples == 1), key=lambda i: i.records
    )
    if len(series) > 1:
        small, large = series[0], series[-1]
        for base in ("harmonise", "parquet"):
            grow = [
                _ratio(large.step(base, n).peak("rss_mb"), small.step(base, n).peak("rss_mb"))  # type: ignore[union-attr]
                for n in cores
                if large.step(base, n) and small.step(base, n)
            ]
            value = max((g for g in grow if g is not None), default=None)
            add(
                f"memory growth, {base}: {small.tag} -> {large.tag} "
                f"({large.records // small.records}x the records)",
                value,
                TARGET_MEMORY_GROWTH,
                "x",
                _verdict(value, TARGET_MEMORY_GROWTH),
            )
    if len(cores) > 1:
        # One row per genopass command: its lowest speed-up over the inputs (all multi-contig).
        for base in GENOPASS_STEPS:
            found = [
                (_ratio(i.seconds(base, cores[0]), i.seconds(base, most)), i.tag)
                for i in inputs
                if i.step(base, most) is not None
            ]
            if not found:
                continue
            known = [(v, tag) for v, tag in found if v is not None]
            value, where = min(known) if known else (None, "")
            spread = f", range {min(known)[0]:.2f}-{max(known)[0]:.2f}x" if len(known) > 1 else ""
            add(
                f"speed-up {cores[0]} -> {most} cores, {base}: lowest ({where}{spread})",
                value,
                TARGET_SPEEDUP,
                "x>=",
                "NOT AVAILABLE"
                if value is None or len(known) < len(found)
                else ("PASS" if value >= TARGET_SPEEDUP else "MISS"),
            )
    return rows


def scaling_targets_table(rows: Sequence[dict[str, object]]) -> str:
    lines = ["| target | measured | limit | result |", "|---|---:|---:|---|"]
    for row in rows:
        unit, value, limit = row["unit"], row["measured"], row["limit"]
        if unit == "MB":
            shown, bound = _fmt(value, ".0f") + " MB", f"< {limit:.0f} MB"  # type: ignore[arg-type,str-format]
        elif unit == "x>=":
            shown, bound = _fmt(value, ".2f") + "x", f">= {limit}x"  # type: ignore[arg-type]
        else:
            shown, bound = _fmt(value, ".2f") + "x", f"<= {limit}x"  # type: ignore[arg-type]
        lines.append(f"| {row['target']} | {shown} | {bound} | {row['result']} |")
    return "\n".join(lines)


def _int_list(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part.strip()]


def _contig_spec(text: str) -> tuple[tuple[str, int], ...]:
    pairs = []
    for part in text.split(","):
        name, _, length = part.partition(":")
        pairs.append((name, int(length.replace("_", ""))))
    return tuple(pairs)


def _synthetic(
    data: Path, reference: SyntheticReference, fasta: Path, records: int, samples: int, seed: int
) -> Path:
    name = f"bench-{samples}s-{records}r-{digest(reference.key, seed, records, samples)}"
    path = data / f"{name}.vcf.gz"
    reused = path.exists() and Path(f"{path}.tbi").exists()
    t0 = time.perf_counter()
    generate_vcf(path, reference, records, samples, seed=seed, fasta_name=fasta.name)
    state = "reused" if reused else f"generated in {time.perf_counter() - t0:.1f} s"
    print(f"{path.name}: {records} records, {samples} sample(s) ({state})", flush=True)
    return path


def _commit() -> str:
    """The commit of the genopass that runs, with "+changes" if its src/ differs from it."""
    import genopass

    src = Path(genopass.__file__).resolve().parent
    head = _tool_version(["git", "-C", str(src), "rev-parse", "--short", "HEAD"])
    if head.startswith("fatal") or head == "unknown":
        return "unknown"
    dirty = subprocess.run(
        ["git", "-C", str(src), "status", "--porcelain", "--", "."],
        capture_output=True, text=True, check=False,
    ).stdout.strip()  # fmt: skip
    return f"{head}+changes" if dirty else head


def scaling_main(args: argparse.Namespace) -> int:
    """``--scaling``: the scaling table (README, "Performance")."""
    began = time.perf_counter()
    work = args.workdir.resolve()
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    reference = SyntheticReference(args.contigs, args.seed)
    fasta = reference.write_fasta(data / f"reference-{reference.key}.fa")
    genopass = _genopass_command()
    cpus = os.cpu_count() or 1
    cores = [n for n in CORES if n <= cpus]
    records, samples = _int_list(args.scaling_records), _int_list(args.scaling_samples)
    base = min(records)

    def repeats(n_records: int, cohort: bool = False) -> int:
        big = cohort or n_records >= args.big_records
        return args.big_repeats if big else args.repeats

    plan = [(r, 1) for r in records] + [(base, s) for s in samples if s != 1]
    inputs: list[ScaleInput] = []
    print(f"# genopass scaling benchmark\n\ndata in {data}", flush=True)
    for n_records, n_samples in plan:
        path = _synthetic(data, reference, fasta, n_records, n_samples, args.seed)
        tag = f"{n_samples} sample{'s' if n_samples > 1 else ''} x {n_records:,} records"
        item = ScaleInput(tag, n_records, n_samples, "vcf", repeats(n_records))
        item.steps = scaling_vcf_steps(
            path, fasta, work / "scaling" / path.name.removesuffix(".vcf.gz"), cores, genopass
        )
        inputs.append(item)
    if args.cohort_samples > 0:
        n_records, n_samples = args.cohort_sites, args.cohort_samples
        source = _synthetic(data, reference, fasta, n_records, n_samples, args.seed)
        t0 = time.perf_counter()
        folder = data / f"cohort-{source.name.removesuffix('.vcf.gz')}"
        cohort = prepare_cohort(source, fasta, folder, genopass, max(cores))
        print(f"cohort inputs in {folder} ({time.perf_counter() - t0:.1f} s)", flush=True)
        tag = f"cohort of {n_samples:,} per-sample VCFs x {n_records:,} sites"
        item = ScaleInput(tag, n_records, n_samples, "cohort", repeats(n_records, cohort=True))
        item.steps = scaling_cohort_steps(cohort, work / "scaling" / folder.name, cores, genopass)
        inputs.append(item)
    if args.generate_only:
        return 0

    method = time_method()
    load_before = _load()
    commit = args.commit or _commit()
    print(
        f"{_tool_version(['bcftools', '--version'])}; {_tool_version([*genopass, '--version'])};"
        f" commit {commit}; {cpus} CPUs; load average {load_before}; memory: {method}",
        flush=True,
    )
    for item in inputs:
        print(
            f"\n## {item.tag} ({item.repeats} run{'s' if item.repeats > 1 else ''} each)",
            flush=True,
        )
        log_dir = work / "scaling" / "logs" / digest(item.tag)
        log_dir.mkdir(parents=True, exist_ok=True)
        subprocess.run(item.steps[0].argv, check=False)  # warm the page cache
        t0 = time.perf_counter()
        run_steps(item.steps, item.repeats, method, log_dir)  # type: ignore[arg-type]
        print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)

    load_after = _load()
    total = time.perf_counter() - began
    text = (
        f"{scaling_table(inputs, cores)}\n\n{scaling_targets_table(scaling_targets(inputs, cores))}"
    )
    failures = [
        f"{s.key} ({i.tag}): {s.failed.splitlines()[0][:300]}"
        for i in inputs
        for s in i.steps
        if s.failed
    ]
    if failures:
        text += "\n\nnot available: " + "; ".join(failures)
    caption = (
        f"commit {commit}, {cpus} CPUs, load average {load_before} before and {load_after} "
        f"after; medians of {args.repeats} runs (inputs of {args.big_records:,} records or more "
        f"and the cohort: {args.big_repeats}); x floor: against the floor of the same input in "
        f"this run (one core); records/s: input records (cohort: sites) per second; peak MB: "
        f"largest process ({method}), in brackets the tree's summed RSS; total {total:.0f} s"
    )
    print(f"\n# Scaling\n\n{caption}\n\n{text}\n", flush=True)
    if args.markdown:
        args.markdown.parent.mkdir(parents=True, exist_ok=True)
        args.markdown.write_text(f"{caption}\n\n{text}\n")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(
            json.dumps(
                {
                    "mode": "scaling",
                    "commit": commit,
                    "cores": cores,
                    "load_before": load_before,
                    "load_after": load_after,
                    "memory_method": method,
                    "inputs": [
                        {
                            "tag": i.tag,
                            "kind": i.kind,
                            "records": i.records,
                            "samples": i.samples,
                            "repeats": i.repeats,
                            "steps": [
                                {"base": s.base, "cores": s.cores, **step_json(s)} for s in i.steps
                            ],
                        }
                        for i in inputs
                    ],
                    "targets": scaling_targets(inputs, cores),
                    "total_seconds": total,
                },
                indent=2,
                default=str,
            )
            + "\n"
        )
    return 0


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
    parser.add_argument(
        "--contigs",
        type=_contig_spec,
        default=DEFAULT_CONTIGS,
        metavar="NAME:LENGTH,...",
        help="contigs of the synthetic reference (default chr21:24000000,chr22:26000000)",
    )
    scaling = parser.add_argument_group("scaling table (--scaling)")
    scaling.add_argument(
        "--scaling", action="store_true", help="the scaling table instead (1 and 2 cores)"
    )
    scaling.add_argument(
        "--scaling-records", default="100000,1000000,5000000", help="records, 1-sample inputs"
    )
    scaling.add_argument(
        "--scaling-samples", default="1,10,100", help="samples, at the fewest records"
    )
    scaling.add_argument("--cohort-samples", type=int, default=1000, help="0: no cohort")
    scaling.add_argument("--cohort-sites", type=int, default=100_000)
    scaling.add_argument(
        "--big-records",
        type=int,
        default=5_000_000,
        help="inputs of this many records or more, and the cohort, run --big-repeats times",
    )
    scaling.add_argument("--big-repeats", type=int, default=1)
    scaling.add_argument("--markdown", type=Path, help="also save the scaling table here")
    scaling.add_argument("--commit", help="the commit to name in the caption (default: git's)")
    args = parser.parse_args(argv)
    if args.quick:
        args.records_1, args.records_100 = 100_000, 20_000
    began = time.perf_counter()
    for tool in ("bcftools", "bgzip", "tabix", "samtools"):
        if not shutil.which(tool):
            print(f"bench: {tool} not found on PATH", file=sys.stderr)
            return 2
    if args.scaling:
        return scaling_main(args)

    work = args.workdir.resolve()
    data = work / "data"
    data.mkdir(parents=True, exist_ok=True)
    reference = SyntheticReference(args.contigs, args.seed)
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
                "steps": [step_json(s) for s in steps],
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
