"""Liftover to the target build: a pre-step that turns a GRCh37 VCF into a target-named VCF.

    bcftools view -Ov [-s SAMPLES] IN      the source records as text
      | genopass (this module)             lift each record through the chain; REF checks
      | bcftools sort -Ob1                 lifted records in target order (bounded memory)

Per record (Python, streamed; only inputs on another build pay for it):

1. the contig is named through the alias tables (b37 ``21``, hg19 ``chr21``, accessions...);
2. the record's REF span must lie in one ungapped chain block (for a record that inserts bases,
   the base after the span too, so the insertion point maps); a span in no block is
   ``liftover_unmapped``, in several chains' blocks or across a chain gap ``liftover_ambiguous``;
3. on a reverse-strand block the alleles are reverse-complemented; records that change length get
   a new anchor base, the target base before the span, since the old anchor now trails;
4. REF is checked against the target FASTA. If it differs and an ALT matches there instead, the
   reference allele changed between builds (or the centre swapped them): the alleles are swapped
   and GT/AD/PL/AF recoded (:mod:`alleles`). A swap needs evidence: the source REF must
   match the source FASTA, or else the SNV must not be strand-ambiguous (A/T, C/G). Anything else
   is ``ref_mismatch``.

The lifted records then go through the same harmonisation stream as native target files, which
left-aligns, trims, splits and deduplicates them against the target FASTA. gVCF reference blocks
(ALT only ``<NON_REF>``/``<*>``) leave the record stream here: their intervals are lifted piece by
piece (one piece per chain block) into the sample's blocks file.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import pysam

from genopass.errors import InputError
from genopass.harmonise.accounting import SOURCE_DEFINITION, SOURCE_INFO
from genopass.harmonise.alleles import (
    FieldNumbers,
    invalid_allele,
    is_strand_ambiguous,
    is_symbolic,
    permute_alleles,
    revcomp,
    swap_allele_index,
    swap_order,
)
from genopass.harmonise.chain import Block, ChainMap
from genopass.inputs.build import fasta_contig_names
from genopass.inputs.contigs import (
    CONTIG_NOT_IN_REFERENCE,
    NON_PRIMARY_CONTIG,
    AliasTable,
    ContigDecision,
    is_primary_name,
    plan_contigs,
)
from genopass.inputs.reference import ensure_fai, read_fai
from genopass.reasons import (
    INVALID_ALLELE,
    LIFTOVER_AMBIGUOUS,
    LIFTOVER_UNMAPPED,
    REF_MISMATCH,
    UNKNOWN_CONTIG,
    UNSUPPORTED_ALLELE,
)
from genopass.tools import PipelineError, PythonStage, run, run_tool

log = logging.getLogger(__name__)

BLOCK_ALLELES = frozenset({"<NON_REF>", "<*>"})
SORT_MEMORY = "256M"
# hg19's chrM (NC_001807, 16,571 bp) is another sequence than b37's MT (the rCRS, 16,569 bp):
# a UCSC chain with a b37 FASTA differs there only, and chrM records then lift as unmapped.
MITOCHONDRIA = frozenset({"chrM", "MT", "chrMT", "M"})
# A record whose span crosses a chain gap is compared with the target over the whole span; gaps
# longer than this are differences no allele of a small variant can spell.
MAX_GAP_SPAN = 1000
UNDECLARED = "is not defined in the header"  # htslib, reading a record that uses such a tag


class UndeclaredTagError(InputError):
    """Records use INFO/FORMAT/FILTER tags the header does not declare."""

    def __init__(self, message: str, stderr: str):
        super().__init__(message)
        self.stderr = stderr


@dataclass(frozen=True)
class LiftoverSource:
    """A source build genopass can lift from: its FASTA and the chain to the target."""

    build: str
    fasta: Path
    chain: Path


@dataclass(frozen=True)
class LiftoverResult:
    lifted: Path  # sorted, indexed BCF on the target, target contig names
    input_records: int
    output_records: int
    swapped: int
    reference_blocks: int  # gVCF block records: their intervals went to ``blocks``
    rejected: Mapping[str, int]
    rejects: Path  # "reason<TAB>source VCF line" per rejected record (source number in INFO)
    blocks: Path | None = None  # lifted block intervals + source number (unsorted), when any
    block_bases_in: int = 0  # reference bases of the source blocks


@dataclass
class _Counts:
    read: int = 0
    written: int = 0
    swapped: int = 0
    blocks: int = 0
    block_bases_in: int = 0
    rejected: Counter[str] = field(default_factory=Counter)


def is_block(alts: list[str]) -> bool:
    """A gVCF reference block: its only ALT is ``<NON_REF>`` or ``<*>``."""
    return len(alts) == 1 and alts[0] in BLOCK_ALLELES


class Lifter:
    """Lifts VCF text records from the source build to the target."""

    def __init__(
        self,
        source: LiftoverSource,
        target_fasta: Path,
        source_contigs: Mapping[str, int | None],
        aliases: AliasTable,
        *,
        keep_non_primary: bool = False,
        path: Path | str = "input",
    ):
        self.source = source
        self.path = path
        self.chain = ChainMap.load(source.chain)
        ensure_fai(source.fasta)
        ensure_fai(target_fasta)
        self.source_lengths = read_fai(source.fasta)
        self.target_lengths = read_fai(target_fasta)
        check_chain(self.chain, self.source_lengths, self.target_lengths, aliases, source)
        # source contig -> source FASTA contig (or a reject reason): names and lengths checked
        # against the FASTA under UCSC names, whatever naming the FASTA itself uses (b37: 1, MT)
        fasta_of = {_ucsc(name, source.build, aliases): name for name in self.source_lengths}
        canonical = {ucsc: self.source_lengths[name] for ucsc, name in fasta_of.items()}
        self.plan = {
            d.source: ContigDecision(d.source, fasta_of[d.target], None) if d.target else d
            for d in plan_contigs(
                source_contigs,
                canonical,
                aliases,
                keep_non_primary=True,  # decided on the target contig, after lifting
                target_build=source.build,
                path=path,
            )
        }
        fasta_names = [d.target for d in self.plan.values() if d.target]
        chain_of_fasta = fasta_contig_names(fasta_names, list(self.chain.source_contigs), aliases)
        self.chain_name = {
            d.source: chain_of_fasta.get(d.target) for d in self.plan.values() if d.target
        }
        chain_lengths = self.chain.source_contigs
        for contig, name in list(self.chain_name.items()):
            fasta_name = self.plan[contig].target or ""
            if name is not None and chain_lengths[name] != self.source_lengths[fasta_name]:
                log.warning(
                    "%s: %s of the chain is not %s of %s (another sequence): its records are "
                    "not lifted",
                    path,
                    name,
                    fasta_name,
                    source.fasta,
                )
                self.chain_name[contig] = None
        self.target_name = fasta_contig_names(
            list(self.chain.target_contigs), list(self.target_lengths), aliases
        )
        self.keep_non_primary = keep_non_primary
        self.source_fa = pysam.FastaFile(str(source.fasta))
        self.target_fa = pysam.FastaFile(str(target_fasta))
        self.numbers = FieldNumbers({}, {})

    def close(self) -> None:
        self.source_fa.close()
        self.target_fa.close()

    # -- one record ------------------------------------------------------------------------

    def lift(self, fields: list[str]) -> tuple[list[str] | None, str | None, bool]:
        """(lifted columns, None, swapped) or (None, reason, False)."""
        decision = self.plan.get(fields[0])
        if decision is None or decision.target is None:
            reason = decision.reason if decision else UNKNOWN_CONTIG
            return None, reason or UNKNOWN_CONTIG, False
        ref, alts = fields[3], fields[4].split(",")
        if invalid_allele(ref, alts) is not None:
            return None, INVALID_ALLELE, False
        chain_contig = self.chain_name.get(fields[0])
        if chain_contig is None:
            return None, LIFTOVER_UNMAPPED, False
        pos = int(fields[1])
        sequence = [a for a in alts if not is_symbolic(a)]
        if any(is_symbolic(a) and a not in BLOCK_ALLELES and a != "*" for a in alts):
            return None, UNSUPPORTED_ALLELE, False
        start, end = pos - 1, pos - 1 + len(ref)
        inserts = any(len(a) > len(ref) for a in sequence)
        # An insertion happens between its anchor and the next base: that base must map too.
        span_end = end + 1 if inserts else end
        first, last, last_pos, reason = self._ends(chain_contig, start, span_end - 1)
        if first is None or last is None:
            return None, reason, False
        target = self.target_name.get(first.target)
        if target is None:
            return None, CONTIG_NOT_IN_REFERENCE, False
        if not self.keep_non_primary and not is_primary_name(target):
            return None, NON_PRIMARY_CONTIG, False
        alleles = [ref, *alts]
        crossing = first is not last
        if crossing:
            # The assemblies differ inside the record (a chain gap): compare whole spans, the
            # alleles extended to the next base that maps (after an insertion, at least the
            # base after the anchor).
            span_end = last_pos + 1
            tail = self._source_seq(decision.target, end, span_end)
            alleles = [a if is_symbolic(a) else a + tail for a in alleles]
        else:
            span_end = end
        changes_length = any(len(a) != len(ref) for a in sequence)
        if first.reverse:
            t0, t1 = last.lift(span_end - 1), first.lift(start) + 1
            alleles = [a if is_symbolic(a) else revcomp(a) for a in alleles]
            if changes_length and t0 > 0:
                # The old anchor base now trails: take the target base before the span as anchor.
                anchor = self._target_seq(target, t0 - 1, t0)
                alleles = [a if is_symbolic(a) else anchor + a for a in alleles]
                t0 -= 1
        else:
            t0, t1 = first.lift(start), last.lift(span_end - 1) + 1
        out = list(fields)
        out[0], out[1], out[3] = target, str(t0 + 1), alleles[0]
        out[4] = ",".join(alleles[1:])
        if crossing:
            index = self._span_allele(alleles, target, t0, t1)
            if index is None:
                return None, LIFTOVER_AMBIGUOUS, False
        else:
            longest = max(len(a) for a in alleles if not is_symbolic(a))
            reference = self._target_seq(target, t0, t0 + longest)
            index = 0
            if reference[: len(alleles[0])] != alleles[0].upper():
                found = swap_allele_index(alleles[0], alleles[1:], reference)
                if found is None:
                    return None, REF_MISMATCH, False
                index = found + 1
        swapped = False
        if index:
            source_ref = self._source_seq(decision.target, start, end)
            if source_ref != ref.upper() and is_strand_ambiguous(ref, alts[index - 1]):
                return None, REF_MISMATCH, False  # an A/T or C/G SNV: a swap would be a guess
            out = permute_alleles(out, swap_order(len(alleles), index), self.numbers)
            swapped = True
        if "END=" in out[7]:
            out[7] = _set_end(out[7], t0 + len(out[3]))
        return out, None, swapped

    def _span_allele(self, alleles: list[str], target: str, t0: int, t1: int) -> int | None:
        """The allele that spells the target's sequence over a span that crosses a chain gap."""
        longest = max(len(a) for a in alleles if not is_symbolic(a))
        if t1 - t0 > longest + MAX_GAP_SPAN:
            return None
        reference = self._target_seq(target, t0, t1)
        for index, allele in enumerate(alleles):
            if not is_symbolic(allele) and allele.upper() == reference:
                return index
        return None

    def _ends(
        self, contig: str, first_pos: int, last_pos: int
    ) -> tuple[Block | None, Block | None, int, str]:
        """Blocks of a record's first and last bases (one each, of one chain and strand).

        A last base in a gap of the source (bases the target lacks) is replaced by the next
        base that maps in the same chain, so a deletion of those bases can be compared.
        """
        firsts = self.chain.blocks_at(contig, first_pos)
        if not firsts:
            return None, None, last_pos, LIFTOVER_UNMAPPED
        if len(firsts) > 1:
            return None, None, last_pos, LIFTOVER_AMBIGUOUS
        first = firsts[0]
        lasts = firsts if last_pos < first.end else self.chain.blocks_at(contig, last_pos)
        if not lasts:
            after = [
                b
                for b in self.chain.blocks_overlapping(contig, last_pos, last_pos + MAX_GAP_SPAN)
                if b.chain == first.chain and b.start > last_pos
            ]
            if not after:
                return None, None, last_pos, LIFTOVER_UNMAPPED
            lasts, last_pos = [after[0]], after[0].start
        if len(lasts) > 1:
            return None, None, last_pos, LIFTOVER_AMBIGUOUS
        last = lasts[0]
        if first is last:
            return first, last, last_pos, ""
        ordered = (
            last.target_start < first.target_start
            if first.reverse
            else last.target_start > first.target_start
        )
        if first.chain != last.chain or first.target != last.target or not ordered:
            return None, None, last_pos, LIFTOVER_AMBIGUOUS
        return first, last, last_pos, ""

    def lift_block(self, fields: list[str]) -> tuple[list[tuple[str, int, int]], str | None]:
        """Target intervals (0-based, half-open) of a gVCF reference block, or a reject reason."""
        decision = self.plan.get(fields[0])
        if decision is None or decision.target is None:
            return [], decision.reason if decision else UNKNOWN_CONTIG
        chain_contig = self.chain_name.get(fields[0])
        start = int(fields[1]) - 1
        end = _block_end(fields)
        pieces = []
        for block in self.chain.blocks_overlapping(chain_contig or "", start, end):
            target = self.target_name.get(block.target)
            if target is None or (not self.keep_non_primary and not is_primary_name(target)):
                continue
            lo, hi = max(start, block.start), min(end, block.end)
            a, b = sorted((block.lift(lo), block.lift(hi - 1)))
            pieces.append((target, a, b + 1))
        return pieces, None if pieces else LIFTOVER_UNMAPPED

    def _target_seq(self, contig: str, start: int, end: int) -> str:
        return self.target_fa.fetch(contig, max(0, start), end).upper()

    def _source_seq(self, contig: str, start: int, end: int) -> str:
        return self.source_fa.fetch(contig, start, end).upper()


def _ucsc(name: str, build: str, aliases: AliasTable) -> str:
    """The UCSC name of a FASTA contig of ``build`` (the name itself when no table knows it)."""
    names = [a.ucsc for a in aliases.lookup(name) if a.build == build]
    return names[0] if names else name


def _info_end(info: str) -> int | None:
    for item in info.split(";"):
        if item.startswith("END="):
            try:
                return int(item[4:])
            except ValueError:
                return None
    return None


def _set_end(info: str, end: int) -> str:
    return ";".join(f"END={end}" if i.startswith("END=") else i for i in info.split(";"))


def check_chain(
    chain: ChainMap,
    source_lengths: Mapping[str, int],
    target_lengths: Mapping[str, int],
    aliases: AliasTable,
    source: LiftoverSource,
) -> None:
    """The chain's contig lengths must be those of the source and target FASTAs it will join."""
    for side, contigs, fasta_lengths, fasta in (
        ("source", chain.source_contigs, source_lengths, source.fasta),
        ("target", chain.target_contigs, target_lengths, None),
    ):
        names = fasta_contig_names(list(contigs), list(fasta_lengths), aliases)
        for name, fasta_name in names.items():
            if contigs[name] != fasta_lengths[fasta_name] and name not in MITOCHONDRIA:
                where = fasta or "the target reference"
                raise InputError(
                    f"{chain.path}: the chain's {side} contig {name} has length {contigs[name]}, "
                    f"but {fasta_name} of {where} has length {fasta_lengths[fasta_name]}: the "
                    f"chain file does not join {source.build} to the target reference; give the "
                    f"chain made for these two assemblies"
                )
        if not names:
            raise InputError(
                f"{chain.path}: none of the chain's {side} contigs "
                f"({', '.join(list(contigs)[:3])}...) is in the {side} FASTA; the chain file "
                f"does not belong to these references"
            )


def lift_vcf(
    vcf: Path,
    indexed: Path,
    header_text: str,
    samples: list[str] | None,
    lifter: Lifter,
    work: Path,
) -> LiftoverResult:
    """Lift ``indexed`` (the input or its indexed copy) into ``work``; stream, bounded memory."""
    lifter.numbers = FieldNumbers.from_header(header_text.splitlines())
    lifted = work / "lifted.bcf"
    rejects = work / "liftover-rejects.tsv"
    blocks = work / "liftover-blocks.bed"
    view = ["bcftools", "view", "--no-version", "-Ov"]
    if samples:
        view += ["-s", ",".join(samples)]
    counts = _Counts()

    def lift(records: IO[str], out: IO[str]) -> None:
        with open(rejects, "w") as rejected, open(blocks, "w") as block_bed:
            _lift_stream(records, out, rejected, block_bed, lifter, counts)

    sort = ["bcftools", "sort", "-Ob1", "-m", SORT_MEMORY, "-T", str(work / "sort.")]
    stages = [[*view, indexed], PythonStage(lift, "liftover", text=True), [*sort, "-o", lifted]]
    try:
        read = run(stages, about=vcf).stderrs[0]
    except PipelineError as error:
        read = error.stderrs[0]
        if UNDECLARED not in read:
            raise
    if UNDECLARED in read:
        # BCF needs every tag declared before the first record; the caller declares them.
        raise UndeclaredTagError(f"{vcf}: tags used but not declared: {read[-300:]}", read)
    run_tool(["bcftools", "index", "-c", lifted], about=vcf)
    log.info(
        "%s: lifted %d of %d records (%d swapped, %d reference blocks); rejected %s",
        vcf,
        counts.written,
        counts.read,
        counts.swapped,
        counts.blocks,
        dict(counts.rejected) or "none",
    )
    return LiftoverResult(
        lifted=lifted,
        input_records=counts.read,
        output_records=counts.written,
        swapped=counts.swapped,
        reference_blocks=counts.blocks,
        rejected=dict(sorted(counts.rejected.items())),
        rejects=rejects,
        blocks=blocks if counts.blocks else None,
        block_bases_in=counts.block_bases_in,
    )


def _lift_stream(
    lines: Iterator[str],
    out: IO[str],
    rejected: IO[str],
    block_bed: IO[str],
    lifter: Lifter,
    counts: _Counts,
) -> None:
    for line in lines:
        if line.startswith("##"):
            if not line.startswith("##contig="):
                out.write(line)
            continue
        if line.startswith("#"):
            for name, length in lifter.target_lengths.items():
                out.write(f"##contig=<ID={name},length={length}>\n")
            out.write(SOURCE_DEFINITION + "\n")
            out.write(line)
            continue
        counts.read += 1
        # The source number: the record's place in the input, carried in INFO from here on.
        fields = _numbered(line.rstrip("\n").split("\t"), counts.read)
        numbered = "\t".join(fields) + "\n"
        if is_block(fields[4].split(",")):
            pieces, reason = lifter.lift_block(fields)
            counts.block_bases_in += _block_end(fields) - (int(fields[1]) - 1)
            if reason:
                counts.rejected[reason] += 1
                rejected.write(f"{reason}\t{numbered}")
                continue
            counts.blocks += 1
            block_bed.writelines(f"{c}\t{a}\t{b}\t{counts.read}\n" for c, a, b in pieces)
            continue
        lifted, reason, swapped = lifter.lift(fields)
        if lifted is None:
            counts.rejected[reason or LIFTOVER_UNMAPPED] += 1
            rejected.write(f"{reason or LIFTOVER_UNMAPPED}\t{numbered}")
            continue
        counts.written += 1
        counts.swapped += swapped
        out.write("\t".join(lifted) + "\n")


def _numbered(fields: list[str], number: int) -> list[str]:
    item = f"{SOURCE_INFO}={number}"
    fields[7] = item if fields[7] in (".", "") else f"{fields[7]};{item}"
    return fields


def _block_end(fields: list[str]) -> int:
    """0-based, half-open end of a gVCF block record."""
    return _info_end(fields[7]) or int(fields[1]) - 1 + len(fields[3])
