"""The plan of a run: the config and sheets read and checked once, and every answer the rules need.

:func:`load_plan` validates the config (filling the schema's defaults), reads samples.tsv and
units.tsv (:mod:`genopass.inputs.sheets`), checks the input files they name and the declared
builds against the config's liftover, and names every sample by its pseudonym. The workflow
(``workflow/rules/common.smk``) holds one :class:`Plan` and asks it everything: per sample its
kind, inputs, build, reference, pseudonym, centre, contigs to call on and FASTQ units; for the
dataset its samples, pseudonyms, folders and command-line options.

A cluster job re-parses the workflow, so the plan reads as little as it can there:

- always: the config (in memory), the two sheets, the schemas and (through the caller's
  pseudonymiser) the key;
- only with ``check_inputs`` (the Snakemake main process): every input file (present; a VCF
  complete and holding the sample's column; a FASTQ gzip when so named and, if BGZF, complete)
  and the build of every BAM/CRAM;
- when first asked (once per process): the build of one BAM/CRAM declared ``auto`` (its header),
  and the contigs of a reference (its .fai) for the contigs that calling scatters over.

The pseudonyms come from a function ``(centre, sample) -> pseudonym`` that the caller passes (the
workflow: :func:`genopass.export.pseudonym.pseudonym` bound to the key), so that this stage does
not import the export stage.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import shlex
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from genopass.errors import InputError, UsageError
from genopass.inputs.config import load_config
from genopass.inputs.contigs import is_primary_name
from genopass.inputs.sheets import Sheets, input_kind, load_sheets, records, vcf_column
from genopass.io import check_bgzf_complete

Pseudonymise = Callable[[str, str], str]
"""``(centre, sample) -> pseudonym``: stable for the same key, centre and sample."""

Rows = list[tuple[int, dict[str, str]]]
"""(row number, {column: value}) of the rows of a sheet, as :func:`records` gives them."""

SHOWN_VCF_SAMPLES = 5
"""How many of a VCF's samples an error message lists."""

READS_KINDS = ("fastq", "bam", "cram")
"""Input kinds that are aligned (FASTQ) and called (all three) before harmonisation."""

OTHER_REGION = "other"
"""The scatter region of every record on a contig that no window covers (non-primary or unknown
contigs): one job per sample, so that each input record is in exactly one region."""

MAX_REGIONS = 100_000
"""More scatter regions than this are refused (a region_size far too small for the reference)."""


@dataclass(frozen=True)
class Region:
    """A scatter region of the target: the records whose POS lies in ``start..end`` of
    ``contig`` (``end`` None: up to the contig's end, and past it). The region
    :data:`OTHER_REGION` has no contig: it takes the records of contigs that no window covers."""

    name: str
    contig: str
    start: int
    end: int | None

    @property
    def is_window(self) -> bool:
        return self.name != OTHER_REGION

    @property
    def spec(self) -> str:
        """``CONTIG:START-END`` (``CONTIG:START-`` for the last window), as bcftools reads it."""
        return f"{self.contig}:{self.start}-{'' if self.end is None else self.end}"


def scatter_regions(contigs: Mapping[str, int], size: int) -> list[Region]:
    """The scatter regions of a target (contig -> length, in .fai order): each primary contig
    (chr1-22, X, Y, M; every contig when none is primary) cut into windows of ``size`` bases,
    named ``CONTIG.N`` (N from 1), in reference order, then :data:`OTHER_REGION`.

    A window holds the records whose POS lies in it, whatever their length: a record spanning a
    boundary belongs to the window of its start. The last window of a contig also takes the
    records past the contig's declared length.
    """
    if size < 1:
        raise ValueError(f"region size must be at least 1, not {size}")
    primary = [name for name in contigs if is_primary_name(name)] or list(contigs)
    regions = []
    for contig in primary:
        count = max(1, math.ceil(contigs[contig] / size))
        for index in range(count):
            end = None if index == count - 1 else (index + 1) * size
            regions.append(Region(f"{contig}.{index + 1}", contig, index * size + 1, end))
    regions.append(Region(OTHER_REGION, "", 0, None))
    return regions


@dataclass(frozen=True)
class ExportSettings:
    """The config's ``export`` keys the export rules pass on (beside dataset, info_keep and
    format_keep), and the run parameters that metadata.json and the RO-Crate record."""

    min_cell_count: int = 5
    missing_genotypes: str = "missing"
    include_centre: bool = False
    recipients: tuple[str, ...] = ()
    source_reference: str = ""
    parameters: Mapping[str, str] = field(default_factory=dict)

    @property
    def include_centre_option(self) -> str:
        """``--include-centre`` of ``genopass samples-table``, or nothing."""
        return "--include-centre" if self.include_centre else ""

    @property
    def source_reference_option(self) -> str:
        """``--source-reference URL`` of ``genopass frequencies``, or nothing (its default)."""
        if not self.source_reference:
            return ""
        return f"--source-reference {shlex.quote(self.source_reference)}"

    @property
    def recipient_options(self) -> str:
        """One ``--recipient PUB`` of ``genopass encrypt`` per recipient."""
        return " ".join(f"--recipient {shlex.quote(path)}" for path in self.recipients)

    @property
    def parameter_options(self) -> str:
        """One ``--param NAME=VALUE`` of ``genopass metadata``/``crate`` per parameter."""
        return " ".join(
            f"--param {shlex.quote(f'{name}={value}')}" for name, value in self.parameters.items()
        )


def export_settings(config: Mapping[str, Any]) -> ExportSettings:
    """The export settings of a checked config. The parameters hold no paths: the number of
    recipients, not their keys; a QC preset given as a file by its file name."""
    export, qc = config["export"], config["qc"]
    parameters = {
        "format_keep": ",".join(export["format_keep"]),
        "include_centre": str(export["include_centre"]).lower(),
        "info_keep": ",".join(export["info_keep"]),
        "min_cell_count": str(export["min_cell_count"]),
        "missing_genotypes": export["missing_genotypes"],
        "qc_mode": qc["mode"],
        "qc_preset": Path(qc["preset"]).name,
        "recipients": str(len(export["encrypt"]["recipients"])),
    }
    return ExportSettings(
        min_cell_count=export["min_cell_count"],
        missing_genotypes=export["missing_genotypes"],
        include_centre=export["include_centre"],
        recipients=tuple(export["encrypt"]["recipients"]),
        source_reference=export["source_reference"],
        parameters=parameters,
    )


@dataclass(frozen=True)
class FastqUnit:
    """One FASTQ unit of a sample: read 1, and read 2 for paired-end reads."""

    unit: str
    fq1: str
    fq2: str | None

    @property
    def paired(self) -> bool:
        return self.fq2 is not None

    @property
    def files(self) -> list[str]:
        """[fq1, fq2], or [fq1] for single-end reads."""
        return [self.fq1, self.fq2] if self.fq2 is not None else [self.fq1]


@dataclass(frozen=True)
class SamplePlan:
    """One person-sample: who it is, and what its inputs are.

    ``kind`` is ``fastq``, ``bam``, ``cram`` or ``vcf``; ``declared_build`` is units.tsv's build
    (``auto`` when empty); ``row`` is the units.tsv row of its first unit.
    """

    sample: str
    centre: str
    pseudonym: str
    kind: str
    units: tuple[str, ...]
    declared_build: str
    row: int
    vcf: str | None = None
    vcf_sample: str | None = None
    alignment: str | None = None
    fastq: tuple[FastqUnit, ...] = ()

    @property
    def from_reads(self) -> bool:
        """FASTQ, BAM or CRAM: called by the workflow before harmonisation."""
        return self.kind in READS_KINDS

    @property
    def column(self) -> str:
        """The sample's column in the VCF that harmonisation reads: a VCF unit's column, or the
        sample ID (calls from reads are named so: bcftools mpileup --read-groups)."""
        return self.vcf_sample if self.vcf_sample is not None else self.sample

    @property
    def rename(self) -> str:
        """``COLUMN=PSEUDONYM``, for ``genopass harmonise --sample``."""
        return f"{self.column}={self.pseudonym}"

    @property
    def index_extension(self) -> str | None:
        """``bai`` or ``crai`` for a delivered BAM or CRAM."""
        return {"bam": "bai", "cram": "crai"}.get(self.kind)

    def fastq_unit(self, unit: str) -> FastqUnit:
        return next(fastq for fastq in self.fastq if fastq.unit == unit)


@dataclass(frozen=True)
class Liftover:
    """The FASTA of a source build and the chain from it to the target."""

    fasta: str
    chain: str


@dataclass(frozen=True)
class QcPlan:
    """The config's ``qc`` keys (checked by the QC stage when the workflow loads the config)."""

    preset: str = "permissive"
    mode: str = "gate"
    overrides: Mapping[str, Any] = field(default_factory=dict)
    keep_duplicate: str = "first"
    panel: str | None = None
    report_sample_names: str = "pseudonym"

    @property
    def gate_options(self) -> str:
        """``--preset --mode --keep`` and the overrides, for ``genopass qc-gate``."""
        options = ["--mode", self.mode, "--keep", self.keep_duplicate]
        return self._thresholds_options() + " " + " ".join(map(shlex.quote, options))

    @property
    def report_options(self) -> str:
        """``--preset``, the overrides and ``--names``, for ``genopass qc-report-content``."""
        return f"{self._thresholds_options()} --names {shlex.quote(self.report_sample_names)}"

    def _thresholds_options(self) -> str:
        """``--preset P`` and one ``--override METRIC=VALUE`` per override (VALUE as JSON, which
        the CLI reads as YAML)."""
        options = ["--preset", self.preset]
        for metric, value in self.overrides.items():
            options += ["--override", f"{metric}={json.dumps(value)}"]
        return " ".join(shlex.quote(option) for option in options)


@dataclass(frozen=True)
class Plan:
    """Everything the rules ask, answered from the config and the sheets (see the module)."""

    outdir: Path
    dataset: str
    reference: str
    reference_name: str
    samples_sheet: str
    units_sheet: str
    key_file: str | None
    liftover: Mapping[str, Liftover]
    non_primary_contigs: str
    aligner: str
    caller: str
    info_keep: tuple[str, ...]
    format_keep: tuple[str, ...]
    samples: Mapping[str, SamplePlan]
    export_settings: ExportSettings = field(default_factory=ExportSettings)
    qc: QcPlan = field(default_factory=lambda: QcPlan())
    region_size: int | None = None  # scatter.region_size: None runs one job per sample
    # sample -> build of a BAM/CRAM, filled when first asked (reading its header at most once)
    _alignment_builds: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    # FASTA -> its contigs, filled when first asked (from its .fai)
    _contigs: dict[str, dict[str, int]] = field(default_factory=dict, repr=False, compare=False)
    # the scatter regions, computed when first asked
    _regions: list[Region] = field(default_factory=list, repr=False, compare=False)

    # --- folders and files ----------------------------------------------------------------------

    @property
    def export(self) -> Path:
        """The pseudonymised deliverables: ``<outdir>/export/<dataset>``."""
        return self.outdir / "export" / self.dataset

    @property
    def logs(self) -> Path:
        return self.outdir / "logs"

    @property
    def benchmarks(self) -> Path:
        return self.outdir / "benchmarks"

    @property
    def reference_dict(self) -> str:
        """The target's sequence dictionary, named as GATK does: GRCh38.fa -> GRCh38.dict."""
        return re.sub(r"\.(fa|fasta|fna)(\.gz)?$", "", self.reference) + ".dict"

    @property
    def grch37_fasta(self) -> str | None:
        files = self.liftover.get("GRCh37")
        return files.fasta if files else None

    # --- samples and pseudonyms -----------------------------------------------------------------

    @property
    def sample_ids(self) -> list[str]:
        """Every sample, in samples.tsv order."""
        return list(self.samples)

    @property
    def reads_samples(self) -> list[str]:
        """The FASTQ, BAM and CRAM samples, in samples.tsv order."""
        return [name for name, sample in self.samples.items() if sample.from_reads]

    @property
    def pseudonyms(self) -> list[str]:
        """Every pseudonym, sorted (the order of the export's files)."""
        return sorted(sample.pseudonym for sample in self.samples.values())

    @property
    def pseudonyms_digest(self) -> str:
        """Changes with the key, so that the private map is rewritten when the pseudonyms do."""
        return hashlib.sha256("\n".join(self.pseudonyms).encode()).hexdigest()

    def of_pseudonym(self, pseudonym: str) -> SamplePlan:
        """The sample behind a pseudonym."""
        return next(sample for sample in self.samples.values() if sample.pseudonym == pseudonym)

    def one_sample_per_input(self, pseudonyms: Iterable[str]) -> list[str]:
        """The samples behind ``pseudonyms``, one per input file (the first, sorted): the
        samples of a cohort VCF share its file, so what is said of the file counts once; a
        reads sample's calls are a file of its own."""
        first: dict[str, str] = {}
        for sample in sorted(self.of_pseudonym(p).sample for p in pseudonyms):
            plan = self.samples[sample]
            first.setdefault(str(plan.vcf) if plan.kind == "vcf" else sample, sample)
        return sorted(first.values())

    def exported_pseudonyms(self, exported_tsv: Path | str) -> list[str]:
        """The pseudonyms of the QC gate's ``exported.tsv`` (``sample``, ``pseudonym``), sorted;
        each row must be a sample of the sheet under its own pseudonym."""
        path = Path(exported_tsv)
        with open(path, encoding="utf-8") as handle:
            rows = [line.rstrip("\n").split("\t") for line in handle if line.strip()]
        if not rows or rows[0][:2] != ["sample", "pseudonym"]:
            raise InputError(f"{path}: expected columns sample and pseudonym (genopass qc-gate)")
        found = []
        for number, row in enumerate(rows[1:], start=2):
            sample = self.samples.get(row[0])
            if len(row) < 2 or sample is None or sample.pseudonym != row[1]:
                raise InputError(
                    f"{path}: line {number}: {row[0]!r} is not a sample of {self.samples_sheet} "
                    f"under this key; re-run the QC gate (delete {path})"
                )
            found.append(row[1])
        if not found:
            raise InputError(
                f"{path}: the QC gate keeps no sample, so there is nothing to export; see "
                f"summary.tsv beside it for the reasons (or set qc.mode: warn)"
            )
        return sorted(found)

    def input_files(self, pseudonyms: Iterable[str]) -> list[str]:
        """The delivered files (VCF, FASTQ, BAM/CRAM) of these samples, each once, sorted: the
        run's inputs that the RO-Crate records by checksum."""
        files: set[str] = set()
        for pseudonym in pseudonyms:
            sample = self.of_pseudonym(pseudonym)
            files.update(p for p in (sample.vcf, sample.alignment) if p)
            files.update(path for unit in sample.fastq for path in unit.files)
        return sorted(files)

    @property
    def unit_ids(self) -> list[str]:
        """Every unit ID of units.tsv, sorted, once."""
        return sorted({unit for sample in self.samples.values() for unit in sample.units})

    # --- builds, references and contigs ---------------------------------------------------------

    def build(self, sample: str) -> str:
        """The build ``genopass harmonise --build`` gets: a VCF's declared build (or ``auto``);
        for calls from reads the build they are made on: the target for FASTQ, the alignment's
        for BAM/CRAM (``GRCh37`` ones are lifted over by harmonisation)."""
        plan = self.samples[sample]
        if plan.kind == "vcf":
            return plan.declared_build
        if plan.kind == "fastq":
            return self.reference_name
        if sample not in self._alignment_builds:
            self._alignment_builds[sample] = self._alignment_build(plan)
        return self._alignment_builds[sample]

    def sample_reference(self, sample: str) -> str:
        """The FASTA a reads sample is aligned to and called on: the target, or the GRCh37 FASTA
        of the liftover for a GRCh37 alignment."""
        grch37 = self.grch37_fasta
        if self.build(sample) == "GRCh37" and grch37 is not None:
            return grch37
        return self.reference

    def call_contigs(self, sample: str) -> list[str]:
        """The contigs calling scatters over for a reads sample, in reference order: the primary
        chromosomes of its reference (harmonisation keeps only those), or every contig of a
        reference without any (a synthetic or non-human one)."""
        return self._calling_contigs(self.sample_reference(sample))

    @property
    def candidate_references(self) -> list[str]:
        """The FASTAs reads samples may be on (read without opening any alignment): the target
        when there are reads samples, and the GRCh37 FASTA of the liftover when there are
        BAM/CRAM samples."""
        kinds = {sample.kind for sample in self.samples.values()}
        references = [self.reference] if kinds & set(READS_KINDS) else []
        if kinds & {"bam", "cram"} and self.grch37_fasta is not None:
            references.append(self.grch37_fasta)
        return references

    @property
    def contigs(self) -> list[str]:
        """Every contig calling may scatter over (for the wildcard constraint), sorted."""
        return sorted(
            {
                contig
                for fasta in self.candidate_references
                for contig in self._calling_contigs(fasta)
            }
        )

    @property
    def fasta_of_name(self) -> dict[str, str]:
        """FASTA file name -> FASTA, for the rules named by it (the autosomes of coverage QC)."""
        references = self.candidate_references or [self.reference]
        return {Path(fasta).name: fasta for fasta in references}

    def fasta_index(self, fasta: str) -> dict[str, str]:
        """A FASTA and, for the target, its .fai (a rule builds it); the GRCh37 FASTA's .fai is
        built by the rules that read it when missing."""
        return (
            {"fasta": fasta, "fai": f"{fasta}.fai"} if fasta == self.reference else {"fasta": fasta}
        )

    # --- scatter by region (scatter.region_size) ------------------------------------------------

    @property
    def regions(self) -> list[Region]:
        """The scatter regions of the target (:func:`scatter_regions` of its .fai); none when
        scatter.region_size is null."""
        if self.region_size is None:
            return []
        if self._regions:
            return self._regions
        from genopass.inputs.reference import reference_contigs

        if self.reference not in self._contigs:
            self._contigs[self.reference] = reference_contigs(self.reference)
        regions = scatter_regions(self._contigs[self.reference], self.region_size)
        if len(regions) > MAX_REGIONS:
            raise InputError(
                f"config: key 'scatter.region_size': {self.region_size} cuts the reference "
                f"{self.reference} into {len(regions)} regions (at most {MAX_REGIONS}); give a "
                f"larger region size (for example 10000000)"
            )
        self._regions.extend(regions)
        return regions

    @property
    def region_ids(self) -> list[str]:
        """The names of the scatter regions, in reference order (:data:`OTHER_REGION` last)."""
        return [region.name for region in self.regions]

    @property
    def export_regions(self) -> list[Region]:
        """The regions the cohort VCF is built in, one job each, then gathered: the windows,
        when every exported record lies in one (non-primary contigs rejected); otherwise none
        (one job)."""
        if self.non_primary_contigs == "keep":
            return []
        return [region for region in self.regions if region.is_window]

    @property
    def export_contigs(self) -> list[str]:
        """The contigs the Parquet tables are written by, one job each, when the cohort is
        built by region (:attr:`export_regions`), in reference order; otherwise none."""
        return list(dict.fromkeys(region.contig for region in self.export_regions))

    def region_spec(self, name: str) -> str:
        """The ``CONTIG:START-END`` of a region, by name."""
        return next(region.spec for region in self.regions if region.name == name)

    def scattered(self, sample: str) -> bool:
        """Whether the sample is harmonised region by region: scatter is on and its input is on
        the target build (declared, called on it, or ``auto`` with no liftover configured).
        Inputs to lift over, or whose build is to be detected among several, run in one job."""
        if self.region_size is None:
            return False
        build = self.build(sample)
        return build == self.reference_name or (build == "auto" and not self.liftover)

    @property
    def scattered_samples(self) -> list[str]:
        """The samples harmonised region by region, in samples.tsv order."""
        return [name for name in self.samples if self.scattered(name)]

    @property
    def unsplit_samples(self) -> list[str]:
        """The samples harmonised in one job, in samples.tsv order."""
        return [name for name in self.samples if not self.scattered(name)]

    # --- options of the genopass CLI ------------------------------------------------------------

    @property
    def key_option(self) -> str:
        """``--key-file PATH``, or nothing when the key is in the environment."""
        return f"--key-file {shlex.quote(self.key_file)}" if self.key_file else ""

    @property
    def liftover_files(self) -> dict[str, str]:
        """``fasta37`` and ``chain`` of the GRCh37 liftover, when configured (else nothing)."""
        files = self.liftover.get("GRCh37")
        return {"fasta37": files.fasta, "chain": files.chain} if files else {}

    @property
    def harmonise_options(self) -> str:
        """Liftover and non-primary-contig options of ``genopass harmonise``."""
        files = self.liftover.get("GRCh37")
        options = (
            ["--liftover-fasta", files.fasta, "--liftover-chain", files.chain] if files else []
        )
        if self.non_primary_contigs == "keep":
            options.append("--keep-non-primary")
        return " ".join(shlex.quote(option) for option in options)

    @property
    def region_harmonise_options(self) -> str:
        """The options of ``genopass harmonise`` for one region (no liftover: scattered samples
        are on the target build)."""
        return "--keep-non-primary" if self.non_primary_contigs == "keep" else ""

    @property
    def info_keep_options(self) -> str:
        return " ".join(f"--info-keep {shlex.quote(name)}" for name in self.info_keep)

    @property
    def format_keep_options(self) -> str:
        return " ".join(f"--format-keep {shlex.quote(name)}" for name in self.format_keep)

    # --- checks that read files -----------------------------------------------------------------

    def check_inputs(self, units: pd.DataFrame) -> None:
        """Every input file of ``units`` is present and usable, and every BAM/CRAM's build has
        a reference (this reads every file; the workflow does it in its main process only)."""
        check_input_files(units)
        for name, sample in self.samples.items():
            if sample.kind in ("bam", "cram"):
                self.build(name)

    def _alignment_build(self, plan: SamplePlan) -> str:
        from genopass.inputs.alignments import alignment_build

        with _environment_kept():
            build = alignment_build(
                plan.alignment,
                plan.declared_build,
                target_fasta=self.reference,
                target_name=self.reference_name,
                grch37_fasta=self.grch37_fasta,
            )
        if build == "GRCh37" and self.grch37_fasta is None:
            kind = plan.kind.upper()
            how = (
                "is declared GRCh37"
                if plan.declared_build == "GRCh37"
                else "has GRCh37 contig lengths"
            )
            raise InputError(
                f"{self.units_sheet} row {plan.row}, column build: {kind} {plan.alignment!r} "
                f"{how}; its calls are made on GRCh37 and lifted over to the target, which needs "
                f"the GRCh37 FASTA and chain: add 'liftover: {{GRCh37: {{fasta: ..., chain: "
                f"...}}}}' to the config (or give the reads as FASTQ units to align them to the "
                f"target)"
            )
        return build

    def _calling_contigs(self, fasta: str) -> list[str]:
        from genopass.inputs.reference import reference_contigs

        if fasta not in self._contigs:
            self._contigs[fasta] = reference_contigs(fasta)
        contigs = self._contigs[fasta]
        return [name for name in contigs if is_primary_name(name)] or list(contigs)


# --- loading ------------------------------------------------------------------------------------


def load_plan(
    config: Mapping[str, Any], pseudonymise: Pseudonymise, *, check_inputs: bool = True
) -> Plan:
    """Read and check the config and the sheets once; return the plan of the run.

    ``pseudonymise`` names each sample (see :data:`Pseudonymise`). With ``check_inputs``, every
    input file is checked and every BAM/CRAM's build read now (a job that re-parses the workflow
    passes False). Raises InputError (a sheet, a file, the config) or UsageError (a pseudonym
    collision), naming the file, the row and column, and the fix.
    """
    config = load_config(config)
    sheets = load_sheets(config["samples"], config["units"])
    liftover = {
        build: Liftover(fasta=files["fasta"], chain=files["chain"])
        for build, files in config["liftover"].items()
    }
    plan = Plan(
        outdir=Path(config["outdir"]),
        dataset=config["export"]["dataset"],
        reference=config["reference"]["fasta"],
        reference_name=config["reference"]["name"],
        samples_sheet=str(config["samples"]),
        units_sheet=sheets.units.attrs["path"],
        key_file=config["pseudonymisation"]["key_file"],
        liftover=liftover,
        non_primary_contigs=config["harmonise"]["non_primary_contigs"],
        aligner=config["reads"]["aligner"],
        caller=config["reads"]["caller"],
        info_keep=tuple(config["export"].get("info_keep", [])),
        format_keep=tuple(config["export"].get("format_keep", [])),
        samples=_sample_plans(sheets, pseudonymise),
        export_settings=export_settings(config),
        qc=QcPlan(
            preset=config["qc"]["preset"],
            mode=config["qc"]["mode"],
            overrides=dict(config["qc"]["overrides"]),
            keep_duplicate=config["qc"]["keep_duplicate"],
            panel=config["qc"]["panel"],
            report_sample_names=config["qc"]["report_sample_names"],
        ),
        region_size=config["scatter"]["region_size"],
    )
    check_vcf_builds(sheets.units, target_name=plan.reference_name, liftover=liftover)
    _check_reference_names(plan)
    if check_inputs:
        plan.check_inputs(sheets.units)
    return plan


def _sample_plans(sheets: Sheets, pseudonymise: Pseudonymise) -> dict[str, SamplePlan]:
    """sample -> its plan, in samples.tsv order; pseudonyms must not collide."""
    units: dict[str, list[tuple[int, dict[str, str]]]] = {}
    for row, unit in records(sheets.units):
        units.setdefault(unit["sample"], []).append((row, unit))
    plans: dict[str, SamplePlan] = {}
    for _, person in records(sheets.samples):
        rows = units[person["sample"]]
        first_row, first = rows[0]
        kind = input_kind(first)
        plans[person["sample"]] = SamplePlan(
            sample=person["sample"],
            centre=person["centre"],
            pseudonym=pseudonymise(person["centre"], person["sample"]),
            kind=kind,
            units=tuple(unit["unit"] for _, unit in rows),
            declared_build=first.get("build", "auto"),
            row=first_row,
            vcf=first.get("vcf"),
            vcf_sample=vcf_column(first) if kind == "vcf" else None,
            alignment=first.get(kind) if kind in ("bam", "cram") else None,
            fastq=tuple(
                FastqUnit(unit=unit["unit"], fq1=unit["fq1"], fq2=unit.get("fq2"))
                for _, unit in rows
                if kind == "fastq"
            ),
        )
    pseudonyms = [plan.pseudonym for plan in plans.values()]
    clash = [name for name, plan in plans.items() if pseudonyms.count(plan.pseudonym) > 1]
    if clash:
        raise UsageError(f"pseudonym collision between samples {', '.join(clash)}; use another key")
    return plans


@contextlib.contextmanager
def _environment_kept() -> Iterator[None]:
    """Undo environment variables set inside (reading an alignment's header sets htslib's
    REF_PATH), so that the process that plans the run, and every job it starts, keeps its own."""
    saved = dict(os.environ)
    try:
        yield
    finally:
        for name in set(os.environ) - set(saved):
            del os.environ[name]
        os.environ.update(saved)


def _check_reference_names(plan: Plan) -> None:
    """The rules name a reference by its file name: the target's and GRCh37's must differ."""
    references = plan.candidate_references
    if len({Path(fasta).name for fasta in references}) < len(set(references)):
        raise InputError(
            f"reference.fasta {plan.reference} and liftover.GRCh37.fasta {plan.grch37_fasta} have "
            f"the same file name; rename one of them"
        )


def check_vcf_builds(units: pd.DataFrame, *, target_name: str, liftover: Iterable[str]) -> None:
    """Every VCF unit declared on a build other than the target has a liftover from it.

    ``liftover`` holds the builds the config's ``liftover`` block covers. A VCF declared GRCh37
    without one is an error naming the row, raised when the plan loads, before any job runs
    (the harmonisation would refuse it the same way, inside its job). ``auto`` VCFs are left to
    the harmonisation's build detection.
    """
    path = units.attrs.get("path", "units.tsv")
    covered = {target_name, *liftover}
    for row, unit in records(units):
        build = unit.get("build", "auto")
        if input_kind(unit) == "vcf" and build != "auto" and build not in covered:
            raise InputError(
                f"{path} row {row}, column build: VCF {unit['vcf']!r} is declared {build}, but "
                f"the config has no liftover from {build} to the target {target_name}: add "
                f"'liftover: {{{build}: {{fasta: ..., chain: ...}}}}' to the config (the {build} "
                f"FASTA and the chain to the target), or correct the build if the VCF is on "
                f"{target_name}"
            )


# --- the input files ----------------------------------------------------------------------------


def check_input_files(units: pd.DataFrame) -> None:
    """Every file units.tsv names exists; FASTQs pass the quick checks; every VCF is complete
    and holds the sample's column (each VCF header is read once). Errors name the row."""
    path = units.attrs.get("path", "units.tsv")
    rows = list(records(units))
    _check_files_exist(rows, path)
    _check_fastqs(rows, path)
    _check_vcfs(rows, path)


def _check_files_exist(rows: Rows, path: str) -> None:
    for row, unit in rows:
        for column in ("fq1", "fq2", "bam", "cram", "vcf"):
            value = unit.get(column)
            if value is not None and not Path(value).is_file():
                raise InputError(
                    f"{path} row {row}, column {column}: file {value!r} does not exist "
                    f"(relative paths start from the working directory {Path.cwd()}); "
                    f"correct the path"
                )


def _check_fastqs(rows: Rows, path: str) -> None:
    """Cheap checks of FASTQ files; the rule check_fastq reads them whole before alignment."""
    from genopass.inputs.fastq import check_fastq_quick

    for row, unit in rows:
        if input_kind(unit) != "fastq":
            continue
        fq2 = unit.get("fq2")
        if fq2 is not None and Path(fq2).resolve() == Path(unit["fq1"]).resolve():
            raise InputError(
                f"{path} row {row}, column fq2: {fq2!r} is also the unit's fq1; give the file "
                f"of read 2, or leave fq2 empty for single-end reads"
            )
        for column in ("fq1", "fq2"):
            if column in unit:
                try:
                    check_fastq_quick(unit[column])
                except InputError as exc:
                    raise InputError(f"{path} row {row}, column {column}: {exc}") from None


def _check_vcfs(rows: Rows, path: str) -> None:
    """Each VCF is complete BGZF and has the sample's column."""
    headers: dict[Path, list[str]] = {}
    for row, unit in rows:
        vcf = unit.get("vcf")
        if vcf is None:
            continue
        resolved = Path(vcf).resolve()
        if resolved not in headers:
            headers[resolved] = _vcf_samples(vcf, f"{path} row {row}, column vcf")
        names = headers[resolved]
        wanted = vcf_column(unit)
        if wanted in names:
            continue
        if not names:
            raise InputError(
                f"{path} row {row}, column vcf: {vcf} has no sample columns (a sites-only VCF); "
                f"give a VCF with the genotypes of sample {unit['sample']!r}"
            )
        column = "vcf_sample" if "vcf_sample" in unit else "sample"
        fix = (
            "correct vcf_sample"
            if column == "vcf_sample"
            else "if the file names the sample differently, give that name in a vcf_sample column"
        )
        raise InputError(
            f"{path} row {row}, column {column}: sample {wanted!r} is not in the header of "
            f"{vcf}, which has {_list_samples(names)}; {fix}"
        )


def _vcf_samples(vcf: str, where: str) -> list[str]:
    """The sample names in a VCF/BCF header, after checking that the file is complete."""
    try:
        check_bgzf_complete(vcf)
    except InputError as exc:
        raise InputError(f"{where}: {exc}") from None
    import pysam

    # Quiet htslib: it would warn on stderr that the file has no index, which is not needed here.
    verbosity = pysam.set_verbosity(0)
    try:
        with pysam.VariantFile(vcf) as handle:
            return list(handle.header.samples)
    except (OSError, ValueError) as exc:
        raise InputError(
            f"{where}: {vcf} cannot be read as VCF or BCF ({exc}); check that it is a bgzipped "
            f"VCF with a complete header"
        ) from None
    finally:
        pysam.set_verbosity(verbosity)


def _list_samples(names: Iterable[str]) -> str:
    names = list(names)
    shown = ", ".join(repr(name) for name in names[:SHOWN_VCF_SAMPLES])
    more = f" and {len(names) - SHOWN_VCF_SAMPLES} more" if len(names) > SHOWN_VCF_SAMPLES else ""
    return f"{len(names)} sample{'s' if len(names) != 1 else ''}: {shown}{more}"
