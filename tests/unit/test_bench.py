"""The benchmark's data generator (genopass.demo.synthetic, used by scripts/bench.py) writes
valid, sorted VCFs on its reference, the same for the same arguments; ``bench.py --scaling``
on tiny inputs writes its table with ratios to the floor of the same run (no timed assertion)."""

from __future__ import annotations

import gzip
import importlib
import json
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from genopass.demo.synthetic import SyntheticReference, generate_vcf

CONTIGS = (("chr21", 300_000), ("chr22", 200_000))


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("bench")
    reference = SyntheticReference(CONTIGS, seed=5)
    fasta = reference.write_fasta(tmp / "ref.fa")
    vcf = generate_vcf(tmp / "five.vcf.gz", reference, 2_000, 5, seed=5)
    return fasta, vcf


def bcftools(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bcftools", *args], capture_output=True, text=True, check=False)


def test_records_samples_and_order(generated: tuple[Path, Path]) -> None:
    fasta, vcf = generated
    assert Path(f"{vcf}.tbi").exists()
    assert bcftools("query", "-l", str(vcf)).stdout.split() == [f"S000{i}" for i in range(1, 6)]
    assert bcftools("index", "-n", str(vcf)).stdout.strip() == "2000"
    listed = bcftools("query", "-f", "%CHROM\t%POS\n", str(vcf))
    assert listed.returncode == 0, listed.stderr
    rows = [line.split("\t") for line in listed.stdout.splitlines()]
    assert len(rows) == 2_000
    keys = [(0 if chrom == "chr21" else 1, int(pos)) for chrom, pos in rows]
    assert keys == sorted(keys)
    assert {chrom for chrom, _ in rows} == {"chr21", "chr22"}
    # bcftools reads every record and every FORMAT field without complaint.
    stats = bcftools("stats", "-s", "-", str(vcf))
    assert stats.returncode == 0, stats.stderr
    assert "[W::" not in stats.stderr and "[E::" not in stats.stderr
    assert re.search(r"number of multiallelic sites:\t[1-9]", stats.stdout)
    assert re.search(r"number of indels:\t[1-9]", stats.stdout)


def test_ref_matches_fasta_and_some_indels_move(generated: tuple[Path, Path]) -> None:
    fasta, vcf = generated
    norm = bcftools(
        "norm", "--check-ref", "e", "-f", str(fasta), "-m-any", "-Ou", "-o", "/dev/null", str(vcf)
    )
    assert norm.returncode == 0, norm.stderr
    # "Lines   total/split/realigned/skipped:	2000/41/25/0"
    counts = re.search(r"\t(\d+)/(\d+)/(\d+)/(\d+)", norm.stderr)
    assert counts, norm.stderr
    total, split, realigned, skipped = map(int, counts.groups())
    assert (total, skipped) == (2_000, 0)
    assert split > 0 and realigned > 0


def test_deterministic(generated: tuple[Path, Path], tmp_path: Path) -> None:
    _, vcf = generated
    reference = SyntheticReference(CONTIGS, seed=5)
    again = generate_vcf(tmp_path / "again.vcf.gz", reference, 2_000, 5, seed=5)
    with gzip.open(again) as one, gzip.open(vcf) as other:
        assert one.read() == other.read()


# --------------------------------------------------------------------------------------------
# scripts/bench.py --scaling on tiny inputs: the table is produced, its ratios are against the
# floor measured in the same run; no timing is asserted.

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "bench.py"
TINY = [
    "--contigs", "chr21:300000,chr22:200000", "--scaling-records", "2000,4000",
    "--scaling-samples", "1,3", "--cohort-samples", "6", "--cohort-sites", "2000",
    "--repeats", "1",
]  # fmt: skip


@pytest.fixture(scope="module")
def bench() -> Iterator[ModuleType]:
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(SCRIPT.parent))
        yield importlib.import_module("bench")


@pytest.fixture(scope="module")
def scaling(bench: ModuleType, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    work = tmp_path_factory.mktemp("scaling")
    markdown, results = work / "table.md", work / "table.json"
    args = ["--scaling", "--workdir", str(work), *TINY, "--markdown", str(markdown)]
    assert bench.main([*args, "--json", str(results)]) == 0
    return {
        "work": work,
        "args": args,
        "markdown": markdown.read_text(),
        "json": json.loads(results.read_text()),
    }


def _rows(markdown: str, first: str) -> list[dict[str, str]]:
    """The rows of the Markdown table whose header starts with ``first``, by column name."""
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first} |"))
    head = [c.strip() for c in lines[start].strip("|").split("|")]
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append(dict(zip(head, (c.strip() for c in line.strip("|").split("|")), strict=True)))
    return rows


def test_scaling_table_columns_and_rows(scaling: dict[str, object]) -> None:
    rows = _rows(scaling["markdown"], "input")  # type: ignore[arg-type]
    cores = scaling["json"]["cores"]  # type: ignore[index]
    for n in cores:
        c = f"{n} core{'s' if n > 1 else ''}"
        for column in ("s", "records/s", "x floor", "peak MB (tree)"):
            assert f"{c}: {column}" in rows[0]
    if len(cores) > 1:
        assert "speed-up 1->2" in rows[0]
    by_input: dict[str, list[str]] = {}
    for row in rows:
        by_input.setdefault(row["input"], []).append(row["command"].split(" ")[1])
    assert list(by_input) == [
        "1 sample x 2,000 records",
        "1 sample x 4,000 records",
        "3 samples x 2,000 records",
        "cohort of 6 per-sample VCFs x 2,000 sites",
    ]
    for name, commands in by_input.items():
        expected = (
            ["bcftools", "merge", "cohort", "parquet", "+fill-tags", "frequencies"]
            if name.startswith("cohort")
            else ["bcftools", "norm", "harmonise", "parquet"]
        )
        assert commands == expected, name
    # Every command ran (nothing "failed"), and every measured cell has a value.
    assert "failed" not in scaling["markdown"] and "not available" not in scaling["markdown"]
    for row in rows:
        for n in cores:
            if row["command"].startswith("floor") and n > 1:
                continue
            c = f"{n} core{'s' if n > 1 else ''}"
            assert row[f"{c}: s"] not in ("", "n/a"), row
            assert row[f"{c}: peak MB (tree)"] not in ("", "n/a"), row


def test_scaling_ratios_against_the_floor_of_the_run(scaling: dict[str, object]) -> None:
    results = scaling["json"]  # type: ignore[assignment]
    rows = _rows(scaling["markdown"], "input")  # type: ignore[arg-type]
    for item in results["inputs"]:
        steps = {(s["base"], s["cores"]): s for s in item["steps"]}
        floor = steps[("floor", 1)]["median_seconds"]
        assert floor and floor > 0
        # The floor is measured in this run: its runs are the ones its median comes from.
        assert len(steps[("floor", 1)]["runs"]) == item["repeats"] == 1
        mine = [r for r in rows if r["input"] == item["tag"]]
        for row, base in zip(mine, dict.fromkeys(b for b, _ in steps), strict=True):
            for n in results["cores"]:
                if (base, n) not in steps:
                    continue
                median = steps[(base, n)]["median_seconds"]
                c = f"{n} core{'s' if n > 1 else ''}"
                assert row[f"{c}: x floor"] == f"{median / floor:.2f}x"
                assert row[f"{c}: s"] == f"{median:.2f}"
                assert row[f"{c}: records/s"] == f"{item['records'] / median:,.0f}"
            if len(results["cores"]) > 1 and base != "floor":
                one, two = steps[(base, 1)]["median_seconds"], steps[(base, 2)]["median_seconds"]
                assert row["speed-up 1->2"] == f"{one / two:.2f}x"


def test_scaling_targets(scaling: dict[str, object]) -> None:
    targets = _rows(scaling["markdown"], "target")  # type: ignore[arg-type]
    names = [t["target"] for t in targets]
    assert sum(n.startswith("harmonise / norm") for n in names) == 3
    assert sum(n.startswith("parquet / floor") for n in names) == 4
    assert any(n.startswith("frequencies / +fill-tags") for n in names)
    assert sum(n.startswith("peak memory") for n in names) == 4
    assert any(n.startswith("memory growth, harmonise") for n in names)
    if len(scaling["json"]["cores"]) > 1:  # type: ignore[index]
        assert {n.split(",")[1].split(":")[0].strip() for n in names if "speed-up" in n} == {
            "harmonise", "parquet", "cohort", "frequencies"
        }  # fmt: skip
    assert {t["result"] for t in targets} <= {"PASS", "MISS"}


def test_scaling_reuses_its_data(bench: ModuleType, scaling: dict[str, object]) -> None:
    work: Path = scaling["work"]  # type: ignore[assignment]
    data = sorted(p for p in (work / "data").rglob("*") if p.is_file())
    members = [p for p in data if p.parent.name == "members" and p.name.endswith(".vcf.gz")]
    assert len(members) == 6
    before = {p: p.stat().st_mtime_ns for p in data}
    assert bench.main([*scaling["args"], "--generate-only"]) == 0  # type: ignore[list-item]
    assert {p: p.stat().st_mtime_ns for p in data} == before
    assert sorted(p for p in (work / "data").rglob("*") if p.is_file()) == data


def test_scaling_table_arithmetic(bench: ModuleType) -> None:
    """The table from known runs: ratios to that input's floor, records/s, speed-up."""

    def step(base: str, cores: int, *seconds: float) -> object:
        made = bench.ScaledStep(f"{base}@{cores}", base, [], base=base, cores=cores)
        made.runs = [bench.Run(s, 100.0 + cores, 120.0, 0) for s in seconds]
        return made

    item = bench.ScaleInput("x", 1_000, 1, "vcf", 3)
    item.steps = [
        step("floor", 1, 2.0, 1.0, 3.0),
        step("norm", 1, 4.0, 4.0, 5.0),
        step("norm", 2, 2.0, 2.0, 2.0),
        step("harmonise", 1, 6.0, 6.0, 6.0),
        step("harmonise", 2, 3.0, 4.0, 3.0),
        step("parquet", 1, 5.0, 5.0, 5.0),
        step("parquet", 2, 2.5, 2.5, 2.5),
    ]
    rows = {r["command"]: r for r in _rows(bench.scaling_table([item], [1, 2]), "input")}
    assert rows["harmonise"]["1 core: x floor"] == "3.00x"
    assert rows["harmonise"]["2 cores: x floor"] == "1.50x"
    assert rows["harmonise"]["2 cores: records/s"] == "333"
    assert rows["harmonise"]["speed-up 1->2"] == "2.00x"
    assert rows["harmonise"]["2 cores: peak MB (tree)"] == "102 (120)"
    targets = {t["target"]: t for t in bench.scaling_targets([item], [1, 2])}
    assert targets["harmonise / norm, 2 cores: x"]["measured"] == 1.5
    assert targets["harmonise / norm, 2 cores: x"]["result"] == "MISS"
    assert targets["parquet / floor, 2 cores: x"]["measured"] == 1.25
    assert targets["parquet / floor, 2 cores: x"]["result"] == "PASS"
    speed = next(
        t for name, t in targets.items() if name.startswith("speed-up 1 -> 2 cores, parquet")
    )
    assert speed["measured"] == 2.0 and speed["result"] == "PASS"
