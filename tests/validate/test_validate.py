"""`genopass validate` on the demo export and on corrupted copies, and the GDI contract.
Expected messages are written here by hand."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import BIN, ENV, copy_demo, genopass_run

pytestmark = [pytest.mark.reliability, pytest.mark.workflow]

FASTA = "resources/demo/GRCh38.demo.fa"


@pytest.fixture(scope="module")
def demo_export(demo_workspace: Path, tmp_path_factory) -> Path:
    workdir = copy_demo(demo_workspace, tmp_path_factory.mktemp("validate-demo"))
    done = genopass_run(workdir)
    assert done.returncode == 0, done.stderr[-2000:]
    return workdir


def validate(workdir: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(BIN / "genopass"), "validate", *args], cwd=workdir, capture_output=True, text=True,
        env=ENV,
    )  # fmt: skip


def corrupt_copy(demo_export: Path, tmp_path: Path) -> Path:
    shutil.copytree(demo_export / "results/export/demo", tmp_path / "export")
    shutil.copytree(demo_export / "resources", tmp_path / "resources")
    return tmp_path / "export"


def test_the_demo_export_is_valid(demo_export):
    done = validate(demo_export, "results/export/demo", "--fasta", FASTA)
    assert done.returncode == 0, done.stdout
    vcfs = len(list((demo_export / "results/export/demo/vcf").glob("*.vcf.gz")))
    assert done.stdout.splitlines()[-1] == (
        f"valid: {vcfs + 1} file(s) checked, 0 error(s), 0 warning(s)"
    )
    for vcf in sorted((demo_export / "results/export/demo/vcf").glob("*.vcf.gz")):
        done = validate(demo_export, str(vcf), "--level", "export", "--fasta", FASTA)
        assert done.returncode == 0, done.stdout


def test_a_flipped_byte_fails_the_checksum(demo_export, tmp_path):
    export = corrupt_copy(demo_export, tmp_path)
    target = export / "parquet/variants/chrom=chr21/part-0.parquet"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0xFF
    target.write_bytes(bytes(data))
    done = validate(tmp_path, "export", "--fasta", FASTA)
    assert done.returncode == 1
    assert (
        "manifest_checksum: parquet/variants/chrom=chr21/part-0.parquet: SHA-256/MD5 differ "
        "from the manifest" in done.stdout
    )


def test_a_missing_file_is_named(demo_export, tmp_path):
    export = corrupt_copy(demo_export, tmp_path)
    victim = sorted((export / "vcf").glob("gp*.vcf.gz"))[0]
    victim.unlink()
    done = validate(tmp_path, "export", "--fasta", FASTA)
    assert done.returncode == 1
    assert f"manifest_missing_file: vcf/{victim.name} is listed but absent" in done.stdout


def test_an_edited_metadata_count_is_named(demo_export, tmp_path):
    export = corrupt_copy(demo_export, tmp_path)
    metadata = json.loads((export / "metadata.json").read_text())
    real = metadata["counts"]["variants"]
    metadata["counts"]["variants"] = real + 1
    (export / "metadata.json").write_text(json.dumps(metadata))
    done = validate(tmp_path, "export", "--fasta", FASTA)
    assert done.returncode == 1
    assert (
        f"metadata_count: counts.variants is {real + 1} but the variants Parquet files hold "
        f"{real} rows" in done.stdout
    )


def test_a_local_sample_id_is_named(demo_export, tmp_path):
    export = corrupt_copy(demo_export, tmp_path)
    victim = sorted((export / "vcf").glob("gp*.vcf.gz"))[0]
    renamed = tmp_path / "renamed.vcf.gz"
    subprocess.run(
        f"bcftools view -h {victim} | sed '$ s/gp[0-9a-f]*$/A-001/' > {tmp_path}/h.txt && "
        f"bcftools reheader -h {tmp_path}/h.txt -o {renamed} {victim}",
        shell=True, check=True, env=ENV,
    )  # fmt: skip
    done = validate(tmp_path, str(renamed), "--level", "export", "--fasta", FASTA)
    assert done.returncode == 1
    assert "sample_not_pseudonym: sample 'A-001' is not a pseudonym" in done.stdout


def test_the_gdi_contract(demo_export, tmp_path):
    describe = validate(tmp_path, "--describe")
    assert set(json.loads(describe.stdout)) == {
        "validatorId", "name", "description", "version", "mode", "pathSpecification",
    }  # fmt: skip
    results = {}
    for name, broken in (("good", False), ("broken", True)):
        root = tmp_path / name
        data = root / "input/data"
        data.mkdir(parents=True)
        vcf = sorted((demo_export / "results/export/demo/vcf").glob("gp*.vcf.gz"))[0]
        content = vcf.read_bytes()
        (data / "sample.vcf.gz").write_bytes(content[:-28] if broken else content)
        request = {"files": [{"path": "/mnt/input/data/sample.vcf.gz"}]}
        (root / "input/input.json").write_text(json.dumps(request))
        done = validate(
            tmp_path, "--gdi", "--gdi-input", str(root / "input"), "--gdi-output",
            str(root / "output"),
        )  # fmt: skip
        result = json.loads((root / "output/result.json").read_text())
        results[name] = (done.returncode, result)
        assert set(result) <= {"result", "files", "messages"}
        for file in result["files"]:
            assert set(file) == {"path", "result", "messages"}
            for message in file["messages"]:
                assert set(message) == {"level", "time", "message"}
                assert message["level"] in ("info", "warning", "error")
    assert results["good"][0] == 0 and results["good"][1]["result"] == "passed"
    code, broken = results["broken"]
    assert code == 1 and broken["result"] == "failed"
    assert (
        "truncated: the file ends without the BGZF end-of-file block"
        in (broken["files"][0]["messages"][0]["message"])
    )
