"""Large synthetic data for the benchmark (scripts/bench.py): a random reference with
homopolymers and STRs, and VCFs on it of any number of records and samples, written with the
demo's writers (:mod:`writers`).

Made with numpy, a chunk of records at a time, to reach millions of records in seconds. The same
arguments give the same content: every random draw comes from a generator seeded with the
arguments, so a benchmark can reuse files it generated before (their names carry :func:`digest`
of the arguments and :data:`GENERATOR_VERSION`).

What the records hold, so that harmonisation has work to do: SNVs, indels (some on repeats, some
written not left-aligned), multiallelic records (two SNVs, or a deletion and an SNV of its first
base), a PASS/LowQual FILTER, INFO DP/AC/AN, FORMAT GT:DP:GQ:AD; in multi-sample files,
genotypes in Hardy-Weinberg proportions with a few missing.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from genopass.demo.writers import column_line, write_fasta, write_vcf_chunks

# Bump when the generated data change, so that files generated before are not reused.
GENERATOR_VERSION = 1
DEFAULT_CONTIGS: tuple[tuple[str, int], ...] = (("chr21", 24_000_000), ("chr22", 26_000_000))
FLANK_N = 10_000  # Ns at both ends of every contig (like telomeres); no record falls there.
REPEAT_SPACING = 1_000  # one homopolymer/STR per this many bases
MAX_INDEL = 20
INDEL_FRACTION = 0.05  # biallelic indels, of all records
MULTIALLELIC_FRACTION = 0.02  # of all records
REPEAT_INDEL_SHARE = 0.2  # of the indels: placed on a homopolymer/STR (half not left-aligned)
RANDOM_NOT_LEFT_ALIGNED = 0.05  # of the other indels: written not left-aligned
MISSING_FRACTION = 0.005  # genotypes ./. in multi-sample files
LETTERS = np.frombuffer(b"ACGT", dtype=np.uint8)
GT_TEXT = np.array([b"0/0", b"0/1", b"0/2", b"", b"1/1", b"1/2", b"", b"", b"2/2"], dtype="S3")
SMALL_NUMBERS = np.array([str(i).encode() for i in range(1000)], dtype="S3")


# --------------------------------------------------------------------------------------------
# Synthetic reference
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Repeats:
    """Homopolymers/STRs of one contig: 0-based start, unit length, total length."""

    start: np.ndarray
    unit: np.ndarray
    length: np.ndarray


@dataclass(frozen=True)
class Contig:
    name: str
    seq: np.ndarray  # ASCII codes (uint8), upper case
    repeats: Repeats


def digest(*parts: object) -> str:
    """A short digest of ``parts`` (arguments of a generation), for file names."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:10]


def _make_contig(name: str, length: int, rng: np.random.Generator) -> Contig:
    if length < 2 * FLANK_N + 10 * REPEAT_SPACING:
        raise ValueError(f"contig {name}: length {length} too small for the benchmark")
    codes = rng.integers(0, 4, length, dtype=np.uint8)
    block = np.arange(FLANK_N + 16, length - FLANK_N - REPEAT_SPACING, REPEAT_SPACING)
    n = len(block)
    unit = rng.choice(np.array([1, 2, 3, 4]), n, p=[0.45, 0.3, 0.1, 0.15])
    copies = rng.integers(-(-8 // unit), 30 // unit + 1)  # 8-30 bases in all
    rlen = unit * copies
    start = block + rng.integers(0, REPEAT_SPACING - 64, n)
    motif = rng.integers(0, 4, (n, 4), dtype=np.uint8)
    # A unit of 2-4 bases that is itself a homopolymer would be a homopolymer: break it.
    same = motif[:, 1] == motif[:, 0]
    motif[same, 1] = (motif[same, 0] + 1) % 4
    which = np.repeat(np.arange(n), rlen)
    offset = np.arange(rlen.sum()) - np.repeat(np.cumsum(rlen) - rlen, rlen)
    codes[start[which] + offset] = motif[which, offset % unit[which]]
    # Clean edges: the base before a repeat differs from the unit's last base (so that an indel
    # anchored there is left-aligned) and the base after it does not continue the period.
    rows = np.arange(n)
    codes[start - 1] = (motif[rows, unit - 1] + rng.integers(1, 4, n)) % 4
    codes[start + rlen] = (motif[:, 0] + rng.integers(1, 4, n)) % 4
    seq = LETTERS[codes]
    seq[:FLANK_N] = ord("N")
    seq[length - FLANK_N :] = ord("N")
    return Contig(name, seq, Repeats(start, unit, rlen))


class SyntheticReference:
    """A random reference with homopolymers and STRs, rebuilt identically from its seed."""

    def __init__(self, contigs: Sequence[tuple[str, int]] = DEFAULT_CONTIGS, seed: int = 1):
        self.spec = tuple((str(name), int(length)) for name, length in contigs)
        self.seed = seed
        self.key = digest("reference", GENERATOR_VERSION, self.spec, seed)
        self._contigs: dict[str, Contig] | None = None

    @property
    def contigs(self) -> dict[str, Contig]:
        if self._contigs is None:
            rng = np.random.default_rng([self.seed, 0x5EF])
            self._contigs = {name: _make_contig(name, length, rng) for name, length in self.spec}
        return self._contigs

    def write_fasta(self, path: Path) -> Path:
        """Write the FASTA (60 bases a line) and its .fai, atomically; reuse them if present."""
        path = Path(path)
        fai = Path(f"{path}.fai")
        if path.exists() and fai.exists():
            return path
        tmp = path.with_name(f".{path.name}.tmp")
        write_fasta(tmp, ((contig.name, contig.seq) for contig in self.contigs.values()))
        os.replace(f"{tmp}.fai", fai)
        os.replace(tmp, path)
        return path


# --------------------------------------------------------------------------------------------
# Synthetic VCF
# --------------------------------------------------------------------------------------------


@dataclass
class Records:
    """Records of one contig, sorted: 0-based anchor, REF length, ALT alleles (NUL-padded)."""

    anchor: np.ndarray
    ref_len: np.ndarray
    alt1: np.ndarray  # (n, w) uint8
    alt2: np.ndarray  # (n, w) uint8, all NUL for biallelic records
    n_alts: np.ndarray

    @staticmethod
    def concat(parts: Sequence[Records]) -> Records:
        width = max(p.alt1.shape[1] for p in parts) if parts else 1
        width2 = max(p.alt2.shape[1] for p in parts) if parts else 1

        def pad(mat: np.ndarray, w: int) -> np.ndarray:
            return np.pad(mat, ((0, 0), (0, w - mat.shape[1])))

        merged = Records(
            np.concatenate([p.anchor for p in parts]),
            np.concatenate([p.ref_len for p in parts]),
            np.concatenate([pad(p.alt1, width) for p in parts]),
            np.concatenate([pad(p.alt2, width2) for p in parts]),
            np.concatenate([p.n_alts for p in parts]),
        )
        order = np.argsort(merged.anchor, kind="stable")
        return Records(*(getattr(merged, f)[order] for f in Records.__dataclass_fields__))


def _other_base(
    ref: np.ndarray, rng: np.random.Generator, shift: np.ndarray | None = None
) -> np.ndarray:
    """A base different from ``ref`` (ASCII A/C/G/T), or ``shift`` steps away in ACGT order."""
    code = np.searchsorted(LETTERS, ref)  # ACGT is sorted
    if shift is None:
        shift = rng.integers(1, 4, len(ref))
    return LETTERS[(code + shift) % 4]


def _indel_lengths(n: int, rng: np.random.Generator) -> np.ndarray:
    return np.minimum(rng.geometric(0.45, n), MAX_INDEL)


def _deletions(
    seq: np.ndarray, anchor: np.ndarray, left: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Deleted lengths: the drawn length if it gives the wanted alignment, else the shortest
    that does. A deletion of k bases after the anchor can move left iff seq[a] == seq[a+k]."""
    k = _indel_lengths(len(anchor), rng)
    steps = np.arange(1, MAX_INDEL + 1)
    aligned = seq[anchor][:, None] != seq[anchor[:, None] + steps]
    wanted = aligned == left[:, None]
    rows = np.arange(len(anchor))
    ok = wanted[rows, k - 1]
    first = wanted.argmax(axis=1) + 1
    return np.where(ok | ~wanted.any(axis=1), k, first)


def _make_records(contig: Contig, n: int, rng: np.random.Generator) -> Records:
    seq = contig.seq
    length = len(seq)
    lo, hi = FLANK_N + 1, length - FLANK_N - 4 * MAX_INDEL
    if n > (hi - lo) // 4:
        raise ValueError(f"{contig.name}: too short ({length}) for {n} records")
    reps = contig.repeats
    n_indels = round(n * INDEL_FRACTION)
    n_snap = min(round(n_indels * REPEAT_INDEL_SHARE), len(reps.start))
    parts: list[Records] = []

    # Indels on homopolymers/STRs: add or remove one unit, anchored before the repeat
    # (left-aligned) or at its end (to be shifted left by normalisation).
    pick = np.sort(rng.choice(len(reps.start), n_snap, replace=False))
    rs, unit, rlen = reps.start[pick], reps.unit[pick], reps.length[pick]
    right = rng.random(n_snap) < 0.5
    deletion = rng.random(n_snap) < 0.5
    snap_anchor = np.where(
        right, np.where(deletion, rs + rlen - unit - 1, rs + rlen - 1), rs - 1
    ).astype(np.int64)
    cols = np.arange(4)
    unit_bases = seq[rs[:, None] + cols[None, :]]  # the first unit (= the last), NUL-padded
    unit_bases[cols[None, :] >= unit[:, None]] = 0
    alt = np.zeros((n_snap, 5), dtype=np.uint8)
    alt[:, 0] = seq[snap_anchor]
    alt[~deletion, 1:] = unit_bases[~deletion]
    parts.append(
        Records(
            snap_anchor,
            np.where(deletion, unit + 1, 1),
            alt,
            np.zeros((n_snap, 1), np.uint8),
            np.ones(n_snap, np.int8),
        )
    )

    # Everything else at distinct random positions (not on the anchors above).
    n_rand = n - n_snap
    draw = np.unique(rng.integers(lo, hi, int(n_rand * 1.05) + 64))
    draw = draw[~np.isin(draw, snap_anchor)]
    while len(draw) < n_rand:  # only for dense requests
        more = np.unique(rng.integers(lo, hi, n_rand))
        draw = np.union1d(draw, more[~np.isin(more, snap_anchor)])
    anchor = np.sort(rng.choice(draw, n_rand, replace=False)).astype(np.int64)
    kind = rng.choice(
        4,
        n_rand,
        p=_kind_probabilities(n, n_rand, n_indels - n_snap),
    )  # 0 SNV, 1 deletion, 2 insertion, 3 multiallelic

    snv = anchor[kind == 0]
    parts.append(
        Records(
            snv,
            np.ones(len(snv), np.int64),
            _other_base(seq[snv], rng)[:, None],
            np.zeros((len(snv), 1), np.uint8),
            np.ones(len(snv), np.int8),
        )
    )

    dels = anchor[kind == 1]
    k = _deletions(seq, dels, rng.random(len(dels)) >= RANDOM_NOT_LEFT_ALIGNED, rng)
    parts.append(
        Records(
            dels,
            k + 1,
            seq[dels][:, None],
            np.zeros((len(dels), 1), np.uint8),
            np.ones(len(dels), np.int8),
        )
    )

    ins = anchor[kind == 2]
    k = _indel_lengths(len(ins), rng)
    width = MAX_INDEL + 1
    alt = LETTERS[rng.integers(0, 4, (len(ins), width))]
    alt[:, 0] = seq[ins]
    rows = np.arange(len(ins))
    # The inserted sequence can move left iff its last base equals the anchor base.
    left = rng.random(len(ins)) >= RANDOM_NOT_LEFT_ALIGNED
    alt[rows, k] = np.where(left, _other_base(seq[ins], rng), seq[ins])
    alt[np.arange(width)[None, :] > k[:, None]] = 0
    parts.append(
        Records(
            ins,
            np.ones(len(ins), np.int64),
            alt,
            np.zeros((len(ins), 1), np.uint8),
            np.ones(len(ins), np.int8),
        )
    )

    # Multiallelic: two SNVs (70%) or a deletion and an SNV of its first base (30%).
    multi = anchor[kind == 3]
    mixed = rng.random(len(multi)) < 0.3
    two = multi[~mixed]
    shifts = rng.permuted(np.tile([1, 2, 3], (len(two), 1)), axis=1)
    parts.append(
        Records(
            two,
            np.ones(len(two), np.int64),
            _other_base(seq[two], rng, shifts[:, 0])[:, None],
            _other_base(seq[two], rng, shifts[:, 1])[:, None],
            np.full(len(two), 2, np.int8),
        )
    )
    mix = multi[mixed]
    k = _deletions(seq, mix, np.ones(len(mix), bool), rng)
    cols = np.arange(MAX_INDEL + 1)
    alt2 = seq[mix[:, None] + cols[None, :]]
    alt2[:, 0] = _other_base(seq[mix], rng)
    alt2[cols[None, :] > k[:, None]] = 0
    parts.append(Records(mix, k + 1, seq[mix][:, None], alt2, np.full(len(mix), 2, np.int8)))
    return Records.concat(parts)


def _kind_probabilities(n: int, n_rand: int, n_rand_indels: int) -> list[float]:
    multi = n * MULTIALLELIC_FRACTION / n_rand
    indel = max(n_rand_indels, 0) / n_rand
    return [1 - multi - indel, indel / 2, indel / 2, multi]


def _num(values: np.ndarray) -> np.ndarray:
    """Non-negative integers as NUL-padded ASCII (uint8 matrix, last axis the digits)."""
    values = np.asarray(values)
    top = int(values.max()) if values.size else 0
    if top < len(SMALL_NUMBERS):
        text = SMALL_NUMBERS[values]
    else:
        text = values.astype(f"S{len(str(top))}")
    return _bytes(text)


def _bytes(text: np.ndarray) -> np.ndarray:
    text = np.ascontiguousarray(text)
    return text.view(np.uint8).reshape(*text.shape, text.dtype.itemsize)


def _const(text: bytes, shape: tuple[int, ...]) -> np.ndarray:
    return np.broadcast_to(np.frombuffer(text, dtype=np.uint8), (*shape, len(text)))


def _where(cond: np.ndarray, yes: np.ndarray, no: bytes) -> np.ndarray:
    """Per element: the text ``yes`` (uint8 matrix) or the constant ``no``."""
    width = max(yes.shape[-1], len(no))
    out = np.zeros((*cond.shape, width), dtype=np.uint8)
    out[..., : yes.shape[-1]] = yes
    out[~cond] = 0
    out[~cond, : len(no)] = np.frombuffer(no, dtype=np.uint8)
    return out


def _join(pieces: Sequence[np.ndarray]) -> np.ndarray:
    shape = np.broadcast_shapes(*(p.shape[:-1] for p in pieces))
    return np.concatenate([np.broadcast_to(p, (*shape, p.shape[-1])) for p in pieces], axis=-1)


@dataclass
class Genotypes:
    lo: np.ndarray  # (m, s) smaller allele index
    hi: np.ndarray  # (m, s) larger allele index
    missing: np.ndarray  # (m, s)


def _genotypes(n_alts: np.ndarray, samples: int, rng: np.random.Generator) -> Genotypes:
    m = len(n_alts)
    multi = n_alts == 2
    if samples == 1:
        # One sample, as a caller writes it: every record is a variant of that sample.
        hom = rng.random(m) < 0.42
        lo = np.where(multi, 1, np.where(hom, 1, 0))[:, None]
        hi = np.where(multi, 2, 1)[:, None]
        return Genotypes(lo, hi, np.zeros((m, 1), bool))
    # Population: allele frequencies skewed low, genotypes in Hardy-Weinberg proportions.
    af1 = np.clip(rng.beta(0.25, 6.0, m), 0.0005, 0.9)
    af2 = np.where(multi, np.clip(rng.beta(0.25, 6.0, m), 0.0005, 0.9) * (1 - af1), 0.0)
    cut1 = (1 - af1 - af2)[:, None]
    cut2 = (1 - af2)[:, None]
    u = rng.random((2, m, samples))
    alleles = (u > cut1).astype(np.int8) + (u > cut2)
    lo, hi = alleles.min(axis=0), alleles.max(axis=0)
    missing = rng.random((m, samples)) < MISSING_FRACTION
    rows = np.arange(m)
    # Every ALT allele is carried by someone (as in a joint-called file).
    count1 = ((lo == 1) | (hi == 1)) & ~missing
    need = ~count1.any(axis=1)
    who = rng.integers(0, samples, m)
    sel = rows[need]
    lo[sel, who[sel]], hi[sel, who[sel]], missing[sel, who[sel]] = 0, 1, False
    count2 = (hi == 2) & ~missing
    need = multi & ~count2.any(axis=1)
    who = rng.integers(0, samples, m)
    sel = rows[need]
    carrier = (lo[sel, who[sel]] == 1) | (hi[sel, who[sel]] == 1)
    lo[sel, who[sel]] = np.where(carrier & ~missing[sel, who[sel]], 1, 0)
    hi[sel, who[sel]], missing[sel, who[sel]] = 2, False
    return Genotypes(lo, hi, missing)


def _chunk_text(
    chrom: str, rec: Records, seq: np.ndarray, samples: int, rng: np.random.Generator
) -> bytes:
    m = len(rec.anchor)
    shape = (m,)
    multi = rec.n_alts == 2
    gts = _genotypes(rec.n_alts, samples, rng)
    called = ~gts.missing
    het = gts.lo != gts.hi
    if samples == 1:
        dp = rng.poisson(32, (m, 1))
    else:
        dp = rng.poisson(rng.uniform(12, 35, samples)[None, :], (m, samples))
    dp = np.minimum(dp, 999)
    # Allelic depths: a het splits the reads, a hom has a few reads of another allele.
    noise = rng.binomial(dp, 0.01)
    split = rng.binomial(dp, 0.5)
    first = np.where(het, dp - split, dp - noise)
    second = np.where(het, split, noise)
    second_allele = np.where(het, gts.hi, np.where(gts.lo == 0, 1, 0))
    ad = [(gts.lo == j) * first + (second_allele == j) * second for j in range(3)]
    gq = np.clip(3 * dp - rng.integers(0, 12, dp.shape), 0, 99)

    # INFO
    dp_sum = np.where(called, dp, 0).sum(axis=1)
    ac1, ac2 = (
        ((gts.lo == j) & called).sum(axis=1) + ((gts.hi == j) & called).sum(axis=1) for j in (1, 2)
    )
    an = 2 * called.sum(axis=1)

    # Fixed columns
    cols = np.arange(int(rec.ref_len.max()))
    ref = seq[rec.anchor[:, None] + cols[None, :]]
    ref[cols[None, :] >= rec.ref_len[:, None]] = 0
    has_id = rng.random(m) < 0.3
    rsid = _num(rng.integers(1_000_000, 999_999_999, m))
    qual_tenths = rng.integers(200, 50_000, m)
    low = rng.random(m) < 0.03
    fixed = _join(
        [
            _const(f"{chrom}\t".encode(), shape),
            _num(rec.anchor + 1),
            _const(b"\t", shape),
            _where(has_id, _join([_const(b"rs", shape), rsid]), b"."),
            _const(b"\t", shape),
            ref,
            _const(b"\t", shape),
            rec.alt1,
            _where(multi, _const(b",", shape), b""),
            rec.alt2,
            _const(b"\t", shape),
            _num(qual_tenths // 10),
            _const(b".", shape),
            _num(qual_tenths % 10),
            _const(b"\t", shape),
            _where(low, _const(b"LowQual", shape), b"PASS"),
            _const(b"\tDP=", shape),
            _num(dp_sum),
            _const(b";AC=", shape),
            _num(ac1),
            _where(multi, _join([_const(b",", shape), _num(ac2)]), b""),
            _const(b";AN=", shape),
            _num(an),
            _const(b"\tGT:DP:GQ:AD", shape),
        ]
    )
    cells = dp.shape
    sample_text = _join(
        [
            _const(b"\t", cells),
            _where(called, _bytes(GT_TEXT[gts.lo * 3 + gts.hi]), b"./."),
            _const(b":", cells),
            _where(called, _num(dp), b"."),
            _const(b":", cells),
            _where(called, _num(gq), b"."),
            _const(b":", cells),
            _where(called, _num(ad[0]), b"."),
            _where(called, _join([_const(b",", cells), _num(ad[1])]), b""),
            _where(called & multi[:, None], _join([_const(b",", cells), _num(ad[2])]), b""),
        ]
    )
    line = np.concatenate(
        [fixed, sample_text.reshape(m, -1), _const(b"\n", shape)], axis=1
    ).reshape(-1)
    return line[line != 0].tobytes()


def vcf_header(reference: SyntheticReference, fasta_name: str, samples: Sequence[str]) -> list[str]:
    """The header lines of a synthetic VCF on ``reference``."""
    return [
        "##fileformat=VCFv4.2",
        '##FILTER=<ID=PASS,Description="All filters passed">',
        '##FILTER=<ID=LowQual,Description="Low quality">',
        '##INFO=<ID=DP,Number=1,Type=Integer,Description="Combined depth across samples">',
        '##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count in genotypes">',
        '##INFO=<ID=AN,Number=1,Type=Integer,Description="Total number of alleles called">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Read depth">',
        '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">',
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">',
        *(f"##contig=<ID={name},length={length}>" for name, length in reference.spec),
        f"##reference=file://{fasta_name}",
        f"##source=genopass-bench synthetic data (generator v{GENERATOR_VERSION})",
        column_line(samples),
    ]


def _record_chunks(
    reference: SyntheticReference, records: int, samples: int, seed: int
) -> Iterator[bytes]:
    """The record text, contig by contig, a chunk of records at a time; each contig and each
    chunk draws from a generator seeded with the arguments and its place."""
    lengths = np.array([length for _, length in reference.spec], dtype=np.float64)
    counts = np.floor(records * lengths / lengths.sum()).astype(int)
    counts[-1] = records - counts[:-1].sum()
    chunk = max(1_000, min(100_000, 1_000_000 // samples))
    for index, (name, count) in enumerate(zip(reference.contigs, counts, strict=True)):
        contig = reference.contigs[name]
        rng = np.random.default_rng([seed, samples, records, index])
        rec = _make_records(contig, int(count), rng)
        for number, start in enumerate(range(0, int(count), chunk)):
            part = Records(
                *(getattr(rec, f)[start : start + chunk] for f in Records.__dataclass_fields__)
            )
            chunk_rng = np.random.default_rng([seed, samples, records, index, number, 7])
            yield _chunk_text(name, part, contig.seq, samples, chunk_rng)


def generate_vcf(
    path: Path,
    reference: SyntheticReference,
    records: int,
    samples: int,
    *,
    seed: int = 1,
    fasta_name: str = "reference.fa",
) -> Path:
    """Write a bgzipped, tabix-indexed VCF of ``records`` records and ``samples`` samples on
    ``reference``, deterministic for the same arguments. Reuses ``path`` if it and its index
    exist; written under a temporary name, then moved into place."""
    path = Path(path)
    if path.exists() and Path(f"{path}.tbi").exists():
        return path
    names = [f"S{i:04d}" for i in range(1, samples + 1)]
    tmp = path.with_name(f".tmp.{path.name}")  # still *.vcf.gz, for tabix
    header = vcf_header(reference, fasta_name, names)
    write_vcf_chunks(tmp, header, _record_chunks(reference, records, samples, seed))
    os.replace(f"{tmp}.tbi", f"{path}.tbi")
    os.replace(tmp, path)
    return path
