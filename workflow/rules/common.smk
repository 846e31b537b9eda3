import hashlib
import os
import re
import shlex
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from genopass.errors import GenopassError
from genopass.export.pseudonym import load_key, pseudonym_table
from genopass.inputs.reference import reference_contigs
from genopass.reads.regions import calling_contigs
from genopass.inputs.sheets import (
    alignment_builds,
    alignment_inputs,
    check_vcf_builds,
    fastq_units,
    input_kinds,
    load_sheets,
    vcf_inputs,
)

##### paths #####

OUTDIR = Path(config["outdir"])
DATASET = config["export"]["dataset"]
EXPORT = OUTDIR / "export" / DATASET
LOGS = OUTDIR / "logs"
BENCHMARKS = OUTDIR / "benchmarks"
REFERENCE = config["reference"]["fasta"]
KEY_FILE = config["pseudonymisation"]["key_file"]

# envs/genopass.yaml installs genopass with pip from this source tree (pip expands ${...}).
os.environ.setdefault("GENOPASS_SOURCE", str(Path(workflow.basedir).parent))


##### sheets and pseudonyms #####

# The package checks the sheets (schemas, then across rows and files) and computes the
# pseudonyms; a problem stops the workflow before any job runs, with one message naming the file,
# row and column. The key stays in memory: only pseudonyms reach the jobs.
try:
    sheets = load_sheets(config["samples"], config["units"])
    pseudonyms = pseudonym_table(sheets.samples, load_key(KEY_FILE))
except GenopassError as exc:
    raise WorkflowError(str(exc)) from None

samples = sheets.samples
units = sheets.units
validate(samples, schema="../schemas/samples.schema.yaml")
validate(units, schema="../schemas/units.schema.yaml")

# sample -> {unit, vcf, vcf_sample, build, centre, pseudonym}
VCF_INPUTS = (
    vcf_inputs(units)
    .merge(pseudonyms, on="sample", validate="one_to_one")
    .set_index("sample")
    .to_dict("index")
)
SAMPLES = list(samples["sample"])
PSEUDONYMS = sorted(pseudonyms["pseudonym"])
SAMPLE_OF_PSEUDONYM = dict(zip(pseudonyms["pseudonym"], pseudonyms["sample"]))
# Changes with the key (from a file or the environment), so that the private map is rewritten
# whenever the pseudonyms in the export change.
PSEUDONYMS_DIGEST = hashlib.sha256("\n".join(PSEUDONYMS).encode()).hexdigest()


##### raw reads and alignments #####

ALIGNER = config["reads"]["aligner"]
CALLER = config["reads"]["caller"]
# sample -> fastq, bam, cram or vcf; only vcf samples skip alignment and calling
INPUT_KIND = input_kinds(units)
READS_SAMPLES = [sample for sample in SAMPLES if INPUT_KIND[sample] != "vcf"]
PSEUDONYM_OF = dict(zip(pseudonyms["sample"], pseudonyms["pseudonym"]))
FASTQ_TABLE = fastq_units(units)
# (sample, unit) -> {fq1, fq2}; sample -> its FASTQ units in sheet order
FASTQ_UNITS = FASTQ_TABLE.set_index(["sample", "unit"]).to_dict("index")
UNITS_OF = FASTQ_TABLE.groupby("sample", sort=False)["unit"].apply(list).to_dict()
# sample -> {unit, alignment, format} of BAM/CRAM samples
ALIGNMENT_INPUTS = alignment_inputs(units).set_index("sample").to_dict("index")
# the rule (and so the folder) of each aligner's and caller's output
ALIGNER_RULE = {"bwa": "bwa_mem", "minimap2": "minimap2_sr"}[ALIGNER]
CALLED_VCF = {"bcftools": OUTDIR / "call" / "bcftools_concat" / "{sample}.vcf.gz"}[
    CALLER
]
# GATK's naming: GRCh38.fa -> GRCh38.dict
REFERENCE_DICT = re.sub(r"\.(fa|fasta|fna)(\.gz)?$", "", REFERENCE) + ".dict"
# build -> {fasta, chain}: inputs on these builds are lifted over to the target (default: none)
LIFTOVER = config["liftover"]
GRCH37_FASTA = LIFTOVER.get("GRCh37", {}).get("fasta")
try:
    # a VCF declared on a build without a liftover stops the run here, naming its row
    check_vcf_builds(units, target_name=config["reference"]["name"], liftover=LIFTOVER)
    # sample -> the build a BAM/CRAM sample is called on: GRCh37 alignments are checked and
    # called against the GRCh37 FASTA of the liftover, and lifted over by harmonisation
    ALIGNMENT_BUILD = alignment_builds(
        units,
        target_fasta=REFERENCE,
        target_name=config["reference"]["name"],
        grch37_fasta=GRCH37_FASTA,
    )
    # sample -> the FASTA its reads are aligned to (FASTQ: the target) and called on
    SAMPLE_REFERENCE = {
        sample: (GRCH37_FASTA if ALIGNMENT_BUILD.get(sample) == "GRCh37" else REFERENCE)
        for sample in READS_SAMPLES
    }
    # FASTA -> the contigs calling scatters over, one job each (its primary chromosomes)
    CALL_CONTIGS = {
        fasta: calling_contigs(reference_contigs(fasta))
        for fasta in sorted(set(SAMPLE_REFERENCE.values()))
    }
except GenopassError as exc:
    raise WorkflowError(str(exc)) from None
# FASTA file name -> FASTA, for the rules named by it (the autosomes of coverage QC)
FASTA_OF_NAME = {
    Path(fasta).name: fasta for fasta in {REFERENCE, *SAMPLE_REFERENCE.values()}
}
if len(FASTA_OF_NAME) < len({REFERENCE, *SAMPLE_REFERENCE.values()}):
    raise WorkflowError(
        f"reference.fasta {REFERENCE} and liftover.GRCh37.fasta {GRCH37_FASTA} have the same "
        f"file name; rename one of them"
    )


wildcard_constraints:
    sample="|".join(re.escape(sample) for sample in SAMPLES),
    pseudonym="|".join(re.escape(pseudonym) for pseudonym in PSEUDONYMS),
    unit="|".join(sorted({re.escape(unit) for unit in units["unit"]})),
    contig="|".join(
        sorted(
            {
                re.escape(contig)
                for contigs in CALL_CONTIGS.values()
                for contig in contigs
            }
        )
    ),
    fasta_name="|".join(re.escape(name) for name in FASTA_OF_NAME),
    index="bai|crai",


##### input functions #####


def get_final_output():
    """The targets of the default rule: the export, its private map and the accounting."""
    return [
        EXPORT / "MANIFEST.tsv",
        OUTDIR / "private" / "pseudonyms.tsv",
        OUTDIR / "harmonise" / "accounting.tsv",
        *get_reads_qc_output(),
    ]


def get_key_option(wildcards):
    """``--key-file PATH`` for the genopass CLI, or nothing when the key is in the environment."""
    return f"--key-file {shlex.quote(KEY_FILE)}" if KEY_FILE else ""


def get_sample_rename(wildcards):
    """``VCF_SAMPLE=PSEUDONYM``: the sample's column in its VCF and the name it gets."""
    if INPUT_KIND[wildcards.sample] != "vcf":
        # called from reads: the column is the sample ID (bcftools mpileup --read-groups)
        return f"{wildcards.sample}={PSEUDONYM_OF[wildcards.sample]}"
    unit = VCF_INPUTS[wildcards.sample]
    return f"{unit['vcf_sample']}={unit['pseudonym']}"


##### harmonisation options #####

NON_PRIMARY = config["harmonise"]["non_primary_contigs"]


def get_build(wildcards):
    """The sample's build as units.tsv declares it; calls made from reads are on the target,
    those made from a BAM/CRAM on the build of the alignment (GRCh37 ones are lifted over).
    """
    if INPUT_KIND[wildcards.sample] != "vcf":
        return ALIGNMENT_BUILD.get(wildcards.sample, config["reference"]["name"])
    return VCF_INPUTS[wildcards.sample]["build"]


def get_liftover_files(wildcards):
    """The GRCh37 FASTA and chain of the liftover, when configured (else no input)."""
    files = LIFTOVER.get("GRCh37")
    return {"fasta37": files["fasta"], "chain": files["chain"]} if files else {}


def get_harmonise_options(wildcards, input):
    """Liftover and non-primary-contig options of ``genopass harmonise``."""
    options = []
    if "chain" in input.keys():
        options += ["--liftover-fasta", input.fasta37, "--liftover-chain", input.chain]
    if NON_PRIMARY == "keep":
        options.append("--keep-non-primary")
    return " ".join(shlex.quote(str(option)) for option in options)


def get_harmonise_input(wildcards):
    """What harmonisation reads: a VCF unit's file, or the calls made from reads/alignments."""
    if INPUT_KIND[wildcards.sample] == "vcf":
        return VCF_INPUTS[wildcards.sample]["vcf"]
    return str(CALLED_VCF).format(sample=wildcards.sample)


def get_reads_qc_output():
    """Read and alignment QC of every FASTQ/BAM/CRAM sample (kept for the QC step, MultiQC)."""
    outputs = []
    for sample in READS_SAMPLES:
        qc = OUTDIR / "qc"
        outputs += [
            qc / "samtools_stats" / f"{sample}.txt",
            qc / "samtools_flagstat" / f"{sample}.txt",
            qc / "mosdepth" / f"{sample}.mosdepth.summary.txt",
        ]
        for unit in UNITS_OF.get(sample, []):
            outputs.append(get_fastp_json(sample, unit))
    return outputs


def get_fastq(wildcards):
    """The FASTQ files of one unit: [fq1, fq2], or [fq1] for single-end reads."""
    unit = FASTQ_UNITS[(wildcards.sample, wildcards.unit)]
    return [unit["fq1"], unit["fq2"]] if isinstance(unit["fq2"], str) else [unit["fq1"]]


def is_paired(sample, unit):
    return isinstance(FASTQ_UNITS[(sample, unit)]["fq2"], str)


def get_fastp_json(sample, unit):
    folder = "fastp_pe" if is_paired(sample, unit) else "fastp_se"
    return OUTDIR / "reads" / folder / f"{sample}.{unit}.fastp.json"


def get_trimmed_fastq(wildcards):
    """fastp's trimmed reads of one unit: R1 and R2, or the single-end file."""
    sample, unit = wildcards.sample, wildcards.unit
    if is_paired(sample, unit):
        folder = OUTDIR / "reads" / "fastp_pe"
        return [
            folder / f"{sample}.{unit}.R1.fastq.gz",
            folder / f"{sample}.{unit}.R2.fastq.gz",
        ]
    return [OUTDIR / "reads" / "fastp_se" / f"{sample}.{unit}.fastq.gz"]


def get_read_group(wildcards):
    """The @RG line of one unit: SM is the sheet's sample ID (results only, never exported)."""
    sample, unit = wildcards.sample, wildcards.unit
    return f"@RG\\tID:{sample}.{unit}\\tSM:{sample}\\tLB:{sample}\\tPU:{unit}\\tPL:ILLUMINA"


def get_unit_alignments(wildcards):
    """The sorted alignments of a sample's FASTQ units, to merge."""
    folder = OUTDIR / "align" / ALIGNER_RULE
    return [
        folder / f"{wildcards.sample}.{unit}.bam" for unit in UNITS_OF[wildcards.sample]
    ]


def get_alignment_unit(wildcards):
    """The BAM or CRAM that a centre delivered for a sample."""
    return ALIGNMENT_INPUTS[wildcards.sample]["alignment"]


def get_sample_alignment(wildcards):
    """A sample's alignment and its index: FASTQ samples' duplicate-marked BAM, or the
    centre's BAM/CRAM (after its check) with an index built under results/."""
    sample = wildcards.sample
    if INPUT_KIND[sample] == "fastq":
        bam = OUTDIR / "align" / "samtools_markdup" / f"{sample}.bam"
        return {"alignment": bam, "index": f"{bam}.bai"}
    index = "bai" if INPUT_KIND[sample] == "bam" else "crai"
    return {
        "alignment": ALIGNMENT_INPUTS[sample]["alignment"],
        "index": OUTDIR / "align" / "samtools_index" / f"{sample}.{index}",
    }


def get_indexed_alignment(wildcards, input):
    """``ALIGNMENT##idx##INDEX``: htslib's way to name an index kept apart from its file."""
    return f"{input.alignment}##idx##{input.index}"


def get_mosdepth_prefix(wildcards, output):
    """mosdepth names its outputs PREFIX.mosdepth.summary.txt, ...: the prefix of the first."""
    return output[0].removesuffix(".mosdepth.summary.txt")


def get_sample_reference(wildcards):
    """The FASTA (and .fai) a sample's alignment is on: the target, or the GRCh37 FASTA of the
    liftover (whose .fai check_alignment builds when missing)."""
    fasta = SAMPLE_REFERENCE[wildcards.sample]
    if fasta == REFERENCE:
        return {"fasta": REFERENCE, "fai": f"{REFERENCE}.fai"}
    return {"fasta": fasta}


def get_check_alignment_reference(wildcards):
    """The sample's reference for check_alignment, with the sequence dictionary of the target."""
    files = get_sample_reference(wildcards)
    return {**files, "dict": REFERENCE_DICT} if files["fasta"] == REFERENCE else files


def get_check_alignment_options(wildcards, input):
    """``--dict`` of the target, or ``--build GRCh37`` for an alignment on GRCh37."""
    if "dict" in input.keys():
        return f"--dict {shlex.quote(str(input.dict))}"
    return f"--build {shlex.quote(ALIGNMENT_BUILD[wildcards.sample])}"


def get_autosomes_bed(wildcards):
    """The autosomes BED of the reference a sample's alignment is on (coverage QC)."""
    name = Path(SAMPLE_REFERENCE[wildcards.sample]).name
    return OUTDIR / "qc" / "write_autosomes" / f"{name}.autosomes.bed"


def get_autosomes_fasta(wildcards):
    """The FASTA (and the target's .fai) behind an autosomes BED."""
    fasta = FASTA_OF_NAME[wildcards.fasta_name]
    return (
        {"fasta": fasta, "fai": f"{fasta}.fai"}
        if fasta == REFERENCE
        else {"fasta": fasta}
    )


def get_contig_calls(wildcards):
    """A sample's calls of every contig of its reference, in reference order."""
    folder = OUTDIR / "call" / "bcftools_call"
    contigs = CALL_CONTIGS[SAMPLE_REFERENCE[wildcards.sample]]
    return [folder / f"{wildcards.sample}.{contig}.bcf" for contig in contigs]


def get_harmonised_vcf(wildcards):
    """The harmonised VCF and index of the sample behind a pseudonym."""
    sample = SAMPLE_OF_PSEUDONYM[wildcards.pseudonym]
    vcf = OUTDIR / "harmonise" / "harmonise_vcf" / f"{sample}.vcf.gz"
    return {"vcf": vcf, "tbi": f"{vcf}.tbi"}
