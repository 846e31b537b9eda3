"""Harmonise one VCF to the target reference in a single stream, compressed once.

    bgzip -dc (bcftools view -Ov [-s SAMPLES])      the source records as text
      | awk (TRIAGE)                                 number every record (INFO/GENOPASS_SOURCE);
                                                     records on rejected contigs and records with
                                                     invalid alleles to the rejects, gVCF blocks
                                                     to the blocks file, POS 0 records around
                                                     norm; contigs renamed
      | bcftools norm -m-any -f REF -c wx            split, left-align, trim; REF mismatches out
      | awk (DEDUP)                                  repeats of an allele to the rejects
      | bgzip -c --threads N                         records only: the header is written apart

The standard header (definitions kept, contigs of the target, pseudonyms, no paths or people) is
bgzipped on its own and put in front of the compressed records, so nothing is compressed twice.
The awk stages run with :func:`tools.awk` (mawk where installed) in the C locale. A subset of a
file with listed malformed records is cut after PREFILTER has taken them out of the raw text
(htslib stops at a record it cannot parse). POS 0 (telomeric) records cannot be checked against
the reference: they are split without it, deduplicated and merged in front of their contig's
records after the stream (only inputs that have them pay a second compression).

Every record keeps its source number through the work files, so the accounting is measured from
the files at the end (:func:`accounting.measure`), never derived from counters. Records
that bcftools norm excluded for a REF mismatch are found as the source numbers that went in and
did not come out; they are fetched again through the index. Of those, the records whose ALT
spells the reference over the whole span of the REF (:func:`alleles.swap_allele_index`;
never a strand-ambiguous A/T or C/G SNV) are swapped (GT/AD/PL/AF recoded), normalised on their
own and merged into the output; the others are rejected as ``ref_mismatch``, one reject per
source record however many ALT alleles it had.

Around the stream, only where an input needs it:

- build: a declared build that is not the target's, or ``auto`` with liftover sources configured,
  is checked against the REF alleles of sampled records (:mod:`inputs.build`); an input on the
  target build is checked for free afterwards, from the share of source records norm excluded;
- liftover: an input on another build first goes through :mod:`liftover`, which numbers
  the records itself; its sorted target-named output is the stream's input;
- gVCF: reference blocks (ALT only ``<NON_REF>``/``<*>``) go to a BED file of called hom-ref
  intervals with their source numbers, and the ``<NON_REF>`` allele of variant records is dropped
  after splitting (it is no allele of the sample).
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from collections import defaultdict
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pysam

from genopass import reasons
from genopass.errors import InputError
from genopass.harmonise.accounting import (
    REJECT_INFO,
    SOURCE_DEFINITION,
    SOURCE_INFO,
    STEP_INFO,
    Accounting,
    AccountingError,
    OutputNumbers,
    measure,
    output_numbers,
)
from genopass.harmonise.header import kept_definitions, scrub_paths, standard_header
from genopass.inputs.contigs import AliasTable, ContigDecision, is_primary_name, plan_contigs
from genopass.inputs.reference import ensure_fai, read_fai
from genopass.io import atomic_output, check_bgzf_complete, iter_tsv, work_folder
from genopass.tools import (
    AWK_ENV,
    PipelineError,
    awk,
    first_error,
    require_tool,
    run,
    run_tool,
)

if TYPE_CHECKING:  # imported where used: inputs on the target build never load them
    from genopass.harmonise.liftover import LiftoverResult, LiftoverSource
    from genopass.inputs.build import BuildEvidence

log = logging.getLogger(__name__)

AUTO = "auto"  # the build is detected (genopass.inputs.build)
BLOCK_ALLELES = ("<NON_REF>", "<*>")
WIDE_SAMPLES = 16
SOURCE_ITEM = re.compile(rf"[\t;]{SOURCE_INFO}=(\d+)")
UNDEFINED_TAG = re.compile(r"\b(INFO|FORMAT|FILTER) '([^']+)'.* is not defined in the header")
RECORD_COLUMNS = ("#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO")
SITE_COLUMNS = ["number", "chrom", "pos", "alleles"]  # the triage's sites file

# A malformed record (number `records`, defect `malformed[records]`) to the rejects, made
# readable (the whole line is in the input at its source number): CHROM, POS (its leading
# digits), ID, REF and ALT as read, bytes outside printable ASCII as "?", no QUAL/FILTER/samples.
MALFORMED_AWK = r"""
function reject_malformed(   n, g, i, pos) {
    n = split($0, g, "\t")
    for (i = 1; i <= 5; i++) { if (i > n) g[i] = "."; gsub(/[^!-~]/, "?", g[i]) }
    pos = int(g[2])
    if (g[1] == "" || g[1] == "?") g[1] = "."
    print records "\t" g[1] "\t" pos "\t0" > sites
    print "malformed:" malformed[records] "\t" g[1] "\t" pos "\t" g[3] "\t" g[4] "\t" g[5] \
        "\t.\t.\tGENOPASS_SOURCE=" records > rejects
}
"""

# Takes the listed malformed records (`malformed_list`: ordinal<TAB>defect) out of the raw text
# to the rejects, before htslib reads it for a sample subset (it stops at a record it cannot
# parse); the triage then numbers the others as if they were still there (skip_listed).
PREFILTER_AWK = (
    r"""
BEGIN {
    CONVFMT = OFMT = "%.0f"
    while ((getline line < malformed_list) > 0) { split(line, f, "\t"); malformed[f[1]] = f[2] }
    close(malformed_list)
}
/^#/ { print; next }
{ records++; if (records in malformed) reject_malformed(); else print }
"""
    + MALFORMED_AWK
)

# Numbers each record, sends records of rejected contigs, with invalid alleles and gVCF blocks
# to their files, renames contigs (breakend mates too) and passes the rest on. Writes per record
# "source number, contig, POS, ALT alleles entering norm" to `sites`. The allele rule is the one
# of genopass.harmonise.alleles.is_valid_alt (a test checks that they agree).
TRIAGE_AWK = (
    r"""
function bad_alleles(ref, alt,   n, i, a, x) {
    if (ref !~ /^[ACGTNacgtn]+$/) return 1
    if (alt == ".") return 0
    n = split(alt, a, ",")
    if (n == 0) return 1
    for (i = 1; i <= n; i++) {
        x = a[i]
        if (x ~ /^[ACGTNacgtn]+$/ || x ~ /^<[^<>,]+>$/ || x == "*") continue
        if (x ~ /^[ACGTNacgtn]*[][][^][]+:[0-9]+[][][ACGTNacgtn]*$/) continue
        if (x ~ /^\.[ACGTNacgtn]+$/ || x ~ /^[ACGTNacgtn]+\.$/) continue
        return 1
    }
    return 0
}
function rename_mates(alt,   out, rest, name) {
    out = ""; rest = alt
    while (match(rest, /[][][^]:[]+:/)) {
        name = substr(rest, RSTART + 1, RLENGTH - 2)
        out = out substr(rest, 1, RSTART) (target[name] != "" ? target[name] : name) ":"
        rest = substr(rest, RSTART + RLENGTH)
    }
    return out rest
}
function info(x, key,   m) {
    if (!match(x, ";" key "=[^;]*")) return ""
    return substr(x, RSTART + length(key) + 2, RLENGTH - length(key) - 2)
}
BEGIN {
    FS = OFS = "\t"
    # numbers print as integers in every awk (mawk would print 2^31 and above as 2.14748e+09)
    CONVFMT = OFMT = "%.0f"
    while ((getline line < contigs) > 0) {
        split(line, f, "\t"); target[f[1]] = f[2]; why[f[1]] = f[3]
        if (f[2] != "") { n_targets++; targets[n_targets] = f[2]; length_of[f[2]] = f[4] }
    }
    close(contigs)
    # ordinal<TAB>defect of the records the input check found malformed (an empty file: none)
    if (malformed_list != "") {
        while ((getline line < malformed_list) > 0) {
            split(line, f, "\t"); malformed[f[1]] = f[2]; listed = !numbered
        }
        close(malformed_list)
    }
}
# A header line, printed and kept (the POS 0 records' file starts with the same header).
function header(line) { print line; header_lines[++n_header] = line }
/^##contig=<ID=/ {
    id = substr($0, 14); match(id, /[,>]/); id = substr(id, 1, RSTART - 1)
    if (target[id] != "") {
        header("##contig=<ID=" target[id] substr($0, 14 + length(id))); written[target[id]] = 1
    }
    next
}
/^##/ { if (index($0, "##INFO=<ID=GENOPASS_SOURCE,") == 1) declared = 1; header($0); next }
/^#/ {
    # contigs that records use but the header never declared (norm needs every one)
    for (i = 1; i <= n_targets; i++) if (!(targets[i] in written)) {
        header("##contig=<ID=" targets[i] ",length=" length_of[targets[i]] ">")
        written[targets[i]] = 1
    }
    if (!declared) header(definition)
    header($0)
    next
}
{
    records++
    if (listed) {
        if (skip_listed) while (records in malformed) records++  # taken out before the subset
        else if (records in malformed) { reject_malformed(); next }
    }
    if (wide) {
        # the first eight columns without splitting the sample columns (a cohort has thousands)
        if (!match($0, /^[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*/)) {
            print "line " records " has fewer than 8 columns" > "/dev/stderr"; exit 4
        }
        split(substr($0, 1, RLENGTH), f, "\t"); tail = substr($0, RLENGTH + 1)
        c = f[1]; pos = f[2]; ref = f[4]; alt = f[5]; info8 = f[8]
    } else {
        if (NF < 8) { print "line " records " has fewer than 8 columns" > "/dev/stderr"; exit 4 }
        c = $1; pos = $2; ref = $4; alt = $5; info8 = $8
    }
    if (numbered) {
        if (!match(";" info8, /;GENOPASS_SOURCE=[0-9]+/)) {
            print "no source number at " c ":" pos > "/dev/stderr"; exit 3
        }
        src = substr(";" info8, RSTART + 17, RLENGTH - 17)
    } else {
        src = records ""
        info8 = (info8 == "." ? "GENOPASS_SOURCE=" src : info8 ";GENOPASS_SOURCE=" src)
    }
    if (!looked || c != last_contig) {
        # the contig's fate, looked up once per run of its records
        looked = 1; last_contig = c; renamed = target[c]
        reason = (c in why) ? why[c] : unknown_contig
        if (reason == "" && renamed == "") reason = unknown_contig
        contig_reason = reason
    }
    reason = contig_reason
    plain = ref ~ /^[ACGTNacgtn]+$/ && alt ~ /^[ACGTNacgtn]+(,[ACGTNacgtn]+)*$/
    if (reason == "" && !plain && bad_alleles(ref, alt)) reason = invalid_allele
    if (reason != "") {
        print src "\t" c "\t" pos "\t0" > sites; print reason "\t" record(c, alt) > rejects
        next
    }
    if (gvcf && (alt == "<NON_REF>" || alt == "<*>")) {
        end = info(";" info8, "END"); if (end == "") end = pos - 1 + length(ref)
        start = pos - 1; if (start < 0) start = 0  # a block at POS 0 starts at the contig's start
        if (end < start) end = start
        print src "\t" c "\t" pos "\t0" > sites
        print renamed "\t" start "\t" end "\t" src > blocks
        next
    }
    if (!index(alt, ",")) pieces = 1
    else {
        pieces = split(alt, a, ",")
        if (gvcf) for (i = 1; i <= pieces; i++) if (a[i] == "<NON_REF>" || a[i] == "<*>") pieces--
    }
    print src "\t" c "\t" pos "\t" pieces > sites
    out_alt = alt
    if (!plain && (index(alt, "[") || index(alt, "]"))) out_alt = rename_mates(alt)
    if (pos == 0) {
        # POS 0 (a telomeric record): no reference base to check or normalise against, so it
        # goes around norm, to its own VCF (the same header), merged into the output later
        if (!around++) for (i = 1; i <= n_header; i++) print header_lines[i] > pos0
        print record(renamed, out_alt) > pos0
        next
    }
    print record(renamed, out_alt)
}
# The record with contig `chrom`, ALT `new_alt` and INFO `info8` (the source number added).
function record(chrom, new_alt) {
    if (wide) return chrom "\t" pos "\t" f[3] "\t" ref "\t" new_alt "\t" f[6] "\t" f[7] \
        "\t" info8 tail
    if (chrom != c) $1 = chrom
    $8 = info8
    if (new_alt != alt) $5 = new_alt
    return $0
}
END {
    if (skip_listed) while ((records + 1) in malformed) records++  # the last were malformed
    print records + 0 > count
}
"""
    + MALFORMED_AWK
)

# Rejects a normalised record whose allele is already in the output at that position, unless it
# comes from the same source record (two equal symbolic alleles of one record are two alleles).
# The allele is the whole allele: symbolic and breakend alleles with their END, SVLEN and CN.
# Prints records only (the output header is written apart).
SOURCE_AWK = r"""
function source(info8,   x) {
    x = ";" info8
    if (!match(x, /;GENOPASS_SOURCE=[0-9]+/)) return ""
    return substr(x, RSTART + 17, RLENGTH - 17)
}
"""
DEDUP_AWK = (
    SOURCE_AWK
    + r"""
function info(x, key) {
    if (!match(x, ";" key "=[^;]*")) return ""
    return substr(x, RSTART + length(key) + 2, RLENGTH - length(key) - 2)
}
# The whole allele: REF and ALT, and for symbolic and breakend alleles END, SVLEN and CN.
function allele(ref, alt, info8,   x) {
    if (substr(alt, 1, 1) != "<" && !index(alt, "[") && !index(alt, "]")) return ref "\t" alt
    x = ";" info8
    return ref "\t" alt "\t" info(x, "END") "\t" info(x, "SVLEN") "\t" info(x, "CN")
}
BEGIN { FS = "\t" }
/^#/ { next }
{
    if (wide) {
        match($0, /^[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*/)
        split(substr($0, 1, RLENGTH), f, "\t")
        chrom = f[1]; pos = f[2]; ref = f[4]; alt = f[5]; info8 = f[8]
    } else { chrom = $1; pos = $2; ref = $4; alt = $5; info8 = $8 }
    if (gvcf && (alt == "<NON_REF>" || alt == "<*>")) next
    if (pos != last_pos || chrom != last_chrom) {
        # a new site: its first record is kept; its allele is looked at only if more follow
        last_pos = pos; last_chrom = chrom
        if (crowded) { delete seen; crowded = 0 }
        first_ref = ref; first_alt = alt; first_info = info8
        print
        next
    }
    if (!crowded) { seen[allele(first_ref, first_alt, first_info)] = first_info; crowded = 1 }
    key = allele(ref, alt, info8)
    if (key in seen) {
        if (source(seen[key]) != source(info8)) { print > duplicates; next }
    } else seen[key] = info8
    print
}
"""
)

# Puts the records of the file `extra` (POS 0 records in input order, records only) into a VCF
# stream, in front of their contig's records: at each new contig, the extra records whose source
# number is below that of the contig's first record (a sorted input has its POS 0 records first
# on their contig); at the end, the rest.
MERGE_AWK = (
    SOURCE_AWK
    + r"""
BEGIN {
    FS = "\t"
    while ((getline line < extra) > 0) {
        n++; row[n] = line; split(line, f, "\t"); number[n] = source(f[8]) + 0
    }
    close(extra); k = 1
}
/^#/ { print; next }
$1 != chrom {
    chrom = $1; here = source($8) + 0
    while (k <= n && number[k] < here) print row[k++]
}
{ print }
END { while (k <= n) print row[k++] }
"""
)


@dataclass(frozen=True)
class HarmoniseOptions:
    reference: Path
    out: Path
    reference_name: str = "GRCh38"
    rejects: Path | None = None
    accounting: Path | None = None
    samples: dict[str, str] = field(default_factory=dict)  # vcf column -> output name
    alias_table: Path | None = None
    keep_non_primary: bool = False
    threads: int = 1
    build: str = AUTO  # the input's declared build (GRCh37, GRCh38) or auto
    liftover: tuple[LiftoverSource, ...] = ()  # builds that can be lifted to the target
    blocks: Path | None = None  # gVCF reference blocks (BED + source number, bgzipped + .tbi)
    malformed: Path | None = None  # ordinal<TAB>defect of malformed records (genopass validate)


@dataclass(frozen=True)
class SourceInfo:
    """What the header and index say about the input."""

    path: Path
    indexed_path: Path  # the input itself, a link beside a fresh index, or a re-headered copy
    samples: list[str]
    contig_lengths: dict[str, int | None]
    records_per_contig: dict[str, int]
    header_text: str

    @property
    def records(self) -> int:
        return sum(self.records_per_contig.values())


@dataclass(frozen=True)
class Reject:
    """A rejected record: reason, the step that rejected it, and its VCF line (source number
    in INFO)."""

    reason: str
    step: str
    line: str


@dataclass(frozen=True)
class RejectFile:
    """Rejected records in a side file: rows "reason<TAB>line", or lines of one ``reason``."""

    path: Path
    step: str
    reason: str | None = None

    def __iter__(self) -> Iterator[Reject]:
        with open(self.path) as handle:
            for row in handle:
                row = row.rstrip("\n")
                if self.reason is None:
                    reason, line = row.split("\t", 1)
                    yield Reject(reason, self.step, line)
                else:
                    yield Reject(self.reason, self.step, row)


Rejects = Iterable[Reject]  # a RejectFile or a list of rejects


@dataclass(frozen=True)
class Exclusions:
    """What norm kept out of the stream, found from the output file and the triage's sites."""

    pieces: np.ndarray  # per source number: ALT alleles that entered norm (uint8, up to 255)
    excluded: list[tuple[int, str, int, int]]  # (number, contig, POS, rank at POS)
    entered: int  # source records that entered norm


@dataclass(frozen=True)
class StreamResult:
    """What the stream wrote and what its side files say."""

    body: Path  # compressed records, no header
    records_read: int  # records the triage read (numbered, or carrying their number)
    size: int  # source numbers run from 1 to this
    sites: Path  # per record read: source number, contig, POS, ALT alleles entering norm
    duplicates: Path  # records the deduplication rejected
    mismatch_sites: set[tuple[str, int]]  # target contig, POS of norm's REF_MISMATCH lines
    rejects: list[RejectFile]
    blocks: Path  # target contig, start, end, source number
    block_bases: int
    pos0: Path | None = None  # the POS 0 records, split and deduplicated (records only)


def harmonise_vcf(vcf: Path, options: HarmoniseOptions) -> Accounting:
    """Harmonise ``vcf``; write output, index, rejects, blocks and accounting atomically."""
    vcf = Path(vcf)
    require_tool("bcftools")
    check_bgzf_complete(vcf)
    ensure_fai(options.reference)
    aliases = AliasTable.load([options.alias_table] if options.alias_table else None)
    with work_folder(options.out) as work:
        return HarmoniseJob(vcf, options, aliases, work).run()


@dataclass
class HarmoniseJob:
    """One input through the harmonisation steps, in a private work folder."""

    vcf: Path
    options: HarmoniseOptions
    aliases: AliasTable
    work: Path
    source: SourceInfo = field(init=False)
    samples: dict[str, str] = field(init=False)  # vcf column -> output name
    build: str = field(init=False)
    lift: LiftoverResult | None = None

    def __post_init__(self) -> None:
        self.target = read_fai(self.options.reference)
        self.source = inspect_source(self.vcf, self.work)
        self.original = self.source
        self.samples = _select_samples(self.source, self.options.samples)

    # -- the steps -------------------------------------------------------------------------

    def run(self) -> Accounting:
        self.build = self.source_build()
        if self.build != self.options.reference_name:
            self.refuse_malformed_liftover()
            self.lift_over()
        plan = self.plan_contigs()
        stream = self.stream(plan)
        header = self.output_header()
        output = self.work / "out.vcf.gz"
        _join_header_and_body(header, stream.body, output)
        numbers = self.index_and_read_numbers(output)
        exclusions = _excluded_records(stream, numbers)
        if self.lift is None:
            self.check_ref_match_rate(exclusions)
        mismatches, swapped = self.resolve_excluded(plan, stream, exclusions)
        rejects: list[Rejects] = [*self._liftover_rejects(), *stream.rejects, mismatches]
        if swapped:
            output = self.merge_swapped(output, header, plan, swapped)
            rejects.append(RejectFile(self.work / "swap-duplicates.tsv", "harmonise", "duplicate"))
        if stream.pos0 is not None:  # after the swapped records: bcftools concat -a drops POS 0
            output = self.merge_pos0(output, stream.pos0)
        if swapped or stream.pos0 is not None:
            numbers = self.index_and_read_numbers(output)
        rejects_file = self.work / "rejects.vcf.gz"
        self.write_rejects(rejects_file, plan, chain.from_iterable(rejects))
        blocks_file = self.work / "blocks.bed.gz"
        self.write_blocks(blocks_file, stream.blocks)
        accounting = self.measure(numbers, rejects_file, blocks_file, stream, exclusions, swapped)
        self.publish(output, rejects_file, blocks_file, accounting)
        log.info("%s: %s", self.vcf, accounting.summary())
        return accounting

    def index_and_read_numbers(self, output: Path) -> OutputNumbers:
        """Index the output and read the source number of each of its records back from it,
        both at once (two readers of the finished file on two cores)."""
        with ThreadPoolExecutor(1) as pool:
            index = pool.submit(run_tool, ["bcftools", "index", "-t", output], about=self.vcf)
            numbers = output_numbers(output, self.work)
            index.result()
        return numbers

    def source_build(self) -> str:
        """The input's build: declared, or detected among the target and the liftover sources.

        An input declared on the target build, or ``auto`` with nothing to lift from, is checked
        after the stream from the REF mismatches norm reports (no extra read).
        """
        options, target = self.options, self.options.reference_name
        if options.build == target or (options.build == AUTO and not options.liftover):
            return target
        from genopass.inputs.build import decide_build

        if options.build != AUTO and options.build not in self.references:
            raise InputError(
                f"{self.vcf}: declared build {options.build}, but no liftover from "
                f"{options.build} to {target} is configured; add liftover: {{{options.build}: "
                f"{{fasta: ..., chain: ...}}}} to the config (or --liftover-fasta/"
                f"--liftover-chain)"
            )
        return decide_build(self.evidence, options.build, self.vcf)

    @cached_property
    def references(self) -> dict[str, Path]:
        return {
            self.options.reference_name: self.options.reference,
            **{s.build: s.fasta for s in self.options.liftover},
        }

    @cached_property
    def evidence(self) -> BuildEvidence:
        """Header lengths and REF matches of sampled records against every configured FASTA."""
        from genopass.inputs.build import gather_evidence

        source = self.original
        return gather_evidence(
            source.indexed_path,
            source.records_per_contig,
            source.contig_lengths,
            self.references,
            self.aliases,
        )

    def _raise_build_error(self) -> None:
        """Raise the build error the sampled REF matches give, when they contradict the
        declaration (the target's build for ``auto``)."""
        from genopass.inputs.build import decide_build

        declared = self.options.reference_name if self.options.build == AUTO else self.options.build
        decide_build(self.evidence, declared, self.vcf)

    def refuse_malformed_liftover(self) -> None:
        """The liftover reads records itself: an input to lift with malformed records is
        refused whole, naming the first (the triage rejects them only on the target build)."""
        listed = self.options.malformed
        if not listed or not Path(listed).stat().st_size:
            return
        with open(listed) as handle:
            ordinal, defect = handle.readline().rstrip("\n").split("\t")[:2]
        raise InputError(
            f"{self.vcf}: record {ordinal} is malformed ({defect}) and the file is on "
            f"{self.build}: records to lift over must all be well formed; fix or remove it "
            f"('genopass validate --level vcf {self.vcf}' lists them all)"
        )

    def lift_over(self) -> None:
        from genopass.harmonise.liftover import Lifter, UndeclaredTagError, lift_vcf

        by_build = {s.build: s for s in self.options.liftover}
        if self.build not in by_build:
            raise InputError(
                f"{self.vcf}: the file is on {self.build}, but no liftover from {self.build} to "
                f"{self.options.reference_name} is configured; add liftover: {{{self.build}: "
                f"{{fasta: ..., chain: ...}}}} to the config (or --liftover-fasta/"
                f"--liftover-chain)"
            )
        folder = self.work / "liftover"
        folder.mkdir()
        lifter = Lifter(
            by_build[self.build],
            self.options.reference,
            self.source.contig_lengths,
            self.aliases,
            keep_non_primary=self.options.keep_non_primary,
            path=self.vcf,
        )
        subset = list(self.samples) if self.needs_subset else None
        source = self.source
        try:
            declared: set[str] = set()
            while True:  # a run can stop at the first undeclared tag: declare, run again
                try:
                    result = lift_vcf(
                        self.vcf, source.indexed_path, source.header_text, subset, lifter, folder
                    )
                    break
                except UndeclaredTagError as error:
                    if str(error) in declared:
                        raise InputError(f"{self.vcf}: {error}") from None
                    declared.add(str(error))
                    source = declare_undefined_tags(source, folder, str(error))
        finally:
            lifter.close()
        if result.input_records != self.original.records:
            raise _count_error(self.vcf, self.original.records, result.input_records)
        lifted = folder / "inspect"
        lifted.mkdir()
        self.lift = result
        self.source = inspect_source(result.lifted, lifted)

    def plan_contigs(self) -> list[ContigDecision]:
        source = self.source
        try:
            plan = plan_contigs(
                source.contig_lengths,
                self.target,
                self.aliases,
                keep_non_primary=self.options.keep_non_primary,
                target_build=self.options.reference_name,
                path=self.vcf,
            )
        except InputError:
            if self.lift is None and self.options.liftover:
                self._raise_build_error()  # the match rates, if they tell
            raise
        with_records = [d for d in plan if source.records_per_contig.get(d.source, 0) > 0]
        if with_records and not any(d.target for d in with_records):
            names = ", ".join(d.source for d in with_records[:5])
            raise InputError(
                f"{self.vcf}: none of its contigs with records ({names}) maps to the target "
                f"reference ({', '.join(list(self.target)[:5])}...): the contig naming is "
                f"unknown to the alias tables or the file is on another reference"
            )
        return plan

    @property
    def needs_subset(self) -> bool:
        return bool(self.samples) and list(self.samples) != self.source.samples

    @property
    def sample_args(self) -> list[str]:
        return ["-s", ",".join(self.samples)] if self.needs_subset else []

    @property
    def wide(self) -> int:
        """1 when records have many sample columns: awk then finds the first eight columns with
        one regular expression instead of splitting every column (faster for a few samples)."""
        samples = len(self.samples) if self.samples else len(self.source.samples)
        return int(samples > WIDE_SAMPLES)

    @property
    def gvcf(self) -> bool:
        return is_gvcf(self.original.header_text)

    def stream(self, plan: list[ContigDecision]) -> StreamResult:
        """Run the stream; declare tags the header lacks and run again while records use any.

        A run can stop at the first undeclared tag (a sample subset does), so each run may name
        new ones: one more run per round, each round declaring at least one more tag."""
        declared: set[tuple[str, str]] = set()
        while True:
            failed = None
            try:
                result, stderrs = self._run_stream(plan)
            except PipelineError as error:
                if not any(UNDEFINED_TAG.search(err) for err in error.stderrs):
                    raise
                failed, stderrs = error, error.stderrs
            else:
                if not any(UNDEFINED_TAG.search(err) for err in stderrs):
                    return result
            named = {m.groups() for err in stderrs for m in UNDEFINED_TAG.finditer(err)}
            if named <= declared:  # all declared already: the header is not what stops it
                if failed is None:
                    return result
                raise InputError(f"{self.vcf}: {failed}") from None
            declared |= named
            self.source = declare_undefined_tags(self.source, self.work, "\n".join(stderrs))

    def read_stage(self) -> list[str]:
        """The input as VCF text: decompressed only, unless samples are to be left out or the
        input is BCF (then bcftools writes the text)."""
        path = self.source.indexed_path
        if self.needs_subset or path.suffix == ".bcf":
            return ["bcftools", "view", "--no-version", "-Ov", *self.sample_args, str(path)]
        return ["bgzip", "-dc", str(path)]

    def read_stages(self, work: Path) -> tuple[list[list[str]], list[RejectFile]]:
        """The stages that write the input as text for the triage, and the rejects they write.

        A subset of a VCF with listed malformed records is made after the pre-filter has taken
        those records out of the raw text (htslib stops at a record it cannot parse).
        """
        reader = self.read_stage()
        path = str(self.source.indexed_path)
        subset = ["bcftools", "view", "--no-version", "-Ov", *self.sample_args]
        if not (self.skip_listed and reader == [*subset, path]):
            return [reader], []
        rejects, sites = work / "malformed-rejects.tsv", work / "malformed-sites.tsv"
        rejects.touch()
        sites.touch()
        prefilter = [awk(), "-v", f"malformed_list={self.options.malformed}"]
        prefilter += ["-v", f"sites={sites}", "-v", f"rejects={rejects}", PREFILTER_AWK]
        stages = [["bgzip", "-dc", path], prefilter, [*subset, "-"]]
        return stages, [RejectFile(rejects, "harmonise")]

    @property
    def skip_listed(self) -> bool:
        """Listed malformed records are taken out before a sample subset (not by the triage)."""
        listed = self.options.malformed
        return bool(
            listed
            and Path(listed).is_file()
            and Path(listed).stat().st_size
            and self.needs_subset
            and self.lift is None
            and self.source.indexed_path.suffix != ".bcf"
        )

    def _run_stream(self, plan: list[ContigDecision]) -> tuple[StreamResult, list[str]]:
        work = self.work / "stream"
        if work.exists():
            shutil.rmtree(work)  # a second run after declaring tags
        work.mkdir()
        contigs = work / "contigs.tsv"
        contigs.write_text(
            "".join(
                f"{d.source}\t{d.target or ''}\t{d.reason or ''}\t"
                f"{self.target.get(d.target, '') if d.target else ''}\n"
                for d in plan
            )
        )
        side = {name: work / f"{name}.tsv" for name in ("sites", "rejects", "blocks", "count")}
        side["duplicates"] = work / "duplicates.tsv"
        side["pos0"] = work / "pos0.vcf"
        side["pos0_duplicates"] = work / "pos0-duplicates.tsv"
        for path in side.values():
            path.touch()
        numbered = int(self.lift is not None)
        triage = [awk(), "-v", f"contigs={contigs}", "-v", f"numbered={numbered}"]
        triage += ["-v", f"gvcf={int(self.gvcf)}", "-v", f"definition={SOURCE_DEFINITION}"]
        triage += ["-v", f"wide={self.wide}"]
        triage += ["-v", f"unknown_contig={reasons.UNKNOWN_CONTIG}"]
        triage += ["-v", f"invalid_allele={reasons.INVALID_ALLELE}"]
        triage += ["-v", f"malformed_list={self.options.malformed or ''}"]
        readers, read_rejects = self.read_stages(work)
        triage += ["-v", f"skip_listed={int(bool(read_rejects))}"]
        for name in ("sites", "rejects", "blocks", "count", "pos0"):
            triage += ["-v", f"{name}={side[name]}"]
        dedup = [awk(), "-v", f"gvcf={int(self.gvcf)}", "-v", f"wide={self.wide}"]
        dedup += ["-v", f"duplicates={side['duplicates']}"]
        norm = ["bcftools", "norm", "--no-version", "-Ov", "-m-any", "-f"]
        norm += [str(self.options.reference), "-c", "wx"]
        threads = str(max(1, self.options.threads))
        stages = [
            *readers,
            [*triage, TRIAGE_AWK],
            norm,
            [*dedup, DEDUP_AWK],
            ["bgzip", "-c", "--threads", threads],
        ]
        body = work / "body.vcf.gz"
        stderrs = run(stages, about=self.vcf, stdout=body, env=AWK_ENV).stderrs
        norm_stage = stages.index(norm)
        if read_rejects:  # the pre-filter's rows among the triage's, in source number order
            merged = work / "sites.merged.tsv"
            sort = ["sort", "-m", "-n", "-k1,1", "-o", merged, side["sites"]]
            run_tool([*sort, work / "malformed-sites.tsv"], about=self.vcf, env=AWK_ENV)
            side["sites"] = merged
        pos0 = None
        if side["pos0"].stat().st_size:
            pos0 = work / "pos0.records.vcf"
            stderrs += self.split_pos0(side["pos0"], pos0, side["pos0_duplicates"])
        mismatch_sites = {
            (fields[1], int(fields[2]))
            for fields in (line.split("\t") for line in stderrs[norm_stage].splitlines())
            if fields[0] == "REF_MISMATCH"
        }
        records_read = int(side["count"].read_text().strip() or 0)
        expected = self.lift.output_records if self.lift else self.source.records
        if records_read != expected:
            raise _count_error(self.vcf, expected, records_read)
        rejects = [
            *read_rejects,
            RejectFile(side["rejects"], "harmonise"),
            RejectFile(side["duplicates"], "harmonise", reasons.DUPLICATE),
            RejectFile(side["pos0_duplicates"], "harmonise", reasons.DUPLICATE),
        ]
        block_bases = sum(
            int(np.sum(batch["end"] - batch["start"]))
            for batch in iter_tsv(
                side["blocks"], ["chrom", "start", "end", "number"], "sqqq", ["start", "end"]
            )
        )
        result = StreamResult(
            body=body,
            records_read=records_read,
            size=self.lift.input_records if self.lift else records_read,
            sites=side["sites"],
            duplicates=side["duplicates"],
            mismatch_sites=mismatch_sites,
            rejects=rejects,
            blocks=side["blocks"],
            block_bases=block_bases,
            pos0=pos0,
        )
        return result, stderrs

    def split_pos0(self, pos0: Path, out: Path, duplicates: Path) -> list[str]:
        """The POS 0 records (telomeric: valid VCF, but there is no reference base to check or
        normalise them against): split by ``bcftools norm -m-any`` without a reference and
        deduplicated by the stream's rule; returns the stderrs (undeclared tags are told there).
        """
        split = ["bcftools", "norm", "--no-version", "-Ov", "-m-any", str(pos0)]
        dedup = [awk(), "-v", f"gvcf={int(self.gvcf)}", "-v", f"wide={self.wide}"]
        dedup += ["-v", f"duplicates={duplicates}", DEDUP_AWK]
        return run([split, dedup], about=self.vcf, stdout=out, env=AWK_ENV).stderrs

    def merge_pos0(self, output: Path, records: Path) -> Path:
        """The output with the POS 0 records in front of their contig's records; read and
        compressed once more (only inputs with POS 0 records pay it)."""
        merged = self.work / "merged-pos0.vcf.gz"
        merge = [awk(), "-v", f"extra={records}", MERGE_AWK]
        bgzip = ["bgzip", "-c", "--threads", str(max(1, self.options.threads))]
        run(
            [["bgzip", "-dc", str(output)], merge, bgzip],
            about=self.vcf,
            stdout=merged,
            env=AWK_ENV,
        )
        return merged

    def check_ref_match_rate(self, exclusions: Exclusions) -> None:
        """An input on the target build matches its REFs: many mismatches mean another build."""
        from genopass.inputs.build import FIT, MIN_SITES

        checked = exclusions.entered
        mismatched = len(exclusions.excluded)
        # the same threshold as build detection: a build fits where >= FIT of the REFs match
        if checked < MIN_SITES or round(checked - mismatched - FIT * checked, 9) >= 0:
            return
        self._raise_build_error()  # raises when another build fits or none does
        raise InputError(
            f"{self.vcf}: REF matches the {self.options.reference_name} reference at only "
            f"{1 - mismatched / checked:.0%} of {checked} source records "
            f"({self.evidence.describe()}); the file is on another build or reference"
        )

    def resolve_excluded(
        self, plan: list[ContigDecision], stream: StreamResult, exclusions: Exclusions
    ) -> tuple[list[Reject], list[str]]:
        """A reject or a swap for each record norm kept out.

        Returns (rejects, swapped source lines): a record norm excluded at a position it named in
        a REF_MISMATCH line is swapped where the whole allele comparison justifies it, else
        rejected as ``ref_mismatch``. A record excluded with no such line is an error.
        """
        rejects: list[Reject] = []
        if not exclusions.excluded:
            return rejects, []
        from genopass.harmonise.alleles import (
            FieldNumbers,
            is_strand_ambiguous,
            permute_alleles,
            swap_allele_index,
            swap_order,
        )

        names = {d.source: d.target for d in plan if d.target}
        numbers = FieldNumbers.from_header(self.source.header_text.splitlines())
        swapped: list[str] = []
        with pysam.FastaFile(str(self.options.reference)) as fasta:
            for number, line in self._fetch_excluded(exclusions.excluded):
                fields = line.split("\t")
                chrom = names.get(fields[0], fields[0])
                if (chrom, int(fields[1])) not in stream.mismatch_sites:
                    raise AccountingError(
                        f"{self.vcf}: bcftools norm left out source record {number} "
                        f"({fields[0]}:{fields[1]} {fields[3]}>{fields[4]}) without saying why"
                    )
                alts = fields[4].split(",")
                longest = max(len(a) for a in [fields[3], *alts])
                start = int(fields[1]) - 1
                reference = fasta.fetch(chrom, start, start + longest).upper()
                index = swap_allele_index(fields[3], alts, reference)
                if index is None or is_strand_ambiguous(fields[3], alts[index]):
                    rejects.append(Reject(reasons.REF_MISMATCH, "harmonise", line))
                    continue
                order = swap_order(len(alts) + 1, index + 1)
                swapped.append("\t".join(permute_alleles(fields, order, numbers)))
        return rejects, swapped

    def _fetch_excluded(
        self, excluded: list[tuple[int, str, int, int]]
    ) -> Iterator[tuple[int, str]]:
        """(source number, source line with its number in INFO) of records norm kept out."""
        regions = self.work / "excluded-regions.tsv"
        sites = sorted({(chrom, pos) for _n, chrom, pos, _r in excluded})
        regions.write_text("".join(f"{c}\t{p}\t{p}\n" for c, p in sites))
        view = ["bcftools", "view", "--no-version", "-H", "--regions-overlap", "0"]
        text = run_tool(
            [*view, "-R", regions, *self.sample_args, self.source.indexed_path], about=self.vcf
        )
        at_site: dict[tuple[str, int], list[str]] = defaultdict(list)
        for line in text.splitlines():
            chrom, pos = line.split("\t", 2)[:2]
            at_site[(chrom, int(pos))].append(line)
        for number, chrom, pos, rank in excluded:
            lines = at_site.get((chrom, pos), [])
            if self.lift is not None:  # lifted records carry their number
                tag = f"{SOURCE_INFO}={number}"
                line = next((x for x in lines if tag in x.split("\t")[7].split(";")), None)
            else:
                line = lines[rank] if rank < len(lines) else None
                if line is not None:
                    line = _with_info(line, f"{SOURCE_INFO}={number}")
            if line is None:
                raise AccountingError(
                    f"{self.vcf}: source record {number} at {chrom}:{pos} cannot be read again"
                )
            yield number, line

    def output_header(self) -> str:
        kept = [
            (name, length)
            for name, length in self.target.items()
            if self.options.keep_non_primary or is_primary_name(name)
        ]
        out_samples = list(self.samples.values()) if self.samples else self.source.samples
        source_header = _stream_header(self.source, self.sample_args)
        header = standard_header(source_header, kept, self.options.reference_name, out_samples)
        if f"##INFO=<ID={SOURCE_INFO}," not in header:
            lines = header.rstrip("\n").split("\n")
            header = "\n".join([*lines[:-1], SOURCE_DEFINITION, lines[-1]]) + "\n"
        return header

    def merge_swapped(
        self,
        output: Path,
        header: str,
        plan: list[ContigDecision],
        swapped: list[str],
    ) -> Path:
        """Normalise the swapped records and merge them into the output, deduplicated by the
        stream's own rule (a swapped allele already in the output is a duplicate reject).

        The output is read and compressed once more: only inputs with swapped records pay it.
        """
        names = {d.source: d.target for d in plan if d.target}
        order = {name: i for i, name in enumerate(self.target)}
        renamed = []
        for line in swapped:
            chrom, rest = line.split("\t", 1)
            renamed.append(f"{names.get(chrom, chrom)}\t{rest}")
        renamed.sort(
            key=lambda r: (order.get(r.split("\t", 1)[0], len(order)), int(r.split("\t", 2)[1]))
        )
        small = self.work / "swapped.source.vcf"
        small.write_text(header + "".join(r + "\n" for r in renamed))
        normalised = self.work / "swapped.vcf.gz"
        norm = ["bcftools", "norm", "--no-version", "-Oz", "-m-any", "-f"]
        run_tool(
            [*norm, self.options.reference, "-c", "x", "-o", normalised, small], about=self.vcf
        )
        run_tool(["bcftools", "index", "-t", normalised], about=self.vcf)
        duplicates = self.work / "swap-duplicates.tsv"
        duplicates.touch()
        dedup = [awk(), "-v", f"gvcf={int(self.gvcf)}", "-v", f"wide={self.wide}"]
        dedup += ["-v", f"duplicates={duplicates}", DEDUP_AWK]
        threads = str(max(1, self.options.threads))
        concat = ["bcftools", "concat", "--no-version", "-a", "-Ov", output, normalised]
        merged_body = self.work / "merged.body.vcf.gz"
        bgzip = ["bgzip", "-c", "--threads", threads]
        run([concat, dedup, bgzip], about=self.vcf, stdout=merged_body, env=AWK_ENV)
        merged = self.work / "merged.vcf.gz"
        _join_header_and_body(header, merged_body, merged)
        return merged

    def write_rejects(
        self, path: Path, plan: list[ContigDecision], rejects: Iterable[Reject]
    ) -> None:
        """Rejected records with INFO GENOPASS_REJECT (reason) and GENOPASS_STEP (where)."""
        header_lines = [
            line for line in self.original.header_text.splitlines() if line.startswith("##")
        ]
        fileformat = next(
            (h for h in header_lines if h.startswith("##fileformat")), "##fileformat=VCFv4.2"
        )
        contigs = {d.source for d in plan} | {d.target for d in plan if d.target}
        contigs |= set(self.original.contig_lengths)
        names = list(self.samples.values()) if self.samples else self.original.samples
        columns = list(RECORD_COLUMNS) + (["FORMAT", *names] if names else [])
        definitions = [
            d
            for d in kept_definitions(header_lines)
            if not d.startswith(f"##INFO=<ID={SOURCE_INFO},")
        ]
        lines = [
            fileformat,
            *definitions,
            SOURCE_DEFINITION,
            f'##INFO=<ID={REJECT_INFO},Number=1,Type=String,Description="Why genopass '
            f'rejected the record">',
            f'##INFO=<ID={STEP_INFO},Number=1,Type=String,Description="The genopass step that '
            f'rejected the record (liftover: source build coordinates; harmonise: target)">',
            *(f"##contig=<ID={c}>" for c in sorted(contigs)),
            "\t".join(columns),
        ]
        with pysam.BGZFile(str(path), "wb") as out:
            out.write(("\n".join(lines) + "\n").encode())
            for reject in rejects:
                fields = reject.line.split("\t")
                tag = f"{REJECT_INFO}={reject.reason};{STEP_INFO}={reject.step}"
                fields[7] = tag if fields[7] == "." else f"{fields[7]};{tag}"
                out.write((scrub_paths("\t".join(fields)) + "\n").encode())

    def write_blocks(self, path: Path, stream_blocks: Path) -> None:
        """The sample's reference blocks as sorted, bgzipped BED + source number (+ .tbi).

        Intervals where the caller saw the reference (called hom-ref), so that later steps can
        tell them from positions that were not covered at all; empty for a plain VCF.
        """
        parts = [stream_blocks]
        if self.lift is not None and self.lift.blocks is not None:
            parts.append(self.lift.blocks)
        plain = self.work / "blocks.sorted.bed"
        # External sort (bounded memory); contigs in byte order, which tabix accepts.
        sort = ["sort", "-k1,1", "-k2,2n", "-k3,3n", "-k4,4n", "-S", "256M", "-T", str(self.work)]
        run_tool([*sort, "-o", plain, *parts], about=self.vcf, env={"LC_ALL": "C"})
        pysam.tabix_compress(str(plain), str(path), force=True)
        pysam.tabix_index(str(path), preset="bed", force=True)

    def measure(
        self,
        numbers: OutputNumbers,
        rejects: Path,
        blocks: Path,
        stream: StreamResult,
        exclusions: Exclusions,
        swapped: list[str],
    ) -> Accounting:
        """The accounting, read from the files written (``numbers``: the output file's)."""
        lift = self.lift
        out_samples = list(self.samples.values()) if self.samples else self.source.samples
        return measure(
            path=self.vcf,
            work=self.work,
            input_records=self.original.records,
            output_numbers=numbers,
            rejects=rejects,
            blocks=blocks,
            pieces=exclusions.pieces,
            samples=tuple(out_samples),
            source_build=self.build,
            swapped={"liftover": lift.swapped if lift else 0, "harmonise": len(swapped)},
            lifted_records=lift.output_records if lift else 0,
            block_bases_in=(lift.block_bases_in if lift else 0) + stream.block_bases,
        )

    def publish(self, output: Path, rejects: Path, blocks: Path, accounting: Accounting) -> None:
        """Move the measured files into place (renames keep their bytes)."""
        options = self.options
        if options.blocks:
            _move_with_index(blocks, Path(options.blocks))
        if options.rejects:
            _move(rejects, Path(options.rejects))
        if options.accounting:
            accounting.write(Path(options.accounting))
        _move_with_index(output, Path(options.out))  # last: its presence means all is done

    def _liftover_rejects(self) -> list[RejectFile]:
        return [] if self.lift is None else [RejectFile(self.lift.rejects, "liftover")]


def _excluded_records(stream: StreamResult, output: OutputNumbers) -> Exclusions:
    """Source records that entered norm and are neither in the output nor among the duplicates:
    the records norm kept out, as (number, contig, POS, rank).

    ``stream.sites`` has a row per record the triage read (number, contig, POS, ALT alleles
    entering norm: 0 for records it rejected or sent to the blocks file); ``output`` holds the
    source number of every record of the output file. The rank is the record's place among all
    the input's records at that contig and POS, so that it can be read again through the index.
    The sites are read in batches; per source number this keeps a byte (``pieces``) and, while it
    runs, two more (the output's counts, kept for the accounting, and ``came_out``).
    """
    size = stream.size
    came_out = output.counts(size) > 0
    with open(stream.duplicates) as handle:
        for line in handle:
            found = SOURCE_ITEM.search(line)
            if found:
                came_out[int(found.group(1))] = True
    pieces = np.zeros(size + 1, dtype=np.uint8)
    entered, rows, row = 0, [], 0
    for batch in iter_tsv(stream.sites, SITE_COLUMNS, "qsqq", ["number", "pos", "alleles"]):
        numbers, alleles = batch["number"], batch["alleles"]
        pieces[numbers] = np.minimum(alleles, 255)
        went_in = (alleles > 0) & (batch["pos"] != 0)  # POS 0 records went around norm
        entered += int(np.count_nonzero(went_in))
        rows.append(np.flatnonzero(went_in & ~came_out[numbers]) + row)
        row += len(numbers)
    del came_out
    kept_out = np.concatenate(rows) if rows else np.zeros(0, dtype=np.int64)
    excluded = _ranked(stream.sites, kept_out) if len(kept_out) else []
    return Exclusions(pieces, excluded, entered)


def _ranked(sites: Path, wanted: np.ndarray) -> list[tuple[int, str, int, int]]:
    """(number, contig, POS, rank at POS) of the rows ``wanted`` (sorted) of the sites file;
    the rank counts the rows just before it at the same contig and POS (across batches)."""
    excluded = []
    codes: dict[str, int] = {}  # contig name -> a code for the whole file
    names: list[str] = []
    previous = (-1, -1, 0)  # contig code, POS and run start of the row before the batch
    row = 0
    for batch in iter_tsv(sites, SITE_COLUMNS, "qsqq", ["number", "chrom", "pos"]):
        table = np.array([codes.setdefault(str(n), len(codes)) for n in batch["chrom"]], int)
        names.extend(list(codes)[len(names) :])
        chroms, positions = table[batch["chrom_code"]], batch["pos"]
        count = len(positions)
        starts = np.ones(count, dtype=bool)  # rows that start a run of one contig and POS
        starts[1:] = (positions[1:] != positions[:-1]) | (chroms[1:] != chroms[:-1])
        starts[0] = (chroms[0], positions[0]) != previous[:2]
        run = np.maximum.accumulate(np.where(starts, np.arange(count) + row, -1))
        run[run < 0] = previous[2]
        for at in (wanted[(wanted >= row) & (wanted < row + count)] - row).tolist():
            rank = row + at - int(run[at])
            number, chrom = int(batch["number"][at]), names[chroms[at]]
            excluded.append((number, chrom, int(positions[at]), rank))
        last = int(run[-1])
        previous = (int(chroms[-1]), int(positions[-1]), last)
        row += count
    return excluded


def _with_info(line: str, item: str) -> str:
    fields = line.split("\t")
    fields[7] = item if fields[7] == "." else f"{fields[7]};{item}"
    return "\t".join(fields)


def _count_error(vcf: Path, indexed: int, read: int) -> InputError:
    return InputError(
        f"{vcf}: its index counts {indexed} records but {read} were read: the file has lines "
        f"that cannot be parsed, or it was changed after it was indexed (then re-index it "
        f"with 'tabix -f')"
    )


def is_gvcf(header_text: str) -> bool:
    """A gVCF declares the reference-block allele (``<NON_REF>`` or ``<*>``) or its blocks."""
    return any(
        line.startswith(("##ALT=<ID=NON_REF,", "##ALT=<ID=*,", "##GVCFBlock"))
        for line in header_text.splitlines()
    )


def inspect_source(vcf: Path, work: Path) -> SourceInfo:
    """Read the header and the per-contig record counts (building an index if none exists)."""
    pysam.set_verbosity(0)  # htslib would print "no index" notes that are not errors here
    try:
        with pysam.VariantFile(str(vcf)) as handle:
            header = handle.header
            samples = list(header.samples)
            lengths = {name: header.contigs[name].length for name in header.contigs}
            header_text = str(header)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{vcf}: cannot read the VCF header ({exc}); is it a bgzipped VCF?"
        ) from exc
    indexed = _indexed_path(vcf, work)
    try:
        stats = run_tool(["bcftools", "index", "-s", indexed], about=vcf)
    except PipelineError as error:
        if "count metadata" not in error.stderrs[0] or indexed != vcf:
            raise
        # An index from an old tabix has no record counts: index a link of our own instead.
        indexed = _indexed_path(vcf, work, force=True)
        stats = run_tool(["bcftools", "index", "-s", indexed], about=vcf)
    counts: dict[str, int] = {}
    for line in stats.splitlines():
        contig, _length, records = line.split("\t")
        counts[contig] = int(records)
        lengths.setdefault(contig, None)  # records on contigs the header never declared
    return SourceInfo(vcf, indexed, samples, lengths, counts, header_text)


def _indexed_path(vcf: Path, work: Path, force: bool = False) -> Path:
    for suffix in (".tbi", ".csi"):
        index = Path(str(vcf) + suffix)
        if not force and index.exists() and index.stat().st_mtime >= vcf.stat().st_mtime:
            return vcf
    # Index a link in our work folder: the input's own folder may be read-only.
    link = work / ("input" + "".join(vcf.suffixes[-2:]))
    link.unlink(missing_ok=True)
    link.symlink_to(vcf.resolve())
    kind = "-c" if vcf.suffix == ".bcf" else "-t"
    failed = False
    try:
        stderr = run([["bcftools", "index", kind, link]], about=vcf).stderrs[0]
    except PipelineError as error:  # the damage and the bad record are told apart below
        failed, stderr = True, error.stderrs[0]
    damaged = re.search(r"\[E::bgzf_\w+\][^\n]*", stderr)
    if damaged:
        raise InputError(
            f"{vcf}: a compressed block is damaged ({damaged.group(0)}); the file was corrupted "
            f"in transfer: ask the centre to send it again"
        )
    offending = re.search(r'offending line was: "([^"]{0,200})', stderr)
    if offending:
        raise InputError(f"{vcf}: malformed record: {offending.group(1)!r}")
    if failed:
        raise InputError(f"{vcf}: cannot index it: {first_error(stderr)}")
    return link


def _select_samples(source: SourceInfo, wanted: dict[str, str]) -> dict[str, str]:
    missing = [name for name in wanted if name not in source.samples]
    if missing:
        shown = ", ".join(source.samples[:10]) + (" ..." if len(source.samples) > 10 else "")
        raise InputError(
            f"{source.path}: sample {', '.join(missing)} not in the VCF (its samples: "
            f"{shown or 'none'}); fix 'sample' or 'vcf_sample' in units.tsv"
        )
    return dict(wanted)


def declare_undefined_tags(source: SourceInfo, work: Path, stderr: str) -> SourceInfo:
    """A copy of the input whose header defines every INFO/FORMAT/FILTER that records use.

    Centres' VCFs sometimes use tags they never declared; htslib names each such tag while
    reading (``stderr``: what the tools printed). A FILTER declared so is kept; every tag
    declared so is named in the log.
    """
    tags = sorted({m.groups() for m in UNDEFINED_TAG.finditer(stderr)})
    if not tags:
        raise InputError(f"{source.path}: bcftools cannot read it: {first_error(stderr)}")
    log.warning(
        "%s: declaring what the header lacks: %s",
        source.path,
        ", ".join(f"{kind}/{tag}" for kind, tag in tags),
    )
    lines = source.header_text.rstrip("\n").split("\n")
    note = "Not declared by the source; declared by genopass"
    added = [
        f'##FILTER=<ID={tag},Description="{note}">'
        if kind == "FILTER"
        else f'##{kind}=<ID={tag},Number=.,Type=String,Description="{note}">'
        for kind, tag in tags
    ]
    # a new name each round: the copy of the round before is this one's input
    round_number = len(list(work.glob("declared-*.vcf.gz"))) + 1
    header_file = work / f"declared-header-{round_number}.vcf"
    header_file.write_text("\n".join(lines[:-1] + added + lines[-1:]) + "\n")
    fixed = work / f"declared-{round_number}.vcf.gz"
    run_tool(
        ["bcftools", "reheader", "-h", header_file, "-o", fixed, source.indexed_path],
        about=source.path,
    )
    run_tool(["bcftools", "index", "-t", "-f", fixed], about=source.path)
    return replace(source, indexed_path=fixed, header_text=header_file.read_text())


def _stream_header(source: SourceInfo, sample_args: list[str]) -> str:
    """The header the stream's records were written under (a subset adds INFO/AC and AN)."""
    args = ["bcftools", "view", "--no-version", "-h", *sample_args]
    return run_tool([*args, source.indexed_path], about=source.path)


def _join_header_and_body(header: str, body: Path, out: Path) -> None:
    """Concatenated BGZF members are one valid BGZF file: header block + record blocks."""
    with pysam.BGZFile(str(out), "wb") as handle:
        handle.write(header.encode())
    with open(out, "ab") as sink, open(body, "rb") as records:
        shutil.copyfileobj(records, sink, 1 << 20)


def _move(path: Path, out: Path) -> None:
    """Move a work file into place atomically (also across file systems)."""
    with atomic_output(out) as tmp:
        shutil.move(path, tmp)


def _move_with_index(path: Path, out: Path) -> None:
    """Move a file and its .tbi into place: index first, so a present file has its index."""
    index = Path(str(out) + ".tbi")
    _move(Path(str(path) + ".tbi"), index)
    _move(path, out)
    os.utime(index)  # newer than the file, or htslib warns that the index is stale
