"""Harmonise one VCF to the target reference in a single stream of bcftools stages.

    bcftools view (sample subset, keep target contigs)
      | bcftools annotate --rename-chrs (centre names -> target names)
      | bcftools norm -m-any -f REF -c wx (split, left-align, trim; REF mismatches excluded)
      -> uncompressed BCF -> exact duplicates removed -> bgzip with the standard header -> index

Everything genopass adds is decided from the header (contig plan, header, pseudonyms) or from
the few records that are rejected, so the per-record work stays in bcftools. Rejected records
are fetched again through the index to write the rejects file with a reason each.
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import tempfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd
import pysam

from genopass.accounting import Accounting
from genopass.contigs import AliasTable, ContigDecision, plan_contigs
from genopass.errors import InputError
from genopass.fasta import ensure_fai, read_fai
from genopass.header import scrub_paths, standard_header
from genopass.io import atomic_output, check_bgzf_complete
from genopass.tools import PipelineError, first_error, run_pipeline, run_tool

log = logging.getLogger(__name__)

REJECT_INFO = "GENOPASS_REJECT"
REF_MISMATCH = "ref_mismatch"
DUPLICATE = "duplicate"


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
    indexed_path: Path  # the input itself, or a link beside a freshly built index
    samples: list[str]
    contig_lengths: dict[str, int | None]
    records_per_contig: dict[str, int]
    header_text: str


def harmonise_vcf(vcf: Path, options: HarmoniseOptions) -> Accounting:
    """Harmonise ``vcf``; write output, index, rejects and accounting atomically."""
    vcf = Path(vcf)
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
        normalised = work / "normalised.bcf"
        try:
            norm_stats = _normalise(source, plan, samples, options, normalised, work)
        except PipelineError as error:
            if not undefined_tags(error):
                raise
            source = declare_undefined_tags(source, work)
            norm_stats = _normalise(source, plan, samples, options, normalised, work)
        normalised_records, duplicates = _scan_keys(normalised)
        deduplicated = _drop_duplicates(normalised, work) if duplicates else normalised
        out_samples = list(samples.values()) if samples else source.samples
        accounting = _account(
            source, plan, norm_stats, normalised_records, len(duplicates), out_samples
        )
        rejects = _collect_rejects(source, plan, samples, norm_stats, duplicates, normalised, work)
        accounting.check(path=vcf)
        accounting.check_rejects(Counter(reason for reason, _ in rejects), path=vcf)
        final = work / "out.vcf.gz"
        kept = [(name, target[name]) for name in target if _kept(name, options)]
        _compress_with_header(deduplicated, final, kept, options, out_samples, work)
        output_records = _count_records(final, work)
        accounting = accounting.with_output(output_records)
        accounting.check(path=vcf)
        _publish(final, options.out)
        if options.rejects:
            _write_rejects(options.rejects, source, plan, samples, rejects)
        if options.accounting:
            with atomic_output(options.accounting) as tmp_table:
                accounting.to_frame().to_csv(tmp_table, sep="\t", index=False)
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


@dataclass(frozen=True)
class NormStats:
    records_in: int
    ref_mismatches: list[tuple[str, int, str]]  # target contig, pos, REF as written


def _normalise(
    source: SourceInfo,
    plan: list[ContigDecision],
    samples: dict[str, str],
    options: HarmoniseOptions,
    out: Path,
    work: Path,
) -> NormStats:
    kept = [d for d in plan if d.target]
    targets_file = work / "targets.tsv"
    # Whole-contig targets in a file: contig names may contain ':' or '-'.
    targets_file.write_text("".join(f"{d.source}\t1\t{2**31 - 2}\n" for d in kept))
    view = ["bcftools", "view", "--no-version", "-Ou", "-T", targets_file, source.indexed_path]
    if samples:
        view[3:3] = ["-s", ",".join(samples)]
    stages = [view]
    renames = [d for d in kept if d.source != d.target]
    if renames:
        rename_file = work / "rename.tsv"
        rename_file.write_text("".join(f"{d.source}\t{d.target}\n" for d in renames))
        stages.append(["bcftools", "annotate", "--no-version", "-Ou", "--rename-chrs", rename_file])
    stages.append(
        ["bcftools", "norm", "--no-version", "-Ou", "-m-any", "-f", options.reference, "-c", "wx"]
    )
    stderrs = run_pipeline(stages, about=source.path, stdout=out)
    return _parse_norm_stderr(stderrs[-1], source.path)


UNDEFINED_TAG = re.compile(r"\b(INFO|FORMAT) '([^']+)'.* is not defined in the header")


def undefined_tags(error: PipelineError) -> bool:
    return any(UNDEFINED_TAG.search(err) for err in error.stderrs)


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


def _parse_norm_stderr(stderr: str, vcf: Path) -> NormStats:
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
    return NormStats(total, mismatches)


KeyTuple = tuple[str, str, str, str]  # CHROM, POS, REF, ALT as written


def _scan_keys(bcf: Path) -> tuple[int, list[KeyTuple]]:
    """Count normalised records and list the repeats of CHROM/POS/REF/ALT (first kept).

    Streams ``bcftools query`` through Arrow's CSV reader in batches; only the records at
    the last position of a batch are carried over, so memory stays bounded.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv

    names = ["chrom", "pos", "ref", "alt"]
    proc = subprocess.Popen(
        ["bcftools", "query", "-f", "%CHROM\t%POS\t%REF\t%ALT\n", str(bcf)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    total = 0
    repeats: list[KeyTuple] = []
    carry = pd.DataFrame(columns=names, dtype=str)
    try:
        reader = pacsv.open_csv(
            proc.stdout,
            read_options=pacsv.ReadOptions(column_names=names, block_size=16 << 20),
            parse_options=pacsv.ParseOptions(delimiter="\t", quote_char=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False
            ),
        )
        for batch in reader:
            frame = batch.to_pandas()
            total += len(frame)
            both = pd.concat([carry, frame], ignore_index=True)
            repeated = both.duplicated(keep="first").to_numpy().copy()
            repeated[: len(carry)] = False  # carried rows were judged with the last batch
            repeats.extend(map(tuple, both[repeated].itertuples(index=False, name=None)))
            last = both.iloc[-1]
            carry = both[(both.chrom == last.chrom) & (both.pos == last.pos)]
    except pa.ArrowInvalid as exc:
        if "Empty CSV file" not in str(exc):
            raise InputError(f"{bcf}: cannot read normalised records ({exc})") from exc
    finally:
        stderr = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
        proc.wait()
    if proc.returncode != 0:
        raise InputError(f"{bcf}: bcftools query failed: {stderr.strip()[:300]}")
    return total, repeats


def _drop_duplicates(bcf: Path, work: Path) -> Path:
    out = work / "deduplicated.bcf"
    run_tool(["bcftools", "norm", "--no-version", "-Ou", "-d", "exact", "-o", out, bcf], about=bcf)
    return out


def _account(
    source: SourceInfo,
    plan: list[ContigDecision],
    norm: NormStats,
    normalised_records: int,
    duplicates: int,
    samples: list[str],
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
            REF_MISMATCH: len(norm.ref_mismatches),
        },
        passed_to_norm=norm.records_in,
        normalised_records=normalised_records,
        duplicates=duplicates,
    )


RejectLine = tuple[str, str]  # reason, VCF record line


def _collect_rejects(
    source: SourceInfo,
    plan: list[ContigDecision],
    samples: dict[str, str],
    norm: NormStats,
    duplicates: list[KeyTuple],
    normalised: Path,
    work: Path,
) -> list[RejectLine]:
    rejects: list[RejectLine] = []
    sample_args = ["-s", ",".join(samples)] if samples else []
    for decision in plan:
        if decision.reason and source.records_per_contig.get(decision.source, 0):
            regions = work / "reject-regions.tsv"
            regions.write_text(f"{decision.source}\t1\t{2**31 - 2}\n")
            lines = _record_lines(source, ["-R", regions, *sample_args])
            rejects.extend((decision.reason, line) for line in lines)
    if norm.ref_mismatches:
        rejects.extend(_mismatch_lines(source, plan, sample_args, norm, work))
    if duplicates:
        rejects.extend(_duplicate_lines(duplicates, normalised, work))
    return rejects


def _record_lines(source: SourceInfo, args: list) -> list[str]:
    text = run_tool(
        ["bcftools", "view", "--no-version", "-H", *args, source.indexed_path], about=source.path
    )
    return text.splitlines()


def _mismatch_lines(
    source: SourceInfo,
    plan: list[ContigDecision],
    sample_args: list,
    norm: NormStats,
    work: Path,
) -> Iterator[RejectLine]:
    to_source = {d.target: d.source for d in plan if d.target}
    wanted = Counter((to_source[chrom], pos, ref) for chrom, pos, ref in norm.ref_mismatches)
    regions = work / "mismatch-regions.tsv"
    regions.write_text("".join(f"{chrom}\t{pos}\t{pos}\n" for chrom, pos, _ in sorted(set(wanted))))
    found: Counter[tuple[str, int, str]] = Counter()
    for line in _record_lines(source, ["-R", regions, *sample_args]):
        chrom, pos, _id, ref = line.split("\t", 4)[:4]
        key = (chrom, int(pos), ref)
        if found[key] < wanted[key]:
            found[key] += 1
            yield REF_MISMATCH, line


def _duplicate_lines(
    duplicates: list[KeyTuple], normalised: Path, work: Path
) -> Iterator[RejectLine]:
    wanted = Counter(duplicates)
    sites = work / "duplicate-sites.tsv"
    sites.write_text("".join(f"{c}\t{p}\n" for c, p in sorted({k[:2] for k in duplicates})))
    text = run_tool(
        ["bcftools", "view", "--no-version", "-H", "-T", sites, normalised], about=normalised
    )
    seen: Counter[KeyTuple] = Counter()
    for line in text.splitlines():
        chrom, pos, _id, ref, alt = line.split("\t", 5)[:5]
        key = (chrom, pos, ref, alt)
        seen[key] += 1
        # The first record of a key stays in the output; the later ones are the rejects.
        if seen[key] > 1 and wanted[key] > 0:
            wanted[key] -= 1
            yield DUPLICATE, line


def _kept(contig: str, options: HarmoniseOptions) -> bool:
    from genopass.contigs import is_primary_name

    return options.keep_non_primary or is_primary_name(contig)


def _compress_with_header(
    bcf: Path,
    out: Path,
    contigs: list[tuple[str, int]],
    options: HarmoniseOptions,
    samples: list[str],
    work: Path,
) -> None:
    with pysam.VariantFile(str(bcf)) as handle:
        source_header = str(handle.header)
    header_file = work / "header.vcf"
    header_file.write_text(standard_header(source_header, contigs, options.reference_name, samples))
    compressed = work / "body.vcf.gz"
    run_tool(
        [
            "bcftools",
            "view",
            "--no-version",
            "-Oz",
            "--threads",
            str(options.threads),
            "-o",
            compressed,
            bcf,
        ],
        about=bcf,
    )
    run_tool(["bcftools", "reheader", "-h", header_file, "-o", out, compressed], about=bcf)
    run_tool(["bcftools", "index", "-t", out], about=out)


def _count_records(vcf: Path, work: Path) -> int:
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
    from genopass.header import kept_definitions

    kept = kept_definitions(header_lines)
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
        *kept,
        f'##INFO=<ID={REJECT_INFO},Number=1,Type=String,Description="Why genopass '
        f'rejected the record">',
        *(f"##contig=<ID={c}>" for c in sorted(contigs)),
        "\t".join(columns),
    ]
    with atomic_output(path) as tmp:
        with pysam.BGZFile(str(tmp), "wb") as out:
            out.write(("\n".join(lines) + "\n").encode())
            for reason, line in rejects:
                fields = line.split("\t")
                info = fields[7]
                tag = f"{REJECT_INFO}={reason}"
                fields[7] = tag if info == "." else f"{info};{tag}"
                out.write((scrub_paths("\t".join(fields)) + "\n").encode())
