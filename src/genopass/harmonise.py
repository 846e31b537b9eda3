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

import pysam

from genopass.accounting import Accounting
from genopass.contigs import AliasTable, ContigDecision, is_primary_name, plan_contigs
from genopass.errors import InputError
from genopass.fasta import ensure_fai, read_fai
from genopass.header import kept_definitions, scrub_paths, standard_header
from genopass.io import atomic_output, check_bgzf_complete
from genopass.tools import PipelineError, first_error, require_tool, run_pipeline, run_tool

log = logging.getLogger(__name__)

REJECT_INFO = "GENOPASS_REJECT"
REF_MISMATCH = "ref_mismatch"
DUPLICATE = "duplicate"
WHOLE_CONTIG_END = 2**31 - 2
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
        plan = plan_contigs(
            source.contig_lengths,
            target,
            aliases,
            keep_non_primary=options.keep_non_primary,
            target_build=options.reference_name,
            path=vcf,
        )
        _require_some_target(plan, source, target, vcf)
        body = work / "body.vcf.gz"
        normalised = work / "normalised.bcf"
        try:
            stream = _stream(source, plan, samples, options, body, normalised, work)
        except PipelineError as error:
            if not any(UNDEFINED_TAG.search(err) for err in error.stderrs):
                raise
            source = declare_undefined_tags(source, work)
            stream = _stream(source, plan, samples, options, body, normalised, work)
        out_samples = list(samples.values()) if samples else source.samples
        accounting = _account(source, plan, stream, out_samples)
        accounting.check(path=vcf)

        kept = [(name, length) for name, length in target.items() if _kept(name, options)]
        header = standard_header(
            _stream_header(source, samples), kept, options.reference_name, out_samples
        )
        final = work / "out.vcf.gz"
        _join_header_and_body(header, body, final)
        rejects = _collect_rejects(source, plan, samples, stream, normalised, work)
        run_tool(["bcftools", "index", "-t", final], about=vcf)
        accounting = accounting.with_output(_count_records(final))
        accounting.check(path=vcf)
        accounting.check_rejects(Counter(reason for reason, _ in rejects), path=vcf)

        _publish(final, options.out)
        if options.rejects:
            _write_rejects(options.rejects, source, plan, samples, rejects)
        if options.accounting:
            accounting.write(options.accounting)
    return accounting


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
    counts: dict[str, int] = {}
    for line in run_tool(["bcftools", "index", "-s", indexed], about=vcf).splitlines():
        contig, _length, records = line.split("\t")
        counts[contig] = int(records)
        lengths.setdefault(contig, None)  # records on contigs the header never declared
    return SourceInfo(vcf, indexed, samples, lengths, counts, header_text)


def _indexed_path(vcf: Path, work: Path) -> Path:
    for suffix in (".tbi", ".csi"):
        index = Path(str(vcf) + suffix)
        if index.exists() and index.stat().st_mtime >= vcf.stat().st_mtime:
            return vcf
    # Index a link in our work folder: the input's own folder may be read-only.
    link = work / ("input" + "".join(vcf.suffixes[-2:]))
    link.symlink_to(vcf.resolve())
    kind = "-c" if vcf.suffix == ".bcf" else "-t"
    proc = subprocess.run(["bcftools", "index", kind, str(link)], capture_output=True, text=True)
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


def _selection_stage(
    source: SourceInfo, plan: list[ContigDecision], samples: dict[str, str], work: Path
) -> list[str] | None:
    """``bcftools view`` that subsets samples and contigs, or None when there is nothing to drop."""
    rejected_records = any(d.reason and source.records_per_contig.get(d.source, 0) for d in plan)
    subset = _needs_subset(source, samples)
    if not rejected_records and not subset:
        return None
    view = ["bcftools", "view", "--no-version", "-Ou"]
    if rejected_records:
        targets = work / "targets.tsv"
        # Whole-contig targets in a file: contig names may contain ':' or '-'.
        targets.write_text(
            "".join(f"{d.source}\t1\t{WHOLE_CONTIG_END}\n" for d in plan if d.target)
        )
        view += ["-T", str(targets)]
    if subset:
        view += ["-s", ",".join(samples)]
    return view


def _stream(
    source: SourceInfo,
    plan: list[ContigDecision],
    samples: dict[str, str],
    options: HarmoniseOptions,
    body: Path,
    normalised: Path,
    work: Path,
) -> StreamResult:
    stages: list[list[str]] = []
    selection = _selection_stage(source, plan, samples, work)
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
    return StreamResult(records_in, mismatches, normalised_records, repeats)


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
    source: SourceInfo, plan: list[ContigDecision], stream: StreamResult, samples: list[str]
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
            REF_MISMATCH: len(stream.ref_mismatches),
        },
        passed_to_norm=stream.records_in,
        normalised_records=stream.normalised_records,
        duplicates=len(stream.repeats),
    )


RejectLine = tuple[str, str]  # reason, VCF record line


def _collect_rejects(
    source: SourceInfo,
    plan: list[ContigDecision],
    samples: dict[str, str],
    stream: StreamResult,
    normalised: Path,
    work: Path,
) -> list[RejectLine]:
    rejects: list[RejectLine] = []
    sample_args = ["-s", ",".join(samples)] if _needs_subset(source, samples) else []
    for decision in plan:
        if decision.reason and source.records_per_contig.get(decision.source, 0):
            regions = work / "reject-regions.tsv"
            regions.write_text(f"{decision.source}\t1\t{WHOLE_CONTIG_END}\n")
            lines = _record_lines(source, ["-R", str(regions), *sample_args])
            rejects.extend((decision.reason, line) for line in lines)
    if stream.ref_mismatches:
        rejects.extend(_mismatch_lines(source, plan, sample_args, stream, work))
    if stream.repeats:
        rejects.extend(_repeat_lines(stream.repeats, normalised, work))
    return rejects


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


def _write_rejects(
    path: Path,
    source: SourceInfo,
    plan: list[ContigDecision],
    samples: dict[str, str],
    rejects: Iterable[RejectLine],
) -> None:
    header_lines = [line for line in source.header_text.splitlines() if line.startswith("##")]
    fileformat = next(
        (h for h in header_lines if h.startswith("##fileformat")), "##fileformat=VCFv4.2"
    )
    contigs = {d.source for d in plan} | {d.target for d in plan if d.target}
    names = list(samples.values()) if samples else source.samples
    columns = ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    if names:
        columns += ["FORMAT", *names]
    lines = [
        fileformat,
        *kept_definitions(header_lines),
        f'##INFO=<ID={REJECT_INFO},Number=1,Type=String,Description="Why genopass '
        f'rejected the record">',
        *(f"##contig=<ID={c}>" for c in sorted(contigs)),
        "\t".join(columns),
    ]
    with atomic_output(path) as tmp, pysam.BGZFile(str(tmp), "wb") as out:
        out.write(("\n".join(lines) + "\n").encode())
        for reason, line in rejects:
            fields = line.split("\t")
            tag = f"{REJECT_INFO}={reason}"
            fields[7] = tag if fields[7] == "." else f"{fields[7]};{tag}"
            out.write((scrub_paths("\t".join(fields)) + "\n").encode())
