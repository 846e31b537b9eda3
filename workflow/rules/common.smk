import hashlib
import os
import re
import shlex
from pathlib import Path

from snakemake.exceptions import WorkflowError
from snakemake.utils import validate

from genopass.errors import GenopassError
from genopass.pseudonym import load_key, pseudonym_table
from genopass.sheets import load_sheets, vcf_inputs

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


wildcard_constraints:
    sample="|".join(re.escape(sample) for sample in SAMPLES),
    pseudonym="|".join(re.escape(pseudonym) for pseudonym in PSEUDONYMS),


##### input functions #####


def get_final_output():
    """The targets of the default rule: the export, its private map and the accounting."""
    return [
        EXPORT / "MANIFEST.tsv",
        OUTDIR / "private" / "pseudonyms.tsv",
        OUTDIR / "harmonise" / "accounting.tsv",
    ]


def get_key_option(wildcards):
    """``--key-file PATH`` for the genopass CLI, or nothing when the key is in the environment."""
    return f"--key-file {shlex.quote(KEY_FILE)}" if KEY_FILE else ""


def get_sample_rename(wildcards):
    """``VCF_SAMPLE=PSEUDONYM``: the sample's column in its VCF and the name it gets."""
    unit = VCF_INPUTS[wildcards.sample]
    return f"{unit['vcf_sample']}={unit['pseudonym']}"


def get_harmonised_vcf(wildcards):
    """The harmonised VCF and index of the sample behind a pseudonym."""
    sample = SAMPLE_OF_PSEUDONYM[wildcards.pseudonym]
    vcf = OUTDIR / "harmonise" / "harmonise_vcf" / f"{sample}.vcf.gz"
    return {"vcf": vcf, "tbi": f"{vcf}.tbi"}
