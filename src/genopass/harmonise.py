"""Harmonise one VCF to the target reference in a single stream, compressed once.

    [bcftools view -s SAMPLES -T TARGET_CONTIGS]      only when a subset is needed
      | [bcftools annotate --rename-chrs MAP]          only when names differ
      | bcftools norm -m-any -f REF -c wx              split, left-align, trim; REF mismatches out
      | tee >(bcftools query CHROM/POS/REF/ALT | awk)  counts records, lists exact repeats
      | bcftools norm -d exact                         drops the repeats (first record kept)
      | bcftools view -H -Oz --threads N               records only: the header is written apart

The standard header (definitions kept, contigs of the target, pseudonyms, no paths or people) is
bgzipped on its own and put in front of the compressed records, so nothing is compressed twice.
Everything genopass adds is decided from the header or from the few rejected records, which are
fetched again through the index to write the rejects file with a reason each.

Around the stream, only where an input needs it:

- build: a declared build that is not the target's, or ``auto`` with liftover sources configured,
  is checked against the REF alleles of sampled records (:mod:`genopass.build`); an input on the
  target build is checked for free afterwards, from the share of REF mismatches norm reports;
- liftover: an input on another build first goes through :mod:`genopass.liftover`, whose sorted
  target-named output is the stream's input; its rejects and counts join the sample's;
- REF/ALT swaps: of the records norm excluded for a REF mismatch, those whose ALT is the reference
  allele (and that are not strand-ambiguous A/T, C/G SNVs) are swapped (GT/AD/PL/AF recoded),
  normalised on their own and merged into the output; only inputs that have any pay for it;
- gVCF: reference blocks (ALT only ``<NON_REF>``/``<*>``) go to a BED file of called hom-ref
  intervals, and the ``<NON_REF>`` allele of variant records is dropped after splitting.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

import pysam

from genopass.accounting import Accounting, LiftoverCounts
from genopass.contigs import AliasTable, ContigDecision, is_primary_name, plan_contigs
from genopass.errors import InputError
from genopass.header import kept_definitions, scrub_paths, standard_header
from genopass.io import atomic_output, check_bgzf_complete
from genopass.reference import ensure_fai, read_fai
from genopass.tools import PipelineError, first_error, require_tool, run_pipeline, run_tool

if TYPE_CHECKING:  # imported where used: inputs on the target build never load them
    from genopass.liftover import LiftoverResult, LiftoverSource

log = logging.getLogger(__name__)

AUTO = "auto"  # the build is detected (genopass.build)
REJECT_INFO = "GENOPASS_REJECT"
STEP_INFO = "GENOPASS_STEP"
REF_MISMATCH = "ref_mismatch"
DUPLICATE = "duplicate"
WHOLE_CONTIG_END = 2**31 - 2
# An input on the target build whose REFs mismatch at more than this share of records is checked
# for being on another build.
REQUIRED_MATCH = 0.9
BLOCK_EXPRESSION = 'N_ALT=1 && (ALT="<NON_REF>" || ALT="<*>")'
SYMBOLIC_REF_EXPRESSION = 'ALT="<NON_REF>" || ALT="<*>"'
UNDEFINED_TAG = re.compile(r"\b(INFO|FORMAT) '([^']+)'.* is not defined in the header")
# Prints every CHROM/POS/REF/ALT seen before at the same position (records arrive sorted), then
# the number of records. Constant memory: only one position's keys are held.
REPEATS_AWK = (
    'BEGIN { FS = "\\t" } '
    "{ site = $1 FS $2; if (site != last) { delete seen; last = site } "
    "if (seen[$0]++) print } "
    'END { print "#records\\t" NR }'
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
    blocks: Path | None = None  # gVCF reference blocks (BED, bgzipped + .tbi)


@dataclass(frozen=True)
class SourceInfo:
    """What the header and index say about the input."""

    path: Path
    indexed_path: Path  # the input itself, a link beside a fresh index, or a re-headered copy
    samples: list[str]
    contig_lengths: dict[str, int | None]
    records_per_contig: dict[str, int]
    header_text: str


@dataclass(frozen=True)
class StreamResult:
    records_in: int  # records that entered bcftools norm (its own count)
    ref_mismatches: list[tuple[str, int, str]]  # target contig, pos, REF as written
    normalised_records: int  # records that left bcftools norm
    repeats: list[tuple[str, ...]]  # CHROM, POS, REF, ALT of each exact repeat
    reference_blocks: int = 0  # gVCF reference blocks kept out of the stream


@dataclass(frozen=True)
class SwapResult:
    """REF-mismatch records whose ALT is the reference allele, swapped and normalised."""

    swapped_source: list[str]  # source lines that were swapped
    records: list[str]  # their normalised records (target names), not yet deduplicated
    duplicates: list[str]  # of those, the ones already in the output (rejected as duplicate)


def harmonise_vcf(vcf: Path, options: HarmoniseOptions) -> Accounting:
    """Harmonise ``vcf``; write output, index, rejects and accounting atomically."""
    vcf = Path(vcf)
    require_tool("bcftools")
    check_bgzf_complete(vcf)
    ensure_fai(options.reference)
    target = read_fai(options.reference)
    aliases = AliasTable.load([options.alias_table] if options.alias_table else None)
    with tempfile.TemporaryDirectory(prefix=".genopass-", dir=_tmp_parent(options.out)) as tmp:
        work = Path(tmp)
        source = inspect_source(vcf, work)
        samples = _select_samples(source, options.samples)
        build = _source_build(source, options, aliases, vcf)
        lift: LiftoverResult | None = None
        original = source
        if build != options.reference_name:
            lift, source = _lift(source, samples, build, options, aliases, work, vcf)
        try:
            plan = plan_contigs(
                source.contig_lengths,
                target,
                aliases,
                keep_non_primary=options.keep_non_primary,
                target_build=options.reference_name,
                path=vcf,
            )
        except InputError:
            if lift is None and options.liftover:
                _explain_build(source, options, aliases, vcf)  # the match rates, if they tell
            raise
        _require_some_target(plan, source, target, vcf)
        gvcf = is_gvcf(source.header_text)
        body = work / "body.vcf.gz"
        normalised = work / "normalised.bcf"
        try:
            stream = _stream(source, plan, samples, options, body, normalised, work, gvcf)
        except PipelineError as error:
            if not any(UNDEFINED_TAG.search(err) for err in error.stderrs):
                raise
            source = declare_undefined_tags(source, work)
            stream = _stream(source, plan, samples, options, body, normalised, work, gvcf)
        if lift is None:
            _check_ref_match_rate(source, stream, options, aliases, vcf)
        out_samples = list(samples.values()) if samples else source.samples
        mismatch_lines = _fetch_mismatch_lines(source, plan, samples, stream, work)
        swaps = _swap_mismatches(source, plan, samples, options, mismatch_lines, work)

        kept = [(name, length) for name, length in target.items() if _kept(name, options)]
        header = standard_header(
            _stream_header(source, samples), kept, options.reference_name, out_samples
        )
        final = work / "out.vcf.gz"
        _join_header_and_body(header, body, final)
        run_tool(["bcftools", "index", "-t", final], about=vcf)
        if swaps.records:
            final = _merge_swapped(final, header, swaps, options, work, vcf)

        accounting = _account(source, plan, stream, out_samples, swaps)
        if lift is not None:
            accounting = replace(
                accounting,
                input_records=sum(original.records_per_contig.values()),
                source_build=build,
                liftover=LiftoverCounts(
                    lift.input_records,
                    lift.output_records,
                    lift.rejected,
                    lift.swapped,
                    lift.reference_blocks,
                ),
            )
        else:
            accounting = replace(accounting, source_build=build)
        accounting.check(path=vcf)
        rejects = _collect_rejects(
            source,
            plan,
            samples,
            stream,
            normalised,
            work,
            mismatch_lines,
            frozenset(swaps.swapped_source),
        )
        rejects += [(DUPLICATE, line) for line in swaps.duplicates]
        lifted_rejects = _liftover_reject_lines(lift)
        accounting = accounting.with_output(_count_records(final))
        accounting.check(path=vcf)
        accounting.check_rejects(
            Counter(reason for reason, _ in [*rejects, *lifted_rejects]), path=vcf
        )

        if options.blocks:
            _write_blocks(options.blocks, source, plan, lift, gvcf, work)
        _publish(final, options.out)
        if options.rejects:
            _write_rejects(
                options.rejects,
                source,
                plan,
                samples,
                rejects,
                lifted=lifted_rejects,
                extra_contigs=list(original.contig_lengths) if lift else [],
            )
        if options.accounting:
            accounting.write(options.accounting)
    return accounting


def is_gvcf(header_text: str) -> bool:
    """A gVCF declares the reference-block allele (``<NON_REF>`` or ``<*>``) or its blocks."""
    return any(
        line.startswith(("##ALT=<ID=NON_REF,", "##ALT=<ID=*,", "##GVCFBlock"))
        for line in header_text.splitlines()
    )


def _source_build(
    source: SourceInfo, options: HarmoniseOptions, aliases: AliasTable, vcf: Path
) -> str:
    """The input's build: declared, or detected among the target and the liftover sources.

    An input declared on the target build, or ``auto`` with nothing to lift from, is checked
    after the stream from norm's REF mismatches (no extra read); otherwise records are sampled.
    """
    target = options.reference_name
    if options.build == target or (options.build == AUTO and not options.liftover):
        return target
    from genopass.build import decide_build, gather_evidence

    references = {target: options.reference, **{s.build: s.fasta for s in options.liftover}}
    if options.build != AUTO and options.build not in references:
        raise InputError(
            f"{vcf}: declared build {options.build}, but no liftover from {options.build} to "
            f"{target} is configured; add liftover: {{{options.build}: {{fasta: ..., "
            f"chain: ...}}}} to the config (or --liftover-fasta/--liftover-chain)"
        )
    evidence = gather_evidence(
        source.indexed_path, source.records_per_contig, source.contig_lengths, references, aliases
    )
    return decide_build(evidence, options.build, vcf)


def _explain_build(
    source: SourceInfo, options: HarmoniseOptions, aliases: AliasTable, vcf: Path
) -> None:
    """Raise the build error with the sampled match rates when they contradict the declaration."""
    from genopass.build import decide_build, gather_evidence

    references = {options.reference_name: options.reference}
    references |= {s.build: s.fasta for s in options.liftover}
    evidence = gather_evidence(
        source.indexed_path, source.records_per_contig, source.contig_lengths, references, aliases
    )
    declared = options.reference_name if options.build == AUTO else options.build
    decide_build(evidence, declared, vcf)


def _check_ref_match_rate(
    source: SourceInfo,
    stream: StreamResult,
    options: HarmoniseOptions,
    aliases: AliasTable,
    vcf: Path,
) -> None:
    """An input on the target build matches its REFs: many mismatches mean another build."""
    from genopass.build import MIN_SITES, decide_build, gather_evidence

    checked = stream.records_in
    if checked < MIN_SITES or len(stream.ref_mismatches) <= (1 - REQUIRED_MATCH) * checked:
        return
    references = {options.reference_name: options.reference}
    references |= {s.build: s.fasta for s in options.liftover}
    evidence = gather_evidence(
        source.indexed_path, source.records_per_contig, source.contig_lengths, references, aliases
    )
    declared = options.reference_name if options.build == AUTO else options.build
    decide_build(evidence, declared, vcf)  # raises when another build fits or none does
    share = 1 - len(stream.ref_mismatches) / checked
    raise InputError(
        f"{vcf}: REF matches the {options.reference_name} reference at only {share:.0%} of "
        f"{checked} records ({evidence.describe()}); the file is on another build or reference"
    )


def _lift(
    source: SourceInfo,
    samples: dict[str, str],
    build: str,
    options: HarmoniseOptions,
    aliases: AliasTable,
    work: Path,
    vcf: Path,
) -> tuple[LiftoverResult, SourceInfo]:
    from genopass.liftover import Lifter, UndeclaredTagError, lift_vcf

    by_build = {s.build: s for s in options.liftover}
    if build not in by_build:
        raise InputError(
            f"{vcf}: the file is on {build}, but no liftover from {build} to "
            f"{options.reference_name} is configured; add liftover: {{{build}: {{fasta: ..., "
            f"chain: ...}}}} to the config (or --liftover-fasta/--liftover-chain)"
        )
    folder = work / "liftover"
    folder.mkdir()
    lifter = Lifter(
        by_build[build],
        options.reference,
        source.contig_lengths,
        aliases,
        keep_non_primary=options.keep_non_primary,
        path=vcf,
    )
    subset = list(samples) if _needs_subset(source, samples) else None
    try:
        result = lift_vcf(vcf, source.indexed_path, source.header_text, subset, lifter, folder)
    except UndeclaredTagError:
        declared = declare_undefined_tags(source, folder)
        result = lift_vcf(vcf, declared.indexed_path, declared.header_text, subset, lifter, folder)
    finally:
        lifter.close()
    lifted = folder / "inspect"
    lifted.mkdir()
    return result, inspect_source(result.lifted, lifted)


def _tmp_parent(out: Path) -> Path:
    parent = Path(out).parent
    parent.mkdir(parents=True, exist_ok=True)
    return parent


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
    stats = subprocess.run(
        ["bcftools", "index", "-s", str(indexed)], capture_output=True, text=True
    )
    if stats.returncode != 0 and "count metadata" in stats.stderr and indexed == vcf:
        # An index from an old tabix has no record counts: index a link of our own instead.
        indexed = _indexed_path(vcf, work, force=True)
        stats = subprocess.run(
            ["bcftools", "index", "-s", str(indexed)], capture_output=True, text=True
        )
    if stats.returncode != 0:
        raise InputError(f"{vcf}: bcftools index failed: {first_error(stats.stderr)}")
    counts: dict[str, int] = {}
    for line in stats.stdout.splitlines():
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
    link.symlink_to(vcf.resolve())
    kind = "-c" if vcf.suffix == ".bcf" else "-t"
    proc = subprocess.run(["bcftools", "index", kind, str(link)], capture_output=True, text=True)
    damaged = re.search(r"\[E::bgzf_\w+\][^\n]*", proc.stderr)
    if damaged:
        raise InputError(
            f"{vcf}: a compressed block is damaged ({damaged.group(0)}); the file was corrupted "
            f"in transfer: ask the centre to send it again"
        )
    offending = re.search(r'offending line was: "([^"]{0,200})', proc.stderr)
    if offending:
        raise InputError(f"{vcf}: malformed record: {offending.group(1)!r}")
    if proc.returncode != 0:
        raise InputError(f"{vcf}: cannot index it: {first_error(proc.stderr)}")
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


def _require_some_target(
    plan: list[ContigDecision], source: SourceInfo, target: dict[str, int], vcf: Path
) -> None:
    with_records = [d for d in plan if source.records_per_contig.get(d.source, 0) > 0]
    if with_records and not any(d.target for d in with_records):
        names = ", ".join(d.source for d in with_records[:5])
        raise InputError(
            f"{vcf}: none of its contigs with records ({names}) maps to the target reference "
            f"({', '.join(list(target)[:5])}...): the contig naming is unknown to the alias "
            f"tables (resources/aliases/) or the file is on another reference"
        )


def _needs_subset(source: SourceInfo, samples: dict[str, str]) -> bool:
    return bool(samples) and list(samples) != source.samples


def _targets_args(source: SourceInfo, plan: list[ContigDecision], work: Path) -> list[str]:
    """``-T FILE`` of the kept contigs when records of other contigs are to be left out."""
    if not any(d.reason and source.records_per_contig.get(d.source, 0) for d in plan):
        return []
    targets = work / "targets.tsv"
    # Whole-contig targets in a file: contig names may contain ':' or '-'.
    targets.write_text("".join(f"{d.source}\t1\t{WHOLE_CONTIG_END}\n" for d in plan if d.target))
    return ["-T", str(targets)]


def _selection_stage(
    source: SourceInfo,
    plan: list[ContigDecision],
    samples: dict[str, str],
    work: Path,
    gvcf: bool = False,
) -> list[str] | None:
    """``bcftools view`` that subsets samples and contigs, or None when there is nothing to drop.

    For a gVCF it also leaves out the reference blocks (they go to the blocks file).
    """
    targets = _targets_args(source, plan, work)
    subset = _needs_subset(source, samples)
    if not targets and not subset and not gvcf:
        return None
    view = ["bcftools", "view", "--no-version", "-Ou", *targets]
    if subset:
        view += ["-s", ",".join(samples)]
    if gvcf:
        view += ["-e", BLOCK_EXPRESSION]
    return view


def _stream(
    source: SourceInfo,
    plan: list[ContigDecision],
    samples: dict[str, str],
    options: HarmoniseOptions,
    body: Path,
    normalised: Path,
    work: Path,
    gvcf: bool = False,
) -> StreamResult:
    stages: list[list[str]] = []
    blocks = _extract_blocks(source, plan, work) if gvcf else 0
    selection = _selection_stage(source, plan, samples, work, gvcf)
    if selection:
        stages.append([*selection, str(source.indexed_path)])
    renames = [d for d in plan if d.target and d.source != d.target]
    if renames:
        rename_file = work / "rename.tsv"
        rename_file.write_text("".join(f"{d.source}\t{d.target}\n" for d in renames))
        annotate = [
            "bcftools",
            "annotate",
            "--no-version",
            "-Ou",
            "--rename-chrs",
            str(rename_file),
        ]
        stages.append(annotate if stages else [*annotate, str(source.indexed_path)])
    norm = ["bcftools", "norm", "--no-version", "-Ou", "-m-any", "-f", str(options.reference)]
    norm += ["-c", "wx"]
    norm_stage = len(stages)
    stages.append(norm if stages else [*norm, str(source.indexed_path)])
    if gvcf:
        # The <NON_REF> allele of a variant record, split off by norm, is no sequence: dropped.
        stages.append(["bcftools", "view", "--no-version", "-Ou", "-e", SYMBOLIC_REF_EXPRESSION])

    keys_fifo = work / "keys.fifo"
    keys_fifo.unlink(missing_ok=True)  # a retry after declaring tags reuses the work folder
    os.mkfifo(keys_fifo)
    repeats_file = work / "repeats.tsv"
    # An uncompressed copy of the normalised stream, read again only if there are repeats.
    stages.append(["tee", str(keys_fifo), str(normalised)])
    stages.append(["bcftools", "norm", "--no-version", "-Ou", "-d", "exact"])
    threads = str(max(1, options.threads))
    stages.append(["bcftools", "view", "--no-version", "-H", "-Oz", "--threads", threads])
    # The side branch reads the fifo that tee writes: started first, so tee never blocks alone.
    with open(repeats_file, "wb") as out:
        query = subprocess.Popen(
            ["bcftools", "query", "-f", "%CHROM\t%POS\t%REF\t%ALT\n", str(keys_fifo)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        awk = subprocess.Popen(["awk", REPEATS_AWK], stdin=query.stdout, stdout=out)
        if query.stdout is not None:
            query.stdout.close()
        try:
            stderrs = run_pipeline(stages, about=source.path, stdout=body)
        finally:
            query_err = query.communicate()[1].decode(errors="replace")
            awk.wait()
    if query.returncode != 0 or awk.returncode != 0:
        raise InputError(f"{source.path}: counting normalised records failed: {query_err[-300:]}")
    records_in, mismatches = _parse_norm_stderr(stderrs[norm_stage], source.path)
    repeats, normalised_records = _parse_repeats(repeats_file)
    return StreamResult(records_in, mismatches, normalised_records, repeats, blocks)


def _extract_blocks(source: SourceInfo, plan: list[ContigDecision], work: Path) -> int:
    """Write the gVCF reference blocks of kept contigs to ``work/blocks.bed``; return their count.

    One line per block: target contig, 0-based start, end (half-open), as BED.
    """
    raw = work / "blocks.source.bed"
    run_tool(
        [
            "bcftools",
            "query",
            *_targets_args(source, plan, work),
            "-i",
            BLOCK_EXPRESSION,
            "-f",
            "%CHROM\t%POS0\t%END\n",
            source.indexed_path,
        ],
        about=source.path,
        stdout=raw,
    )
    names = {d.source: d.target for d in plan if d.target}
    count = 0
    with open(raw) as lines, open(work / "blocks.bed", "w") as out:
        for line in lines:
            chrom, rest = line.split("\t", 1)
            out.write(f"{names[chrom]}\t{rest}")
            count += 1
    return count


def _parse_norm_stderr(stderr: str, vcf: Path) -> tuple[int, list[tuple[str, int, str]]]:
    mismatches: list[tuple[str, int, str]] = []
    total = None
    for line in stderr.splitlines():
        if line.startswith("REF_MISMATCH\t"):
            _, chrom, pos, ref, *_ = line.split("\t")
            mismatches.append((chrom, int(pos), ref))
        elif line.startswith("Lines") and "total/split" in line:
            total = int(line.split("\t")[-1].split("/")[0])
    if total is None:
        raise InputError(f"{vcf}: bcftools norm printed no record counts; stderr: {stderr[-300:]}")
    return total, mismatches


def _parse_repeats(path: Path) -> tuple[list[tuple[str, ...]], int]:
    repeats: list[tuple[str, ...]] = []
    records = None
    for line in path.read_text().splitlines():
        fields = tuple(line.split("\t"))
        if fields[0] == "#records":
            records = int(fields[1])
        else:
            repeats.append(fields)
    if records is None:
        raise InputError(f"{path}: the record count of the normalised stream is missing")
    return repeats, records


def declare_undefined_tags(source: SourceInfo, work: Path) -> SourceInfo:
    """A copy of the input whose header defines every INFO/FORMAT tag that records use.

    BCF streams need every tag in the header before the first record; centres' VCFs
    sometimes use tags they never declared. htslib names each such tag once while reading.
    """
    scan = subprocess.run(
        ["bcftools", "view", "--no-version", "-Ov", "-o", os.devnull, str(source.indexed_path)],
        capture_output=True,
        text=True,
    )
    tags = sorted({m.groups() for m in UNDEFINED_TAG.finditer(scan.stderr)})
    if scan.returncode != 0:
        raise InputError(f"{source.path}: bcftools cannot read it: {first_error(scan.stderr)}")
    log.warning(
        "%s: declaring tags the header lacks: %s",
        source.path,
        ", ".join(f"{kind}/{tag}" for kind, tag in tags),
    )
    lines = source.header_text.rstrip("\n").split("\n")
    added = [
        f'##{kind}=<ID={tag},Number=.,Type=String,Description="Not declared by the source; '
        f'declared by genopass">'
        for kind, tag in tags
    ]
    header_file = work / "declared-header.vcf"
    header_file.write_text("\n".join(lines[:-1] + added + lines[-1:]) + "\n")
    fixed = work / "declared.vcf.gz"
    run_tool(
        ["bcftools", "reheader", "-h", header_file, "-o", fixed, source.indexed_path],
        about=source.path,
    )
    run_tool(["bcftools", "index", "-t", fixed], about=source.path)
    return replace(source, indexed_path=fixed, header_text=header_file.read_text())


def _stream_header(source: SourceInfo, samples: dict[str, str]) -> str:
    """The header the stream's records were written under (a subset adds INFO/AC and AN)."""
    args = ["bcftools", "view", "--no-version", "-h"]
    if _needs_subset(source, samples):
        args += ["-s", ",".join(samples)]
    return run_tool([*args, source.indexed_path], about=source.path)


def _join_header_and_body(header: str, body: Path, out: Path) -> None:
    """Concatenated BGZF members are one valid BGZF file: header block + record blocks."""
    with pysam.BGZFile(str(out), "wb") as handle:
        handle.write(header.encode())
    with open(out, "ab") as sink, open(body, "rb") as records:
        shutil.copyfileobj(records, sink, 1 << 20)


def _account(
    source: SourceInfo,
    plan: list[ContigDecision],
    stream: StreamResult,
    samples: list[str],
    swaps: SwapResult,
) -> Accounting:
    contig_rejects: Counter[str] = Counter()
    for decision in plan:
        if decision.reason:
            contig_rejects[decision.reason] += source.records_per_contig.get(decision.source, 0)
    return Accounting(
        samples=tuple(samples),
        input_records=sum(source.records_per_contig.values()),
        rejected={
            **{reason: count for reason, count in sorted(contig_rejects.items())},
            REF_MISMATCH: len(stream.ref_mismatches) - len(swaps.swapped_source),
        },
        passed_to_norm=stream.records_in,
        normalised_records=stream.normalised_records + len(swaps.records),
        duplicates=len(stream.repeats) + len(swaps.duplicates),
        swapped=len(swaps.swapped_source),
        reference_blocks=stream.reference_blocks,
    )


RejectLine = tuple[str, str]  # reason, VCF record line


def _fetch_mismatch_lines(
    source: SourceInfo,
    plan: list[ContigDecision],
    samples: dict[str, str],
    stream: StreamResult,
    work: Path,
) -> list[str]:
    """The source lines (samples subset) of the records norm excluded for a REF mismatch."""
    if not stream.ref_mismatches:
        return []
    sample_args = ["-s", ",".join(samples)] if _needs_subset(source, samples) else []
    return [line for _, line in _mismatch_lines(source, plan, sample_args, stream, work)]


def _collect_rejects(
    source: SourceInfo,
    plan: list[ContigDecision],
    samples: dict[str, str],
    stream: StreamResult,
    normalised: Path,
    work: Path,
    mismatch_lines: list[str],
    swapped: frozenset[str] = frozenset(),
) -> list[RejectLine]:
    rejects: list[RejectLine] = []
    sample_args = ["-s", ",".join(samples)] if _needs_subset(source, samples) else []
    for decision in plan:
        if decision.reason and source.records_per_contig.get(decision.source, 0):
            regions = work / "reject-regions.tsv"
            regions.write_text(f"{decision.source}\t1\t{WHOLE_CONTIG_END}\n")
            lines = _record_lines(source, ["-R", str(regions), *sample_args])
            rejects.extend((decision.reason, line) for line in lines)
    rejects.extend((REF_MISMATCH, line) for line in mismatch_lines if line not in swapped)
    if stream.repeats:
        rejects.extend(_repeat_lines(stream.repeats, normalised, work))
    return rejects


def _swap_mismatches(
    source: SourceInfo,
    plan: list[ContigDecision],
    samples: dict[str, str],
    options: HarmoniseOptions,
    mismatch_lines: list[str],
    work: Path,
) -> SwapResult:
    """Swap REF and ALT where an ALT, not the REF, is the reference allele; never guess strands.

    The swapped records are normalised by the same norm command as the stream (split,
    left-aligned, trimmed), in a small file of their own.
    """
    if not mismatch_lines:
        return SwapResult([], [], [])
    from genopass.alleles import (
        FieldNumbers,
        is_strand_ambiguous,
        permute_alleles,
        reference_allele_index,
        swap_order,
    )

    names = {d.source: d.target for d in plan if d.target}
    numbers = FieldNumbers.from_header(source.header_text.splitlines())
    swapped_source, swapped_lines = [], []
    with pysam.FastaFile(str(options.reference)) as fasta:
        for line in mismatch_lines:
            fields = line.split("\t")
            alts = fields[4].split(",")
            longest = max(len(a) for a in [fields[3], *alts])
            start = int(fields[1]) - 1
            reference = fasta.fetch(names[fields[0]], start, start + longest).upper()
            index = reference_allele_index(alts, reference)
            if index is None or is_strand_ambiguous(fields[3], alts[index]):
                continue
            swapped_source.append(line)
            order = swap_order(len(alts) + 1, index + 1)
            swapped_lines.append("\t".join(permute_alleles(fields, order, numbers)))
    if not swapped_lines:
        return SwapResult([], [], [])
    header = _stream_header(source, samples)
    small = work / "swapped.source.vcf"
    small.write_text(header + "".join(line + "\n" for line in swapped_lines))
    renames = [d for d in plan if d.target and d.source != d.target]
    stages: list[list[str]] = []
    if renames:
        rename_file = work / "rename.tsv"
        rename_file.write_text("".join(f"{d.source}\t{d.target}\n" for d in renames))
        annotate = ["bcftools", "annotate", "--no-version", "-Ou", "--rename-chrs"]
        stages.append([*annotate, str(rename_file), str(small)])
    norm = ["bcftools", "norm", "--no-version", "-Ov", "-m-any", "-f", str(options.reference)]
    norm += ["-c", "x"]
    stages.append(norm if stages else [*norm, str(small)])
    if is_gvcf(source.header_text):
        stages.append(["bcftools", "view", "--no-version", "-Ov", "-e", SYMBOLIC_REF_EXPRESSION])
    normalised = work / "swapped.normalised.vcf"
    run_pipeline(stages, about=source.path, stdout=normalised)
    records = [
        line for line in normalised.read_text().splitlines() if line and not line.startswith("#")
    ]
    return SwapResult(swapped_source, records, [])


def _merge_swapped(
    final: Path,
    header: str,
    swaps: SwapResult,
    options: HarmoniseOptions,
    work: Path,
    vcf: Path,
) -> Path:
    """Merge the swapped records into the output, in position order, leaving out exact repeats.

    The output is re-read and compressed once more: only inputs with swapped records pay it.
    """
    existing: set[tuple[str, ...]] = set()
    sites = work / "swapped-sites.tsv"
    sites.write_text("".join("\t".join(r.split("\t", 2)[:2]) + "\n" for r in swaps.records))
    query = ["bcftools", "query", "-T", sites, "-f", "%CHROM\t%POS\t%REF\t%ALT\n", final]
    text = run_tool(query, about=vcf)
    existing.update(tuple(line.split("\t")) for line in text.splitlines())
    kept, duplicates = [], []
    for record in swaps.records:
        key = tuple(record.split("\t", 5)[:5])
        key = (key[0], key[1], key[3], key[4])
        if key in existing:
            duplicates.append(record)
        else:
            existing.add(key)
            kept.append(record)
    swaps.duplicates.extend(duplicates)
    if not kept:
        return final
    order = {name: i for i, name in enumerate(re.findall(r"##contig=<ID=([^,>]+)", header))}
    kept.sort(key=lambda r: (order.get(r.split("\t", 1)[0], len(order)), int(r.split("\t", 2)[1])))
    extra = work / "swapped.vcf.gz"
    with pysam.BGZFile(str(extra), "wb") as handle:
        handle.write((header + "".join(r + "\n" for r in kept)).encode())
    run_tool(["bcftools", "index", "-t", extra], about=vcf)
    merged = work / "merged.vcf.gz"
    threads = str(max(1, options.threads))
    concat = ["bcftools", "concat", "--no-version", "-a", "-Oz", "--threads", threads]
    run_tool([*concat, "-o", merged, final, extra], about=vcf)
    run_tool(["bcftools", "index", "-t", merged], about=vcf)
    return merged


def _record_lines(source: SourceInfo, args: list[str]) -> list[str]:
    text = run_tool(
        ["bcftools", "view", "--no-version", "-H", *args, source.indexed_path], about=source.path
    )
    return text.splitlines()


def _mismatch_lines(
    source: SourceInfo,
    plan: list[ContigDecision],
    sample_args: list[str],
    stream: StreamResult,
    work: Path,
) -> Iterator[RejectLine]:
    to_source = {d.target: d.source for d in plan if d.target}
    wanted = Counter((to_source[chrom], pos, ref) for chrom, pos, ref in stream.ref_mismatches)
    regions = work / "mismatch-regions.tsv"
    regions.write_text("".join(f"{c}\t{p}\t{p}\n" for c, p, _ in sorted(set(wanted))))
    found: Counter[tuple[str, int, str]] = Counter()
    for line in _record_lines(source, ["-R", str(regions), *sample_args]):
        chrom, pos, _id, ref = line.split("\t", 4)[:4]
        key = (chrom, int(pos), ref)
        if found[key] < wanted[key]:
            found[key] += 1
            yield REF_MISMATCH, line


def _repeat_lines(
    repeats: list[tuple[str, ...]], normalised: Path, work: Path
) -> Iterator[RejectLine]:
    wanted = Counter(repeats)
    sites = work / "repeat-sites.tsv"
    sites.write_text("".join(f"{c}\t{p}\n" for c, p in sorted({k[:2] for k in repeats})))
    text = run_tool(
        ["bcftools", "view", "--no-version", "-H", "-T", sites, normalised], about=normalised
    )
    seen: Counter[tuple[str, ...]] = Counter()
    for line in text.splitlines():
        key = tuple(line.split("\t", 5)[:5])
        key = (key[0], key[1], key[3], key[4])
        seen[key] += 1
        # The first record of a key stays in the output; the later ones are the rejects.
        if seen[key] > 1 and wanted[key] > 0:
            wanted[key] -= 1
            yield DUPLICATE, line


def _kept(contig: str, options: HarmoniseOptions) -> bool:
    return options.keep_non_primary or is_primary_name(contig)


def _count_records(vcf: Path) -> int:
    text = run_tool(["bcftools", "index", "-n", vcf], about=vcf)
    return int(text.strip() or 0)


def _publish(final: Path, out: Path) -> None:
    """Move output and index into place: index first, so a present VCF always has its index."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    index = Path(str(out) + ".tbi")
    os.replace(str(final) + ".tbi", index)
    os.replace(final, out)
    os.utime(index)  # newer than the VCF, or htslib warns that the index is stale


def _liftover_reject_lines(lift: LiftoverResult | None) -> list[RejectLine]:
    """The liftover step's rejects: (reason, source line)."""
    if lift is None:
        return []
    lines = []
    with open(lift.rejects) as handle:
        for line in handle:
            reason, record = line.rstrip("\n").split("\t", 1)
            lines.append((reason, record))
    return lines


def _write_blocks(
    path: Path,
    source: SourceInfo,
    plan: list[ContigDecision],
    lift: LiftoverResult | None,
    gvcf: bool,
    work: Path,
) -> None:
    """The sample's reference blocks as sorted, bgzipped BED (+ .tbi); empty for a plain VCF.

    Intervals where the caller saw the reference (called hom-ref), so that later steps can tell
    them from positions that were not covered at all.
    """
    parts = [p for p in (work / "blocks.bed", lift.blocks if lift else None) if p and p.exists()]
    plain = work / "blocks.sorted.bed"
    plain.write_text("")
    if parts:
        # External sort (bounded memory); contigs in byte order, which tabix accepts.
        sort = ["sort", "-k1,1", "-k2,2n", "-k3,3n", "-S", "256M", "-T", str(work), "-o"]
        proc = subprocess.run(
            [*sort, str(plain), *map(str, parts)],
            capture_output=True,
            text=True,
            env={**os.environ, "LC_ALL": "C"},
        )
        if proc.returncode != 0:
            raise InputError(
                f"{source.path}: sorting reference blocks failed: {proc.stderr[-300:]}"
            )
    with atomic_output(path) as tmp:
        compressed = Path(str(tmp) + ".gz")
        pysam.tabix_compress(str(plain), str(compressed), force=True)
        pysam.tabix_index(str(compressed), preset="bed", force=True)
        os.replace(str(compressed) + ".tbi", str(path) + ".tbi")
        os.replace(compressed, tmp)
    os.utime(str(path) + ".tbi")


def _write_rejects(
    path: Path,
    source: SourceInfo,
    plan: list[ContigDecision],
    samples: dict[str, str],
    rejects: Iterable[RejectLine],
    *,
    lifted: Iterable[RejectLine] = (),
    extra_contigs: Iterable[str] = (),
) -> None:
    """Rejected records with INFO GENOPASS_REJECT (reason) and GENOPASS_STEP (where)."""
    header_lines = [line for line in source.header_text.splitlines() if line.startswith("##")]
    fileformat = next(
        (h for h in header_lines if h.startswith("##fileformat")), "##fileformat=VCFv4.2"
    )
    contigs = {d.source for d in plan} | {d.target for d in plan if d.target} | set(extra_contigs)
    names = list(samples.values()) if samples else source.samples
    columns = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    if names:
        columns += ["FORMAT", *names]
    lines = [
        fileformat,
        *kept_definitions(header_lines),
        f'##INFO=<ID={REJECT_INFO},Number=1,Type=String,Description="Why genopass '
        f'rejected the record">',
        f'##INFO=<ID={STEP_INFO},Number=1,Type=String,Description="The genopass step that '
        f'rejected the record (liftover: source build coordinates; harmonise: target)">',
        *(f"##contig=<ID={c}>" for c in sorted(contigs)),
        "\t".join(columns),
    ]
    with atomic_output(path) as tmp, pysam.BGZFile(str(tmp), "wb") as out:
        out.write(("\n".join(lines) + "\n").encode())
        for step, step_rejects in (("liftover", lifted), ("harmonise", rejects)):
            for reason, line in step_rejects:
                fields = line.split("\t")
                tag = f"{REJECT_INFO}={reason};{STEP_INFO}={step}"
                fields[7] = tag if fields[7] == "." else f"{fields[7]};{tag}"
                out.write((scrub_paths("\t".join(fields)) + "\n").encode())
