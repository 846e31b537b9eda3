"""Demo raw reads: centre CTR-D (Spain) delivers paired FASTQ of one sample, in two lanes.

Sample D-001 carries known variants at the demo cohort's sites (SNVs, indels in and out of
repeats, multiallelic sites; heterozygous and homozygous). Its two haplotypes are built from the
demo reference, and Illumina-like read pairs are drawn from them at about 30x:

- 2 x 150 bp, fragment length ~ N(380, 60), 4% short fragments whose reads run into the adapter;
- base qualities on Illumina's binned scale (Q37, Q25, Q12), substitution errors drawn with the
  probability each quality states (about 0.15 errors per read);
- 2% PCR duplicates (the same fragment again, with errors of its own);
- pairs shuffled over two lanes (two units of one sample, merged after alignment).

The truth goes beside the reads as ``truth/D-001.vcf.gz``: one record per carried site in
minimal, left-aligned form (a multiallelic site as one record, genotype ``1/2``).

Everything comes from one ``random.Random`` seeded from the demo seed, so the same seed gives the
same bytes (BGZF through htslib, which writes no timestamps); the demo's other data do not depend
on it. Written in Python (no simulator binary): ``dwgsim -z`` is deterministic for one version,
but its output changes between versions (and its mutation list repeats records), while the demo's
bytes must not depend on what is installed.
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
    render,
)
from genopass.demo.writers import column_line, write_vcf

SAMPLE = "D-001"
CENTRE = "CTR-D"
COUNTRY = "ES"
SEX = "female"
CONSENT = "DUO:0000042"
SLUG = "ctr_d"
LANES = ("lane1", "lane2")

READ_LENGTH = 150
COVERAGE = 30
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


def fastq_names(lane: str) -> tuple[str, str]:
    """File names of read 1 and read 2 of one lane."""
    return (f"{SLUG}.{SAMPLE}.{lane}_R1.fastq.gz", f"{SLUG}.{SAMPLE}.{lane}_R2.fastq.gz")


TRUTH_VCF = f"{TRUTH_DIR}/{SAMPLE}.vcf.gz"


def sample_row() -> list[str]:
    """D-001's row of samples.tsv."""
    return [SAMPLE, CENTRE, COUNTRY, SEX, CONSENT]


def unit_rows(data_dir: str) -> list[list[str]]:
    """D-001's rows of units.tsv (columns of demo.UNIT_COLUMNS); FASTQ has no build."""
    rows = []
    for lane in LANES:
        fq1, fq2 = (f"{data_dir}/{name}" for name in fastq_names(lane))
        rows.append([SAMPLE, lane, fq1, fq2, "", "", "", "", ""])
    return rows


# --- genotypes and haplotypes ---------------------------------------------------------------------


def draw_genotypes(rng: random.Random, sites: Sequence[Site]) -> list[Genotype]:
    """D-001's genotype at every cohort site (allele indices into the site; 0 = REF)."""
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


def truth_header() -> list[str]:
    contigs = [f"##contig=<ID={name},length={length}>" for name, length in CONTIG_LENGTHS.items()]
    return [
        "##fileformat=VCFv4.2",
        '##FILTER=<ID=PASS,Description="All filters passed">',
        *contigs,
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        column_line([SAMPLE]),
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


def write_reads_demo(outdir: Path, cohort: Cohort, seed: int) -> list[Path]:
    """Write D-001's FASTQ (two lanes) and truth VCF into ``outdir``; return the files."""
    rng = random.Random(f"genopass demo reads, seed {seed}")
    genotypes = draw_genotypes(rng, cohort.sites)
    haps: list[str] = []
    for name, contig in cohort.contigs.items():
        on_contig = [
            (s, g) for s, g in zip(cohort.sites, genotypes, strict=True) if s.chrom == name
        ]
        haps += haplotypes(contig.seq, [s for s, _ in on_contig], [g for _, g in on_contig])
    reference_length = sum(len(contig.seq) for contig in cohort.contigs.values())
    pairs = round(COVERAGE * reference_length / (2 * READ_LENGTH))
    lanes: dict[str, tuple[list[str], list[str]]] = {lane: ([], []) for lane in LANES}
    for pair in simulate_pairs(rng, haps, pairs):
        lane = LANES[rng.random() < 0.5]
        first, second = lanes[lane]
        first.append(f"@{pair.name} 1:N:0:ACGTACGT\n{pair.read1}\n+\n{pair.qual1}\n")
        second.append(f"@{pair.name} 2:N:0:ACGTACGT\n{pair.read2}\n+\n{pair.qual2}\n")
    written = []
    for lane, (first, second) in lanes.items():
        for path, records in zip(fastq_names(lane), (first, second), strict=True):
            _write_fastq(outdir / path, records)
            written.append(outdir / path)
    truth = outdir / TRUTH_VCF
    write_vcf(truth, truth_header(), truth_lines(cohort, genotypes))
    written += [truth, Path(f"{truth}.tbi")]
    return written
