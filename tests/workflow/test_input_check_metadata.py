"""The input check's warnings reach the export's metadata.json, counted once per input file.

A FILTER name that no header line declares (``q10``) is planted in the demo's CTR-B cohort VCF,
which three exported samples share: the run declares it on the fly with a warning, and
metadata.json's ``input_check`` counts that one name once, over as many findings files as there
are distinct input files behind the exported samples (counted here from the sheets)."""

from __future__ import annotations

import csv
import gzip
import json
import subprocess
from pathlib import Path

import pysam
import pytest
from helpers import DEMO, copy_demo, genopass_run

pytestmark = pytest.mark.workflow

COHORT = "ctr_b.cohort.vcf.gz"
PLANTED = "q10"


def plant_undeclared_filter(vcf: Path, records: int = 3) -> None:
    """FILTER of the first ``records`` records set to a name the header does not declare."""
    lines = gzip.open(vcf, "rt").read().splitlines(keepends=True)
    done = 0
    for i, line in enumerate(lines):
        if line.startswith("#") or done == records:
            continue
        fields = line.split("\t")
        fields[6] = PLANTED
        lines[i] = "\t".join(fields)
        done += 1
    plain = vcf.with_suffix("")
    plain.write_text("".join(lines))
    pysam.tabix_compress(str(plain), str(vcf), force=True)
    pysam.tabix_index(str(vcf), preset="vcf", force=True)
    plain.unlink()


@pytest.fixture(scope="module")
def workdir(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = copy_demo(demo_workspace, tmp_path_factory.mktemp("input-check"))
    plant_undeclared_filter(workdir / DEMO / COHORT)
    proc = genopass_run(workdir)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    return workdir


def test_the_planted_filter_is_undeclared_in_the_input(workdir: Path) -> None:
    header = subprocess.run(
        ["bcftools", "view", "-h", str(workdir / DEMO / COHORT)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert f"##FILTER=<ID={PLANTED}," not in header


def undeclared_names(vcf: Path) -> dict[str, int]:
    """FILTER, INFO and FORMAT names records use that no header line declares, counted by
    reading the text (the oracle: not genopass's checker)."""
    declared: dict[str, set[str]] = {"FILTER": {"PASS"}, "INFO": set(), "FORMAT": set()}
    used: dict[str, set[str]] = {"FILTER": set(), "INFO": set(), "FORMAT": set()}
    with gzip.open(vcf, "rt") as handle:
        for line in handle:
            if line.startswith("##"):
                for kind in declared:
                    if line.startswith(f"##{kind}=<ID="):
                        declared[kind].add(line[len(kind) + 7 :].split(",")[0].rstrip(">\n"))
                continue
            if line.startswith("#"):
                continue
            fields = line.rstrip("\n").split("\t")
            used["FILTER"].update(f for f in fields[6].split(";") if f != ".")
            used["INFO"].update(i.split("=")[0] for i in fields[7].split(";") if i != ".")
            if len(fields) > 8:
                used["FORMAT"].update(fields[8].split(":"))
    return {kind: len(used[kind] - declared[kind]) for kind in used}


def test_metadata_counts_the_warning_once_per_input_file(workdir: Path) -> None:
    with open(workdir / "results" / "qc" / "exported.tsv") as handle:
        exported = {row["sample"] for row in csv.DictReader(handle, delimiter="\t")}
    with open(workdir / "config" / "units.tsv") as handle:
        units = [row for row in csv.DictReader(handle, delimiter="\t")]
    called = workdir / "results" / "call" / "bcftools_concat"  # a reads sample's input VCF
    files = {
        workdir / row["vcf"] if row["vcf"] else called / f"{row['sample']}.vcf.gz"
        for row in units
        if row["sample"] in exported
    }
    cohort_samples = {row["sample"] for row in units if row["vcf"].endswith(COHORT)}
    assert cohort_samples <= exported and len(cohort_samples) == 3  # shared by three
    expected = {"FILTER": 0, "INFO": 0, "FORMAT": 0}
    for path in files:
        for kind, count in undeclared_names(path).items():
            expected[kind] += count
    assert expected["FILTER"] == 1  # the planted q10, in one file
    metadata = json.loads((workdir / "results" / "export" / "demo" / "metadata.json").read_text())
    check = metadata["input_check"]
    assert check["files"] == len(files)
    assert check["warnings"]["undeclared_filter"] == expected["FILTER"]
    assert check["warnings"]["undeclared_info"] == expected["INFO"]
    assert check["warnings"]["undeclared_format"] == expected["FORMAT"]
    assert PLANTED not in json.dumps(metadata)  # counts only, never the names
