"""The demo export under stress: one uninterrupted run (during which a second run on the same
folder must be refused), `genopass validate` on it and on corrupted copies, the GDI contract,
SIGKILL of the whole run at several points then the one documented re-run, and a full disk.
Expected messages are written here by hand."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from helpers import BIN, ENV, copy_demo, genopass_run

pytestmark = [pytest.mark.reliability, pytest.mark.workflow]

FASTA = "resources/demo/GRCh38.demo.fa"

RUN = [str(BIN / "genopass"), "run", "--cores", "2", "--configfile", "config/config.yaml"]
PID_FILE = Path(".snakemake") / "genopass-run.pid"


def start_run(workdir: Path) -> subprocess.Popen:
    """`genopass run` in its own process group (so that a test can kill the whole tree)."""
    return subprocess.Popen(
        RUN, cwd=workdir, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip


def wait_for(condition, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


@pytest.fixture(scope="session")
def demo_export(demo_workspace: Path, tmp_path_factory) -> Path:
    workdir = copy_demo(demo_workspace, tmp_path_factory.mktemp("baseline"))
    first = start_run(workdir)
    wait_for(lambda: (workdir / PID_FILE).is_file() or first.poll() is not None)
    second = genopass_run(workdir)
    out, err = first.communicate()
    assert first.returncode == 0, err[-2000:]
    # the second run was refused with one clear line, and changed nothing
    assert second.returncode == 2, second.stderr
    assert second.stderr.startswith("genopass: error: another genopass run (Snakemake pid ")
    assert "is working in " in second.stderr and "this run changed nothing" in second.stderr
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
    for table in ("parquet", "parquet/variants", "parquet/genotypes"):
        done = validate(demo_export, f"results/export/demo/{table}")
        assert done.returncode == 0, done.stdout
        assert done.stdout.splitlines()[-1].startswith("valid: 1 file(s) checked, 0 error(s)")


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


def export_files(export: Path) -> set[str]:
    """Every file under the export folder, relative."""
    found = set()
    for dirpath, _dirs, files in os.walk(export):
        for name in files:
            found.add((Path(dirpath) / name).relative_to(export).as_posix())
    return found


class Watcher(threading.Thread):
    """Polls the export folder while a run goes: every file name ever seen there."""

    def __init__(self, export: Path) -> None:
        super().__init__(daemon=True)
        self.export, self.seen, self.stopped = export, set(), threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.seen |= export_files(self.export) if self.export.is_dir() else set()
            time.sleep(0.05)

    def stop(self) -> set[str]:
        self.stopped.set()
        self.join()
        return self.seen


def is_temporary(name: str) -> bool:
    """genopass.io.atomic_output/atomic_directory's names: .<target>.<random>.tmp"""
    return name.startswith(".") and name.endswith(".tmp")


def listed(export: Path) -> set[str]:
    rows = (export / "MANIFEST.tsv").read_text().splitlines()[1:]
    return {row.split("\t", 1)[0] for row in rows} | {"MANIFEST.tsv", "SHA256SUMS"}


@pytest.mark.parametrize("kill_after", [4, 8, 15])
def test_sigkill_then_one_rerun_gives_the_same_export(
    kill_after, demo_export, demo_workspace, tmp_path
):
    workdir = copy_demo(demo_workspace, tmp_path / "run")
    export = workdir / "results/export/demo"
    watcher = Watcher(export)
    watcher.start()
    first = start_run(workdir)
    try:
        first.wait(timeout=kill_after)
    except subprocess.TimeoutExpired:
        os.killpg(first.pid, signal.SIGKILL)  # genopass, Snakemake and every job
        first.wait()
    # the one documented command: the same `genopass run` again
    again = genopass_run(workdir)
    seen = watcher.stop()
    assert again.returncode == 0, again.stderr[-2000:]
    baseline = demo_export / "results/export/demo"
    assert (export / "MANIFEST.tsv").read_bytes() == (baseline / "MANIFEST.tsv").read_bytes()
    # no file other than the final ones was ever visible (temporary names excepted: they are
    # hidden, .<name>.<random>.tmp, and none is left)
    visible = {p for p in seen if not any(is_temporary(part) for part in Path(p).parts)}
    visible = {p for p in visible if Path(p).name != ".snakemake_timestamp"}  # docs/output.md
    assert visible <= listed(export)
    assert not [p for p in export_files(export) if any(map(is_temporary, Path(p).parts))]
    leftovers = [p for p in workdir.rglob(".genopass-*") if ".snakemake" not in p.parts]
    assert leftovers == []


def test_a_full_disk_ends_with_a_clear_error_and_no_file(demo_export, tmp_path):
    mount = tmp_path / "full"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=12k", "tmpfs", str(mount)])
    assert done.returncode == 0, "mounting a tmpfs needs root"
    try:
        source = sorted((demo_export / "resources/demo").glob("ctr_a.*.vcf.gz"))[0]
        harmonised = sorted((demo_export / "results/harmonise/harmonise_vcf").glob("*.vcf.gz"))
        commands = {
            "harmonise": [
                "harmonise", str(source), "--reference", str(demo_export / FASTA),
                "--out", str(mount / "h.vcf.gz"), "--rejects", str(mount / "r.vcf.gz"),
            ],
            "export-vcf": ["export-vcf", str(harmonised[0]), "--out", str(mount / "x.vcf.gz")],
        }  # fmt: skip
        for name, args in commands.items():
            if name == "export-vcf":  # less room: the harmonise work folder fitted in 12k
                subprocess.run(["mount", "-o", "remount,size=4k", str(mount)], check=True)
            done = subprocess.run(
                [str(BIN / "genopass"), *args], capture_output=True, text=True, env=ENV
            )
            assert done.returncode == 1, (name, done.stderr)
            assert "Traceback" not in done.stderr
            lines = done.stderr.strip().splitlines()
            assert len(lines) == 1 and lines[0].startswith("genopass: error: "), done.stderr
            assert list(mount.iterdir()) == [], name  # nothing partial left
    finally:
        subprocess.run(["umount", str(mount)], check=True)
