"""Demo liftover: centre CTR-E (Netherlands) delivers VCFs on GRCh37.

A GRCh37-like reference is made from the GRCh38-like demo reference the way the two real builds
differ: blocks that only one build has (deletions and insertions between builds), inverted
segments (a build has the reverse complement), and single bases where the reference allele
changed. The chain file from GRCh37 to GRCh38 (UCSC format) describes exactly those edits: one
``+`` chain per chromosome with a gap at each difference, and a ``-`` chain per inversion.

The centre's two people are the demo cohort's: their genotypes at the cohort's sites are drawn
here, their calls written on GRCh37 (b37 names ``21``, ``22``; indels left-aligned on GRCh37, so
those in inverted segments end right-aligned on GRCh38 until harmonisation re-aligns them) with
GATK-like fields (INFO AC/AF/AN, FORMAT GT:AD:DP:GQ:PL). Where the reference base changed, the
GRCh37 record has the alleles the other way round, so liftover must swap them back.

``truth/<sample>.tsv`` is what harmonisation must produce, on GRCh38: the person's variants
computed on GRCh38 directly (as for the other centres), plus a ``0/0`` row where a GRCh37 record
that only says "the reference changed here" turns into a hom-ref call. E-001's file also carries
three records that cannot be lifted right: one in sequence GRCh38 lacks (``liftover_unmapped``),
a deletion across the edge of an inversion (``liftover_ambiguous``), and a REF that matches
neither build (``ref_mismatch``).

Nothing here draws from the demo's main random stream: the other centres' bytes do not change.
"""

from __future__ import annotations

import gzip
import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from genopass.demo.cohort import (
    BASES,
    TRUTH_COLUMNS,
    TRUTH_DIR,
    Cohort,
    Edit,
    Record,
    Site,
    Style,
    _gt_text,
    _random_dna,
    draw_genotype,
    hemizygous,
    render,
    shift_left,
    truth_rows,
    write_tsv,
)
from genopass.demo.writers import column_line, write_fasta, write_vcf
from genopass.harmonise.alleles import revcomp

CENTRE = "CTR-E"
COUNTRY = "NL"
SLUG = "ctr_e"
FASTA_NAME = "GRCh37.demo.fa"
CHAIN_NAME = "GRCh37ToGRCh38.demo.over.chain.gz"
VCF_NAMES = {"chr21": "21", "chr22": "22", "chrX": "X"}  # b37 naming


@dataclass(frozen=True)
class Person37:
    sample: str
    sex: str  # reported and genetic (a male has one chrX)
    consent: str
    build: str  # as declared in units.tsv


PEOPLE = (
    Person37("E-001", "female", "DUO:0000042", "GRCh37"),
    Person37("E-002", "male", "DUO:0000006", "auto"),  # the build is detected
)

# Differences between the builds, per contig, at fractions of its length: a GRCh38-only block
# ("del": GRCh37 lacks it), a GRCh37-only block ("ins") or an inverted segment ("inv", its
# length as a fraction). Each edge is moved into the nearest gap between variant sites.
EVENTS = {
    "chr21": (("del", 0.12), ("ins", 0.27), ("inv", 0.40, 0.10), ("del", 0.66), ("ins", 0.83)),
    "chr22": (("ins", 0.18), ("inv", 0.36, 0.12), ("del", 0.63), ("ins", 0.80)),
    "chrX": (("del", 0.22), ("ins", 0.58), ("inv", 0.70, 0.08)),
}
CHANGED_BASES = 3  # per contig: sites where the reference base changed between builds


@dataclass(frozen=True)
class Piece:
    """A stretch of a GRCh37 contig: GRCh38[start:end] as is ("fwd"), reverse-complemented
    ("rev"), or sequence GRCh38 lacks ("ins")."""

    kind: str
    start: int  # GRCh38, 0-based (fwd, rev); for ins: the GRCh38 point it sits at
    end: int
    start37: int  # where it starts on GRCh37
    seq: str = ""  # an ins piece's sequence

    @property
    def length(self) -> int:
        return len(self.seq) if self.kind == "ins" else self.end - self.start


@dataclass
class Contig37:
    name: str
    seq: str
    pieces: list[Piece]
    changed: dict[int, str]  # GRCh38 position -> the GRCh37 base there

    def piece_of(self, start: int, end: int) -> Piece | None:
        """The fwd or rev piece holding GRCh38 [start, end)."""
        for piece in self.pieces:
            if piece.kind != "ins" and piece.start <= start and end <= piece.end:
                return piece
        return None

    def map_edit(self, edit: Edit) -> Edit | None:
        piece = self.piece_of(edit.start, max(edit.end, edit.start + 1))
        if piece is None:
            return None
        if piece.kind == "fwd":
            offset = piece.start37 - piece.start
            return Edit(edit.start + offset, edit.end + offset, edit.ins)
        start = piece.start37 + (piece.end - edit.end)
        return Edit(start, start + (edit.end - edit.start), revcomp(edit.ins))


def _free_point(sites: Sequence[Site], near: int, room: int, length: int) -> int:
    """A position at or after ``near`` with ``room`` free bases after it (no site footprint)."""
    edges = [(0, 0), *((s.lo, s.hi) for s in sites), (length, length)]
    for (_, prev_hi), (next_lo, _) in zip(edges, edges[1:], strict=False):
        lo = max(prev_hi + 5, near)
        if lo + room + 5 <= next_lo:
            return lo
    raise ValueError(f"no free stretch of {room} bases after {near}")


def build_grch37(rng: random.Random, cohort: Cohort, genotypes: dict[str, list]) -> dict:
    """GRCh37-like contigs derived from the cohort's GRCh38-like ones."""
    contigs: dict[str, Contig37] = {}
    for name, contig in cohort.contigs.items():
        seq38 = contig.seq
        sites = [s for s in cohort.sites if s.chrom == name]
        cuts: list[tuple[int, str, int]] = []  # (GRCh38 position, kind, size)
        for event in EVENTS[name]:
            kind, fraction = event[0], event[1]
            near = int(fraction * len(seq38))
            if kind == "inv":
                start = _free_point(sites, near, 1, len(seq38))
                end = _free_point(sites, start + int(event[2] * len(seq38)), 1, len(seq38))
                cuts.append((start, "inv", end - start))
            elif kind == "del":
                size = rng.randint(60, 180)
                cuts.append((_free_point(sites, near, size, len(seq38)), "del", size))
            else:
                cuts.append((_free_point(sites, near, 1, len(seq38)), "ins", rng.randint(150, 400)))
        pieces: list[Piece] = []
        parts: list[str] = []
        at38 = at37 = 0
        for position, kind, size in sorted(cuts):
            if position > at38:
                pieces.append(Piece("fwd", at38, position, at37))
                parts.append(seq38[at38:position])
                at37 += position - at38
                at38 = position
            if kind == "del":
                at38 += size
            elif kind == "ins":
                extra = _random_dna(rng, size)
                pieces.append(Piece("ins", at38, at38, at37, extra))
                parts.append(extra)
                at37 += size
            else:
                pieces.append(Piece("rev", at38, at38 + size, at37))
                parts.append(revcomp(seq38[at38 : at38 + size]))
                at37 += size
                at38 += size
        pieces.append(Piece("fwd", at38, len(seq38), at37))
        parts.append(seq38[at38:])
        contigs[name] = Contig37(name, "".join(parts), pieces, {})
    _change_bases(rng, cohort, contigs, genotypes)
    return contigs


def _change_bases(
    rng: random.Random, cohort: Cohort, contigs: dict[str, Contig37], genotypes: dict[str, list]
) -> None:
    """Set the GRCh37 base to the ALT at a few SNV sites where E-001 is heterozygous."""
    first, second = (genotypes[p.sample] for p in PEOPLE)
    for name, contig in contigs.items():
        candidates = [
            i
            for i, site in enumerate(cohort.sites)
            if site.chrom == name
            and len(site.alleles) == 1
            and not site.alleles[0].is_indel
            and sorted(first[i]) == [0, 1]
            and sorted(second[i]) != [1, 1]
            and (piece := contig.piece_of(site.alleles[0].start, site.alleles[0].end))
            and piece.kind == "fwd"
        ]
        for i in sorted(rng.sample(candidates, min(CHANGED_BASES, len(candidates)))):
            edit = cohort.sites[i].alleles[0]
            contig.changed[edit.start] = edit.ins
            mapped = contig.map_edit(edit)
            assert mapped is not None
            seq = contig.seq
            contig.seq = seq[: mapped.start] + edit.ins + seq[mapped.start + 1 :]


def chain_text(contigs: dict[str, Contig37], lengths38: dict[str, int]) -> str:
    """The UCSC chain file GRCh37 -> GRCh38 of the demo."""
    lines: list[str] = []
    chain_id = 0
    for name, contig in contigs.items():
        size37, size38 = len(contig.seq), lengths38[name]
        fwd = [p for p in contig.pieces if p.kind == "fwd" and p.length]
        chain_id += 1
        score = sum(p.length for p in fwd)
        lines.append(
            f"chain {score} {name} {size37} + {fwd[0].start37} {fwd[-1].start37 + fwd[-1].length} "
            f"{name} {size38} + {fwd[0].start} {fwd[-1].end} {chain_id}"
        )
        for piece, following in zip(fwd, fwd[1:], strict=False):
            dt = following.start37 - (piece.start37 + piece.length)
            dq = following.start - piece.end
            lines.append(f"{piece.length}\t{dt}\t{dq}")
        lines.append(f"{fwd[-1].length}")
        lines.append("")
        for piece in contig.pieces:
            if piece.kind != "rev":
                continue
            chain_id += 1
            q_start, q_end = size38 - piece.end, size38 - piece.start
            lines.append(
                f"chain {piece.length} {name} {size37} + {piece.start37} "
                f"{piece.start37 + piece.length} {name} {size38} - {q_start} {q_end} {chain_id}"
            )
            lines.append(f"{piece.length}")
            lines.append("")
    return "\n".join(lines)


# --- records ------------------------------------------------------------------------------------


def _pl(rng: random.Random, n_alleles: int, called: tuple[int, int]) -> str:
    values = []
    for k in range(n_alleles):
        for j in range(k + 1):
            values.append(0 if (j, k) == tuple(sorted(called)) else rng.randint(10, 300))
    return ",".join(map(str, values))


def _record(
    rng: random.Random, chrom: str, pos: int, ref: str, alts: list[str], gt: tuple[int, int]
) -> Record:
    n = len(alts) + 1
    depth = rng.randint(18, 55)
    counts = [0] * n
    carried = sorted(set(gt))
    for _ in range(depth):
        counts[rng.choice(carried)] += 1
    ac = [sum(1 for a in gt if a == i) for i in range(1, n)]
    info = f"AC={','.join(map(str, ac))};AF={','.join(f'{c / 2:g}' for c in ac)};AN=2;DP={depth}"
    gt_text = _gt_text(list(gt), phased=False)
    call = f"{gt_text}:{','.join(map(str, counts))}:{depth}:{rng.randint(20, 99)}:"
    call += _pl(rng, n, gt)
    qual = f"{rng.uniform(30, 900):.2f}"
    return Record(chrom, pos, ref, alts, qual, "PASS", info, "GT:AD:DP:GQ:PL", [call], [gt_text])


def person_records(
    rng: random.Random, cohort: Cohort, contigs: dict[str, Contig37], genotype: list
) -> tuple[list[Record], list[Record], list[tuple[str, int, str, str, str]]]:
    """(GRCh37 records, the same calls on GRCh38, extra 0/0 truth rows) of one person."""
    on37: list[Record] = []
    on38: list[Record] = []
    hom_ref_rows = []
    plain = Style(None, 0, 0)
    for index, site in enumerate(cohort.sites):
        contig = contigs[site.chrom]
        gt = genotype[index]
        edit = site.alleles[0]
        if len(site.alleles) == 1 and edit.start in contig.changed and not edit.is_indel:
            # GRCh37 has the ALT base here: its REF/ALT are the other way round.
            flipped = (1 - gt[0], 1 - gt[1])
            mapped = contig.map_edit(edit)
            assert mapped is not None
            ref38 = cohort.contigs[site.chrom].seq[edit.start]
            on37.append(_record(rng, site.chrom, mapped.start + 1, edit.ins, [ref38], flipped))
            if any(gt):
                on38.append(_record(rng, site.chrom, edit.start + 1, ref38, [edit.ins], gt))
            else:
                hom_ref_rows.append((site.chrom, edit.start + 1, ref38, edit.ins, "0/0"))
            continue
        carried = sorted({a for a in gt if a})
        if not carried:
            continue
        renumber = {0: 0} | {a: i for i, a in enumerate(carried, start=1)}
        called = (renumber[gt[0]], renumber[gt[1]])
        edits = [site.alleles[a - 1] for a in carried]
        pos, ref, alts = render(cohort.contigs[site.chrom].seq, edits, plain)
        on38.append(_record(rng, site.chrom, pos, ref, alts, called))
        mapped_edits = [contig.map_edit(e) for e in edits]
        if any(e is None for e in mapped_edits):
            continue  # cannot happen: sites lie inside pieces
        edits37 = [shift_left(contig.seq, e) for e in mapped_edits if e is not None]
        pos37, ref37, alts37 = render(contig.seq, edits37, plain)
        on37.append(_record(rng, site.chrom, pos37, ref37, alts37, called))
    return on37, on38, hom_ref_rows


def bad_records(rng: random.Random, contigs: dict[str, Contig37]) -> list[Record]:
    """Records liftover must reject, each with its reason (see the module docstring)."""
    contig = contigs["chr21"]
    seq = contig.seq
    records = []
    ins = next(p for p in contig.pieces if p.kind == "ins")
    at = ins.start37 + ins.length // 2
    records.append(_record(rng, "chr21", at + 1, seq[at], [_other(seq[at])], (0, 1)))
    rev = next(p for p in contig.pieces if p.kind == "rev")
    at = rev.start37 - 3  # a 4-base deletion whose last bases are inverted in GRCh38
    records.append(_record(rng, "chr21", at + 1, seq[at : at + 5], [seq[at]], (0, 1)))
    fwd = [p for p in contig.pieces if p.kind == "fwd"][-1]
    at = fwd.start37 + fwd.length // 3
    wrong = _other(seq[at])
    records.append(_record(rng, "chr21", at + 1, wrong, [_other(wrong, seq[at])], (0, 1)))
    return records


def _other(*bases: str) -> str:
    return next(b for b in BASES if b not in bases)


def vcf_header(sample: str, contigs: dict[str, Contig37]) -> list[str]:
    lines = [
        "##fileformat=VCFv4.2",
        '##FILTER=<ID=PASS,Description="All filters passed">',
        '##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count in genotypes">',
        '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">',
        '##INFO=<ID=AN,Number=1,Type=Integer,Description="Total number of alleles">',
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="Approximate read depth">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
        '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">',
        '##FORMAT=<ID=PL,Number=G,Type=Integer,Description="Phred-scaled likelihoods">',
        '##GATKCommandLine=<ID=HaplotypeCaller,CommandLine="HaplotypeCaller '
        f'--input /srv/ctr-e/bams/{sample}.bam --reference /srv/ctr-e/ref/human_g1k_v37.fasta">',
        *(f"##contig=<ID={VCF_NAMES[n]},length={len(c.seq)}>" for n, c in contigs.items()),
        "##reference=file:///srv/ctr-e/ref/human_g1k_v37.fasta",
    ]
    return [*lines, column_line([sample])]


def _line(record: Record) -> str:
    fields = [VCF_NAMES[record.chrom], str(record.pos), ".", record.ref, ",".join(record.alts)]
    fields += [record.qual, record.filter, record.info, record.format, *record.calls]
    return "\t".join(fields)


def vcf_file_name(sample: str) -> str:
    return f"{SLUG}.{sample}.vcf.gz"


def sample_rows() -> list[list[str]]:
    """CTR-E's rows of samples.tsv."""
    return [[p.sample, CENTRE, COUNTRY, p.sex, p.consent] for p in PEOPLE]


def unit_rows(data_dir: str) -> list[list[str]]:
    """CTR-E's rows of units.tsv (columns of demo.UNIT_COLUMNS)."""
    return [
        [
            p.sample,
            "delivery1",
            "",
            "",
            "",
            "",
            f"{data_dir}/{vcf_file_name(p.sample)}",
            "",
            p.build,
        ]
        for p in PEOPLE
    ]


def write_grch37_demo(outdir: Path, cohort: Cohort, seed: int) -> list[Path]:
    """Write the GRCh37 reference, the chain, CTR-E's VCFs and their truth into ``outdir``."""
    rng = random.Random(f"genopass demo GRCh37 centre, seed {seed}")
    genotypes = {
        p.sample: [
            draw_genotype(rng, site.freqs, hemizygous(site.chrom, p.sex)) for site in cohort.sites
        ]
        for p in PEOPLE
    }
    contigs = build_grch37(rng, cohort, genotypes)
    written: list[Path] = []

    fasta = outdir / FASTA_NAME
    write_fasta(fasta, ((name, contig.seq) for name, contig in contigs.items()))
    written += [fasta, Path(f"{fasta}.fai")]

    chain = outdir / CHAIN_NAME
    lengths38 = {name: len(c.seq) for name, c in cohort.contigs.items()}
    with (
        open(chain, "wb") as raw,
        gzip.GzipFile(filename="", fileobj=raw, mode="wb", mtime=0) as gz,
    ):
        gz.write(chain_text(contigs, lengths38).encode())
    written.append(chain)

    order = list(cohort.contigs)
    for person in PEOPLE:
        on37, on38, hom_ref = person_records(rng, cohort, contigs, genotypes[person.sample])
        if person is PEOPLE[0]:
            on37 += bad_records(rng, contigs)
        on37.sort(key=lambda r: (order.index(r.chrom), r.pos))
        path = outdir / vcf_file_name(person.sample)
        write_vcf(path, vcf_header(person.sample, contigs), [_line(r) for r in on37])
        written += [path, Path(f"{path}.tbi")]
        rows = truth_rows(cohort, on38, 0) + hom_ref
        rows.sort(key=lambda row: (order.index(row[0]), row[1], row[2], row[3]))
        truth = outdir / TRUTH_DIR / f"{person.sample}.tsv"
        write_tsv(truth, TRUTH_COLUMNS, rows)
        written.append(truth)
    return written


def inverted_spans(chain_path: Path) -> list[tuple[str, int, int]]:
    """GRCh38 spans (0-based, half-open) of the inverted segments, read back from the chain."""
    spans = []
    with gzip.open(chain_path, "rt") as handle:
        for line in handle:
            parts = line.split()
            if parts and parts[0] == "chain" and parts[9] == "-":
                size = int(parts[8])
                spans.append((parts[7], size - int(parts[11]), size - int(parts[10])))
    return spans
