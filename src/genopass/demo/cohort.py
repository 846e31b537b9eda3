"""Deterministic demo data: a small GRCh38-like reference, three centres' VCFs, sheets and truth.

Everything is drawn from one ``random.Random(seed)`` in a fixed order, so the same seed gives the
same bytes (bgzip and tabix via htslib write no timestamps). The centres differ the way real
deliveries do: contig naming (Ensembl, UCSC, RefSeq), one multi-sample file with its own column
names, FORMAT fields, header lines with paths and names, indels that are not left-aligned or not
trimmed, multiallelic records, a duplicated line, an undeclared INFO tag, a non-primary contig and
a REF that does not match the reference.

``truth/<sample>.tsv`` lists what harmonisation must produce per sample (UCSC names, left-aligned,
trimmed, split to biallelic records, deduplicated; bad records excluded), computed here with a
small left-align/trim of our own; the unit tests check it against ``bcftools norm``.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from genopass.demo.writers import column_line

FASTA_NAME = "GRCh38.demo.fa"
KEY_NAME = "pseudonym.key"
TRUTH_DIR = "truth"
TRUTH_COLUMNS = ("chrom", "pos", "ref", "alt", "gt")
SAMPLE_COLUMNS = ("sample", "centre", "country", "sex", "consent")
UNIT_COLUMNS = ("sample", "unit", "fq1", "fq2", "bam", "cram", "vcf", "vcf_sample", "build")

# Fixed (not seeded) so that sheets and headers do not depend on the seed; deliberately not the
# real chr21/chr22/chrX lengths, so nothing can mistake the demo for the full chromosomes. The
# demo's chrX is a short stretch without pseudo-autosomal regions (docs/qc.md): males carry one
# copy of all of it.
CONTIG_LENGTHS = {"chr21": 150_000, "chr22": 120_000, "chrX": 90_000}
X_CONTIG = "chrX"
NON_PRIMARY = "chr22_KI270731v1_random"
NON_PRIMARY_LENGTH = 150_754  # the real GRCh38 length, as in resources/aliases/GRCh38.tsv

BASES = "ACGT"
BASE_WEIGHTS = (0.295, 0.205, 0.205, 0.295)  # ~41% GC, as in the human genome
TRANSITION = {"A": "G", "G": "A", "C": "T", "T": "C"}
ELEMENT_LENGTH = 300  # an Alu-like element: random body plus a poly-A tail
ELEMENT_POLY_A = 16
ELEMENT_DIVERGENCE = 0.02
ELEMENT_FRACTIONS = {"chr21": (0.18, 0.47, 0.81), "chr22": (0.29, 0.66), "chrX": (0.37, 0.74)}
# Bases from one stretch site to the next: (low, high) of a uniform draw. chrX has its sites
# closer, so that each person, one X or two, carries enough SNVs on it to infer sex from
# (qc.sex.MIN_X_SITES ALT-carrying SNVs; a male carries about half of a female's).
SITE_STEP = {"chr21": (200, 900), "chr22": (200, 900), "chrX": (90, 260)}

MAX_PAD = 3  # extra shared bases written around some records (not trimmed)
SITE_MARGIN = 8  # free bases between the footprints of two sites


@dataclass(frozen=True)
class Centre:
    name: str
    country: str
    slug: str
    contigs: dict[str, str]  # UCSC name -> the centre's name
    p_shift: float  # chance that an indel is written shifted right within its repeat
    p_pad: float  # chance that a record carries extra shared bases (not trimmed)


CENTRES = (
    Centre(
        "CTR-A",
        "DE",
        "ctr_a",
        {"chr21": "21", "chr22": "22", "chrX": "X", NON_PRIMARY: "KI270731.1"},
        p_shift=0.35,
        p_pad=0.06,
    ),
    Centre(
        "CTR-B",
        "FR",
        "ctr_b",
        {"chr21": "chr21", "chr22": "chr22", "chrX": "chrX", NON_PRIMARY: NON_PRIMARY},
        p_shift=0.25,
        p_pad=0.10,
    ),
    Centre(
        "CTR-C",
        "IT",
        "ctr_c",
        {
            "chr21": "NC_000021.9",
            "chr22": "NC_000022.11",
            "chrX": "NC_000023.11",
            NON_PRIMARY: "NT_187388.1",
        },
        p_shift=0.40,
        p_pad=0.06,
    ),
)
CENTRE_BY_NAME = {centre.name: centre for centre in CENTRES}


@dataclass(frozen=True)
class Person:
    sample: str  # sheet ID
    centre: str
    sex: str  # what the centre reports (samples.tsv), unless demo.planted makes it wrong
    consent: str
    vcf_column: str  # column name in the centre's VCF
    build: str
    genetic_sex: str  # the person's chromosomes: female (XX, two chrX) or male (XY, one)


PEOPLE = (
    Person("A-001", "CTR-A", "female", "DUO:0000042", "A-001", "GRCh38", "female"),
    Person("A-002", "CTR-A", "male", "DUO:0000006,DUO:0000019", "A-002", "GRCh38", "male"),
    Person("B-001", "CTR-B", "female", "DUO:0000042", "LABB_0001", "GRCh38", "female"),
    Person("B-002", "CTR-B", "male", "DUO:0000006,DUO:0000018", "LABB_0002", "GRCh38", "male"),
    Person("B-003", "CTR-B", "unknown", "", "B-003", "GRCh38", "male"),
    Person("C-001", "CTR-C", "male", "DUO:0000042,DUO:0000046", "C-001", "GRCh38", "male"),
    Person("C-002", "CTR-C", "male", "DUO:0000006", "C-002", "auto", "male"),
)
PERSON_BY_SAMPLE = {person.sample: person for person in PEOPLE}
# Placeholder names (German "Mustermann") that a ##SAMPLE line of CTR-A carries: they must never
# reach an export.
PERSONAL_NAMES = {"A-001": "Erika Mustermann", "A-002": "Max Mustermann"}


def vcf_file_name(person: Person) -> str:
    """CTR-B delivers one cohort file; the others one file per sample."""
    slug = CENTRE_BY_NAME[person.centre].slug
    return f"{slug}.cohort.vcf.gz" if person.centre == "CTR-B" else f"{slug}.{person.sample}.vcf.gz"


# --- reference ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Repeat:
    start: int  # 0-based
    unit: str
    copies: int


@dataclass
class Contig:
    name: str
    seq: str
    repeats: list[Repeat]
    stretches: list[tuple[int, int]]  # random (non-STR) spans, 0-based half-open


def _random_dna(rng: random.Random, length: int) -> str:
    return "".join(rng.choices(BASES, BASE_WEIGHTS, k=length))


def _diverged(rng: random.Random, seq: str, rate: float) -> str:
    """A copy of ``seq`` with point substitutions, like old copies of a transposable element."""
    out = list(seq)
    for i, base in enumerate(out):
        if rng.random() < rate:
            out[i] = rng.choice([b for b in BASES if b != base])
    return "".join(out)


HOMOPOLYMER_BASES = "AAATTTCG"  # A/T runs dominate in real genomes
DI_UNITS = ("CA", "AC", "TG", "GT", "AT", "TA", "AG", "GA", "TC", "CT")
TRI_UNITS = ("CAG", "CTG", "AAT", "ATT", "GGC", "AAC", "TTC", "AGG")
TETRA_UNITS = ("AAAT", "GATA", "TTTC", "AAAG")


def _draw_repeat(rng: random.Random) -> tuple[str, int]:
    """Unit and copy number of a homopolymer or STR."""
    kind = rng.random()
    if kind < 0.45:
        return rng.choice(HOMOPOLYMER_BASES), rng.randint(6, 16)
    if kind < 0.80:
        return rng.choice(DI_UNITS), rng.randint(4, 12)
    if kind < 0.95:
        return rng.choice(TRI_UNITS), rng.randint(3, 8)
    return rng.choice(TETRA_UNITS), rng.randint(3, 7)


def _build_contig(rng: random.Random, name: str, length: int, element: str) -> Contig:
    """Random sequence interleaved with homopolymers, STRs and copies of a repeated element."""
    parts: list[str] = []
    repeats: list[Repeat] = []
    stretches: list[tuple[int, int]] = []
    slots = [int(fraction * length) for fraction in ELEMENT_FRACTIONS[name]]
    size = 0
    while size < length - 1000:
        stretch = _random_dna(rng, rng.randint(60, 320))
        parts.append(stretch)
        stretches.append((size, size + len(stretch)))
        size += len(stretch)
        if slots and size >= slots[0]:
            slots.pop(0)
            copy = _diverged(rng, element, ELEMENT_DIVERGENCE)
            parts.append(copy)
            # SNVs may fall in the element body; its poly-A tail is a homopolymer like others.
            body = len(copy) - ELEMENT_POLY_A
            stretches.append((size, size + body))
            repeats.append(Repeat(size + body, "A", ELEMENT_POLY_A))
            size += len(copy)
            continue
        unit, copies = _draw_repeat(rng)
        repeats.append(Repeat(size, unit, copies))
        parts.append(unit * copies)
        size += len(unit) * copies
    tail = _random_dna(rng, length - size)
    parts.append(tail)
    stretches.append((size, length))
    seq = "".join(parts)
    assert len(seq) == length
    return Contig(name, seq, repeats, stretches)


def build_reference(rng: random.Random) -> dict[str, Contig]:
    body = _random_dna(rng, ELEMENT_LENGTH - ELEMENT_POLY_A)
    element = body + "A" * ELEMENT_POLY_A
    return {
        name: _build_contig(rng, name, length, element) for name, length in CONTIG_LENGTHS.items()
    }


# --- variants -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Edit:
    """Replace seq[start:end] by ``ins`` (0-based, half-open); one ALT allele of a site."""

    start: int
    end: int
    ins: str

    @property
    def is_indel(self) -> bool:
        return len(self.ins) != self.end - self.start


def shift_left(seq: str, edit: Edit) -> Edit:
    """The leftmost equivalent of an indel (SNVs unchanged)."""
    start, end, ins = edit.start, edit.end, edit.ins
    if not ins and end > start:  # deletion
        while start > 0 and seq[start - 1] == seq[end - 1]:
            start, end = start - 1, end - 1
    elif ins and end == start:  # insertion
        while start > 0 and ins[-1] == seq[start - 1]:
            ins = seq[start - 1] + ins[:-1]
            start = end = start - 1
    return Edit(start, end, ins)


def shift_right(seq: str, edit: Edit, steps: int | None = None) -> Edit:
    """Move an indel ``steps`` bases right within its repeat (None: as far as it goes)."""
    start, end, ins = edit.start, edit.end, edit.ins
    moved = 0
    while steps is None or moved < steps:
        if not ins and end > start and end < len(seq) and seq[start] == seq[end]:
            start, end = start + 1, end + 1
        elif ins and end == start and start < len(seq) and ins[0] == seq[start]:
            ins = ins[1:] + seq[start]
            start = end = start + 1
        else:
            break
        moved += 1
    return Edit(start, end, ins)


def normalise(seq: str, pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """Left-align and trim one biallelic VCF allele (1-based ``pos``) against ``seq``.

    The usual algorithm (Tan et al. 2015): trim a shared last base, extending to the left when an
    allele becomes empty, until nothing changes; then trim shared first bases.
    """
    while True:
        changed = False
        if ref and alt and ref[-1] == alt[-1]:
            ref, alt = ref[:-1], alt[:-1]
            changed = True
        if not ref or not alt:
            pos -= 1
            base = seq[pos - 1]
            ref, alt = base + ref, base + alt
            changed = True
        if not changed:
            break
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt, pos = ref[1:], alt[1:], pos + 1
    return pos, ref, alt


@dataclass
class Site:
    chrom: str
    alleles: list[Edit]  # leftmost form
    freqs: list[float]
    lo: int = 0  # footprint, 0-based half-open, margins included
    hi: int = 0


def _footprint(seq: str, alleles: Sequence[Edit]) -> tuple[int, int]:
    rightmost = [shift_right(seq, edit) for edit in alleles]
    lo = min(edit.start for edit in alleles) - 1 - MAX_PAD - SITE_MARGIN
    hi = max(edit.end for edit in rightmost) + MAX_PAD + SITE_MARGIN
    return lo, hi


def _snv_alt(rng: random.Random, ref: str, exclude: str = "") -> str:
    # Transitions twice as likely as each transversion pair: Ti/Tv about 2, as in real calls.
    if TRANSITION[ref] not in exclude and rng.random() < 0.67:
        return TRANSITION[ref]
    return rng.choice([b for b in BASES if b != ref and b not in exclude])


def _allele_freq(rng: random.Random) -> float:
    kind = rng.random()
    # Mostly rare alleles, as in any population: about 300 variants per person on the demo.
    if kind < 0.6:
        return rng.uniform(0.01, 0.08)
    if kind < 0.9:
        return rng.uniform(0.08, 0.4)
    return rng.uniform(0.4, 0.95)


def _repeat_site(rng: random.Random, contig: Contig, repeat: Repeat) -> Site:
    seq, unit, start = contig.seq, repeat.unit, repeat.start
    kind = rng.random()
    if kind < 0.12 and repeat.copies >= 3:
        # Multiallelic length polymorphism: one unit shorter and one unit longer (or two shorter).
        second = (
            Edit(start, start, unit)
            if rng.random() < 0.6
            else Edit(start, start + 2 * len(unit), "")
        )
        alleles = [Edit(start, start + len(unit), ""), second]
        freqs = [rng.uniform(0.2, 0.45), rng.uniform(0.2, 0.45)]
    else:
        units = rng.choice((1, 1, 1, 2, 3)) if len(unit) == 1 else rng.choice((1, 1, 1, 2))
        units = min(units, repeat.copies - 1)
        if kind < 0.56:
            alleles = [Edit(start, start + units * len(unit), "")]
        else:
            alleles = [Edit(start, start, unit * units)]
        freqs = [_allele_freq(rng)]
    alleles = [shift_left(seq, edit) for edit in alleles]
    return Site(contig.name, alleles, freqs)


def _stretch_sites(rng: random.Random, contig: Contig, start: int, end: int) -> list[Site]:
    sites = []
    step = SITE_STEP[contig.name]
    pos = start + rng.randint(10, step[0])
    while pos < end - 12:
        ref = contig.seq[pos]
        if rng.random() < 0.06:
            first = _snv_alt(rng, ref)
            second = _snv_alt(rng, ref, exclude=first)
            edits = [Edit(pos, pos + 1, first), Edit(pos, pos + 1, second)]
            sites.append(Site(contig.name, edits, [rng.uniform(0.2, 0.45), rng.uniform(0.2, 0.45)]))
        elif rng.random() < 0.05:
            # A small indel outside any repeat, as callers also report.
            size = rng.randint(1, 4)
            edit = (
                Edit(pos, pos + size, "")
                if rng.random() < 0.5
                else Edit(pos, pos, _random_dna(rng, size))
            )
            sites.append(Site(contig.name, [shift_left(contig.seq, edit)], [_allele_freq(rng)]))
        else:
            sites.append(
                Site(contig.name, [Edit(pos, pos + 1, _snv_alt(rng, ref))], [_allele_freq(rng)])
            )
        pos += rng.randint(*step)
    return sites


def draw_sites(rng: random.Random, contig: Contig) -> list[Site]:
    """Population variant sites of one contig whose footprints do not overlap."""
    candidates = [_repeat_site(rng, contig, r) for r in contig.repeats if rng.random() < 0.3]
    for start, end in contig.stretches:
        candidates.extend(_stretch_sites(rng, contig, start, end))
    for site in candidates:
        site.lo, site.hi = _footprint(contig.seq, site.alleles)
    candidates.sort(key=lambda site: (site.lo, site.hi))
    kept: list[Site] = []
    for site in candidates:
        if site.lo < 0 or site.hi > len(contig.seq):
            continue
        if kept and site.lo < kept[-1].hi:
            continue  # overlaps the previous site: two sites must never share bases
        kept.append(site)
    return kept


TruthRow = tuple[str, int, str, str, str]  # chrom, pos, ref, alt, gt
Genotype = tuple[int | None, int | None]  # allele indices into the site (0 = REF); None = missing


def draw_haplotype(rng: random.Random, freqs: Sequence[float]) -> int:
    """One chromosome's allele at a site (0 = REF) drawn from the population's frequencies."""
    draw = rng.random()
    for index, freq in enumerate(freqs, start=1):
        if draw < freq:
            return index
        draw -= freq
    return 0


def hemizygous(chrom: str, genetic_sex: str) -> bool:
    """Whether a person of ``genetic_sex`` has one copy of ``chrom`` (a male's chrX)."""
    return chrom == X_CONTIG and genetic_sex == "male"


def draw_genotype(rng: random.Random, freqs: Sequence[float], one_copy: bool = False) -> Genotype:
    """A genotype from the population's frequencies; with ``one_copy`` (a male's chrX) the
    allele of his one chromosome, written twice as diploid callers write it (``0/0``, ``1/1``)."""
    first = draw_haplotype(rng, freqs)
    if one_copy:
        return first, first
    return first, draw_haplotype(rng, freqs)


@dataclass(frozen=True)
class Style:
    """How a centre writes one site: shifted right, with extra shared bases."""

    shift: float | None  # fraction of the possible right shift, None: left-aligned
    pad_left: int
    pad_right: int


def _draw_style(rng: random.Random, centre: Centre) -> Style:
    shift = rng.random() if rng.random() < centre.p_shift else None
    pad_left = pad_right = 0
    if rng.random() < centre.p_pad:
        pad_left = rng.randint(0, MAX_PAD)
        pad_right = rng.randint(1 if pad_left == 0 else 0, MAX_PAD)
    return Style(shift, pad_left, pad_right)


def render(seq: str, edits: Sequence[Edit], style: Style) -> tuple[int, str, list[str]]:
    """VCF POS (1-based), REF and ALTs of ``edits`` written in ``style``."""
    if len(edits) == 1 and edits[0].is_indel and style.shift is not None:
        most = shift_right(seq, edits[0])
        reach = most.start - edits[0].start
        if reach:
            edits = [shift_right(seq, edits[0], 1 + int(style.shift * reach))]
    lo = min(edit.start for edit in edits)
    hi = max(edit.end for edit in edits)
    if any(edit.is_indel for edit in edits):
        lo -= 1  # VCF indels carry the base before the event
    lo -= style.pad_left
    hi += style.pad_right
    ref = seq[lo:hi]
    alts = [seq[lo : edit.start] + edit.ins + seq[edit.end : hi] for edit in edits]
    return lo + 1, ref, alts


@dataclass
class Record:
    chrom: str  # UCSC name
    pos: int
    ref: str
    alts: list[str]
    qual: str
    filter: str
    info: str
    format: str
    calls: list[str]  # FORMAT values per sample
    gts: list[str]  # GT per sample, for the truth

    def line(self, centre: Centre) -> str:
        fields = [centre.contigs[self.chrom], str(self.pos), ".", self.ref, ",".join(self.alts)]
        fields += [self.qual, self.filter, self.info, self.format, *self.calls]
        return "\t".join(fields)


@dataclass
class Cohort:
    contigs: dict[str, Contig]
    sites: list[Site]
    genotypes: dict[str, list[Genotype]]  # sheet ID -> one genotype per site
    styles: dict[str, list[Style]] = field(default_factory=dict)  # centre -> per site
    # sample -> (contaminant, fraction of its reads): the AD of its calls (demo.planted)
    contamination: dict[str, tuple[str, float]] = field(default_factory=dict)


def draw_cohort(rng: random.Random) -> Cohort:
    contigs = build_reference(rng)
    sites = [site for contig in contigs.values() for site in draw_sites(rng, contig)]
    genotypes = {
        person.sample: [
            draw_genotype(rng, site.freqs, hemizygous(site.chrom, person.genetic_sex))
            for site in sites
        ]
        for person in PEOPLE
    }
    cohort = Cohort(contigs, sites, genotypes)
    for centre in CENTRES:
        cohort.styles[centre.name] = [_draw_style(rng, centre) for _ in sites]
    return cohort


def _gt_text(alleles: Sequence[int | None], phased: bool) -> str:
    if phased:
        return "|".join("." if a is None else str(a) for a in alleles)
    called = sorted(a for a in alleles if a is not None)
    if len(called) < len(alleles):
        return "/".join("." if a is None else str(a) for a in alleles)
    return "/".join(str(a) for a in called)  # unphased: allele order carries no meaning


def _depths(
    rng: random.Random, alleles: Sequence[int | None], n_alleles: int
) -> tuple[int, list[int]]:
    """Total depth and allelic depths that fit the genotype, with a little sequencing noise."""
    depth = rng.randint(14, 62)
    carried = sorted({a for a in alleles if a is not None})
    counts = [0] * n_alleles
    for _ in range(depth):
        if rng.random() < 0.02:
            counts[rng.randrange(n_alleles)] += 1  # sequencing error
        else:
            counts[rng.choice(carried)] += 1
    return depth, counts


def _contaminated(
    rng: random.Random,
    alleles: Sequence[int | None],
    foreign: Sequence[int | None],
    n_alleles: int,
    depth: int,
    fraction: float,
) -> list[int]:
    """Allelic depths of ``depth`` reads of which a ``fraction`` come from another person
    (``foreign``: their alleles in this record's numbering; None: an allele the record lacks,
    whose reads are not counted), with the same sequencing noise as :func:`_depths`."""
    own = sorted({a for a in alleles if a is not None})
    counts = [0] * n_alleles
    for _ in range(depth):
        source = foreign if rng.random() < fraction else own
        allele = rng.choice(list(source))
        if rng.random() < 0.02:
            counts[rng.randrange(n_alleles)] += 1  # sequencing error
        elif allele is not None:
            counts[allele] += 1
    return counts


def _qual(rng: random.Random, decimals: int) -> str:
    return f"{rng.uniform(30, 1500):.{decimals}f}"


def centre_records(
    rng: random.Random, cohort: Cohort, centre: Centre, people: Sequence[Person]
) -> list[Record]:
    """The records of one VCF of ``centre`` holding ``people`` (one, or CTR-B's three)."""
    records = []
    styles = cohort.styles[centre.name]
    multi = len(people) > 1
    for index, site in enumerate(cohort.sites):
        genotypes = [cohort.genotypes[p.sample][index] for p in people]
        carried = sorted({a for gt in genotypes for a in gt if a})
        if not carried:
            continue  # nobody in this file carries an ALT here: callers write no record
        seq = cohort.contigs[site.chrom].seq
        edits = [site.alleles[a - 1] for a in carried]
        pos, ref, alts = render(seq, edits, styles[index])
        renumber = {0: 0} | {a: i for i, a in enumerate(carried, start=1)}
        calls, gts = [], []
        depth_sum = 0
        for person, genotype in zip(people, genotypes, strict=True):
            alleles: list[int | None] = [renumber[a] for a in genotype if a is not None]
            # In the cohort file a few calls are missing, as joint calling leaves them.
            if multi and not any(alleles) and rng.random() < 0.04:
                alleles = [None, None]
            phased = centre.name == "CTR-C" and len(set(alleles)) > 1 and rng.random() < 0.3
            if phased:
                rng.shuffle(alleles)
            gt = _gt_text(alleles, phased)
            gts.append(gt)
            if alleles[0] is None:
                calls.append(f"{gt}:.:.:." if centre.name != "CTR-C" else f"{gt}:.")
                continue
            depth, counts = _depths(rng, alleles, len(alts) + 1)
            if person.sample in cohort.contamination:
                other, fraction = cohort.contamination[person.sample]
                foreign = [renumber.get(a) for a in cohort.genotypes[other][index]]
                counts = _contaminated(rng, alleles, foreign, len(alts) + 1, depth, fraction)
            depth_sum += depth
            if centre.name == "CTR-C":
                calls.append(f"{gt}:{depth}")
            else:
                gq = rng.randint(20, 99)
                calls.append(f"{gt}:{depth}:{gq}:{','.join(map(str, counts))}")
        filter_ = "LowQual" if centre.name != "CTR-C" and rng.random() < 0.03 else "PASS"
        if centre.name == "CTR-A":
            info, fmt, qual = f"DP={depth_sum}", "GT:DP:GQ:AD", _qual(rng, 2)
        elif centre.name == "CTR-B":
            called = [a for gt in gts for a in gt.replace("|", "/").split("/") if a != "."]
            counts_ac = [called.count(str(i)) for i in range(1, len(alts) + 1)]
            info = f"AC={','.join(map(str, counts_ac))};AN={len(called)};DP={depth_sum}"
            if rng.random() < 0.15:
                info += f";CTRB_SCORE={rng.randint(1, 9)}"  # never declared in the header
            fmt, qual = "GT:DP:GQ:AD", _qual(rng, 3)
        else:
            info, fmt, qual = ".", "GT:DP", _qual(rng, 1)
        records.append(Record(site.chrom, pos, ref, alts, qual, filter_, info, fmt, calls, gts))
    return records


# --- bad records: kept out of the truth ---------------------------------------------------------


def _non_primary_record(rng: random.Random, centre: Centre, n_samples: int) -> Record:
    ref = rng.choice(BASES)
    alt = _snv_alt(rng, ref)
    pos = rng.randint(1000, NON_PRIMARY_LENGTH - 1000)
    gts = ["0/1"] + ["0/0"] * (n_samples - 1)
    if centre.name == "CTR-C":
        calls, info, fmt = [f"{gt}:30" for gt in gts], ".", "GT:DP"
    else:
        calls = [f"{gt}:30:60:{'15,15' if gt == '0/1' else '30,0'}" for gt in gts]
        fmt = "GT:DP:GQ:AD"
        an = 2 * n_samples
        info = f"AC=1;AN={an};DP={30 * n_samples}" if centre.name == "CTR-B" else "DP=30"
    return Record(NON_PRIMARY, pos, ref, [alt], "99.0", "PASS", info, fmt, calls, gts)


def _mismatch_record(rng: random.Random, cohort: Cohort) -> Record:
    """An SNV whose REF is neither the reference base nor swappable with its ALT.

    It sits at an autosomal SNV site that nobody carries, so no true record shares its
    position (and its heterozygous call is not on a male's one chrX).
    """
    choices = [
        i
        for i, site in enumerate(cohort.sites)
        if site.chrom != X_CONTIG
        and len(site.alleles) == 1
        and not site.alleles[0].is_indel
        and not any(any(gts[i]) for gts in cohort.genotypes.values())
    ]
    site = cohort.sites[rng.choice(choices)]
    edit = site.alleles[0]
    true_ref = cohort.contigs[site.chrom].seq[edit.start]
    ref = rng.choice([b for b in BASES if b != true_ref])
    alt = rng.choice([b for b in BASES if b not in (ref, true_ref)])
    return Record(
        site.chrom, edit.start + 1, ref, [alt], "45.0", "PASS", ".", "GT:DP", ["0/1:33"], ["0/1"]
    )


def _bad_records(
    rng: random.Random, cohort: Cohort, centre: Centre, group: Sequence[Person]
) -> list[Record]:
    """Records harmonisation must reject: one non-primary contig per centre, one REF mismatch."""
    first = group[0].sample
    if first in ("A-001", "C-002") or centre.name == "CTR-B":
        return [_non_primary_record(rng, centre, len(group))]
    if first == "C-001":
        return [_mismatch_record(rng, cohort)]
    return []


# --- writing ------------------------------------------------------------------------------------


def _format_lines(centre: Centre) -> list[str]:
    lines = [
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
    ]
    if centre.name != "CTR-C":
        lines += [
            '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">',
            '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">',
        ]
    return lines


def _contig_lines(centre: Centre) -> list[str]:
    lengths = CONTIG_LENGTHS | {NON_PRIMARY: NON_PRIMARY_LENGTH}
    return [f"##contig=<ID={centre.contigs[name]},length={lengths[name]}>" for name in lengths]


def vcf_header(centre: Centre, columns: Sequence[str], file_name: str) -> list[str]:
    """Each centre's header, with the meta lines its pipeline would write (paths, names)."""
    filters = [
        '##FILTER=<ID=PASS,Description="All filters passed">',
        '##FILTER=<ID=LowQual,Description="Low quality">',
    ]
    if centre.name == "CTR-A":
        sample = columns[0]
        lines = [
            "##fileformat=VCFv4.2",
            "##fileDate=20250314",
            "##source=HaplotypeCaller",
            "##commandline=gatk HaplotypeCaller -R /data/ctr-a/ref/hs38.fa "
            f"-I /home/alice/projects/cohort2025/{sample}.bam "
            f"-O /home/alice/projects/cohort2025/{file_name}",
            "##reference=file:///data/ctr-a/ref/hs38.fa",
            *filters,
            '##INFO=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth">',
            *_format_lines(centre),
            *_contig_lines(centre),
            f'##SAMPLE=<ID={sample},Individual="{PERSONAL_NAMES[sample]}",'
            f'Description="whole blood, library LIB-{sample}">',
        ]
    elif centre.name == "CTR-B":
        lines = [
            "##fileformat=VCFv4.2",
            filters[0],
            "##bcftoolsVersion=1.17+htslib-1.17",
            "##bcftoolsCommand=mpileup -a AD,DP -f /scratch/labb/ref/GRCh38_full.fa "
            "-b /scratch/labb/runs/2025-03/bams.txt",
            "##reference=file:///scratch/labb/ref/GRCh38_full.fa",
            *_contig_lines(centre),
            filters[1],
            '##INFO=<ID=DP,Number=1,Type=Integer,Description="Raw read depth">',
            '##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count in genotypes">',
            '##INFO=<ID=AN,Number=1,Type=Integer,Description="Total number of alleles">',
            *_format_lines(centre),
            "##bcftools_callCommand=call -mv -Oz -o /scratch/labb/runs/2025-03/cohort.vcf.gz; "
            "Date=Tue Mar 11 10:12:44 2025",
        ]
    else:
        lines = [
            "##fileformat=VCFv4.2",
            filters[0],
            "##DeepVariant_version=1.6.1",
            *_format_lines(centre),
            *_contig_lines(centre),
            "##reference=/mnt/ctr-c/genomes/GCF_000001405.40/GCF_000001405.40_GRCh38.p14.fna",
        ]
    return [*lines, column_line(columns)]


def _sort_key(record: Record) -> tuple[int, int]:
    order = [*CONTIG_LENGTHS, NON_PRIMARY]
    return order.index(record.chrom), record.pos


def truth_rows(cohort: Cohort, records: Iterable[Record], column: int) -> list[TruthRow]:
    """Canonical biallelic rows of one sample's column: split, left-aligned, trimmed, unique."""
    rows: set[TruthRow] = set()
    for record in records:
        seq = cohort.contigs[record.chrom].seq
        gt = record.gts[column]
        sep = "|" if "|" in gt else "/"
        alleles = gt.split(sep)
        for number, alt in enumerate(record.alts, start=1):
            pos, ref, alt_norm = normalise(seq, record.pos, record.ref, alt)
            # Splitting keeps this ALT as 1 and turns every other ALT into 0 (as bcftools norm).
            split = sep.join(a if a == "." else str(int(int(a) == number)) for a in alleles)
            rows.add((record.chrom, pos, ref, alt_norm, split))
    return sorted(rows, key=lambda row: (_sort_key_chrom(row[0]), row[1], row[2], row[3]))


def _sort_key_chrom(chrom: str) -> int:
    return list(CONTIG_LENGTHS).index(chrom)


def write_tsv(path: Path, columns: Sequence[str], rows: Iterable[Sequence[object]]) -> None:
    with open(path, "w", newline="") as handle:
        handle.write("\t".join(columns) + "\n")
        for row in rows:
            handle.write("\t".join(str(value) for value in row) + "\n")
