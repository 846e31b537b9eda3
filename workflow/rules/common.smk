import re
import shlex
from functools import partial
from pathlib import Path

from snakemake.exceptions import WorkflowError

from genopass.errors import GenopassError
from genopass.export.pseudonym import load_key, pseudonym
from genopass.inputs.alignments import OFFLINE_REF_PATH
from genopass.inputs.plan import load_plan
from genopass.inputs.resources import callables as resource_callables
from genopass.qc.multiqc import FILES as REPORT_CONTENT

##### the plan #####

# The package reads and checks the config and the sheets once and answers every question below
# (genopass.inputs.plan); a problem stops the workflow before any job runs, with one message naming
# the file, row and column. The input files are checked by the main process only: a job that
# re-parses the workflow reads the sheets, the key and the references' .fai. The key stays in
# memory: only pseudonyms reach the jobs.
try:
    pseudonymise = partial(pseudonym, load_key(config["pseudonymisation"]["key_file"]))
    PLAN = load_plan(config, pseudonymise, check_inputs=workflow.is_main_process)
except GenopassError as exc:
    raise WorkflowError(str(exc)) from None

OUTDIR = PLAN.outdir
EXPORT = PLAN.export
LOGS = PLAN.logs
BENCHMARKS = PLAN.benchmarks
DATASET = PLAN.dataset
REFERENCE = PLAN.reference


def rule_resources(name, like=None):
    """``mem_mb`` and ``runtime`` of rule ``name``'s jobs, computed from the size of their inputs
    and their threads and doubled on a retry (genopass.inputs.resources; docs/cluster.md). Use
    it as ``resources: **rule_resources("bwa_mem")``; a new rule borrows the formula of one that
    reads the same way: ``**rule_resources("harmonise_region", like="harmonise_vcf")``.
    set-resources in a profile wins.
    """
    return resource_callables(name, lifted=is_lifted_over, like=like)


def is_lifted_over(wildcards):
    """Whether a sample's harmonisation may lift it over: its build is not the target's (GRCh37,
    or auto until harmonisation detects it)."""
    sample = getattr(wildcards, "sample", None)
    return sample is None or PLAN.build(sample) != PLAN.reference_name


def one_of(names):
    return "|".join(re.escape(name) for name in names)


wildcard_constraints:
    sample=one_of(PLAN.sample_ids),
    pseudonym=one_of(PLAN.pseudonyms),
    unit=one_of(PLAN.unit_ids),
    contig=one_of(PLAN.contigs),
    fasta_name=one_of(PLAN.fasta_of_name),
    index="bai|crai",


##### input functions and params #####


def get_final_output():
    """The export, its private map, the accounting, the QC gate and its report."""
    return [
        rules.export_manifest.output[0],
        rules.write_pseudonyms.output[0],
        rules.summarise_accounting.output[0],
        *rules.gate_samples.output,
        rules.multiqc.output[0],
    ]


def get_reads_qc(sample):
    """Read and alignment QC of a FASTQ/BAM/CRAM sample (kept for the QC step, MultiQC)."""
    qc = [rules.samtools_stats, rules.samtools_flagstat, rules.mosdepth]
    fastp = [get_fastp_json(sample, unit.unit) for unit in PLAN.samples[sample].fastq]
    return expand([step.output[0] for step in qc], sample=sample) + fastp


def get_fastp_json(sample, unit):
    fastp = rules.fastp_pe if is_paired(sample, unit) else rules.fastp_se
    return expand(fastp.output.json, sample=sample, unit=unit)[0]


def is_paired(sample, unit):
    return PLAN.samples[sample].fastq_unit(unit).paired


def get_fastq(wildcards):
    return PLAN.samples[wildcards.sample].fastq_unit(wildcards.unit).files


def get_trimmed_fastq(wildcards):
    if is_paired(wildcards.sample, wildcards.unit):
        return [rules.fastp_pe.output.r1, rules.fastp_pe.output.r2]
    return rules.fastp_se.output.reads


def get_read_group(wildcards):
    """The @RG line of one unit: SM is the sheet's sample ID (results only, never exported)."""
    sample, unit = wildcards.sample, wildcards.unit
    return f"@RG\\tID:{sample}.{unit}\\tSM:{sample}\\tLB:{sample}\\tPU:{unit}\\tPL:ILLUMINA"


def get_unit_alignments(wildcards):
    aligned = {"bwa": rules.bwa_mem, "minimap2": rules.minimap2_sr}[PLAN.aligner]
    return expand(
        aligned.output[0], unit=PLAN.samples[wildcards.sample].units, allow_missing=True
    )


def get_alignment_unit(wildcards):
    return PLAN.samples[wildcards.sample].alignment


def get_sample_alignment(wildcards):
    """FASTQ samples' duplicate-marked BAM, or the centre's BAM/CRAM with its index (built under
    results/ after the file's check)."""
    sample = PLAN.samples[wildcards.sample]
    if sample.kind == "fastq":
        return {
            "alignment": rules.samtools_markdup.output.bam,
            "index": rules.samtools_markdup.output.bai,
        }
    return {
        "alignment": sample.alignment,
        "index": expand(
            rules.samtools_index.output[0],
            index=sample.index_extension,
            allow_missing=True,
        )[0],
    }


def get_indexed_alignment(wildcards, input):
    """``ALIGNMENT##idx##INDEX``: htslib's way to name an index kept apart from its file."""
    return f"{input.alignment}##idx##{input.index}"


def get_mosdepth_prefix(wildcards, output):
    return output[0].removesuffix(".mosdepth.summary.txt")


def get_sample_reference(wildcards):
    return PLAN.fasta_index(PLAN.sample_reference(wildcards.sample))


def get_check_alignment_reference(wildcards):
    """The sample's reference, with the sequence dictionary when it is the target."""
    files = get_sample_reference(wildcards)
    if files["fasta"] != REFERENCE:
        return files
    return {**files, "dict": rules.samtools_dict.output[0]}


def get_check_alignment_options(wildcards, input):
    """``--dict`` of the target, or ``--build GRCh37`` for an alignment on GRCh37."""
    if "dict" in input.keys():
        return f"--dict {shlex.quote(str(input.dict))}"
    return f"--build {shlex.quote(PLAN.build(wildcards.sample))}"


def get_autosomes_bed(wildcards):
    name = Path(PLAN.sample_reference(wildcards.sample)).name
    return expand(rules.write_autosomes.output[0], fasta_name=name)


def get_autosomes_fasta(wildcards):
    return PLAN.fasta_index(PLAN.fasta_of_name[wildcards.fasta_name])


def get_contig_calls(wildcards):
    """A sample's calls of every contig of its reference, in reference order."""
    contigs = PLAN.call_contigs(wildcards.sample)
    return expand(rules.bcftools_call.output[0], contig=contigs, allow_missing=True)


def get_sample_rename(wildcards):
    return PLAN.samples[wildcards.sample].rename


def get_build(wildcards):
    return PLAN.build(wildcards.sample)


def get_liftover_files(wildcards):
    return PLAN.liftover_files


def get_harmonise_input(wildcards):
    """A VCF unit's file, or the calls made from the sample's reads or alignment."""
    sample = PLAN.samples[wildcards.sample]
    if sample.kind == "vcf":
        return sample.vcf
    return {"bcftools": rules.bcftools_concat.output.vcf}[PLAN.caller]


def get_harmonised_vcf(wildcards):
    """The harmonised VCF and index of the sample behind a pseudonym."""
    sample = PLAN.of_pseudonym(wildcards.pseudonym).sample
    outputs = rules.harmonise_vcf.output
    return {
        "vcf": expand(outputs.vcf, sample=sample)[0],
        "tbi": expand(outputs.tbi, sample=sample)[0],
    }


##### export #####


def exported_pseudonyms():
    """Pseudonyms of the samples the export holds, sorted: the one list every export rule uses,
    those that the QC gate keeps (results/qc/exported.tsv of checkpoint gate_samples). Call it
    from input functions only: Snakemake re-evaluates them once the checkpoint has run.
    """
    return PLAN.exported_pseudonyms(checkpoints.gate_samples.get().output.exported)


def get_exported_vcfs(wildcards):
    """Each exported sample's VCF."""
    return expand(rules.export_vcf.output.vcf, pseudonym=exported_pseudonyms())


def get_input_check_findings(wildcards):
    """The input check's findings of each input file behind an exported sample (once a file)."""
    samples = PLAN.one_sample_per_input(exported_pseudonyms())
    return expand(rules.check_vcf.output.findings, sample=samples)


def input_check_options(findings):
    """One --input-check option per findings file (a single file comes as a string)."""
    paths = [findings] if isinstance(findings, str) else list(findings)
    return " ".join(f"--input-check {shlex.quote(path)}" for path in paths)


def get_exported_tbis(wildcards):
    return expand(rules.export_vcf.output.tbi, pseudonym=exported_pseudonyms())


def cohort_blocks():
    """pseudonym -> the gVCF reference blocks of its sample (empty for a variants-only VCF)."""
    blocks = rules.harmonise_vcf.output.blocks
    return {
        pseudonym: expand(blocks, sample=PLAN.of_pseudonym(pseudonym).sample)[0]
        for pseudonym in exported_pseudonyms()
    }


def get_cohort_blocks(wildcards):
    return list(cohort_blocks().values())


def get_cohort_blocks_options(wildcards):
    """``--blocks PSEUDONYM=PATH`` of ``genopass cohort``, one per exported sample."""
    return " ".join(
        f"--blocks {shlex.quote(f'{pseudonym}={path}')}"
        for pseudonym, path in cohort_blocks().items()
    )


def get_crate_inputs(wildcards):
    """The delivered files of the exported samples and the reference: the RO-Crate records
    them by checksum."""
    return [*PLAN.input_files(exported_pseudonyms()), REFERENCE]


def get_crate_input_options(wildcards, input):
    return " ".join(f"--input {shlex.quote(str(path))}" for path in input.inputs)


def get_encrypted(wildcards):
    """The Crypt4GH copies, when export.encrypt.recipients names any."""
    return rules.encrypt_export.output if PLAN.export_settings.recipients else []


##### QC #####

# Bioconda's Picard is `picard`, Debian's `PicardCommandLine`.
PICARD = "$(command -v picard || echo PicardCommandLine)"


def get_sample_harmonised_vcf(wildcards):
    outputs = rules.harmonise_vcf.output
    return {
        "vcf": expand(outputs.vcf, sample=wildcards.sample)[0],
        "tbi": expand(outputs.tbi, sample=wildcards.sample)[0],
    }


def get_pseudonym(wildcards):
    return PLAN.samples[wildcards.sample].pseudonym


def get_qc_metrics_inputs(wildcards):
    """The harmonised VCF and its accounting, the frequencies of the contamination estimate
    (qc.panel, or the run's cohort), and for a reads sample its tools' QC outputs."""
    sample = wildcards.sample
    inputs = {
        **get_sample_harmonised_vcf(wildcards),
        "accounting": expand(rules.harmonise_vcf.output.accounting, sample=sample)[0],
        "autosomes": TARGET_AUTOSOMES,
    }
    if PLAN.qc.panel:
        inputs["panel"] = PLAN.qc.panel
    else:
        inputs["cohort"] = rules.write_qc_cohort.output.vcf
    if PLAN.samples[sample].from_reads:
        tools = {
            "wgs_metrics": rules.picard_collect_wgs_metrics,
            "quality_yield": rules.picard_collect_quality_yield_metrics,
            "samtools_stats": rules.samtools_stats,
            "mosdepth_summary": rules.mosdepth,
        }
        for name, step in tools.items():
            inputs[name] = expand(step.output[0], sample=sample)[0]
        inputs["fastp"] = [
            get_fastp_json(sample, unit.unit) for unit in PLAN.samples[sample].fastq
        ]
    return inputs


QC_METRICS_OPTIONS = {
    "panel": "--panel",
    "cohort": "--cohort",
    "wgs_metrics": "--wgs-metrics",
    "quality_yield": "--quality-yield",
    "samtools_stats": "--samtools-stats",
    "mosdepth_summary": "--mosdepth-summary",
    "fastp": "--fastp",
}


def get_qc_metrics_options(wildcards, input):
    """``genopass qc-metrics`` options of the inputs the sample has."""
    options = []
    for name, option in QC_METRICS_OPTIONS.items():
        if name in input.keys():
            paths = [input[name]] if isinstance(input[name], str) else input[name]
            options += [f"{option} {shlex.quote(str(path))}" for path in paths]
    return " ".join(options)


def get_report_inputs(wildcards):
    """What MultiQC reads: every reads sample's tool QC (fastp, samtools, mosdepth, Picard),
    every sample's bcftools stats, and genopass's custom-content files."""
    picard = [
        rules.picard_collect_wgs_metrics,
        rules.picard_collect_quality_yield_metrics,
    ]
    tools = [
        *[path for sample in PLAN.reads_samples for path in get_reads_qc(sample)],
        *expand([rule.output[0] for rule in picard], sample=PLAN.reads_samples),
        *expand(rules.bcftools_stats.output[0], sample=PLAN.sample_ids),
    ]
    return {"tools": tools, "genopass": rules.write_report_content.output.tables}
