"""Memory and run time of each rule's jobs, from the size of their inputs (and their threads).

On a cluster every job asks for what it needs (DESIGN.md, "Performance targets"): the SLURM
executor plugin turns a job's ``mem_mb`` into ``sbatch --mem`` and its ``runtime`` (minutes)
into ``--time``; its ``threads`` become ``--cpus-per-task`` (docs/cluster.md). Each formula below
is a function of the input size in MiB (``os.stat`` of the files the rule reads, directories
summed over their files) and of the threads, with the figures it rests on in its docstring:
tool documentation where the tool publishes them, else the tool's design (what it holds in
memory) and a conservative throughput.

Units: ``mem_mb`` is MiB, as SLURM's ``--mem`` and Snakemake's ``input.size_mb`` count them;
``runtime`` is minutes. Every request is at least :data:`FLOOR_MEM_MB` / :data:`FLOOR_RUNTIME`
(a job on a tiny input still loads a tool and writes its log), and at most :data:`CAP_MEM_MB` /
:data:`CAP_RUNTIME`: a request above the cap is cut to it. A job that needs more is better
scattered (by region, by sample) or given its own figures with ``set-resources`` in a profile,
which always wins over these formulas.

A retry asks for more: Snakemake gives resource callables the ``attempt`` (1, then 2 for the
profile's one retry), and :func:`request` multiplies memory and run time by it, so a job killed
for memory or time is submitted again with twice as much.

The workflow uses :func:`callables` (``rule_resources(name)`` in workflow/rules/common.smk)::

    rule bwa_mem:
        ...
        resources:
            **rule_resources("bwa_mem"),
"""

from __future__ import annotations

import errno
import math
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MIB = 1 << 20
GBASE = 1e9

FLOOR_MEM_MB = 1000
FLOOR_RUNTIME = 10  # minutes
# The largest request: 256 GiB (a large-memory node of today's clusters) and 7 days (the
# longest partition many sites offer). set-resources in a profile overrides both.
CAP_MEM_MB = 256 * 1024
CAP_RUNTIME = 7 * 24 * 60

# A gzip-compressed FASTA: counted at 3.7 bases a byte, the high end of what gzip does to a
# human assembly (~3.2 GB of FASTA in 0.85-0.95 GB), so that a gzipped reference is not
# undercounted; an uncompressed one at 1 (its newlines counted as bases: 1.6% over at 60 a line).
GZIP_FASTA_BASES_PER_BYTE = 3.7
# A gzipped FASTQ: at most 2 bases per byte (a FASTQ line of 150 bases takes ~2.3 bytes a base
# with its name and qualities; gzip -1, as fastp -z 1 writes, compresses that ~3-4x). Used for
# run time only, where more bases is the safe side.
FASTQ_GZ_BASES_PER_BYTE = 2.0

# samtools sort's default -m: "Approximately the maximum required memory per thread [768 MiB]"
# (samtools-sort(1)); the align rules sort with -@ threads and the default -m.
SAMTOOLS_SORT_MIB_PER_THREAD = 768
# The JVM's default maximum heap is 25% of the memory it sees (-XX:MaxRAMPercentage=25; the
# JVM reads the job's cgroup limit), and the workflow's Picard commands give no -Xmx.
JVM_DEFAULT_HEAP_FRACTION = 0.25


Lifted = Callable[[Any], bool] | None


@dataclass(frozen=True)
class Request:
    """What one job asks for: memory in MiB, run time in minutes."""

    mem_mb: int
    runtime: int


def request(
    mem_mb: float,
    runtime: float,
    attempt: int = 1,
    *,
    floor_mem_mb: int = FLOOR_MEM_MB,
    floor_runtime: int = FLOOR_RUNTIME,
) -> Request:
    """A formula's figures made a request: floored, multiplied by the attempt, capped, whole."""
    attempt = max(1, int(attempt))
    mem = max(mem_mb, floor_mem_mb) * attempt
    minutes = max(runtime, floor_runtime) * attempt
    return Request(
        mem_mb=min(math.ceil(mem), CAP_MEM_MB),
        runtime=min(math.ceil(minutes), CAP_RUNTIME),
    )


def fasta_bases(fasta_mb: float, *, compressed: bool = False) -> float:
    """Bases of a reference FASTA of ``fasta_mb`` MiB (an upper estimate)."""
    return fasta_mb * MIB * (GZIP_FASTA_BASES_PER_BYTE if compressed else 1.0)


# --- reference indexes --------------------------------------------------------------------------


def bwa_index(fasta_mb: float, threads: int = 1, *, compressed: bool = False) -> Request:
    """``bwa index`` (the bwtsw algorithm, which bwa picks for a human-sized genome).

    bwa(1), "Memory Requirement": "With bwtsw algorithm, 5GB memory is required for indexing
    the complete human genome sequences"; "Speed": "Indexing the human genome sequences takes 3
    hours with bwtsw algorithm". (The often-quoted 5.37N is the other algorithm, IS: "requires
    5.37N memory where N is the size of the database", limited to 2 GB databases.)

    memory: 1.9 bytes a base + 300 MiB: what the index holds, the BWT (~1 byte a base with its
    occurrence counts), the suffix array (every 32nd of 2N positions, 8 bytes each: 0.5 N) and
    the packed sequence (0.25 N), and what was measured here (bwa 0.7.17, 40.7 Mb: maximum RSS
    71 MB, 1.8 bytes a base); GRCh38 (3.1 Gb): 5.9 GiB, above bwa's 5 GB.
    run time: 90 minutes a gigabase (3 hours for 3.1 Gb on the 2009 hardware of the manual,
    1.5x over), plus 10 minutes.
    """
    bases = fasta_bases(fasta_mb, compressed=compressed)
    return request(300 + 1.9 * bases / MIB, 10 + 90 * bases / GBASE)


def minimap2_index(fasta_mb: float, threads: int = 2, *, compressed: bool = False) -> Request:
    """``minimap2 -x sr -d`` (k=21, w=11).

    minimap2(1): "-I NUM Load at most NUM target bases into RAM for indexing [4G]": a human
    genome is indexed in one batch, so memory follows the genome. The index keeps one minimizer
    in (w+1)/2 = 6 positions (16 bytes each while they are collected and sorted) and the
    sequence. Measured here (minimap2 2.24, -x sr, random sequence; the .mmi written is 3.2
    bytes a base): with 2 threads, 40 Mb, maximum RSS 288 MiB, 120 Mb, 815 MiB (6.9 bytes a
    base), 4 to 12 Mb, 7.6 bytes a base; with 1 thread, 11.1 bytes a base. 9 bytes a base with
    2 threads or more, 12 with 1, + 500 MiB: GRCh38 with 2 threads, 26.5 GiB.
    run time: measured 4 s for 120 Mb with 2 threads; 15 minutes a gigabase on one thread
    (a 60x margin), divided among the threads, plus 10.
    """
    bases = fasta_bases(fasta_mb, compressed=compressed)
    per_base = 9 if threads >= 2 else 12
    return request(500 + per_base * bases / MIB, 10 + 15 * bases / GBASE / max(1, threads))


# --- alignment ---------------------------------------------------------------------------------


def bwa_mem(
    reads_mb: float, fasta_mb: float, threads: int = 4, *, compressed: bool = False
) -> Request:
    """``bwa mem -t T | samtools fixmate | samtools sort -@ T`` of one unit's trimmed FASTQ.

    memory: the index bwa mem loads, 1.75 bytes a base (bwa(1): ~5.4 GB for the human index in
    bwa sampe, which loads the same BWT, suffix array and sequence; GRCh38: 5.1 GiB) + 400 MiB
    a thread (bwa mem reads 10 Mbases a thread at a time, -K, with their names, qualities,
    alignments and SAM text) + samtools sort's 768 MiB a thread (-m default) + 300 MiB
    (fixmate, pipes). GRCh38 with 4 threads: 9.9 GiB. Measured here (bwa 0.7.17, 100,000 pairs
    of 150 bp on a 40.7 Mb random genome): maximum RSS 159 MiB with 1 thread, 216 MiB with 2,
    so ~60-90 MiB a thread on such reads; 400 leaves room for real reads' alternative hits.
    run time: 8 Mbases a minute a thread (a 30x genome, ~100 Gbases, in ~200 CPU-hours; bwa mem
    ran at ~100 Mbases a CPU-minute on the easy random genome above), the reads counted at 2
    bases a byte of gzipped FASTQ, plus the index load (1 minute a gigabase) and 10 minutes.
    """
    bases = fasta_bases(fasta_mb, compressed=compressed)
    threads = max(1, threads)
    reads = reads_mb * MIB * FASTQ_GZ_BASES_PER_BYTE
    mem = 1.75 * bases / MIB + (400 + SAMTOOLS_SORT_MIB_PER_THREAD) * threads + 300
    return request(mem, 10 + bases / GBASE + reads / (8e6 * threads))


def minimap2_sr(
    reads_mb: float, index_mb: float, threads: int = 4, *, compressed: bool = False
) -> Request:
    """``minimap2 -ax sr -t T | samtools fixmate | samtools sort -@ T``.

    memory: the index as written by minimap2_index (its file size: the .mmi is the in-memory
    layout) + 2 GiB for minimap2's mini-batch (-K: "Number of bases loaded into memory to
    process in a mini-batch [500M]", with qualities and alignments, up to two batches in flight)
    + samtools sort's 768 MiB a thread + 300 MiB.
    run time: 25 Mbases a minute a thread (minimap2 maps short reads ~3x as fast as BWA-MEM,
    Li 2018), plus 10 minutes.
    """
    threads = max(1, threads)
    reads = reads_mb * MIB * FASTQ_GZ_BASES_PER_BYTE
    mem = index_mb + 2048 + SAMTOOLS_SORT_MIB_PER_THREAD * threads + 300
    return request(mem, 10 + index_mb / 1024 + reads / (25e6 * threads))


def samtools_merge(bam_mb: float, threads: int = 2) -> Request:
    """``samtools merge -@ T``: a stream (one BGZF block of each input at a time), memory flat.

    run time: 300 MiB of BAM a minute a thread (decompress, recompress at level 6), plus 10.
    """
    return request(FLOOR_MEM_MB, 10 + bam_mb / (300 * max(1, threads)))


def samtools_markdup(bam_mb: float, threads: int = 2) -> Request:
    """``samtools markdup -@ T``: holds the reads whose mate or duplicate partner is pending, a
    window of the library's insert sizes, not the file: 3 GiB whatever the size.

    run time: 200 MiB of BAM a minute a thread (read, compare, write and index), plus 10.
    """
    return request(3072, 10 + bam_mb / (200 * max(1, threads)))


def samtools_index(bam_mb: float, threads: int = 2) -> Request:
    """``samtools index``: reads the alignment once, holds the index: flat memory.

    run time: 1000 MiB a minute a thread, plus 10."""
    return request(FLOOR_MEM_MB, 10 + bam_mb / (1000 * max(1, threads)))


# --- calling -----------------------------------------------------------------------------------


def bcftools_call(alignment_mb: float, contig_share: float = 1.0, threads: int = 1) -> Request:
    """``bcftools mpileup --regions CONTIG | bcftools call`` of one contig.

    memory: the pileup of one position at a time, bounded by mpileup's --max-depth (250 reads a
    file by default): 1 GiB whatever the size.
    run time: the contig's share of the alignment (its length over the reference's) at 3.6 s a
    MiB of BAM: a 30x genome (~60 GB of BAM) in 57 hours on one thread, about twice the day
    that mpileup | call is commonly given for it (an estimate, not a published figure); chr1
    of such a genome: under 5 hours. Plus 10 minutes.
    """
    return request(FLOOR_MEM_MB, 10 + 0.06 * alignment_mb * max(0.0, min(1.0, contig_share)))


def bcftools_concat(vcf_mb: float, threads: int = 2) -> Request:
    """``bcftools concat`` + ``bcftools index``: streams, flat memory; 100 MiB a minute, + 10."""
    return request(FLOOR_MEM_MB, 10 + vcf_mb / 100)


# --- harmonisation -----------------------------------------------------------------------------


def check_vcf(vcf_mb: float, threads: int = 1) -> Request:
    """``genopass validate --level vcf``: streams one record at a time, flat memory.

    run time: docs/validation.md measures 220,000 records/s on 1 sample and 12,000 records/s on
    100 samples (several MiB of bgzipped VCF a second); 60 MiB a minute (1 MiB/s), plus 10.
    """
    return request(FLOOR_MEM_MB, 10 + vcf_mb / 60)


def harmonise_vcf(vcf_mb: float, threads: int = 2, *, liftover: bool = False) -> Request:
    """``genopass harmonise``: a stream of pipes (bcftools norm, awk, Python) with one
    compression at the end; README's benchmark measures the largest process at 207-268 MB
    whatever the input, so 2 GiB covers every process of the pipe. Liftover (GRCh37 input)
    adds the chain's blocks and the GRCh37 FASTA's reads: +1 GiB.

    run time: README's benchmark, 1,000,000 records in 4.8 s and 100 samples x 200,000 records
    in 7.8 s with 2 threads (several MiB of bgzipped VCF a second); 60 MiB a minute (1 MiB/s),
    half that with liftover (one more pass over every record), plus 10.
    """
    per_minute = 60 / (2 if liftover else 1)
    return request(2048 + (1024 if liftover else 0), 10 + vcf_mb / per_minute)


# --- QC ----------------------------------------------------------------------------------------


def picard(bam_mb: float, threads: int = 1, *, heap_mb: int | None = None) -> Request:
    """Picard CollectWgsMetrics / CollectQualityYieldMetrics (and BedToIntervalList).

    Broad's WGS pipeline (broadinstitute/warp, tasks/broad/Qc.wdl) runs CollectWgsMetrics with
    ``-Xms2000m -Xmx2500m`` and CollectQualityYieldMetrics with ``-Xms2000m -Xmx3000m`` in 3500
    MiB, on whole genomes: the heap is 3000 MiB for a WGS BAM, 512 MiB + a quarter of the BAM's
    size below that (a demo's or a panel's BAM needs no WGS heap, and a small test cluster has
    no 12 GB to give it). The workflow's commands give no -Xmx, so the JVM takes 25% of the
    job's memory as its heap (MaxRAMPercentage=25, from the job's cgroup): the request is 4x
    the heap, 12000 MiB for a WGS BAM; with ``-Xmx`` on the command line it could be heap + 1
    GiB. run time: one thread over the whole BAM at 150 MiB a minute (a 60 GB BAM in ~7 hours),
    plus 10.
    """
    heap = heap_mb if heap_mb is not None else min(3000.0, 512 + bam_mb / 4)
    return request(heap / JVM_DEFAULT_HEAP_FRACTION, 10 + bam_mb / 150)


def samtools_stats(bam_mb: float, threads: int = 2) -> Request:
    """samtools stats / flagstat: counters, flat memory; 300 MiB of BAM a minute, + 10."""
    return request(FLOOR_MEM_MB, 10 + bam_mb / 300)


def mosdepth(bam_mb: float, fasta_mb: float, threads: int = 2) -> Request:
    """mosdepth: keeps an int32 depth array as long as the chromosome it is on (Pedersen and
    Quinlan 2018): 4 bytes a base of the longest (at most chr1, 248 Mb: 0.9 GiB) + 1 GiB.
    run time: Debian's description, "about 25 minutes of CPU time for a 30X genome" (per-base
    output; ~60 GB of BAM); 400 MiB of BAM a minute is ~6x slower, + 10."""
    longest = min(fasta_bases(fasta_mb), 250e6)
    return request(1024 + 4 * longest / MIB, 10 + bam_mb / 400)


def fastp(reads_mb: float, threads: int = 2) -> Request:
    """fastp: reads in packs of 1000 reads a thread, flat memory (2 GiB); 200 MiB of gzipped
    FASTQ a minute a thread, + 10."""
    return request(2048, 10 + reads_mb / (200 * max(1, threads)))


def write_qc_cohort(vcfs_mb: float, n_files: int = 1, threads: int = 2) -> Request:
    """``genopass qc-cohort``: merges the harmonised VCFs one record of each at a time: 1 GiB +
    8 MiB a file (its BGZF buffers and record); 60 MiB of input a minute, + 10."""
    return request(FLOOR_MEM_MB + 8 * n_files, 10 + vcfs_mb / 60)


def kinship(cohort_mb: float, threads: int = 2) -> Request:
    """``plink2 --make-king-table`` on the cohort's common SNVs.

    KING-robust keeps the genotypes 2 bits each and the pairs' counters; plink2 converts the
    VCF (~1 byte a genotype gzipped) to that, a 4th of its size or less: 2 GiB + the cohort's
    size. plink2 mallocs half of the RAM it detects as its workspace (its log here: "24105 MiB
    RAM detected; reserving 12052 MiB for main workspace"), untouched beyond what it uses.
    run time: 30 MiB a minute (the VCF import dominates), + 10.
    """
    return request(2048 + cohort_mb, 10 + cohort_mb / 30)


def multiqc(inputs_mb: float, threads: int = 1) -> Request:
    """MultiQC: parses every report into memory and writes one HTML: 2 GiB + 4x the reports'
    size; 10 MiB a minute, + 10."""
    return request(2048 + 4 * inputs_mb, 10 + inputs_mb / 10)


# --- export ------------------------------------------------------------------------------------


def export_vcf(vcf_mb: float, threads: int = 2) -> Request:
    """``genopass export-vcf``: a stream (bcftools view/annotate): flat memory; 60 MiB a minute,
    as harmonisation, + 10."""
    return request(FLOOR_MEM_MB, 10 + vcf_mb / 60)


def export_cohort(vcfs_mb: float, n_files: int = 1, threads: int = 2) -> Request:
    """``genopass cohort``: merges every exported sample's VCF and reference blocks, one record
    (and block) of each file at a time: 1 GiB + 8 MiB a file; 30 MiB of input a minute (the
    output is denser than the inputs: a genotype for every sample at every site), + 10."""
    return request(FLOOR_MEM_MB + 8 * n_files, 10 + vcfs_mb / 30)


def export_parquet(vcf_mb: float, threads: int = 2) -> Request:
    """``genopass parquet``: row groups streamed, peak memory under 500 MB whatever the input
    (DESIGN.md target, measured 207-268 MB by README's benchmark): 1.5 GiB; README's benchmark
    runs at 1.5-2.2x bcftools' read of the file; 60 MiB of VCF a minute, + 10."""
    return request(1536, 10 + vcf_mb / 60)


def export_frequencies(parquet_mb: float, threads: int = 2) -> Request:
    """``genopass frequencies`` (DuckDB over the Parquet tables).

    DuckDB's grouping, joins and sorts spill to disk beyond its memory limit (duckdb.org,
    "Limits": memory use "80% of RAM", memory_limit; the limit covers the buffer manager only),
    so memory need not follow the input: 2 GiB + a quarter of the tables' size, capped at 32
    GiB. genopass sets DuckDB's threads, not its memory_limit: on a node whose RAM is larger
    than the job's share, DuckDB may plan for more than the job has (docs/cluster.md).
    run time: 50 MiB of Parquet a minute, + 10."""
    return request(min(2048 + parquet_mb / 4, 32 * 1024), 10 + parquet_mb / 50)


# --- the workflow's rules ----------------------------------------------------------------------


def path_mb(path: str | os.PathLike) -> float:
    """Size of a file, or of every file under a directory, in MiB. A missing file raises
    FileNotFoundError naming it: Snakemake then leaves the resource to be computed when the
    job runs (a dry run shows <TBD>)."""
    path = Path(path)
    try:
        info = path.stat()
    except FileNotFoundError:
        raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), str(path)) from None
    if not path.is_dir():
        return info.st_size / MIB
    return sum(file.stat().st_size for file in path.rglob("*") if file.is_file()) / MIB


def files_mb(paths: Iterable[str | os.PathLike] | str | os.PathLike) -> float:
    if isinstance(paths, (str, os.PathLike)):
        return path_mb(paths)
    return sum(path_mb(path) for path in paths)


def named(input: Any, name: str) -> list[str]:
    """The files of one named input of a Snakemake job (empty when the rule has none)."""
    try:
        value = input[name]
    except (KeyError, AttributeError, IndexError, TypeError):
        value = getattr(input, name, None)
    if value is None:
        return []
    return [str(value)] if isinstance(value, (str, os.PathLike)) else [str(v) for v in value]


def every(input: Any) -> list[str]:
    """Every input file of a job, named or not (each once)."""
    return list(dict.fromkeys(str(path) for path in input))


def contig_share(fai: str | os.PathLike, contig: str) -> float:
    """A contig's length over the reference's (from the FASTA's .fai)."""
    lengths = {}
    with open(fai) as handle:
        for line in handle:
            fields = line.split("\t")
            if len(fields) >= 2:
                lengths[fields[0]] = int(fields[1])
    total = sum(lengths.values())
    return lengths.get(contig, total) / total if total else 1.0


Estimate = Callable[[Any, Any, int, Lifted], Request]


def _fasta(input: Any) -> tuple[float, bool]:
    fasta = named(input, "fasta") or every(input)[:1]
    return files_mb(fasta), bool(fasta) and fasta[0].endswith(".gz")


def _alignment(input: Any) -> float:
    return files_mb(named(input, "alignment") or every(input)[:1])


def _call(wildcards: Any, input: Any, threads: int, lifted: Lifted = None) -> Request:
    # the target's .fai is an input; a GRCh37 FASTA's is read when it is there
    fai = named(input, "fai") or [f"{path}.fai" for path in named(input, "fasta")]
    share = contig_share(fai[0], wildcards.contig) if fai and os.path.exists(fai[0]) else 1.0
    return bcftools_call(_alignment(input), share, threads)


def _harmonise(wildcards: Any, input: Any, threads: int, lifted: Lifted = None) -> Request:
    # The chain is an input of every harmonisation once liftover is configured; whether this
    # sample is lifted over is the plan's to say (its build), else the chain's presence.
    liftover = bool(named(input, "chain")) and (lifted is None or lifted(wildcards))
    return harmonise_vcf(files_mb(named(input, "vcf")), threads, liftover=liftover)


def _bwa_mem(wildcards: Any, input: Any, threads: int, lifted: Lifted = None) -> Request:
    fasta_mb, compressed = _fasta(input)
    return bwa_mem(files_mb(named(input, "reads")), fasta_mb, threads, compressed=compressed)


def _minimap2_sr(wildcards: Any, input: Any, threads: int, lifted: Lifted = None) -> Request:
    return minimap2_sr(files_mb(named(input, "reads")), files_mb(named(input, "index")), threads)


def _index(formula: Callable[..., Request]) -> Estimate:
    def estimate(wildcards: Any, input: Any, threads: int, lifted: Lifted = None) -> Request:
        fasta_mb, compressed = _fasta(input)
        return formula(fasta_mb, threads, compressed=compressed)

    return estimate


def _of(formula: Callable[..., Request], *names: str, count: bool = False) -> Estimate:
    """A formula of the total size of the named inputs (every input when none is named)."""

    def estimate(wildcards: Any, input: Any, threads: int, lifted: Lifted = None) -> Request:
        paths = [path for name in names for path in named(input, name)] if names else every(input)
        if count:
            return formula(files_mb(paths), len(paths), threads)
        return formula(files_mb(paths), threads)

    return estimate


def _mosdepth(wildcards: Any, input: Any, threads: int, lifted: Lifted = None) -> Request:
    return mosdepth(_alignment(input), files_mb(named(input, "fasta")), threads)


# rule -> its estimate from (wildcards, input, threads, lifted). Named inputs are the rules' own
# names (workflow/rules/*.smk); a rule whose input is one positional file is measured whole.
RULES: Mapping[str, Estimate] = {
    "bwa_index": _index(bwa_index),
    "minimap2_index": _index(minimap2_index),
    "bwa_mem": _bwa_mem,
    "minimap2_sr": _minimap2_sr,
    "samtools_merge": _of(samtools_merge),
    "samtools_markdup": _of(samtools_markdup),
    "samtools_index": _of(samtools_index, "alignment"),
    "bcftools_call": _call,
    "bcftools_concat": _of(bcftools_concat),
    "check_vcf": _of(check_vcf),
    "harmonise_vcf": _harmonise,
    "fastp_pe": _of(fastp, "fastq"),
    "fastp_se": _of(fastp, "fastq"),
    "samtools_stats": _of(samtools_stats, "alignment"),
    "samtools_flagstat": _of(samtools_stats, "alignment"),
    "mosdepth": _mosdepth,
    # BedToIntervalList reads a BED and a BAM header: a 500 MiB heap
    "picard_bed_to_interval_list": _of(
        lambda mb, threads: picard(0.0, threads, heap_mb=500), "bed"
    ),
    "picard_collect_wgs_metrics": _of(picard, "alignment"),
    "picard_collect_quality_yield_metrics": _of(picard, "alignment"),
    "write_qc_cohort": _of(write_qc_cohort, "vcfs", count=True),
    "write_relatedness": _of(kinship, "cohort"),
    "multiqc": _of(multiqc),
    "export_vcf": _of(export_vcf, "vcf"),
    "export_cohort": _of(export_cohort, "vcfs", "blocks", count=True),
    "export_parquet": _of(export_parquet, "vcf"),
    "export_frequencies": _of(export_frequencies, "variants", "genotypes"),
}


def estimate(
    name: str, wildcards: Any, input: Any, threads: int, attempt: int = 1, lifted: Lifted = None
) -> Request:
    """The request of one job of rule ``name`` (a key of :data:`RULES`), at ``attempt``.
    ``lifted(wildcards)`` tells whether the job's sample is lifted over (harmonise_vcf)."""
    first = RULES[name](wildcards, input, threads, lifted)
    if attempt <= 1:
        return first
    return request(first.mem_mb, first.runtime, attempt)


def callables(
    name: str, lifted: Lifted = None, *, like: str | None = None
) -> dict[str, Callable[..., int]]:
    """``mem_mb`` and ``runtime`` of rule ``name`` as Snakemake resource callables
    ``(wildcards, input, threads, attempt)``: ``resources: **rule_resources(name)``.

    A rule without a formula of its own borrows one with ``like``: a rule that harmonises one
    region of a sample reads like harmonise_vcf, ``rule_resources("harmonise_region",
    like="harmonise_vcf")`` (its inputs named as that rule names them).
    """
    formula = like or name
    if formula not in RULES:
        known = ", ".join(sorted(RULES))
        raise KeyError(f"no resource formula for rule {formula!r} (give like=...); known: {known}")

    def mem_mb(wildcards, input, threads, attempt):
        return estimate(formula, wildcards, input, threads, attempt, lifted).mem_mb

    def runtime(wildcards, input, threads, attempt):
        return estimate(formula, wildcards, input, threads, attempt, lifted).runtime

    return {"mem_mb": mem_mb, "runtime": runtime}
