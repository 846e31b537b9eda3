"""Each job of the demo asks for the memory and run time that genopass.inputs.resources gives for
its real input sizes: read here with os.stat from the files Snakemake's dry run lists, with the
threads the dry run prints; a GRCh38-sized reference gets what bwa's manual says it needs; and a
user's --set-resources, or set-resources in a profile of their own, wins over the formulas."""

from __future__ import annotations

import csv
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import ENV

from genopass.inputs import resources as res
from genopass.inputs.resources import MIB
from genopass.paths import REPO_ROOT

pytestmark = pytest.mark.workflow

SNAKEMAKE = [
    sys.executable,
    "-m",
    "snakemake",
    "--snakefile",
    str(REPO_ROOT / "workflow" / "Snakefile"),
]
REFERENCE = Path("resources/demo/GRCh38.demo.fa")
GB = 1e9  # bwa's manual's GB


def snakemake(workdir: Path, *args: str) -> str:
    result = subprocess.run(
        [*SNAKEMAKE, "--directory", str(workdir), "--configfile", "config/config.yaml", *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=ENV,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, (
        f"snakemake {' '.join(args)} exited {result.returncode}:\n{output}"
    )
    return output


def dry_run(workdir: Path, *args: str) -> list[dict]:
    """The jobs of `snakemake --dry-run --cores 4`: rule, input paths, wildcards, threads and
    resources as Snakemake prints them."""
    return jobs(snakemake(workdir, "--dry-run", "--cores", "4", *args))


def jobs(output: str) -> list[dict]:
    found = []
    for block in re.split(r"^\[.*\d{4}\]$", output, flags=re.MULTILINE):
        head = re.search(r"^(?:local)?(?:rule|checkpoint) (\w+):$", block, flags=re.MULTILINE)
        if not head:
            continue
        fields = dict(re.findall(r"^    (\w+): (.*)$", block, flags=re.MULTILINE))
        found.append(
            {
                "rule": head.group(1),
                "input": fields.get("input", "").split(", "),
                "wildcards": dict(
                    item.split("=", 1) for item in fields.get("wildcards", "").split(", ") if item
                ),
                "threads": int(fields.get("threads", "1")),
                "resources": dict(
                    item.split("=", 1) for item in fields.get("resources", "").split(", ") if item
                ),
            }
        )
    return found


def of_rule(found: list[dict], rule: str) -> list[dict]:
    selected = [job for job in found if job["rule"] == rule]
    assert selected, f"no {rule} job in the dry run"
    return selected


def asked(job: dict) -> res.Request:
    """What the job asks for, as the dry run prints it (an int, or <TBD> when an input is yet to
    be made)."""
    resources = job["resources"]
    assert resources.get("mem_mb") not in (None, "<TBD>"), job
    return res.Request(mem_mb=int(resources["mem_mb"]), runtime=int(resources["runtime"]))


def mb(workdir: Path, *paths: str | Path) -> float:
    return sum(os.stat(workdir / path).st_size for path in paths) / MIB


def units(workdir: Path) -> dict[str, dict[str, str]]:
    with open(workdir / "config" / "units.tsv", newline="") as handle:
        return {row["sample"]: row for row in csv.DictReader(handle, delimiter="\t")}


def test_vcf_jobs_ask_for_what_their_input_sizes_need(demo: Path) -> None:
    """check_vcf and harmonise_vcf of every VCF sample, and bwa_index of the reference."""
    found = dry_run(demo)
    sheet = units(demo)
    harmonised = of_rule(found, "harmonise_vcf")
    checked = 0
    for job in harmonised + of_rule(found, "check_vcf"):
        unit = sheet[job["wildcards"]["sample"]]
        if not unit.get("vcf"):
            continue  # a reads sample: its calls are made by an earlier job (<TBD> here)
        assert unit["vcf"] in job["input"], job
        size = mb(demo, unit["vcf"])
        if job["rule"] == "harmonise_vcf":
            # the sheet's build: GRCh38 is not lifted over, GRCh37 (or auto, until detected) may be
            liftover = (unit.get("build") or "auto") != "GRCh38"
            expected = res.harmonise_vcf(size, job["threads"], liftover=liftover)
        else:
            expected = res.check_vcf(size, job["threads"])
        assert asked(job) == expected, job
        checked += 1
    vcf_samples = [sample for sample, unit in sheet.items() if unit.get("vcf")]
    assert checked == 2 * len(vcf_samples), checked  # every VCF sample, two jobs each
    # a sample on GRCh38 and one lifted over ask for different memory
    builds = {(sheet[sample].get("build") or "auto") == "GRCh38" for sample in vcf_samples}
    concrete = [job for job in harmonised if job["resources"]["mem_mb"] != "<TBD>"]
    assert len({asked(job).mem_mb for job in concrete}) == len(builds)

    (index,) = of_rule(found, "bwa_index")
    assert str(REFERENCE) in index["input"]
    assert asked(index) == res.bwa_index(mb(demo, REFERENCE), index["threads"])


def test_alignment_jobs_ask_for_what_their_reads_and_reference_need(demo: Path) -> None:
    """bwa_mem once its trimmed reads exist (fastp run for real), on the demo's reference and on
    a reference of GRCh38's size."""
    snakemake(demo, "--cores", "2", "--until", "fastp_pe")
    with open(demo / "config" / "units.tsv", newline="") as handle:
        fastq_units = sum(1 for row in csv.DictReader(handle, delimiter="\t") if row.get("fq1"))
    for reference_size in (None, int(3.1e9)):
        if reference_size:
            # GRCh38's size, as a sparse file: the demo's contigs followed by zeros that no job
            # of a dry run reads; its .fai stays the demo's
            os.truncate(demo / REFERENCE, reference_size)
            os.utime(demo / f"{REFERENCE}.fai")
        aligned = of_rule(dry_run(demo), "bwa_mem")
        assert len(aligned) == fastq_units  # one job a FASTQ unit of the sheet
        for job in aligned:
            reads = [path for path in job["input"] if "/fastp_pe/" in path]
            assert len(reads) == 2, job
            assert job["threads"] >= 1
            expected = res.bwa_mem(mb(demo, *reads), mb(demo, REFERENCE), job["threads"])
            assert asked(job) == expected, job
            if reference_size:
                # bwa(1): ~5.4 GB for the human index (sampe); samtools sort 768 MiB a thread
                assert asked(job).mem_mb * MIB >= 5.4 * GB + job["threads"] * 768 * MIB
    (index,) = of_rule(dry_run(demo), "bwa_index")
    # bwa(1): "5GB memory is required for indexing the complete human genome sequences", "3 hours"
    assert asked(index).mem_mb * MIB >= 5 * GB
    assert asked(index).runtime >= 180
    assert asked(index) == res.bwa_index(3.1e9 / MIB, index["threads"])


def test_set_resources_wins(demo: Path) -> None:
    found = dry_run(
        demo,
        "--set-resources",
        "bwa_mem:mem_mb=123",
        "bwa_index:mem_mb=123",
        "harmonise_vcf:runtime=7",
    )
    for job in of_rule(found, "bwa_mem"):
        # the user's figure, though the trimmed reads the formula would measure do not exist yet
        assert job["resources"]["mem_mb"] == "123", job
        assert job["resources"]["runtime"] == "<TBD>", job
    (index,) = of_rule(found, "bwa_index")
    assert index["resources"]["mem_mb"] == "123"
    # what the user did not set stays the formula's
    assert int(index["resources"]["runtime"]) == res.bwa_index(mb(demo, REFERENCE)).runtime
    for job in of_rule(found, "harmonise_vcf"):
        assert job["resources"]["runtime"] == "7", job


def test_a_users_profile_wins_and_default_resources_do_not(demo: Path, tmp_path: Path) -> None:
    """A copy of the shipped local profile with set-resources: its values win; its
    default-resources reach only the rules without a formula."""
    profile = tmp_path / "mysite"
    shutil.copytree(REPO_ROOT / "workflow" / "profiles" / "local", profile)
    settings = yaml.safe_load((profile / "config.yaml").read_text())
    settings["set-resources"] = {"harmonise_vcf": {"mem_mb": 321, "runtime": 9}}
    settings["default-resources"] = {"mem_mb": 1500, "runtime": 30}
    (profile / "config.yaml").write_text(yaml.safe_dump(settings))
    found = dry_run(demo, "--profile", str(profile))
    for job in of_rule(found, "harmonise_vcf"):
        assert (job["resources"]["mem_mb"], job["resources"]["runtime"]) == ("321", "9"), job
    (index,) = of_rule(found, "bwa_index")
    assert asked(index) == res.bwa_index(mb(demo, REFERENCE), index["threads"])
    for job in of_rule(found, "write_qc_metrics"):  # no formula: the profile's defaults
        assert (job["resources"]["mem_mb"], job["resources"]["runtime"]) == ("1500", "30"), job


def test_the_shipped_slurm_profile_keeps_the_formulas(demo: Path) -> None:
    """The slurm profile's default-resources (4000 MB, 120 min) go to the rules without a formula
    only (a dry run: nothing is submitted)."""
    profile = yaml.safe_load(
        (REPO_ROOT / "workflow" / "profiles" / "slurm" / "config.yaml").read_text()
    )
    defaults = profile["default-resources"]
    output = snakemake(
        demo, "--dry-run", "--profile", str(REPO_ROOT / "workflow" / "profiles" / "slurm")
    )
    found = jobs(output)
    sheet = units(demo)
    for job in of_rule(found, "check_vcf"):
        unit = sheet[job["wildcards"]["sample"]]
        if unit.get("vcf"):
            assert asked(job) == res.check_vcf(mb(demo, unit["vcf"]), job["threads"]), job
    (index,) = of_rule(found, "bwa_index")
    assert asked(index) == res.bwa_index(mb(demo, REFERENCE), index["threads"])
    for job in of_rule(found, "write_qc_metrics"):
        assert asked(job) == res.Request(defaults["mem_mb"], defaults["runtime"]), job
