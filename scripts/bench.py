"""Benchmark: genopass against the floor (what bcftools needs to read the same file).

Generates, seeded and deterministic, a synthetic reference and two VCFs on it (1 sample, 1M
records; 100 samples, 200k records), then times in the same run, ``--repeats`` times each:

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
import hashlib
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

import numpy as np

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

TARGET_HARMONISE = 1.15
TARGET_PARQUET = {1: 2.0, 100: 3.0}  # by number of samples (files with more than 1: the 3x)
TARGET_MEMORY_MB = 500.0


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


def _digest(*parts: object) -> str:
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
        self.key = _digest("reference", GENERATOR_VERSION, self.spec, seed)
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
        with open(tmp, "wb") as handle:
            for contig in self.contigs.values():
                handle.write(f">{contig.name}\n".encode())
                handle.write(_wrap(contig.seq, 60))
        subprocess.run(["samtools", "faidx", str(tmp)], check=True)
        os.replace(f"{tmp}.fai", fai)
        os.replace(tmp, path)
        return path


def _wrap(seq: np.ndarray, width: int) -> bytes:
    """The sequence in lines of ``width`` bases."""
    rows = -(-len(seq) // width)
    padded = np.zeros(rows * width, dtype=np.uint8)
    padded[: len(seq)] = seq
    mat = np.concatenate(
        [padded.reshape(rows, width), np.full((rows, 1), ord("\n"), np.uint8)], axis=1
    ).reshape(-1)
    return mat[mat != 0].tobytes()


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


def vcf_header(reference: SyntheticReference, fasta_name: str, samples: Sequence[str]) -> bytes:
    lines = [
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
        "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"])
        + "".join(f"\t{s}" for s in samples),
    ]
    return ("\n".join(lines) + "\n").encode()


def generate_vcf(
    path: Path,
    reference: SyntheticReference,
    records: int,
    samples: int,
    *,
    seed: int = 1,
    threads: int = 2,
    fasta_name: str = "reference.fa",
) -> Path:
    """Write a bgzipped, tabix-indexed VCF of ``records`` records and ``samples`` samples on
    ``reference``, deterministic for the same arguments. Reuses ``path`` if it and its index
    exist."""
    path = Path(path)
    if path.exists() and Path(f"{path}.tbi").exists():
        return path
    names = [f"S{i:04d}" for i in range(1, samples + 1)]
    lengths = np.array([length for _, length in reference.spec], dtype=np.float64)
    counts = np.floor(records * lengths / lengths.sum()).astype(int)
    counts[-1] = records - counts[:-1].sum()
    chunk = max(1_000, min(100_000, 1_000_000 // samples))
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as out:
        bgzip = subprocess.Popen(
            ["bgzip", "-@", str(threads), "-c"], stdin=subprocess.PIPE, stdout=out
        )
        assert bgzip.stdin is not None
        try:
            bgzip.stdin.write(vcf_header(reference, fasta_name, names))
            for index, (name, count) in enumerate(zip(reference.contigs, counts, strict=True)):
                contig = reference.contigs[name]
                rng = np.random.default_rng([seed, samples, records, index])
                rec = _make_records(contig, int(count), rng)
                for number, start in enumerate(range(0, int(count), chunk)):
                    part = Records(
                        *(
                            getattr(rec, f)[start : start + chunk]
                            for f in Records.__dataclass_fields__
                        )
                    )
                    chunk_rng = np.random.default_rng([seed, samples, records, index, number, 7])
                    bgzip.stdin.write(_chunk_text(name, part, contig.seq, samples, chunk_rng))
        finally:
            bgzip.stdin.close()
            code = bgzip.wait()
    if code != 0:
        raise RuntimeError(f"bgzip failed ({code}) writing {tmp}")
    subprocess.run(["tabix", "-f", "-p", "vcf", str(tmp)], check=True)
    os.replace(f"{tmp}.tbi", f"{path}.tbi")
    os.replace(tmp, path)
    return path


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
        name = f"bench-{samples}s-{records}r-{_digest(reference.key, args.seed, records, samples)}"
        path = data / f"{name}.vcf.gz"
        t0 = time.perf_counter()
        reused = path.exists() and Path(f"{path}.tbi").exists()
        generate_vcf(
            path,
            reference,
            records,
            samples,
            seed=args.seed,
            threads=args.threads,
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
