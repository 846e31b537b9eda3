"""Command-line interface: thin wrappers, one library call per command."""

from __future__ import annotations

import errno
import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from genopass import __version__
from genopass.errors import GenopassError

log = logging.getLogger("genopass")

existing_file = click.Path(exists=True, dir_okay=False, path_type=Path)
out_path = click.Path(dir_okay=False, path_type=Path)
threads_option = click.option(
    "--threads",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Threads for compression and parallel steps.",
)


def reports_errors(func: Callable[..., Any]) -> Callable[..., Any]:
    """Turn a GenopassError into one line on stderr and its exit code, never a traceback."""

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except GenopassError as exc:
            click.echo(f"genopass: error: {exc}", err=True)
            sys.exit(exc.exit_code)
        except OSError as exc:
            if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            # outputs are written to a temporary name and renamed: nothing partial is left
            where = f" writing {exc.filename}" if exc.filename else ""
            click.echo(
                f"genopass: error: no space left on the device{where}; free space (or point "
                f"outdir elsewhere) and run again",
                err=True,
            )
            sys.exit(1)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="genopass")
@click.option("-v", "--verbose", is_flag=True, help="Log progress at debug level.")
def main(verbose: bool) -> None:
    """genopass: harmonise centres' genomes to one pseudonymised GRCh38 dataset."""
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
        stream=sys.stderr,
    )


@main.command()
@click.argument("vcf", type=existing_file)
@click.option(
    "--reference",
    "reference",
    type=existing_file,
    required=True,
    help="Target FASTA (indexed with .fai); its contigs define the target.",
)
@click.option(
    "--reference-name", default="GRCh38", show_default=True, help="Name written to ##reference."
)
@click.option("--out", "out", type=out_path, required=True, help="Harmonised .vcf.gz (+ .tbi).")
@click.option("--rejects", type=out_path, help="Rejected records with a reason (.vcf.gz).")
@click.option("--accounting", type=out_path, help="Accounting table (.tsv).")
@click.option(
    "--sample",
    "samples",
    multiple=True,
    metavar="NAME[=NEW]",
    help="Keep this sample column (renamed to NEW). Repeatable; default: all samples.",
)
@click.option(
    "--aliases",
    type=click.Path(exists=True, path_type=Path),
    help="Contig alias table (default: the tables shipped with genopass).",
)
@click.option(
    "--keep-non-primary",
    is_flag=True,
    help="Keep target contigs beyond chr1-22, X, Y, M (default: reject them).",
)
@click.option(
    "--build",
    default="auto",
    show_default=True,
    help="The input's build (GRCh37, GRCh38, ...) or auto (detected); data that contradict a "
    "declared build are an error.",
)
@click.option(
    "--liftover-fasta",
    type=existing_file,
    help="FASTA of the build to lift from (GRCh37), to detect the build and check REF.",
)
@click.option(
    "--liftover-chain",
    type=existing_file,
    help="Chain file from that build to the target (e.g. hg19ToHg38.over.chain.gz).",
)
@click.option(
    "--liftover-build",
    default="GRCh37",
    show_default=True,
    help="Name of the build that --liftover-fasta/--liftover-chain lift from.",
)
@click.option(
    "--blocks",
    type=out_path,
    help="gVCF reference blocks as BED (.bed.gz + .tbi); written empty for a plain VCF.",
)
@click.option(
    "--malformed",
    type=existing_file,
    help="Malformed records to reject (ordinal TAB defect, from 'genopass validate --level vcf "
    "--malformed'): each goes to the rejects as malformed:<defect>.",
)
@click.option(
    "--region",
    metavar="NAME",
    help="Harmonise only the records of this scatter region of --region-table (with the "
    "file's source numbers), for 'genopass harmonise-gather'.",
)
@click.option(
    "--region-table",
    type=existing_file,
    help="The input's region table ('genopass region-counts').",
)
@threads_option
@reports_errors
def harmonise(
    vcf: Path,
    reference: Path,
    reference_name: str,
    out: Path,
    rejects: Path | None,
    accounting: Path | None,
    samples: tuple[str, ...],
    aliases: Path | None,
    keep_non_primary: bool,
    build: str,
    liftover_fasta: Path | None,
    liftover_chain: Path | None,
    liftover_build: str,
    blocks: Path | None,
    malformed: Path | None,
    region: str | None,
    region_table: Path | None,
    threads: int,
) -> None:
    """Harmonise one VCF/BCF (or gVCF) to the target reference, lifting it over if needed."""
    from genopass.harmonise.stream import HarmoniseOptions, harmonise_vcf
    from genopass.inputs.vcfcheck import check_file_header

    check_file_header(vcf)  # a file that cannot be trusted: one line saying why

    if (liftover_fasta is None) != (liftover_chain is None):
        raise click.UsageError("--liftover-fasta and --liftover-chain go together: give both")
    liftover = ()
    if liftover_fasta is not None and liftover_chain is not None:
        from genopass.harmonise.liftover import LiftoverSource  # only inputs that may need lifting

        liftover = (LiftoverSource(liftover_build, liftover_fasta, liftover_chain),)

    if (region is None) != (region_table is None):
        raise click.UsageError("--region and --region-table go together: give both")
    options = HarmoniseOptions(
        reference=reference,
        reference_name=reference_name,
        out=out,
        rejects=rejects,
        accounting=accounting,
        samples=parse_sample_options(samples),
        alias_table=aliases,
        keep_non_primary=keep_non_primary,
        threads=threads,
        build=build,
        liftover=liftover,
        blocks=blocks,
        malformed=malformed,
    )
    if region is not None and region_table is not None:
        from genopass.harmonise.regions import harmonise_region

        result = harmonise_region(vcf, options, region_table, region)
    else:
        result = harmonise_vcf(vcf, options)
    click.echo(result.summary())


@main.command("region-counts")
@click.argument("vcf", type=existing_file)
@click.option("--reference", type=existing_file, required=True, help="Target FASTA (+ .fai).")
@click.option("--reference-name", default="GRCh38", show_default=True)
@click.option("--region-size", type=click.IntRange(min=1), required=True, help="Bases per region.")
@click.option("--keep-non-primary", is_flag=True, help="As 'genopass harmonise'.")
@click.option("--aliases", type=click.Path(exists=True, path_type=Path), help="Alias table.")
@click.option("--out", "out", type=out_path, required=True, help="Region table (.tsv).")
@reports_errors
def region_counts(
    vcf: Path,
    reference: Path,
    reference_name: str,
    region_size: int,
    keep_non_primary: bool,
    aliases: Path | None,
    out: Path,
) -> None:
    """Count the records of VCF per scatter region, in file order (docs/harmonisation.md)."""
    from genopass.harmonise.regions import count_regions
    from genopass.inputs.vcfcheck import check_file_header

    check_file_header(vcf)
    click.echo(
        count_regions(
            vcf,
            reference,
            region_size,
            out,
            alias_table=aliases,
            keep_non_primary=keep_non_primary,
            reference_name=reference_name,
        )
    )


@main.command("harmonise-gather")
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--region-table", type=existing_file, required=True, help="genopass region-counts.")
@click.option("--out", "out", type=out_path, required=True, help="Harmonised .vcf.gz (+ .tbi).")
@click.option("--rejects", type=out_path, required=True, help="Rejects (.vcf.gz).")
@click.option("--accounting", type=out_path, required=True, help="Accounting table (.tsv).")
@click.option("--blocks", type=out_path, required=True, help="gVCF blocks (.bed.gz + .tbi).")
@threads_option
@reports_errors
def harmonise_gather(
    folder: Path,
    region_table: Path,
    out: Path,
    rejects: Path,
    accounting: Path,
    blocks: Path,
    threads: int,
) -> None:
    """Gather the region jobs' files in FOLDER (genopass harmonise --region) into one sample's."""
    from genopass.harmonise.regions import GatherOptions, gather_regions

    options = GatherOptions(out, rejects, accounting, blocks, threads)
    click.echo(gather_regions(region_table, folder, options, about=region_table).summary())


def parse_path_pairs(values: tuple[str, ...], key: str, option: str) -> dict[str, Path]:
    """``KEY=PATH`` options -> {key: path}, order kept."""
    mapping = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise click.BadParameter(f"{value!r}: write {key}=PATH", param_hint=option)
        mapping[name] = Path(path)
    return mapping


def parse_sample_options(values: tuple[str, ...]) -> dict[str, str]:
    """``NAME`` or ``NAME=NEW`` options -> {vcf column: output name}, order kept."""
    mapping: dict[str, str] = {}
    for value in values:
        name, _, new = value.partition("=")
        if not name:
            raise click.BadParameter(f"empty sample name in {value!r}", param_hint="--sample")
        mapping[name] = new or name
    return mapping


info_keep_option = click.option(
    "--info-keep",
    "info_keep",
    multiple=True,
    metavar="NAME[,NAME...]",
    help="INFO field to keep beside AC, AN, AF (export.info_keep). Repeatable or comma list.",
)


@main.command("export-vcf")
@click.argument("vcf", type=existing_file)
@click.option("--out", "out", type=out_path, required=True, help="Export .vcf.gz (+ .tbi).")
@click.option("--sample", help="Sample column to export (default: the VCF's only sample).")
@info_keep_option
@click.option(
    "--format-keep",
    "format_keep",
    multiple=True,
    metavar="PL|PS",
    help="FORMAT field to keep beside GT, DP, GQ, AD (export.format_keep). Repeatable.",
)
@threads_option
@reports_errors
def export_vcf(
    vcf: Path,
    out: Path,
    sample: str | None,
    info_keep: tuple[str, ...],
    format_keep: tuple[str, ...],
    threads: int,
) -> None:
    """Write a sample's export VCF: its own sites, allow-listed fields, AC/AN/AF recomputed."""
    from genopass.export import vcf as export

    summary = export.export_vcf(
        vcf,
        export.ExportOptions(
            out=out,
            sample=sample,
            info_keep=export.parse_keep(info_keep),
            format_keep=export.parse_keep(format_keep),
            threads=threads,
        ),
    )
    click.echo(summary)


parquet_out_option = click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder that receives variants/ and genotypes/.",
)


@main.command()
@click.argument("vcfs", nargs=-1, required=True, type=existing_file)
@parquet_out_option
@click.option(
    "--reference", type=existing_file, help="FASTA whose contig digests go in the metadata."
)
@click.option("--reference-name", default="GRCh38", show_default=True)
@info_keep_option
@click.option(
    "--contig",
    "contigs",
    multiple=True,
    help="Only this contig (repeatable; a scatter by contig, gathered by 'parquet-gather').",
)
@threads_option
@reports_errors
def parquet(
    vcfs: tuple[Path, ...],
    out: Path,
    reference: Path | None,
    reference_name: str,
    info_keep: tuple[str, ...],
    contigs: tuple[str, ...],
    threads: int,
) -> None:
    """Write Parquet tables (variants, genotypes) from harmonised VCFs."""
    from genopass.export.parquet import ParquetOptions, vcf_to_parquet
    from genopass.export.vcf import parse_keep

    summary = vcf_to_parquet(
        list(vcfs),
        ParquetOptions(
            out=out,
            reference=reference,
            reference_name=reference_name,
            info_keep=parse_keep(info_keep),
            threads=threads,
            contigs=contigs,
        ),
    )
    click.echo(summary)


@main.command("parquet-gather")
@click.argument(
    "folders",
    nargs=-1,
    required=True,
    type=click.Path(exists=True, file_okay=False, path_type=Path),
)
@parquet_out_option
@reports_errors
def parquet_gather(folders: tuple[Path, ...], out: Path) -> None:
    """Gather the contig folders of 'genopass parquet --contig' runs into OUT."""
    from genopass.export.parquet import gather_contigs

    click.echo(gather_contigs(list(folders), out))


@main.command()
@click.option(
    "--samples",
    "samples_tsv",
    type=existing_file,
    required=True,
    help="samples.tsv with columns sample and centre.",
)
@click.option(
    "--key-file",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Secret key file (else env GENOPASS_PSEUDONYM_KEY).",
)
@click.option("--out", "out", type=out_path, required=True, help="pseudonyms.tsv to write.")
@reports_errors
def pseudonyms(samples_tsv: Path, key_file: Path | None, out: Path) -> None:
    """Write the private sample -> pseudonym map."""
    from genopass.export.pseudonym import load_key, write_pseudonym_table
    from genopass.inputs.sheets import read_samples

    table = read_samples(samples_tsv)
    write_pseudonym_table(table, load_key(key_file), out)
    click.echo(f"wrote {len(table)} pseudonyms to {out}")


@main.command()
@click.argument("folder", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--out", "out", type=out_path, help="Default: FOLDER/MANIFEST.tsv.")
@click.option("--sha256sums", type=out_path, help="Also write this file in 'sha256sum -c' format.")
@reports_errors
def manifest(folder: Path, out: Path | None, sha256sums: Path | None) -> None:
    """Write MANIFEST.tsv (path, size, sha256, md5) of every file under FOLDER."""
    from genopass.export.manifest import write_manifest

    target = out or folder / "MANIFEST.tsv"
    count = write_manifest(folder, target, sha256sums)
    also = f" and {sha256sums}" if sha256sums else ""
    click.echo(f"wrote {target}{also} ({count} files)")


# ---------------------------------------------------------------------------------------------
# Export: cohort, samples table, frequencies, metadata, provenance, encryption (docs/export.md)

export_dir_argument = click.argument(
    "export_dir", type=click.Path(exists=True, file_okay=False, path_type=Path)
)
param_option = click.option(
    "--param",
    "params",
    multiple=True,
    metavar="NAME=VALUE",
    help="A run parameter to record (no paths). Repeatable.",
)


@main.command()
@click.argument("vcfs", nargs=-1, required=True, type=existing_file)
@click.option("--out", "out", type=out_path, required=True, help="Cohort .vcf.gz (+ .tbi).")
@click.option(
    "--blocks",
    "blocks",
    multiple=True,
    metavar="SAMPLE=BED.gz",
    help="gVCF reference blocks of a sample (genopass harmonise --blocks). Repeatable.",
)
@click.option(
    "--missing-genotypes",
    type=click.Choice(["missing", "reference"]),
    default="missing",
    show_default=True,
    help="What absence means for a sample without blocks (export.missing_genotypes).",
)
@click.option(
    "--region",
    metavar="CHROM:START-END",
    help="Only the sites whose POS lies there (a scatter region), for 'genopass cohort-gather'.",
)
@threads_option
@reports_errors
def cohort(
    vcfs: tuple[Path, ...],
    out: Path,
    blocks: tuple[str, ...],
    missing_genotypes: str,
    region: str | None,
    threads: int,
) -> None:
    """Merge per-sample export VCFs into the cohort VCF; 0/0 only where a sample was called."""
    from genopass.export.cohort import CohortOptions, build_cohort

    mapping = parse_path_pairs(blocks, "SAMPLE", "--blocks")
    options = CohortOptions(out, mapping, missing_genotypes, threads, region=region)
    click.echo(build_cohort(list(vcfs), options))


@main.command("cohort-gather")
@click.argument("parts", nargs=-1, required=True, type=existing_file)
@click.option("--out", "out", type=out_path, required=True, help="Cohort .vcf.gz (+ .tbi).")
@threads_option
@reports_errors
def cohort_gather(parts: tuple[Path, ...], out: Path, threads: int) -> None:
    """Concatenate the cohorts of consecutive regions (genopass cohort --region) in order."""
    from genopass.export.cohort import gather_cohort

    click.echo(gather_cohort(list(parts), out, threads))


@main.command("samples-table")
@click.option("--samples", "samples_tsv", type=existing_file, required=True, help="samples.tsv.")
@click.option("--pseudonyms", type=existing_file, required=True, help="private/pseudonyms.tsv.")
@click.option("--cohort", "cohort_vcf", type=existing_file, help="Keep this VCF's samples only.")
@click.option("--qc-summary", type=existing_file, help="QC summary TSV (inferred_sex, status).")
@click.option("--include-centre", is_flag=True, help="Add the centre (export.include_centre).")
@click.option("--out", "out", type=out_path, required=True, help="samples.parquet to write.")
@reports_errors
def samples_table(
    samples_tsv: Path,
    pseudonyms: Path,
    cohort_vcf: Path | None,
    qc_summary: Path | None,
    include_centre: bool,
    out: Path,
) -> None:
    """Write parquet/samples/samples.parquet: pseudonym, country, sex, consent, QC status."""
    from genopass.export.samples import write_samples_table

    click.echo(
        write_samples_table(
            samples_tsv,
            pseudonyms,
            out,
            cohort_vcf=cohort_vcf,
            qc_summary=qc_summary,
            include_centre=include_centre,
        )
    )


frequencies_out_option = click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Frequencies folder (receives <dataset>/GRCh38/).",
)


@main.command()
@click.argument("parquet_dir", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--dataset", required=True, help="Dataset ID (export.dataset).")
@frequencies_out_option
@click.option("--min-cell-count", type=click.IntRange(min=1), default=5, show_default=True)
@click.option("--samples-table", "samples_parquet", type=existing_file,
              help="Default: PARQUET_DIR/samples/samples.parquet.")  # fmt: skip
@click.option("--summary", type=out_path, help="JSON of rows written/suppressed (for metadata).")
@click.option("--source-reference", default="", help="Beacon sourceReference (a URL).")
@click.option(
    "--reference",
    type=existing_file,
    help="FASTA (+ .fai): GRCh38's PARs are counted diploid in males only on a chrX/chrY of "
    "GRCh38's length (without it: on every chrX/chrY).",
)
@click.option(
    "--contig",
    "contigs",
    multiple=True,
    help="Only this contig (repeatable; a scatter by contig, gathered by 'frequencies-gather').",
)
@threads_option
@reports_errors
def frequencies(
    parquet_dir: Path,
    dataset: str,
    out: Path,
    min_cell_count: int,
    samples_parquet: Path | None,
    summary: Path | None,
    source_reference: str,
    reference: Path | None,
    contigs: tuple[str, ...],
    threads: int,
) -> None:
    """Allele frequencies per country and sex (Beacon v2 layout), small cells suppressed."""
    from genopass.export.frequencies import FrequencyOptions, write_frequencies_step
    from genopass.inputs.reference import read_fai

    options = FrequencyOptions(
        out=out,
        dataset=dataset,
        min_cell_count=min_cell_count,
        source_reference=source_reference,
        threads=threads,
        contigs=contigs,
        contig_lengths=read_fai(reference) if reference else {},
    )
    table = samples_parquet or parquet_dir / "samples" / "samples.parquet"
    click.echo(write_frequencies_step(parquet_dir, table, options, summary))


@main.command("frequencies-gather")
@click.option(
    "--part",
    "parts",
    multiple=True,
    required=True,
    metavar="CONTIG=FOLDER",
    help="A 'genopass frequencies --contig' run: FOLDER/frequencies and FOLDER/summary.json.",
)
@click.option("--dataset", required=True, help="Dataset ID (export.dataset).")
@frequencies_out_option
@click.option("--summary", type=out_path, required=True, help="The gathered summary JSON.")
@reports_errors
def frequencies_gather(parts: tuple[str, ...], dataset: str, out: Path, summary: Path) -> None:
    """Gather per-contig frequency runs into one frequencies folder and summary."""
    from genopass.export.frequencies import gather_frequencies

    folders = parse_path_pairs(parts, "CONTIG", "--part")
    click.echo(gather_frequencies(folders, out, summary, dataset))


@main.command()
@export_dir_argument
@click.option("--dataset", required=True, help="Dataset ID (export.dataset).")
@click.option("--reference", type=existing_file, help="FASTA (+ .fai): contig digests.")
@click.option("--reference-name", default="GRCh38", show_default=True)
@click.option("--frequencies-summary", type=existing_file, help="genopass frequencies --summary.")
@click.option("--qc-summary", type=existing_file, help="QC summary TSV (reasons per sample).")
@click.option(
    "--input-check",
    "input_checks",
    multiple=True,
    type=existing_file,
    help="Findings of the input check ('genopass validate --findings') of an input VCF; their "
    "warning counts go to metadata.json (input_check). Repeatable: one per input file.",
)
@param_option
@click.option("--out", "out", type=out_path, help="Default: EXPORT_DIR/metadata.json.")
@reports_errors
def metadata(
    export_dir: Path,
    dataset: str,
    reference: Path | None,
    reference_name: str,
    frequencies_summary: Path | None,
    qc_summary: Path | None,
    input_checks: tuple[Path, ...],
    params: tuple[str, ...],
    out: Path | None,
) -> None:
    """Write metadata.json (validated against the shipped JSON Schema)."""
    from genopass.export.metadata import MetadataOptions, parse_parameters, write_metadata

    options = MetadataOptions(
        out=out or export_dir / "metadata.json",
        dataset=dataset,
        reference_name=reference_name,
        reference=reference,
        frequencies_summary=frequencies_summary,
        qc_summary=qc_summary,
        parameters=parse_parameters(params),
        input_checks=input_checks,
    )
    click.echo(write_metadata(export_dir, options))


@main.command()
@export_dir_argument
@click.option("--dataset", required=True, help="Dataset ID (export.dataset).")
@click.option("--workflow", type=existing_file, help="The Snakefile (default: this checkout's).")
@click.option("--input", "inputs", multiple=True, type=existing_file,
              help="An input of the run, recorded by checksum only. Repeatable.")  # fmt: skip
@param_option
@reports_errors
def crate(
    export_dir: Path,
    dataset: str,
    workflow: Path | None,
    inputs: tuple[Path, ...],
    params: tuple[str, ...],
) -> None:
    """Write ro-crate-metadata.json: a Workflow Run RO-Crate (inputs by checksum)."""
    from genopass.export.crate import CrateOptions, write_crate
    from genopass.export.metadata import parse_parameters

    options = CrateOptions(dataset, workflow, inputs, parse_parameters(params))
    click.echo(write_crate(export_dir, options))


@main.command()
@export_dir_argument
@click.option("--recipient", "recipients", multiple=True, required=True, type=existing_file,
              help="A recipient's Crypt4GH public key. Repeatable.")  # fmt: skip
@reports_errors
def encrypt(export_dir: Path, recipients: tuple[Path, ...]) -> None:
    """Encrypt every export file into EXPORT_DIR/encrypted/ (Crypt4GH) for all recipients."""
    from genopass.export.crypt import encrypt_export

    click.echo(encrypt_export(export_dir, list(recipients)))


@main.command()
@click.argument("name")
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("."),
    show_default=True,
    help="Folder for NAME.pub and NAME.sec.",
)
@reports_errors
def keys(name: str, out_dir: Path) -> None:
    """Make a Crypt4GH key pair NAME.pub / NAME.sec (secret key unencrypted, 0600)."""
    from genopass.export.crypt import generate_keys

    pair = generate_keys(name, out_dir)
    click.echo(f"wrote {pair.public} and {pair.secret}")


@main.command("check-fastq")
@click.argument("fastqs", nargs=-1, required=True, type=existing_file, metavar="FQ1 [FQ2]")
@click.option("--out", "out", type=out_path, required=True, help="Read counts (.tsv).")
@threads_option
@reports_errors
def check_fastq(fastqs: tuple[Path, ...], out: Path, threads: int) -> None:
    """Read a FASTQ, or a pair, to the end: complete, well-formed, pairs of equal length."""
    from genopass.inputs.fastq import check_fastq_files, write_fastq_check

    if len(fastqs) > 2:
        raise click.UsageError("give one FASTQ or the two files of a pair")
    counts = check_fastq_files(list(fastqs), threads=threads)
    write_fastq_check(counts, out)
    click.echo("; ".join(f"{count.path}: {count.reads} reads" for count in counts))


@main.command("check-alignment")
@click.argument("alignment", type=existing_file)
@click.option("--reference", type=existing_file, required=True, help="Target FASTA (+ .fai).")
@click.option("--dict", "dict_path", type=existing_file, help="Its sequence dictionary (M5).")
@click.option(
    "--build", help="The build of --reference when it is not the target (GRCh37: lifted over)."
)
@click.option("--out", "out", type=out_path, required=True, help="Findings (.tsv).")
@reports_errors
def check_alignment(
    alignment: Path, reference: Path, dict_path: Path | None, build: str | None, out: Path
) -> None:
    """Check a BAM/CRAM: complete, sorted, aligned to the reference, decodable."""
    from genopass.inputs import alignments

    result = alignments.check_alignment(alignment, reference, dict_path=dict_path, build=build)
    alignments.write_alignment_check(result, out)
    on = f"the {build} reference" if build else "the target reference"
    click.echo(f"{alignment}: {result.format} on {on}, coordinate-sorted")


@main.command("autosomes")
@click.argument("fasta", type=existing_file)
@click.option("--out", "out", type=out_path, required=True, help="BED of the autosomes.")
@reports_errors
def autosomes(fasta: Path, out: Path) -> None:
    """Write the autosomes (chr1-22) outside runs of N as BED, for coverage QC."""
    from genopass.reads.regions import write_autosome_bed

    bases = write_autosome_bed(fasta, out)
    click.echo(f"wrote {out} ({bases} autosomal bases outside gaps)")


@main.command("compare-calls")
@click.argument("calls", type=existing_file)
@click.argument("truth", type=existing_file)
@click.option("--reference", type=existing_file, required=True, help="FASTA (+ .fai) of both.")
@click.option("--calls-sample", help="Sample column of CALLS (default: the first).")
@click.option("--truth-sample", help="Sample column of TRUTH (default: the first).")
@click.option("--alleles-only", is_flag=True, help="Ignore genotypes (default: copies count).")
@reports_errors
def compare_calls(
    calls: Path,
    truth: Path,
    reference: Path,
    calls_sample: str | None,
    truth_sample: str | None,
    alleles_only: bool,
) -> None:
    """Recall and precision of CALLS against TRUTH (SNVs, indels), on normalised alleles."""
    from genopass.reads.calls import compare_vcfs

    figures = compare_vcfs(
        calls,
        truth,
        reference,
        calls_sample=calls_sample,
        truth_sample=truth_sample,
        genotypes=not alleles_only,
    )
    for item in figures.values():
        if item.truth or item.called:
            click.echo(str(item))


autosomes_option = click.option(
    "--autosomes",
    type=existing_file,
    required=True,
    help="BED of the autosomes outside gaps ('genopass autosomes').",
)


@main.command("qc-cohort")
@click.argument("vcfs", nargs=-1, required=True, type=existing_file)
@autosomes_option
@click.option("--out", "out", type=out_path, required=True, help="Cohort .vcf.gz (+ .tbi).")
@click.option(
    "--missing",
    type=click.Choice(["reference", "missing"]),
    default="reference",
    show_default=True,
    help="What a site absent from a sample's VCF means (export.missing_genotypes).",
)
@threads_option
@reports_errors
def qc_cohort(
    vcfs: tuple[Path, ...], autosomes: Path, out: Path, missing: str, threads: int
) -> None:
    """Merge the samples' harmonised VCFs into one matrix of PASS biallelic autosomal SNVs with
    AC/AN/AF (for kinship and the cohort's allele frequencies)."""
    from genopass.qc.kinship import write_cohort

    records = write_cohort(
        list(vcfs), autosomes, out, missing_as_ref=missing == "reference", threads=threads
    )
    click.echo(f"wrote {out} ({len(vcfs)} samples, {records} SNVs)")


@main.command("qc-metrics")
@click.option("--vcf", type=existing_file, required=True, help="The sample's harmonised VCF.")
@autosomes_option
@click.option("--pseudonym", required=True, help="The sample's pseudonym (biosample.id).")
@click.option("--accounting", type=existing_file, help="Its harmonisation accounting table.")
@click.option("--wgs-metrics", type=existing_file, help="Picard CollectWgsMetrics output.")
@click.option(
    "--quality-yield", type=existing_file, help="Picard CollectQualityYieldMetrics output."
)
@click.option("--samtools-stats", type=existing_file, help="samtools stats report.")
@click.option("--fastp", multiple=True, type=existing_file, help="fastp JSON (repeatable).")
@click.option("--mosdepth-summary", type=existing_file, help="mosdepth summary (X/Y depth).")
@click.option(
    "--cohort",
    type=existing_file,
    help="qc-cohort VCF: the cohort's frequencies (the sample left out) for contamination.",
)
@click.option("--panel", type=existing_file, help="Population panel VCF with INFO/AF instead.")
@click.option("--out", "out", type=out_path, required=True, help="Per-sample QC JSON.")
@reports_errors
def qc_metrics(
    vcf: Path,
    autosomes: Path,
    pseudonym: str,
    accounting: Path | None,
    wgs_metrics: Path | None,
    quality_yield: Path | None,
    samtools_stats: Path | None,
    fastp: tuple[Path, ...],
    mosdepth_summary: Path | None,
    cohort: Path | None,
    panel: Path | None,
    out: Path,
) -> None:
    """Write one sample's GA4GH WGS QC metrics and genopass's extras as JSON."""
    from genopass.qc.report import write_sample_qc
    from genopass.qc.sample import SampleInputs, sample_metrics

    if cohort is not None and panel is not None:
        raise click.UsageError("give --cohort or --panel, not both")
    qc = sample_metrics(
        SampleInputs(
            pseudonym=pseudonym,
            vcf=vcf,
            autosomes=autosomes,
            accounting=accounting,
            wgs_metrics=wgs_metrics,
            quality_yield=quality_yield,
            samtools_stats=samtools_stats,
            fastp=fastp,
            mosdepth_summary=mosdepth_summary,
            cohort=cohort,
            panel=panel,
        )
    )
    write_sample_qc(qc, out)
    click.echo(f"wrote {out} ({len(qc.values)} metrics, {len(qc.unavailable)} not computed)")


@main.command("qc-relatedness")
@click.argument("cohort", type=existing_file)
@click.option(
    "--pseudonyms",
    type=existing_file,
    help="private pseudonyms.tsv, to name samples by sheet ID and centre.",
)
@click.option("--out", "out", type=out_path, required=True, help="relatedness.tsv to write.")
@click.option("--maf", type=click.FloatRange(0, 0.5), default=0.05, show_default=True)
@click.option(
    "--min-sites",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Fewer shared SNVs than this: insufficient_data.",
)
@threads_option
@reports_errors
def qc_relatedness(
    cohort: Path, pseudonyms: Path | None, out: Path, maf: float, min_sites: int, threads: int
) -> None:
    """KING-robust kinship of every pair (plink2 --make-king-table) -> relatedness.tsv."""
    from genopass.qc.kinship import run_relatedness

    rows = run_relatedness(cohort, pseudonyms, out, maf=maf, min_sites=min_sites, threads=threads)
    flagged = sum(1 for row in rows if row.relationship != "unrelated")
    click.echo(f"wrote {out} ({len(rows)} pairs, {flagged} flagged)")


preset_option = click.option(
    "--preset",
    default="permissive",
    show_default=True,
    help="Preset name or YAML file (qc.preset).",
)
override_option = click.option(
    "--override",
    "overrides",
    multiple=True,
    metavar="METRIC=VALUE",
    help="Threshold override (qc.overrides): a number or a YAML mapping like '{min: 30}'.",
)


@main.command("qc-gate")
@click.argument("metrics", nargs=-1, required=True, type=existing_file)
@click.option("--samples", "samples_tsv", type=existing_file, required=True)
@click.option("--pseudonyms", type=existing_file, required=True, help="pseudonyms.tsv.")
@click.option("--relatedness", type=existing_file, help="relatedness.tsv (qc-relatedness).")
@preset_option
@override_option
@click.option("--mode", type=click.Choice(["gate", "warn"]), default="gate", show_default=True)
@click.option(
    "--keep",
    type=click.Choice(["first", "coverage"]),
    default="first",
    show_default=True,
    help="Which sample of a duplicate group is kept.",
)
@click.option("--summary", type=out_path, required=True, help="summary.tsv to write.")
@click.option(
    "--exported",
    type=out_path,
    help="exported.tsv to write: sample and pseudonym of each sample the export holds.",
)
@click.option(
    "--json-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for each sample's final <sample>.qc.json (with the gate decision).",
)
@reports_errors
def qc_gate(
    metrics: tuple[Path, ...],
    samples_tsv: Path,
    pseudonyms: Path,
    relatedness: Path | None,
    preset: str,
    overrides: tuple[str, ...],
    mode: str,
    keep: str,
    summary: Path,
    exported: Path | None,
    json_dir: Path | None,
) -> None:
    """PASS/WARN/FAIL per sample with reasons, from the QC JSONs, identity and a preset."""
    from genopass.qc.gate import run_gate
    from genopass.qc.presets import load_preset, parse_overrides

    decisions = run_gate(
        list(metrics),
        samples_tsv=samples_tsv,
        pseudonyms_tsv=pseudonyms,
        relatedness_tsv=relatedness,
        preset=load_preset(preset, parse_overrides(overrides)),
        mode=mode,
        keep=keep,
        summary=summary,
        json_dir=json_dir,
        exported=exported,
    )
    counts = {s: sum(1 for d in decisions if d.status == s) for s in ("PASS", "WARN", "FAIL")}
    click.echo(f"wrote {summary}: " + ", ".join(f"{n} {s}" for s, n in counts.items()))


@main.command("qc-report-content")
@click.argument("summary", type=existing_file)
@click.argument("metrics", nargs=-1, required=True, type=existing_file)
@click.option("--relatedness", type=existing_file, help="relatedness.tsv (qc-relatedness).")
@preset_option
@override_option
@click.option(
    "--names",
    type=click.Choice(["pseudonym", "sheet"]),
    default="pseudonym",
    show_default=True,
    help="Sample names in the report (qc.report_sample_names).",
)
@click.option(
    "--out-dir",
    type=click.Path(file_okay=False, path_type=Path),
    required=True,
    help="Folder for the *_mqc files and names.tsv (MultiQC --replace-names).",
)
@reports_errors
def qc_report_content(
    summary: Path,
    metrics: tuple[Path, ...],
    relatedness: Path | None,
    preset: str,
    overrides: tuple[str, ...],
    names: str,
    out_dir: Path,
) -> None:
    """genopass's section of the MultiQC report (custom content) from the gate's summary.tsv
    and the samples' final QC JSONs (METRICS)."""
    from genopass.qc.multiqc import write_report_content
    from genopass.qc.presets import load_preset, parse_overrides

    written = write_report_content(
        summary,
        list(metrics),
        relatedness,
        load_preset(preset, parse_overrides(overrides)),
        out_dir,
        names=names,
    )
    click.echo(f"wrote {len(written)} files to {out_dir}")


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option(
    "--fasta",
    type=existing_file,
    help="Reference (.fai beside it): contig lengths "
    "and normalisation are checked against it (default lengths: GRCh38).",
)
@click.option(
    "--level",
    type=click.Choice(["vcf", "export"]),
    help="vcf: the input check the "
    "workflow runs; export: also the export contract (default for an export folder).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the findings as JSON.")
@click.option(
    "--max-shown",
    type=click.IntRange(min=1),
    default=5,
    show_default=True,
    help="Problems shown of each kind (all are counted).",
)
@click.option(
    "--malformed",
    type=out_path,
    help="Write 'ordinal TAB defect' of each malformed "
    "record of one VCF (the input of 'genopass harmonise --malformed'); those records "
    "are then rejected, not an error; only a refused file exits 1.",
)
@click.option(
    "--findings",
    type=out_path,
    help="Also write the findings as JSON (what --json prints) to this file; the human lines "
    "stay on stdout (the workflow's input check: metadata.json counts its warnings).",
)
@click.option("--describe", is_flag=True, help="Print the GDI validator description and exit.")
@click.option(
    "--gdi",
    is_flag=True,
    help="Run the GDI validation-framework contract: read "
    "INPUT/input.json, write OUTPUT/result.json.",
)
@click.option(
    "--gdi-input",
    type=click.Path(path_type=Path),
    help="GDI input root (default /mnt/input, or $GENOPASS_GDI_INPUT).",
)
@click.option(
    "--gdi-output",
    type=click.Path(path_type=Path),
    help="GDI output root (default /mnt/output, or $GENOPASS_GDI_OUTPUT).",
)
@reports_errors
def validate(
    paths: tuple[Path, ...],
    fasta: Path | None,
    level: str | None,
    as_json: bool,
    max_shown: int,
    malformed: Path | None,
    findings: Path | None,
    describe: bool,
    gdi: bool,
    gdi_input: Path | None,
    gdi_output: Path | None,
) -> None:
    """Check VCFs, Parquet folders or export folders: exit 0 valid, 1 invalid, 2 cannot run."""
    import json

    from genopass.errors import UsageError
    from genopass.validate import validate_paths

    if describe or gdi:
        from genopass.validate import gdi as contract

        if describe:
            click.echo(json.dumps(contract.DESCRIPTION, indent=2))
            return
        sys.exit(contract.run_contract(gdi_input, gdi_output))
    if not paths:
        raise UsageError("give a VCF, a Parquet folder or an export folder to check")
    report = validate_paths(list(paths), level, fasta, keep=max_shown, malformed=malformed)
    click.echo(report.as_json() if as_json else "\n".join(report.lines()))
    if findings is not None:
        from genopass.io import atomic_output

        with atomic_output(findings) as tmp:
            tmp.write_text(report.as_json() + "\n", encoding="utf-8")
    if malformed is not None:
        refused = any(
            not kind.startswith("malformed:") for (lvl, kind) in report.counts if lvl == "error"
        )
        sys.exit(1 if refused else 0)
    sys.exit(0 if report.valid else 1)


@main.command("demo-data")
@click.argument("outdir", type=click.Path(file_okay=False, path_type=Path))
@click.option("--seed", type=int, default=20261124, show_default=True)
@reports_errors
def demo_data(outdir: Path, seed: int) -> None:
    """Generate the demo reference, VCFs and sheets (deterministic from the seed)."""
    from genopass.demo.make import generate_demo

    written = generate_demo(outdir, seed=seed)
    click.echo(f"wrote demo data to {outdir} ({len(written)} files)")


@main.command(context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.argument("snakemake_args", nargs=-1, type=click.UNPROCESSED)
@reports_errors
def run(snakemake_args: tuple[str, ...]) -> None:
    """Run the workflow; extra arguments go to Snakemake."""
    from genopass.workflow import run_workflow

    sys.exit(run_workflow(list(snakemake_args)))


if __name__ == "__main__":
    main()
