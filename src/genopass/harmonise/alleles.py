"""Allele order on VCF text records: which allele is the reference, and swapping it.

A record whose REF is not the reference base but one of whose ALTs is (a centre that wrote the
alleles the wrong way round, or a site where the reference changed between builds) is rewritten
with that ALT as REF. Everything that depends on allele order follows the new order:

- GT: allele indices renumbered (unphased genotypes written in ascending order again);
- Number=R fields (AD, ...): values permuted;
- Number=G fields (PL, GL, ...): values permuted genotype by genotype (haploid or diploid);
- AF (Number=A): recomputed from the full frequency vector, so a biallelic AF becomes 1 - AF;
- AC (Number=A) with AN: recomputed from the full count vector;
- any other Number=A field cannot be known for the allele that became an ALT: dropped from INFO,
  written as missing in FORMAT.

Records are lists of VCF columns (text), so a swap costs nothing for the records that need none.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

COMPLEMENT = str.maketrans("ACGTNacgtn", "TGCANtgcan")
STRAND_AMBIGUOUS = ({"A", "T"}, {"C", "G"})
DEFINITION = re.compile(r"^##(INFO|FORMAT)=<ID=([^,>]+),Number=([^,>]+)")


def revcomp(seq: str) -> str:
    return seq.translate(COMPLEMENT)[::-1]


def is_symbolic(allele: str) -> bool:
    """``<DEL>``, ``<NON_REF>``, ``<*>``, breakends, the ``*`` overlap allele or a missing ALT."""
    return allele.startswith("<") or allele in ("*", ".") or "[" in allele or "]" in allele


def is_strand_ambiguous(ref: str, alt: str) -> bool:
    """An A/T or C/G SNV: the other strand has the same pair of alleles, so a swap is a guess."""
    return len(ref) == 1 and len(alt) == 1 and {ref.upper(), alt.upper()} in STRAND_AMBIGUOUS


@dataclass(frozen=True)
class FieldNumbers:
    """``Number`` of every INFO and FORMAT field that a header defines."""

    info: dict[str, str]
    format: dict[str, str]

    @classmethod
    def from_header(cls, lines: Iterable[str]) -> FieldNumbers:
        info: dict[str, str] = {}
        fmt: dict[str, str] = {}
        for line in lines:
            match = DEFINITION.match(line)
            if match:
                kind, name, number = match.groups()
                (info if kind == "INFO" else fmt)[name] = number
        return cls(info, fmt)


def swap_order(n_alleles: int, new_ref: int) -> list[int]:
    """New allele order with old allele ``new_ref`` first: new allele i is old allele order[i]."""
    return [new_ref, *[i for i in range(n_alleles) if i != new_ref]]


def permute_alleles(fields: list[str], order: Sequence[int], numbers: FieldNumbers) -> list[str]:
    """The record's columns with its alleles in ``order`` (new allele i = old allele order[i])."""
    alleles = [fields[3], *fields[4].split(",")]
    out = list(fields)
    out[3] = alleles[order[0]]
    out[4] = ",".join(alleles[i] for i in order[1:])
    info = _info_dict(fields[7])
    if len(fields) > 7:
        out[7] = _permute_info(info, order, numbers)
    if len(fields) > 9:
        keys = fields[8].split(":")
        new_index = {old: new for new, old in enumerate(order)}
        for column in range(9, len(fields)):
            values = fields[column].split(":")
            out[column] = ":".join(
                _permute_format(key, value, order, new_index, numbers)
                for key, value in zip(keys, values, strict=False)
            )
    return out


def _info_dict(info: str) -> list[tuple[str, str | None]]:
    if info in (".", ""):
        return []
    items: list[tuple[str, str | None]] = []
    for item in info.split(";"):
        key, eq, value = item.partition("=")
        items.append((key, value if eq else None))
    return items


def _permute_info(
    items: list[tuple[str, str | None]], order: Sequence[int], numbers: FieldNumbers
) -> str:
    values = dict(items)
    out: list[str] = []
    for key, value in items:
        number = numbers.info.get(key)
        if value is None or number not in ("A", "R", "G"):
            out.append(key if value is None else f"{key}={value}")
            continue
        new = _permute_values(key, value.split(","), number, order, values.get("AN"))
        if new is not None:
            out.append(f"{key}={','.join(new)}")
    return ";".join(out) if out else "."


def _permute_format(
    key: str,
    value: str,
    order: Sequence[int],
    new_index: dict[int, int],
    numbers: FieldNumbers,
) -> str:
    if key == "GT":
        return _permute_gt(value, new_index)
    number = numbers.format.get(key)
    if number not in ("A", "R", "G") or value == ".":
        return value
    new = _permute_values(key, value.split(","), number, order, None)
    return "." if new is None else ",".join(new)


def _permute_gt(gt: str, new_index: dict[int, int]) -> str:
    parts = re.split(r"([/|])", gt)
    alleles = parts[0::2]
    seps = parts[1::2]
    mapped = [a if a == "." else str(new_index[int(a)]) for a in alleles]
    if seps and all(sep == "/" for sep in seps) and "." not in mapped:
        mapped.sort(key=int)  # unphased: written in ascending order, as callers do
    out = mapped[0]
    for sep, allele in zip(seps, mapped[1:], strict=True):
        out += sep + allele
    return out


def _permute_values(
    key: str, values: list[str], number: str, order: Sequence[int], an: str | None
) -> list[str] | None:
    """Values of a Number=A/R/G field in the new allele order; None when they cannot be known."""
    n = len(order)
    if number == "R":
        return [values[i] for i in order] if len(values) == n else None
    if number == "G":
        return _permute_genotype_values(values, order)
    # Number=A: the value of the old REF (now an ALT) must be derived from the others.
    if len(values) != n - 1 or "." in values:
        return None
    try:
        if key == "AF":
            freqs = [float(v) for v in values]
            full = [max(0.0, 1.0 - sum(freqs)), *freqs]
            return [f"{full[i]:.6g}" for i in order[1:]]
        if key == "AC" and an is not None:
            counts = [int(v) for v in values]
            full = [int(an) - sum(counts), *counts]
            return [str(full[i]) for i in order[1:]]
    except ValueError:
        return None
    return None


def _permute_genotype_values(values: list[str], order: Sequence[int]) -> list[str] | None:
    n = len(order)
    if len(values) == n:  # haploid
        return [values[i] for i in order]
    if len(values) != n * (n + 1) // 2:
        return None
    out = []
    # Genotypes (j, k), j <= k, in VCF order (k outer, j inner): index k * (k + 1) / 2 + j.
    for k in range(n):
        for j in range(k + 1):
            a, b = sorted((order[j], order[k]))
            out.append(values[b * (b + 1) // 2 + a])
    return out


BASES = re.compile(r"^[ACGTNacgtn]+$")
SYMBOLIC = re.compile(r"^<[^<>,]+>$")
BREAKEND = re.compile(r"^([ACGTNacgtn]*)([\[\]])[^\[\]]+:\d+\2([ACGTNacgtn]*)$")
SINGLE_BREAKEND = re.compile(r"^(\.[ACGTNacgtn]+|[ACGTNacgtn]+\.)$")


def is_valid_alt(allele: str) -> bool:
    """A base sequence, a symbolic allele, the overlap allele ``*`` or a breakend.

    IUPAC ambiguity codes (R, Y, M, ...), ``I``/``D`` of old indel notations and empty entries
    are not alleles genopass can place on a reference.
    """
    return bool(
        BASES.match(allele)
        or SYMBOLIC.match(allele)
        or allele == "*"
        or BREAKEND.match(allele)
        or SINGLE_BREAKEND.match(allele)
    )


def invalid_allele(ref: str, alts: Sequence[str]) -> str | None:
    """The first allele of a record that is not valid (REF: bases only), or None."""
    if not BASES.match(ref):
        return ref
    if list(alts) == ["."]:  # no ALT allele: a site without variation
        return None
    return next((alt for alt in alts if not is_valid_alt(alt)), None)


def swap_allele_index(ref: str, alts: Sequence[str], reference: str) -> int | None:
    """Index of the ALT that is the reference allele where REF is not, when the whole allele
    comparison justifies a REF/ALT swap; else None.

    ``reference`` is the reference from POS on, at least as long as the longest allele. The ALT
    must spell the reference over at least the span the REF claims (so an SNV or MNP of equal
    length, or an ALT longer than REF): the anchor base of a deletion matches the reference
    by construction and proves nothing, so ``TATA>T`` on ``TATG`` is a REF mismatch, never an
    insertion ``T>TATA``.
    """
    reference = reference.upper()
    if reference[: len(ref)] == ref.upper():
        return None  # REF matches: nothing to swap
    for index, allele in enumerate(alts):
        if is_symbolic(allele) or not allele or len(allele) < len(ref):
            continue
        if reference[: len(allele)] == allele.upper() and len(reference) >= len(allele):
            return index
    return None
