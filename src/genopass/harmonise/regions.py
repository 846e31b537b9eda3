"""Harmonisation scattered by region, and its deterministic gather (``scatter.region_size``).

A sample's VCF (on the target build) is harmonised in one job per scatter region of the target
(:func:`genopass.inputs.plan.scatter_regions`: fixed windows of the primary contigs, then one
region for every other contig) and gathered into the very files one job writes:

1. :func:`count_regions` reads CHROM and POS of every record once, in file order, and writes
   the region table: per run of records of one region, its source contig, the number of its
   first record (the record's place in the file, 1-based: the source number the unsplit run
   gives it) and its record count. A record belongs to the window its POS lies in, whatever its
   length; records on contigs that no window covers go to the region ``other``.
2. :func:`harmonise_region` harmonises the records of one region (``bcftools view -r
   --regions-overlap pos``: by POS, the same rule as the table) with the unchanged stream of
   :mod:`genopass.harmonise.stream`, which numbers them 1..n and measures their accounting;
   the numbers are then shifted to the file's (the table's runs), so that every record keeps
   the source number it has in an unsplit run.
3. :func:`gather_regions` concatenates the regions' outputs in file order (``bcftools concat
   --naive``: no recompression), their rejects and their blocks (sorted as one job sorts them),
   and measures the accounting on the gathered files (:func:`accounting.measure`: every source
   number 1..N in exactly one of output, rejects and blocks).

Normalisation can move a record across a window boundary: left-alignment moves an indel in a
repeat to lower positions, trimming a shared first base moves a record one base up. Where that
happens the two regions' outputs overlap at the seam; the gather merges the records of the seam
by position (ties: the record read first, as bcftools norm orders them) and removes repeated
alleles there with the stream's own deduplication (:data:`stream.DEDUP_AWK`), so that the
gathered output equals the unsplit one. A record that moves past a whole window is refused with
a message asking for a larger region size.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pysam

from genopass import reasons
from genopass.errors import InputError, UsageError
from genopass.harmonise.accounting import (
    REJECT_INFO,
    STEP_INFO,
    Accounting,
    AccountingError,
    measure,
    output_numbers,
)
from genopass.harmonise.header import scrub_paths
from genopass.harmonise.region_read import RegionRead, Run
from genopass.harmonise.stream import DEDUP_AWK, HarmoniseJob, HarmoniseOptions, inspect_source
from genopass.inputs.contigs import AliasTable, plan_contigs
from genopass.inputs.plan import OTHER_REGION, Region, scatter_regions
from genopass.inputs.reference import ensure_fai, read_fai
from genopass.io import atomic_output, check_bgzf_complete, work_folder
from genopass.tools import AWK_ENV, awk, require_tool, run_pipeline, run_tool

TABLE_COLUMNS = ("region", "contig", "start", "end", "first", "records")

# Per record (CHROM TAB POS, in file order): the runs of consecutive records of one window
# (contig TAB window index, -1 for contigs no window covers) with their first number and count.
COUNT_AWK = r"""
BEGIN {
    FS = OFS = "\t"
    while ((getline line < windows) > 0) { split(line, f, "\t"); count[f[1]] = f[2] }
    close(windows)
}
/^#/ { next }
{
    n++
    if ($1 in count) {
        w = int(($2 - 1) / size); if (w < 0) w = 0; if (w >= count[$1]) w = count[$1] - 1
    } else w = -1
    if (n == 1 || $1 != contig || w != window) {
        if (n > 1) print contig, window, first, n - first
        contig = $1; window = w; first = n
    }
}
END { if (n > 0) print contig, window, first, n - first + 1 }
"""

# Shifts the source number of every record (first 8 columns of a VCF line; column 4 of a BED
# line of blocks) from the region's 1..n to the file's: runs "local first TAB file first".
RENUMBER_AWK = r"""
function shifted(n,   i) {
    for (i = runs; i >= 1; i--) if (n >= local[i]) return n - local[i] + file[i]
    return n
}
BEGIN {
    FS = OFS = "\t"
    while ((getline line < table) > 0) {
        split(line, f, "\t"); runs++; local[runs] = f[1]; file[runs] = f[2]
    }
    close(table)
}
bed { $4 = shifted($4); print; next }
/^#/ { print; next }
{
    match($0, /^[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*\t[^\t]*/)
    head = substr($0, 1, RLENGTH); tail = substr($0, RLENGTH + 1)
    x = ";" head
    if (match(x, /[\t;]GENOPASS_SOURCE=[0-9]+/)) {
        number = substr(x, RSTART + 17, RLENGTH - 17)
        head = substr(x, 2, RSTART + 16 - 1) shifted(number) substr(x, RSTART + RLENGTH)
    }
    print head tail
}
"""


# --- the region table -----------------------------------------------------------------------


def count_regions(
    vcf: Path,
    reference: Path,
    region_size: int,
    out: Path,
    *,
    alias_table: Path | None = None,
    keep_non_primary: bool = False,
    reference_name: str = "GRCh38",
) -> str:
    """Write the region table of ``vcf`` (one read of CHROM and POS); return a summary line."""
    require_tool("bcftools")
    check_bgzf_complete(vcf)
    ensure_fai(reference)
    target = read_fai(reference)
    regions = scatter_regions(target, region_size)
    aliases = AliasTable.load([alias_table] if alias_table else None)
    with work_folder(out) as work:
        source = inspect_source(vcf, work)
        plan = plan_contigs(
            source.contig_lengths,
            target,
            aliases,
            keep_non_primary=keep_non_primary,
            target_build=reference_name,
            path=vcf,
        )
        windows_of: dict[str, list[Region]] = {}
        for region in regions:
            if region.is_window:
                windows_of.setdefault(region.contig, []).append(region)
        # a source contig gets windows when it maps to a target contig that has them and its
        # records are harmonised (a rejected contig goes whole to the region other)
        source_windows = {
            d.source: windows_of[d.target]
            for d in plan
            if d.target and not d.reason and d.target in windows_of
        }
        windows = work / "windows.tsv"
        windows.write_text("".join(f"{c}\t{len(w)}\n" for c, w in source_windows.items()))
        path = source.indexed_path
        read = (
            ["bcftools", "view", "--no-version", "-Ov", str(path)]
            if path.suffix == ".bcf"
            else ["bgzip", "-dc", str(path)]
        )
        count = [awk(), "-v", f"windows={windows}", "-v", f"size={region_size}", COUNT_AWK]
        found = work / "runs.tsv"
        run_pipeline([read, ["cut", "-f1,2"], count], about=vcf, stdout=found, env=AWK_ENV)
        runs = []
        for line in found.read_text().splitlines():
            contig, window, first, records = line.split("\t")
            if int(window) < 0:
                runs.append(Run(OTHER_REGION, contig, 0, None, int(first), int(records)))
            else:
                region = source_windows[contig][int(window)]
                runs.append(
                    Run(region.name, contig, region.start, region.end, int(first), int(records))
                )
    total = sum(run.records for run in runs)
    if total != source.records:
        raise InputError(
            f"{vcf}: its index counts {source.records} records but {total} were read; re-index "
            f"it with 'tabix -f'"
        )
    seen = [run.region for run in runs if run.region != OTHER_REGION]
    repeated = sorted({name for name in seen if seen.count(name) > 1})
    if repeated:
        raise InputError(
            f"{vcf}: the records of region {repeated[0]} are not together in the file (it is "
            f"not sorted by position); sort it ('bcftools sort')"
        )
    write_table(out, runs)
    used = len({run.region for run in runs})
    return f"{vcf}: {total} records in {used} of {len(regions)} regions"


def write_table(path: Path, runs: Iterable[Run]) -> None:
    with atomic_output(path) as tmp, open(tmp, "w", newline="") as handle:
        writer = csv.writer(handle, delimiter="\t", lineterminator="\n")
        writer.writerow(TABLE_COLUMNS)
        for run in runs:
            end = "" if run.end is None else run.end
            writer.writerow([run.region, run.contig, run.start, end, run.first, run.records])


def read_table(path: Path) -> list[Run]:
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle, delimiter="\t"))
    if not rows or tuple(rows[0]) != TABLE_COLUMNS:
        raise UsageError(f"{path}: not a region table of 'genopass region-counts'")
    return [
        Run(r[0], r[1], int(r[2]), int(r[3]) if r[3] else None, int(r[4]), int(r[5]))
        for r in rows[1:]
    ]


# --- one region -------------------------------------------------------------------------------


class _RegionJob(HarmoniseJob):
    """The stream's job on the records of one region (:attr:`region`, set on a subclass made
    per region by :func:`_region_job`): it reads them only (``bcftools view -r``), takes them for
    the whole input, and keeps what its accounting measured per source number (the ALT alleles
    that entered normalisation), which the gather's accounting needs."""

    region: RegionRead = RegionRead(())
    pieces: np.ndarray | None = None

    def __post_init__(self) -> None:
        super().__post_init__()
        self.source = self.region.restrict(self.source)  # the region's records are the input
        self.original = self.source

    def read_stage(self) -> list[str]:
        view = ["bcftools", "view", "--no-version", "-Ov", *self.sample_args]
        return [*view, *self.region.view_args(), str(self.source.indexed_path)]

    def measure(self, numbers, rejects, blocks, stream, exclusions, swapped):  # type: ignore[no-untyped-def]
        self.pieces = exclusions.pieces
        return super().measure(numbers, rejects, blocks, stream, exclusions, swapped)


def _region_job(read: RegionRead) -> type[_RegionJob]:
    return type("RegionJob", (_RegionJob,), {"region": read})


def pieces_path(out: Path) -> Path:
    """The alleles-per-record file beside a region's output (uint8 per record, in order)."""
    return Path(str(out).removesuffix(".vcf.gz") + ".pieces")


def harmonise_region(vcf: Path, options: HarmoniseOptions, table: Path, region: str) -> Accounting:
    """Harmonise the records of ``region`` (a name of the region table ``table``) and write the
    output, rejects, blocks and accounting that ``options`` name, with the file's source
    numbers, plus the alleles-per-record file (:func:`pieces_path`) for the gather."""
    if options.liftover or options.build not in ("auto", options.reference_name):
        raise UsageError(
            f"--region: only an input on the target build {options.reference_name} is "
            f"harmonised by region (an input to lift over runs in one job)"
        )
    if not (options.rejects and options.accounting and options.blocks):
        raise UsageError("--region needs --rejects, --accounting and --blocks (for the gather)")
    runs = tuple(run for run in read_table(table) if run.region == region)
    read = RegionRead(runs)
    require_tool("bcftools")
    check_bgzf_complete(vcf)
    ensure_fai(options.reference)
    aliases = AliasTable.load([options.alias_table] if options.alias_table else None)
    with work_folder(options.out) as work:
        local = work / "local"
        local.mkdir()
        malformed = _local_malformed(options.malformed, runs, work / "malformed.tsv")
        job_options = replace(
            options,
            malformed=malformed,
            out=local / "out.vcf.gz",
            rejects=local / "rejects.vcf.gz",
            blocks=local / "blocks.bed.gz",
            accounting=local / "accounting.tsv",
        )
        job_work = work / "job"
        job_work.mkdir()
        job = _region_job(read)(vcf, job_options, aliases, job_work)
        accounting = job.run()
        numbers = work / "renumber.tsv"
        numbers.write_text(read.renumber_table())
        threads = str(max(1, options.threads))
        for name, final, index in (
            ("blocks.bed.gz", Path(options.blocks), "bed"),
            ("rejects.vcf.gz", Path(options.rejects), None),
            ("out.vcf.gz", Path(options.out), "vcf"),
        ):
            _renumber(local / name, final, numbers, index, threads, vcf)
            if name == "rejects.vcf.gz":
                pieces = job.pieces if job.pieces is not None else np.zeros(1, np.uint8)
                with atomic_output(pieces_path(Path(options.out))) as path:
                    path.write_bytes(pieces[1 : read.records + 1].astype(np.uint8).tobytes())
                with atomic_output(Path(options.accounting)) as path:
                    shutil.copyfile(local / "accounting.tsv", path)
    return accounting


def _local_malformed(listed: Path | None, runs: Sequence[Run], out: Path) -> Path | None:
    """The malformed records (file ordinal TAB defect) of the region, numbered 1..n as the
    region job reads them."""
    if listed is None:
        return None
    starts, local = [], 1
    for run in runs:
        starts.append((run.first, run.first + run.records, local))
        local += run.records
    lines = []
    with open(listed) as handle:
        for row in handle:
            ordinal, _, defect = row.rstrip("\n").partition("\t")
            number = int(ordinal)
            for first, stop, base in starts:
                if first <= number < stop:
                    lines.append(f"{number - first + base}\t{defect}\n")
    out.write_text("".join(lines))
    return out


def _renumber(
    path: Path, final: Path, table: Path, index: str | None, threads: str, about: Path
) -> None:
    """Shift the source numbers of a region file into place (atomically, with its index)."""
    renumber = [awk(), "-v", f"table={table}", "-v", f"bed={int(index == 'bed')}", RENUMBER_AWK]
    shifted = path.with_name("file-numbers." + path.name)
    compress = ["bgzip", "-c", "--threads", threads]
    stages = [["bgzip", "-dc", str(path)], renumber, compress]
    run_pipeline(stages, about=about, stdout=shifted, env=AWK_ENV)
    if index is not None:
        pysam.tabix_index(str(shifted), preset=index, force=True)
    _publish(shifted, final, index=index is not None)


# --- the gather -------------------------------------------------------------------------------


@dataclass(frozen=True)
class GatherOptions:
    out: Path
    rejects: Path
    accounting: Path
    blocks: Path
    threads: int = 1


@dataclass(frozen=True)
class Piece:
    """One region's output in the gathered file: its records with POS in ``low..high`` of its
    contig (None: unbounded), the rest having gone to a seam."""

    region: str
    path: Path
    contig: str
    start: int
    end: int | None
    low: int | None = None
    high: int | None = None

    @property
    def trimmed(self) -> bool:
        return self.low is not None or self.high is not None


def region_files(folder: Path, region: str) -> dict[str, Path]:
    """The files of one region job under ``folder`` (the workflow's names)."""
    return {
        "vcf": folder / f"{region}.vcf.gz",
        "rejects": folder / f"{region}.rejects.vcf.gz",
        "blocks": folder / f"{region}.blocks.bed.gz",
        "accounting": folder / f"{region}.accounting.tsv",
        "pieces": folder / f"{region}.pieces",
    }


def gather_regions(table: Path, folder: Path, options: GatherOptions, about: Path) -> Accounting:
    """Gather the region jobs' files under ``folder`` into the sample's files (see the module)."""
    runs = read_table(table)
    order: list[str] = []
    for run in runs:  # the regions in file order (first record first)
        if run.region not in order:
            order.append(run.region)
    target_of = _target_contigs(runs)
    with work_folder(options.out) as work:
        header, paths = _one_header(order, folder, work, about)
        pieces, seams, duplicates = _pieces_and_seams(order, runs, paths, target_of, work)
        parts = _output_parts(pieces, seams, header, work)
        output = work / "out.vcf.gz"
        if parts:
            concat = ["bcftools", "concat", "--no-version", "--naive", "-Oz", "-o", str(output)]
            run_tool([*concat, *map(str, parts)], about=about)
        else:  # no record at all: the header of any region (every region job writes one)
            shutil.copyfile(_any_region(folder, table)["vcf"], output)
        run_tool(["bcftools", "index", "-t", str(output)], about=about)
        rejects = work / "rejects.vcf.gz"
        _gather_rejects(folder, order, table, duplicates, rejects, work, about)
        blocks = work / "blocks.bed.gz"
        _gather_blocks(folder, order, blocks, work, about)
        accounting = _measure(runs, order, folder, output, rejects, blocks, work, about)
        accounting.write(options.accounting)
        _publish(blocks, options.blocks, index=True)
        _publish(rejects, options.rejects, index=False)
        _publish(output, options.out, index=True)
    return accounting


def _any_region(folder: Path, table: Path) -> dict[str, Path]:
    """The files of some region job (the region table names none when the input is empty)."""
    found = sorted(folder.glob("*.accounting.tsv"))
    if not found:
        raise UsageError(f"{folder}: no region job's files (genopass harmonise --region)")
    return region_files(folder, found[0].name.removesuffix(".accounting.tsv"))


def _target_contigs(runs: Sequence[Run]) -> dict[str, str]:
    """region -> the target contig of its window (from the region's name, CONTIG.N)."""
    return {run.region: run.region.rsplit(".", 1)[0] for run in runs if run.region != OTHER_REGION}


def _positions(vcf: Path, region: str, about: Path) -> list[tuple[int, str]]:
    """(POS, line) of the records of ``vcf`` in ``region`` (by POS), in file order."""
    text = run_tool(
        ["bcftools", "view", "--no-version", "-H", "-r", region, "--regions-overlap", "pos", vcf],
        about=about,
    )
    return [(int(line.split("\t", 2)[1]), line) for line in text.splitlines()]


def _pieces_and_seams(
    order: Sequence[str],
    runs: Sequence[Run],
    paths: dict[str, Path],
    target_of: dict[str, str],
    work: Path,
) -> tuple[list[Piece], dict[int, list[str]], Path]:
    """The pieces in order, and the merged records of each seam where normalisation moved
    records across a boundary (seam i lies before piece i), deduplicated; the duplicates'
    lines go to the returned file."""
    window = {run.region: run for run in runs}
    pieces = []
    for region in order:
        run = window[region]
        contig = target_of.get(region, "")
        pieces.append(Piece(region, paths[region], contig, run.start, run.end))
    seams: dict[int, list[str]] = {}
    duplicates = work / "seam-duplicates.tsv"
    duplicates.touch()
    for i in range(1, len(pieces)):
        before, after = pieces[i - 1], pieces[i]
        if not before.contig or before.contig != after.contig:
            continue
        boundary = after.start
        moved_up = _positions(before.path, f"{before.contig}:{boundary}-", before.path)
        moved_down = _positions(after.path, f"{after.contig}:1-{boundary - 1}", after.path)
        if not moved_up and not moved_down:
            continue
        low = min([pos for pos, _ in moved_down] + [boundary])
        high = max([pos for pos, _ in moved_up] + [boundary - 1])
        if low < before.start or (after.end is not None and high > after.end):
            raise InputError(
                f"{before.path}: normalisation moved a record across a whole region near "
                f"{before.contig}:{boundary}; give a larger scatter.region_size"
            )
        tail = _positions(before.path, f"{before.contig}:{low}-", before.path)
        head = _positions(after.path, f"{after.contig}:1-{high}", after.path)
        if before.low is not None and before.low > low - 1:
            raise InputError(
                f"{before.path}: two seams overlap near {before.contig}:{boundary}; give a "
                f"larger scatter.region_size"
            )
        # stable by POS: at the same position the record read first (the earlier region)
        merged = sorted(tail + head, key=lambda item: item[0])
        seams[i] = _deduplicate([line for _, line in merged], duplicates, work)
        pieces[i - 1] = replace(before, high=low - 1)
        pieces[i] = replace(after, low=high + 1)
    return pieces, seams, duplicates


def _deduplicate(lines: list[str], duplicates: Path, work: Path) -> list[str]:
    """The stream's deduplication (DEDUP_AWK) of a seam's records; repeats appended to
    ``duplicates`` (one line each, as the stream's duplicates file)."""
    seam_in = work / "seam.vcf"
    seam_in.write_text("".join(line + "\n" for line in lines))
    found = work / "seam.duplicates"
    found.write_text("")
    dedup = [awk(), "-v", "gvcf=0", "-v", "wide=1", "-v", f"duplicates={found}", DEDUP_AWK]
    kept = run_tool([*dedup, str(seam_in)], about=seam_in, env=AWK_ENV)
    with open(duplicates, "a") as handle:
        handle.write(found.read_text())
    return kept.splitlines()


DECLARED = 'Description="Not declared by the source; declared by genopass"'
"""In the definition of a tag that records use and the source header lacks (the stream declares
it: :func:`stream.declare_undefined_tags`)."""


def _one_header(
    order: Sequence[str], folder: Path, work: Path, about: Path
) -> tuple[str, dict[str, Path]]:
    """The header of the gathered output and the region outputs under it (region -> file).

    The regions' headers differ only where a region's records use a tag that the source header
    lacks: the stream declares it in that region only. One job declares every such tag, sorted,
    in one place; so does the gathered header, and the regions without it are reheadered."""
    paths = {region: region_files(folder, region)["vcf"] for region in order}
    headers = {region: _header(path) for region, path in paths.items()}
    distinct = set(headers.values())
    if len(distinct) <= 1:
        return (distinct.pop() if distinct else ""), paths

    def split(text: str) -> tuple[list[str], list[str]]:
        lines = text.rstrip("\n").split("\n")
        return [x for x in lines if DECLARED not in x], [x for x in lines if DECLARED in x]

    bases = {tuple(split(text)[0]) for text in distinct}
    if len(bases) > 1:
        raise AccountingError(f"{about}: the regions' outputs have different headers")
    declared = sorted(
        {line for text in distinct for line in split(text)[1]},
        key=lambda line: (line[2 : line.index("=")], line.split("ID=", 1)[1].split(",", 1)[0]),
    )
    model = next(text for text in distinct if split(text)[1]).rstrip("\n").split("\n")
    at = next(i for i, line in enumerate(model) if DECLARED in line)
    base = [line for line in model if DECLARED not in line]
    header = "\n".join([*base[:at], *declared, *base[at:]]) + "\n"
    new_header = work / "header.vcf"
    new_header.write_text(header)
    for region, text in headers.items():
        if text != header:
            fixed = work / f"reheadered.{region}.vcf.gz"
            reheader = ["bcftools", "reheader", "-h", str(new_header), "-o", str(fixed)]
            run_tool([*reheader, str(paths[region])], about=about)
            paths[region] = fixed
    return header, paths


def _header(vcf: Path) -> str:
    return run_tool(["bcftools", "view", "--no-version", "-h", vcf], about=vcf)


def _output_parts(
    pieces: Sequence[Piece], seams: dict[int, list[str]], header: str, work: Path
) -> list[Path]:
    """The files to concatenate: each piece (cut to its bounds when a seam took records) and
    each seam's merged records, all under the same header."""
    parts: list[Path] = []
    for i, piece in enumerate(pieces):
        if i in seams:
            seam = work / f"seam.{i}.vcf.gz"
            with pysam.BGZFile(str(seam), "wb") as handle:
                handle.write((header + "".join(line + "\n" for line in seams[i])).encode())
            parts.append(seam)
        if not piece.trimmed:
            parts.append(piece.path)
            continue
        low = piece.low if piece.low is not None else 1
        high = "" if piece.high is None else piece.high
        cut = work / f"piece.{i}.vcf.gz"
        view = ["bcftools", "view", "--no-version", "-Oz", "-o", str(cut), "--regions-overlap"]
        run_tool([*view, "pos", "-r", f"{piece.contig}:{low}-{high}", piece.path], about=piece.path)
        parts.append(cut)
    return parts


def _gather_rejects(
    folder: Path,
    order: Sequence[str],
    table: Path,
    duplicates: Path,
    out: Path,
    work: Path,
    about: Path,
) -> None:
    """The regions' rejects in file order, then the seams' duplicates (as the stream writes
    them: INFO GENOPASS_REJECT=duplicate, GENOPASS_STEP=harmonise)."""
    files = [region_files(folder, region)["rejects"] for region in order]
    if not files:
        files = [_any_region(folder, table)["rejects"]]
    lines = duplicates.read_text().splitlines()
    if lines:
        extra = work / "seam-rejects.vcf.gz"
        header = _header(files[0])
        with pysam.BGZFile(str(extra), "wb") as handle:
            handle.write(header.encode())
            for line in lines:
                fields = line.split("\t")
                tag = f"{REJECT_INFO}={reasons.DUPLICATE};{STEP_INFO}=harmonise"
                fields[7] = tag if fields[7] == "." else f"{fields[7]};{tag}"
                handle.write((scrub_paths("\t".join(fields)) + "\n").encode())
        files.append(extra)
    concat = ["bcftools", "concat", "--no-version", "--naive", "-Oz", "-o", str(out)]
    run_tool([*concat, *map(str, files)], about=about)


def _gather_blocks(folder: Path, order: Sequence[str], out: Path, work: Path, about: Path) -> None:
    """Every region's blocks, sorted as one job sorts them (contig, start, end, number)."""
    plain = work / "blocks.bed"
    with open(plain, "wb") as sink:
        for region in order:
            path = region_files(folder, region)["blocks"]
            with pysam.BGZFile(str(path), "rb") as source:
                shutil.copyfileobj(source, sink)
    sort = ["sort", "-k1,1", "-k2,2n", "-k3,3n", "-k4,4n", "-S", "256M", "-T", str(work)]
    run_tool([*sort, "-o", plain, plain], about=about, env={"LC_ALL": "C"})
    pysam.tabix_compress(str(plain), str(out), force=True)
    pysam.tabix_index(str(out), preset="bed", force=True)


def _measure(
    runs: Sequence[Run],
    order: Sequence[str],
    folder: Path,
    output: Path,
    rejects: Path,
    blocks: Path,
    work: Path,
    about: Path,
) -> Accounting:
    """The accounting of the gathered files (:func:`accounting.measure`), with the alleles per
    source number that each region job measured, and the counts that no file holds (swaps,
    block bases read) summed over the regions' tables."""
    total = sum(run.records for run in runs)
    pieces = np.zeros(total + 1, dtype=np.uint8)
    rows = []
    for region in order:
        files = region_files(folder, region)
        local = np.frombuffer(files["pieces"].read_bytes(), dtype=np.uint8)
        offset = 0
        for run in (r for r in runs if r.region == region):
            pieces[run.first : run.first + run.records] = local[offset : offset + run.records]
            offset += run.records
        if offset != len(local):
            raise AccountingError(
                f"{files['pieces']}: {len(local)} records, the region table says {offset}"
            )
        with open(files["accounting"], newline="") as handle:
            rows.append(next(csv.DictReader(handle, delimiter="\t")))
    with pysam.VariantFile(str(output)) as handle:
        samples = tuple(handle.header.samples)
    builds = {row["source_build"] for row in rows}
    return measure(
        path=about,
        work=work,
        input_records=total,
        output_numbers=output_numbers(output, work),
        rejects=rejects,
        blocks=blocks,
        pieces=pieces,
        samples=samples,
        source_build=builds.pop() if len(builds) == 1 else ",".join(sorted(builds)),
        swapped={
            step: sum(int(row[f"{step}_swapped"]) for row in rows)
            for step in ("liftover", "harmonise")
        },
        lifted_records=0,
        block_bases_in=sum(int(row["reference_block_bases_in"]) for row in rows),
    )


def _publish(path: Path, out: Path, *, index: bool) -> None:
    """Move a gathered file (and its .tbi) into place, index first."""
    if index:
        with atomic_output(Path(f"{out}.tbi")) as tmp:
            shutil.move(f"{path}.tbi", tmp)
    with atomic_output(out) as tmp:
        shutil.move(path, tmp)
    if index:
        Path(f"{out}.tbi").touch()
