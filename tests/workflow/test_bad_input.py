"""Bad input stops the workflow with one clear message and leaves nothing under the export."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import genopass_run

pytestmark = pytest.mark.workflow


def run(workdir: Path) -> subprocess.CompletedProcess:
    return genopass_run(workdir)


def fails_cleanly(workdir: Path, *expected: str) -> None:
    proc = run(workdir)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 1, output
    for text in expected:
        assert text in output, output
    assert "Traceback" not in output
    assert not (workdir / "results" / "export").exists()


def test_truncated_vcf(demo):
    vcf = demo / "resources" / "demo" / "ctr_c.C-001.vcf.gz"
    vcf.write_bytes(vcf.read_bytes()[:-1000])
    fails_cleanly(demo, "config/units.tsv row 7", "resources/demo/ctr_c.C-001.vcf.gz: truncated")


def test_vcf_samples_do_not_match_the_sheet(demo):
    units = demo / "config" / "units.tsv"
    units.write_text(units.read_text().replace("LABB_0002", "LABB_0009"))
    fails_cleanly(
        demo,
        "config/units.tsv row 5, column vcf_sample: sample 'LABB_0009'",
        "resources/demo/ctr_b.cohort.vcf.gz",
    )


def test_duplicated_sample(demo):
    samples = demo / "config" / "samples.tsv"
    lines = samples.read_text().splitlines()
    samples.write_text("\n".join([*lines, lines[1]]) + "\n")
    fails_cleanly(demo, f"config/samples.tsv row {len(lines) + 1}", "A-001")


def test_missing_input_file(demo):
    (demo / "resources" / "demo" / "ctr_a.A-002.vcf.gz").unlink()
    fails_cleanly(demo, "config/units.tsv row 3", "resources/demo/ctr_a.A-002.vcf.gz")


def test_missing_pseudonym_key(demo):
    (demo / "resources" / "demo" / "pseudonym.key").unlink()
    fails_cleanly(
        demo,
        "pseudonym key file resources/demo/pseudonym.key does not exist",
        "GENOPASS_PSEUDONYM_KEY",
    )


def test_a_sample_failing_harmonisation_leaves_no_export(demo):
    """A fault only the harmonisation sees (here: a malformed record) stops the whole export."""
    import pysam

    vcf = demo / "resources" / "demo" / "ctr_a.A-002.vcf.gz"
    text = pysam.BGZFile(str(vcf)).read().decode()
    lines = text.splitlines()
    body = [i for i, line in enumerate(lines) if not line.startswith("#")]
    fields = lines[body[5]].split("\t")
    fields[1] = "abc"
    lines[body[5]] = "\t".join(fields)
    plain = vcf.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    Path(str(vcf) + ".tbi").unlink()
    pysam.tabix_compress(str(plain), str(vcf), force=True)
    proc = run(demo)
    assert proc.returncode == 1
    log = (demo / "results" / "logs" / "harmonise_vcf" / "A-002.log").read_text()
    assert (
        log.strip()
        .splitlines()[-1]
        .startswith("genopass: error: resources/demo/ctr_a.A-002.vcf.gz: malformed record:")
    )
    assert not (demo / "results" / "export").exists()
