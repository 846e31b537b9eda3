"""Demo raw reads: centre CTR-D (Spain) delivers paired FASTQ of two samples.

- D-001 (female), two lanes at about 30x;
- D-002 (male), one lane at about 8x: the demo's planted low-coverage sample (``LOW_COVERAGE``),
  under the permissive preset's 10x.

Each carries known variants at the demo cohort's sites (SNVs, indels in and out of repeats,
multiallelic sites; heterozygous and homozygous; a male one allele on his one chrX). Their
haplotypes are built from the demo reference (a male's chrX once, so its depth is half the
autosomes'), and Illumina-like read pairs are drawn from them at the sample's coverage:

- 2 x 150 bp, fragment length ~ N(380, 60), 4% short fragments whose reads run into the adapter;
- base qualities on Illumina's binned scale (Q37, Q25, Q12), substitution errors drawn with the
  probability each quality states (about 0.15 errors per read);
- 2% PCR duplicates (the same fragment again, with errors of its own);
- pairs shuffled over the sample's lanes (units of one sample, merged after alignment).

The truth goes beside the reads as ``truth/<sample>.vcf.gz``: one record per carried site in
minimal, left-aligned form (a multiallelic site as one record, genotype ``1/2``; a male's chrX
allele as callers write it, ``1/1``).

Each sample's data come from one ``random.Random`` seeded from the demo seed and the sample, so
the same seed gives the same bytes (BGZF through htslib, which writes no timestamps); the demo's
other data do not depend on them. Written in Python (no simulator binary): ``dwgsim -z`` is
deterministic for one version, but its output changes between versions (and its mutation list
repeats records), while the demo's bytes must not depend on what is installed.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pysam

from genopass.demo.cohort import (
    CONTIG_LENGTHS,
    TRUTH_DIR,
    Cohort,
    Edit,
    Site,
    Style,
    hemizygous,
    render,
)
from genopass.demo.writers import column_line, write_vcf

CENTRE = "CTR-D"
COUNTRY = "ES"
SLUG = "ctr_d"


@dataclass(frozen=True)
class ReadsSample:
    sample: str
    sex: str  # reported, and genetic (female: two chrX; male: one)
    consent: str
    coverage: float  # mean depth of the autosomes, before duplicates and quality filters
    lanes: tuple[str, ...]
    stream: str  # what seeds its random stream, with the demo seed


READS_SAMPLES = (
    ReadsSample("D-001", "female", "DUO:0000042", 30, ("lane1", "lane2"), "genopass demo reads"),
    ReadsSample("D-002", "male", "DUO:0000006", 8, ("lane1",), "genopass demo reads D-002"),
)
LOW_COVERAGE = "D-002"  # planted: under the permissive preset's mean_autosome_coverage 10x
SAMPLE = READS_SAMPLES[0].sample  # D-001, the 30x sample other tests align
LANES = READS_SAMPLES[0].lanes

READ_LENGTH = 150
COVERAGE = READS_SAMPLES[0].coverage
FRAGMENT_MEAN = 380
FRAGMENT_SD = 60
SHORT_FRAGMENT = 0.04  # fraction of fragments shorter than a read: adapter read-through
SHORT_RANGE = (90, READ_LENGTH - 1)
DUPLICATE_RATE = 0.02
ADAPTER_R1 = "AGATCGGAAGAGCACACGTCTGAACTCCAGTCAC"  # TruSeq, as fastp detects it
ADAPTER_R2 = "AGATCGGAAGAGCGTCGTGTAGGGAAAGAGTGT"
QUALITY_TEMPLATES = 64
COMPLEMENT = str.maketrans("ACGTN", "TGCAN")

# Genotype draws at each cohort site: (probability, haplotype alleles), cumulative. Biallelic
# sites are carried at ~37%; multiallelic ones at ~45%, a fifth of them as 1/2.
BIALLELIC_DRAWS = ((0.25, (0, 1)), (0.37, (1, 1)))
MULTIALLELIC_DRAWS = ((0.15, (1, 2)), (0.28, (0, 1)), (0.38, (0, 2)), (0.45, (1, 1)))

Genotype = tuple[int, int]


@dataclass(frozen=True)
class ReadPair:
    name: str
    read1: str
    qual1: str
    read2: str
    qual2: str


def fastq_names(lane: str, sample: str = SAMPLE) -> tuple[str, str]:
    """File names of read 1 and read 2 of one lane of ``sample`` (D-001 by default)."""
    return (f"{SLUG}.{sample}.{lane}_R1.fastq.gz", f"{SLUG}.{sample}.{lane}_R2.fastq.gz")


def truth_vcf(sample: str) -> str:
    """The truth VCF of a reads sample, relative to the demo folder."""
    return f"{TRUTH_DIR}/{sample}.vcf.gz"


TRUTH_VCF = truth_vcf(SAMPLE)


def sample_rows() -> list[list[str]]:
    """CTR-D's rows of samples.tsv."""
    return [[s.sample, CENTRE, COUNTRY, s.sex, s.consent] for s in READS_SAMPLES]


def unit_rows(data_dir: str) -> list[list[str]]:
    """CTR-D's rows of units.tsv (columns of demo.UNIT_COLUMNS); FASTQ has no build."""
    rows = []
    for reads in READS_SAMPLES:
        for lane in reads.lanes:
            fq1, fq2 = (f"{data_dir}/{name}" for name in fastq_names(lane, reads.sample))
            rows.append([reads.sample, lane, fq1, fq2, "", "", "", "", ""])
    return rows


# --- genotypes and haplotypes ---------------------------------------------------------------------


def draw_genotypes(
    rng: random.Random, sites: Sequence[Site], genetic_sex: str = "female"
) -> list[Genotype]:
    """A reads sample's genotype at every cohort site (allele indices into the site; 0 = REF).
    On a male's chrX his one allele, written twice (``(1, 1)``): the haplotypes' first."""
    genotypes = []
    for site in sites:
        draws = BIALLELIC_DRAWS if len(site.alleles) == 1 else MULTIALLELIC_DRAWS
        draw = rng.random()
        genotype: Genotype = (0, 0)
        for bound, alleles in draws:
            if draw < bound:
                genotype = alleles
                break
        if genotype[0] != genotype[1] and rng.random() < 0.5:
            genotype = (genotype[1], genotype[0])  # which haplotype carries it
        if hemizygous(site.chrom, genetic_sex):
            genotype = (genotype[0], genotype[0])
        genotypes.append(genotype)
    return genotypes


def haplotypes(seq: str, sites: Sequence[Site], genotypes: Sequence[Genotype]) -> tuple[str, str]:
    """The two haplotype sequences of one contig (sites sorted and non-overlapping)."""
    result = []
    for side in (0, 1):
        parts, previous = [], 0
        for site, genotype in zip(sites, genotypes, strict=True):
            allele = genotype[side]
            if allele:
                edit: Edit = site.alleles[allele - 1]
                parts += [seq[previous : edit.start], edit.ins]
                previous = edit.end
        parts.append(seq[previous:])
        result.append("".join(parts))
    return result[0], result[1]


def truth_lines(cohort: Cohort, genotypes: Sequence[Genotype]) -> list[str]:
    """VCF records of the carried sites, minimal and left-aligned, in reference order."""
    lines = []
    for site, genotype in zip(cohort.sites, genotypes, strict=True):
        carried = sorted({allele for allele in genotype if allele})
        if not carried:
            continue
        seq = cohort.contigs[site.chrom].seq
        pos, ref, alts = render(seq, [site.alleles[a - 1] for a in carried], Style(None, 0, 0))
        renumber = {0: 0} | {allele: i for i, allele in enumerate(carried, start=1)}
        gt = "/".join(str(renumber[a]) for a in sorted(genotype))
        lines.append(
            "\t".join([site.chrom, str(pos), ".", ref, ",".join(alts), "50", "PASS", ".", "GT", gt])
        )
    order = list(CONTIG_LENGTHS)
    return sorted(
        lines, key=lambda line: (order.index(line.split("\t")[0]), int(line.split("\t")[1]))
    )


def truth_header(sample: str = SAMPLE) -> list[str]:
    contigs = [f"##contig=<ID={name},length={length}>" for name, length in CONTIG_LENGTHS.items()]
    return [
        "##fileformat=VCFv4.2",
        '##FILTER=<ID=PASS,Description="All filters passed">',
        *contigs,
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        column_line([sample]),
    ]


# --- reads --------------------------------------------------------------------------------------


def _reverse_complement(seq: str) -> str:
    return seq.translate(COMPLEMENT)[::-1]


def _quality_templates(rng: random.Random) -> list[tuple[str, list[float]]]:
    """Binned quality strings and the cumulative error probabilities along each."""
    templates = []
    for _ in range(QUALITY_TEMPLATES):
        quals = []
        tail = rng.randint(8, 30)  # qualities drop towards the end of a read
        for position in range(READ_LENGTH):
            if position >= READ_LENGTH - tail:
                q = 25 if rng.random() < 0.85 else 12
            else:
                q = 37 if rng.random() < 0.97 else (25 if rng.random() < 0.8 else 12)
            quals.append(q)
        probabilities = [10 ** (-q / 10) for q in quals]
        cumulative, total = [], 0.0
        for p in probabilities:
            total += p
            cumulative.append(total)
        templates.append(("".join(chr(q + 33) for q in quals), cumulative))
    return templates


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw by inversion (the means here are well below 1)."""
    draw, term, k = rng.random(), pow(2.718281828459045, -mean), 0
    total = term
    while draw > total and k < 20:
        k += 1
        term *= mean / k
        total += term
    return k


def _with_errors(
    rng: random.Random, read: str, template: tuple[str, list[float]]
) -> tuple[str, str]:
    quals, cumulative = template
    errors = _poisson(rng, cumulative[-1])
    if errors:
        bases = list(read)
        positions = rng.choices(range(READ_LENGTH), cum_weights=cumulative, k=errors)
        for position in positions:
            bases[position] = rng.choice([b for b in "ACGT" if b != bases[position]])
        read = "".join(bases)
    return read, quals


def _fragment(rng: random.Random, haps: Sequence[str], weights: Sequence[int]) -> str:
    hap = rng.choices(haps, cum_weights=weights)[0]
    if rng.random() < SHORT_FRAGMENT:
        length = rng.randint(*SHORT_RANGE)
    else:
        length = max(READ_LENGTH, int(rng.gauss(FRAGMENT_MEAN, FRAGMENT_SD)))
    length = min(length, len(hap))
    start = rng.randrange(0, len(hap) - length + 1)
    fragment = hap[start : start + length]
    return _reverse_complement(fragment) if rng.random() < 0.5 else fragment


def _read_from(fragment: str, adapter: str) -> str:
    read = fragment + adapter
    return (read + "G" * READ_LENGTH)[:READ_LENGTH]  # past the adapter: two-colour poly-G


def simulate_pairs(rng: random.Random, haps: Sequence[str], pairs: int) -> Iterator[ReadPair]:
    """``pairs`` read pairs (plus their PCR duplicates) from haplotypes drawn by length."""
    templates = _quality_templates(rng)
    weights, total = [], 0
    for hap in haps:
        total += len(hap)
        weights.append(total)
    number = 0
    for _ in range(pairs):
        fragment = _fragment(rng, haps, weights)
        copies = 2 if rng.random() < DUPLICATE_RATE else 1
        for _ in range(copies):
            number += 1
            read1, qual1 = _with_errors(
                rng, _read_from(fragment, ADAPTER_R1), rng.choice(templates)
            )
            read2, qual2 = _with_errors(
                rng, _read_from(_reverse_complement(fragment), ADAPTER_R2), rng.choice(templates)
            )
            yield ReadPair(f"CTRD:FC1:{number}", read1, qual1, read2, qual2)


def _write_fastq(path: Path, records: list[str]) -> None:
    with pysam.BGZFile(str(path), "wb") as handle:
        handle.write("".join(records).encode("ascii"))


def sample_haplotypes(cohort: Cohort, genotypes: Sequence[Genotype], genetic_sex: str) -> list[str]:
    """The sequences reads are drawn from: two of each contig, one chrX of a male."""
    haps: list[str] = []
    for name, contig in cohort.contigs.items():
        on_contig = [
            (s, g) for s, g in zip(cohort.sites, genotypes, strict=True) if s.chrom == name
        ]
        pair = haplotypes(contig.seq, [s for s, _ in on_contig], [g for _, g in on_contig])
        haps += pair[:1] if hemizygous(name, genetic_sex) else pair
    return haps


def write_reads_sample(outdir: Path, cohort: Cohort, seed: int, reads: ReadsSample) -> list[Path]:
    """Write one sample's FASTQ (a pair of files per lane) and truth VCF into ``outdir``."""
    rng = random.Random(f"{reads.stream}, seed {seed}")
    genotypes = draw_genotypes(rng, cohort.sites, reads.sex)
    haps = sample_haplotypes(cohort, genotypes, reads.sex)
    # Two haplotypes per locus at ``coverage``: each haplotype base is covered coverage / 2
    # times, so a male's one chrX has half the autosomes' depth.
    pairs = round(reads.coverage * sum(map(len, haps)) / (2 * 2 * READ_LENGTH))
    lanes: dict[str, tuple[list[str], list[str]]] = {lane: ([], []) for lane in reads.lanes}
    for pair in simulate_pairs(rng, haps, pairs):
        lane = reads.lanes[0] if len(reads.lanes) == 1 else reads.lanes[rng.random() < 0.5]
        first, second = lanes[lane]
        first.append(f"@{pair.name} 1:N:0:ACGTACGT\n{pair.read1}\n+\n{pair.qual1}\n")
        second.append(f"@{pair.name} 2:N:0:ACGTACGT\n{pair.read2}\n+\n{pair.qual2}\n")
    written = []
    for lane, (first, second) in lanes.items():
        names = fastq_names(lane, reads.sample)
        for path, records in zip(names, (first, second), strict=True):
            _write_fastq(outdir / path, records)
            written.append(outdir / path)
    truth = outdir / truth_vcf(reads.sample)
    write_vcf(truth, truth_header(reads.sample), truth_lines(cohort, genotypes))
    written += [truth, Path(f"{truth}.tbi")]
    return written


def write_reads_demo(outdir: Path, cohort: Cohort, seed: int) -> list[Path]:
    """Write every CTR-D sample's FASTQ and truth VCF into ``outdir``; return the files."""
    written = []
    for reads in READS_SAMPLES:
        written += write_reads_sample(outdir, cohort, seed, reads)
    return written
