"""Per-rule resources (genopass.inputs.resources): each formula against the published figures of
its tool for a human genome, against the peak memory of the real tool measured here, and its
shape (monotonic in size, floors, the attempt's scaling, caps)."""

from __future__ import annotations

import inspect
import random
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from genopass.inputs import resources as res
from genopass.inputs.resources import MIB, Request

# GRCh38: 3.1 Gb (the primary assembly's length, GRC); its FASTA is about one byte a base.
GRCH38_BASES = 3.1e9
GRCH38_FASTA_MB = GRCH38_BASES / MIB
GB = 1e9  # the manuals' "GB": 10^9 bytes
SIZES_MB = [0.0, 0.5, 10.0, 1_000.0, 60_000.0, 2_000_000.0]


def formulas_of_size() -> dict[str, object]:
    """Every formula whose first argument is a size in MiB, with its other arguments fixed."""
    return {
        "bwa_index": lambda mb: res.bwa_index(mb),
        "minimap2_index": lambda mb: res.minimap2_index(mb, 2),
        "bwa_mem reads": lambda mb: res.bwa_mem(mb, GRCH38_FASTA_MB, 4),
        "bwa_mem reference": lambda mb: res.bwa_mem(1_000, mb, 4),
        "minimap2_sr": lambda mb: res.minimap2_sr(mb, 9_000, 4),
        "samtools_merge": lambda mb: res.samtools_merge(mb, 2),
        "samtools_markdup": lambda mb: res.samtools_markdup(mb, 2),
        "samtools_index": lambda mb: res.samtools_index(mb, 2),
        "bcftools_call": lambda mb: res.bcftools_call(mb, 0.08),
        "bcftools_concat": lambda mb: res.bcftools_concat(mb),
        "check_vcf": lambda mb: res.check_vcf(mb),
        "harmonise_vcf": lambda mb: res.harmonise_vcf(mb, 2),
        "harmonise_vcf liftover": lambda mb: res.harmonise_vcf(mb, 2, liftover=True),
        "picard": lambda mb: res.picard(mb),
        "samtools_stats": lambda mb: res.samtools_stats(mb),
        "mosdepth": lambda mb: res.mosdepth(mb, GRCH38_FASTA_MB),
        "fastp": lambda mb: res.fastp(mb, 2),
        "write_qc_cohort": lambda mb: res.write_qc_cohort(mb, 10),
        "kinship": lambda mb: res.kinship(mb),
        "multiqc": lambda mb: res.multiqc(mb),
        "export_vcf": lambda mb: res.export_vcf(mb),
        "export_cohort": lambda mb: res.export_cohort(mb, 10),
        "export_parquet": lambda mb: res.export_parquet(mb),
        "export_frequencies": lambda mb: res.export_frequencies(mb),
    }


FORMULAS = formulas_of_size()


# --- shape ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_monotonic_in_size(name: str) -> None:
    requests = [FORMULAS[name](mb) for mb in SIZES_MB]
    for smaller, larger in zip(requests, requests[1:], strict=False):
        assert larger.mem_mb >= smaller.mem_mb, (name, requests)
        assert larger.runtime >= smaller.runtime, (name, requests)
    # a larger input takes longer (below the cap)
    assert requests[-2].runtime > requests[0].runtime, (name, requests)


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_floors_on_an_empty_input(name: str) -> None:
    empty = FORMULAS[name](0.0)
    assert empty.mem_mb >= res.FLOOR_MEM_MB
    assert empty.runtime >= res.FLOOR_RUNTIME
    assert isinstance(empty.mem_mb, int) and isinstance(empty.runtime, int)


@pytest.mark.parametrize("name", sorted(FORMULAS))
def test_caps(name: str) -> None:
    huge = FORMULAS[name](1e12)
    assert huge.mem_mb <= res.CAP_MEM_MB
    assert huge.runtime <= res.CAP_RUNTIME


def test_every_workflow_rule_with_a_formula_is_known() -> None:
    """Every `rule_resources("NAME")` of workflow/rules/*.smk names a formula of RULES."""
    rules_dir = Path(__file__).resolve().parents[2] / "workflow" / "rules"
    used = set()
    for path in rules_dir.glob("*.smk"):
        for name, like in re.findall(
            r'rule_resources\("(\w+)"(?:,\s*like="(\w+)")?\)', path.read_text()
        ):
            used.add(like or name)
    assert used, "no rule uses rule_resources"
    assert used <= set(res.RULES), used - set(res.RULES)


def test_attempt_doubles_memory_and_time() -> None:
    first = res.request(3000, 100, attempt=1)
    second = res.request(3000, 100, attempt=2)
    assert first == Request(3000, 100)
    assert second == Request(6000, 200)
    # the floor is applied before the attempt: a retry of a tiny job still asks for more
    assert res.request(1, 1, attempt=2) == Request(2 * res.FLOOR_MEM_MB, 2 * res.FLOOR_RUNTIME)
    # and the cap after it
    assert res.request(res.CAP_MEM_MB, res.CAP_RUNTIME, attempt=2) == Request(
        res.CAP_MEM_MB, res.CAP_RUNTIME
    )


def test_threads_add_samtools_sort_buffers() -> None:
    """samtools-sort(1): -m is "the maximum required memory per thread [768 MiB]"; the align
    rules sort with -@ threads, so each thread adds at least 768 MiB to the job."""
    for aligner in (
        lambda t: res.bwa_mem(1_000, GRCH38_FASTA_MB, t),
        lambda t: res.minimap2_sr(1_000, 9_000, t),
    ):
        assert aligner(8).mem_mb - aligner(4).mem_mb >= 4 * 768
        # more threads, less wall time
        assert aligner(8).runtime < aligner(4).runtime


def test_gzipped_reference_counts_its_bases() -> None:
    plain = res.bwa_index(GRCH38_FASTA_MB)
    # GRCh38's analysis set: 3.2 GB of FASTA, 0.94 GB gzipped
    gzipped = res.bwa_index(0.94e9 / MIB, compressed=True)
    assert gzipped.mem_mb >= 0.95 * plain.mem_mb


# --- the published figures, for a human genome ---------------------------------------------------


def test_bwa_index_on_grch38_against_bwa_manual() -> None:
    """bwa(1), Memory Requirement: "With bwtsw algorithm, 5GB memory is required for indexing
    the complete human genome sequences"; Speed: "Indexing the human genome sequences takes 3
    hours with bwtsw algorithm"."""
    job = res.bwa_index(GRCH38_FASTA_MB)
    assert job.mem_mb * MIB >= 5 * GB
    assert job.mem_mb * MIB <= 2 * 5 * GB  # not a multiple of it
    assert job.runtime >= 3 * 60
    # above the profile's defaults (4000 MB, 120 min) that this work replaces
    assert job.mem_mb > 4000 and job.runtime > 120


def test_bwa_mem_on_grch38_against_bwa_manual() -> None:
    """bwa(1): "the sampe command uses ~5.4GB" for the human index (bwa mem loads the same BWT,
    suffix array and packed sequence), plus samtools sort's 768 MiB a thread."""
    for threads in (1, 4, 16):
        job = res.bwa_mem(1_000, GRCH38_FASTA_MB, threads)
        assert job.mem_mb * MIB >= 5.4 * GB + threads * 768 * MIB
    # a 30x genome (~100 Gbases; ~50 GB of gzipped FASTQ) on 16 threads: hours, within the cap
    job = res.bwa_mem(50e9 / MIB, GRCH38_FASTA_MB, 16)
    assert 6 * 60 <= job.runtime < res.CAP_RUNTIME


def test_picard_heap_against_broad_pipeline() -> None:
    """broadinstitute/warp tasks/broad/Qc.wdl: CollectWgsMetrics -Xmx2500m, CollectQualityYield
    Metrics -Xmx3000m. With no -Xmx, the JVM's heap is 25% of the job's memory
    (MaxRAMPercentage=25): the job must be 4x the larger heap."""
    job = res.picard(60_000)  # a 30x genome's BAM
    assert job.mem_mb * 0.25 >= 3000
    # Broad's heap is a WGS BAM's: it does not grow beyond it
    assert res.picard(600_000).mem_mb == job.mem_mb


def test_jvm_default_heap_fraction_is_what_java_reports() -> None:
    """The 25% the Picard formula rests on, read from the installed JVM."""
    flags = subprocess.run(
        ["java", "-XX:+PrintFlagsFinal", "-version"], capture_output=True, text=True, check=True
    ).stdout
    line = next(line for line in flags.splitlines() if " MaxRAMPercentage " in line)
    assert float(line.split("=")[1].split()[0]) / 100 == res.JVM_DEFAULT_HEAP_FRACTION


def test_streaming_rules_do_not_grow_with_the_input() -> None:
    """harmonise (README: largest process 207-268 MB whatever the input) and Parquet (DESIGN.md:
    peak memory under 500 MB whatever the input size) ask for the same memory on any size,
    and for more than those measured peaks."""
    for formula, peak_mb in ((res.harmonise_vcf, 268), (res.export_parquet, 500)):
        small, large = formula(1.0), formula(500_000.0)
        assert small.mem_mb == large.mem_mb >= 2 * peak_mb
        assert large.runtime > small.runtime


def test_bcftools_call_scales_with_the_contig() -> None:
    chr1 = res.bcftools_call(60_000, 248.9e6 / GRCH38_BASES)
    chr21 = res.bcftools_call(60_000, 46.7e6 / GRCH38_BASES)
    assert chr1.runtime > chr21.runtime
    assert chr1.mem_mb == chr21.mem_mb


# --- the real tools, measured here ---------------------------------------------------------------


def random_fasta(path: Path, bases: int, seed: int = 7) -> Path:
    rng = random.Random(seed)
    with open(path, "w") as handle:
        for number, start in enumerate(range(0, bases, 5_000_000), start=1):
            length = min(5_000_000, bases - start)
            handle.write(f">chr{number}\n")
            seq = "".join(rng.choices("ACGT", k=length))
            handle.write("\n".join(seq[i : i + 60] for i in range(0, length, 60)) + "\n")
    return path


# Runs a command in a fresh Python process and prints the command's peak RSS in KiB (Linux):
# the maximum over the children of that process, which has no other child.
PEAK_RSS = (
    "import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True,"
    " stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL);"
    " print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)"
)


def peak_rss_mib(args: list[str]) -> float:
    """Maximum resident set size of one command, in MiB."""
    result = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, *args], capture_output=True, text=True, check=True
    )
    return int(result.stdout) / 1024


def slope_mib_per_base(formula) -> float:
    """A formula's memory per base of reference, between two sizes above its floor."""
    low, high = 2_000.0, 4_000.0
    return (formula(high).mem_mb - formula(low).mem_mb) / ((high - low) * MIB)


INDEXERS = {
    "minimap2_index": (
        ["minimap2", "-x", "sr", "-t", "2", "-d", "{out}.mmi", "{fasta}"],
        lambda mb: res.minimap2_index(mb, 2),
    ),
    "minimap2_index_1_thread": (
        ["minimap2", "-x", "sr", "-t", "1", "-d", "{out}.mmi", "{fasta}"],
        lambda mb: res.minimap2_index(mb, 1),
    ),
    "bwa_index": (
        ["bwa", "index", "-a", "bwtsw", "-p", "{out}", "{fasta}"],
        lambda mb: res.bwa_index(mb),
    ),
}


@pytest.mark.parametrize("name", sorted(INDEXERS))
def test_index_memory_per_base_covers_the_real_tool(tmp_path: Path, name: str) -> None:
    """The per-base memory of each index formula is at least the tool's: the growth of its peak
    RSS from a 4 Mb to a 12 Mb random genome, measured here (the tools the workflow runs)."""
    command, formula = INDEXERS[name]
    peaks = {}
    for bases in (4_000_000, 12_000_000):
        fasta = random_fasta(tmp_path / f"ref{bases}.fa", bases, seed=bases)
        out = tmp_path / f"index{bases}"
        peaks[bases] = peak_rss_mib([part.format(out=out, fasta=fasta) for part in command])
        # the request for this genome covers the peak
        assert formula(fasta.stat().st_size / MIB).mem_mb >= peaks[bases]
    measured = (peaks[12_000_000] - peaks[4_000_000]) / 8_000_000
    assert measured > 0, peaks
    assert slope_mib_per_base(formula) >= measured, (slope_mib_per_base(formula), measured)


# --- the Snakemake side --------------------------------------------------------------------------


class Input(list):
    """A Snakemake-like input: a list of paths with named entries as attributes."""

    def __init__(self, **named: str | list[str]) -> None:
        super().__init__()
        for name, value in named.items():
            values = [value] if isinstance(value, str) else value
            self.extend(values)
            setattr(self, name, value)

    def __getitem__(self, key):  # type: ignore[override]
        if isinstance(key, str):
            return getattr(self, key)
        return super().__getitem__(key)


def write(path: Path, size: int) -> str:
    path.write_bytes(b"x" * size)
    return str(path)


def test_callables_take_snakemake_arguments_and_measure_the_named_inputs(tmp_path: Path) -> None:
    reads = [write(tmp_path / "r1.fq.gz", 3 * MIB), write(tmp_path / "r2.fq.gz", 5 * MIB)]
    fasta = write(tmp_path / "ref.fa", 2 * MIB)
    index = [write(tmp_path / f"ref.fa.{ext}", 50 * MIB) for ext in ("bwt", "sa")]
    job_input = Input(reads=reads, fasta=fasta, index=index)
    functions = res.callables("bwa_mem")
    assert set(functions) == {"mem_mb", "runtime"}
    for function in functions.values():
        assert list(inspect.signature(function).parameters) == [
            "wildcards",
            "input",
            "threads",
            "attempt",
        ]
    wildcards = SimpleNamespace(sample="S1", unit="u1")
    expected = res.bwa_mem(8.0, 2.0, 4)  # the reads and the FASTA, not the index files
    assert functions["mem_mb"](wildcards, job_input, 4, 1) == expected.mem_mb
    assert functions["runtime"](wildcards, job_input, 4, 1) == expected.runtime
    assert functions["mem_mb"](wildcards, job_input, 4, 2) == 2 * expected.mem_mb


def test_missing_input_raises_file_not_found_naming_it(tmp_path: Path) -> None:
    """Snakemake shows <TBD> for a resource whose input file is missing (FileNotFoundError
    naming an input) and computes it when the job runs."""
    missing = str(tmp_path / "later.vcf.gz")
    functions = res.callables("harmonise_vcf")
    with pytest.raises(FileNotFoundError) as error:
        functions["mem_mb"](SimpleNamespace(sample="S1"), Input(vcf=missing), 2, 1)
    assert error.value.filename == missing


def test_harmonise_liftover_follows_the_plan(tmp_path: Path) -> None:
    vcf = write(tmp_path / "in.vcf.gz", 10 * MIB)
    chain = write(tmp_path / "chain.gz", 1000)
    job_input = Input(vcf=vcf, chain=chain)
    wildcards = SimpleNamespace(sample="S1")
    on_38 = res.callables("harmonise_vcf", lifted=lambda w: False)
    on_37 = res.callables("harmonise_vcf", lifted=lambda w: True)
    assert on_38["mem_mb"](wildcards, job_input, 2, 1) == res.harmonise_vcf(10, 2).mem_mb
    assert (
        on_37["mem_mb"](wildcards, job_input, 2, 1)
        == res.harmonise_vcf(10, 2, liftover=True).mem_mb
    )
    # no chain configured: no liftover, whatever the build
    assert on_37["runtime"](wildcards, Input(vcf=vcf), 2, 1) == res.harmonise_vcf(10, 2).runtime


def test_directories_are_measured_by_their_files(tmp_path: Path) -> None:
    tables = tmp_path / "variants" / "chrom=chr1"
    tables.mkdir(parents=True)
    write(tables / "a.parquet", 3 * MIB)
    write(tables / "b.parquet", 1 * MIB)
    assert res.path_mb(tmp_path / "variants") == pytest.approx(4.0)


def test_contig_share_from_the_fai(tmp_path: Path) -> None:
    fai = tmp_path / "ref.fa.fai"
    fai.write_text("chr1\t300\t6\t60\t61\nchr2\t100\t400\t60\t61\n")
    assert res.contig_share(fai, "chr1") == pytest.approx(0.75)
    assert res.contig_share(fai, "chr2") == pytest.approx(0.25)


def test_like_borrows_a_formula_and_unknown_rules_are_refused() -> None:
    assert set(res.callables("harmonise_region", like="harmonise_vcf")) == {"mem_mb", "runtime"}
    with pytest.raises(KeyError, match="harmonise_region"):
        res.callables("harmonise_region")
