"""The QC step on the demo: every planted problem (genopass.demo.planted) is named in
summary.tsv and relatedness.tsv, clean samples PASS, the gate decides what is exported, a bad
preset stops the run before any job, and the MultiQC report renders in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import BIN, ENV, copy_demo, expected_pseudonyms, genopass_run

from genopass.demo import planted

pytestmark = pytest.mark.workflow

QC = Path("results/qc")
CLEAN = ["B-002", "B-003", "C-002", "D-001", "E-001", "E-002"]


@pytest.fixture(scope="module")
def workspace(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = copy_demo(demo_workspace, tmp_path_factory.mktemp("qc-demo"))
    config = yaml.safe_load((work / "config/config.yaml").read_text())
    config["qc"]["panel"] = f"resources/demo/{planted.PANEL_NAME}"  # the demo's population
    (work / "qc.yaml").write_text(yaml.safe_dump(config))
    proc = genopass_run(work, str(QC / "multiqc_report.html"), "--configfile", "qc.yaml")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return work


@pytest.fixture(scope="module")
def summary(workspace: Path) -> pd.DataFrame:
    return pd.read_csv(workspace / QC / "summary.tsv", sep="\t", dtype=str).set_index("sample")


def test_planted_contamination_is_measured_and_fails(summary):
    ((sample, (_, fraction)),) = planted.CONTAMINATION.items()
    row = summary.loc[sample]
    assert abs(float(row.cross_contamination_rate) - fraction) <= 0.01
    assert row.status == "FAIL" and row.exported == "no"
    assert f"cross_contamination_rate {row.cross_contamination_rate} not <= 0.05" in row.reasons


def test_planted_duplicate_and_parent_child_are_named(workspace, summary):
    pairs = pd.read_csv(workspace / QC / "relatedness.tsv", sep="\t", dtype=str)
    found = {frozenset((r.sample_a, r.sample_b)): r.relationship for r in pairs.itertuples()}
    assert found[frozenset(planted.DUPLICATE)] == "duplicate"
    assert found[frozenset(planted.PARENT_CHILD)] == "first_degree"
    assert set(found.values()) <= {"duplicate", "first_degree", "unrelated"}
    pseudonyms = expected_pseudonyms(workspace)
    original, again = planted.DUPLICATE
    assert summary.loc[again, "status"] == "FAIL"  # keep_duplicate: first keeps the original
    assert f"duplicate of {pseudonyms[original]}" in summary.loc[again, "reasons"]
    parent, child = planted.PARENT_CHILD
    for one, other in ((parent, child), (child, parent)):
        assert summary.loc[one, "status"] == "WARN", one  # permissive: first_degree warns
        assert f"first-degree relative of {pseudonyms[other]}" in summary.loc[one, "reasons"]


def test_clean_samples_pass(summary):
    assert summary.loc[CLEAN, "status"].tolist() == ["PASS"] * len(CLEAN)
    assert summary.loc[CLEAN, "reasons"].isna().all()


def test_exported_tsv_lists_the_samples_the_gate_keeps(workspace, summary):
    exported = pd.read_csv(workspace / QC / "exported.tsv", sep="\t", dtype=str)
    kept = summary.index[summary["status"] != "FAIL"].tolist()
    assert exported["sample"].tolist() == kept
    pseudonyms = expected_pseudonyms(workspace)
    assert exported["pseudonym"].tolist() == [pseudonyms[s] for s in kept]


def test_warn_mode_exports_every_sample(workspace, tmp_path):
    metrics = sorted((workspace / QC / "metrics").glob("*.qc.json"))
    out = tmp_path / "summary.tsv"
    proc = subprocess.run(
        [str(BIN / "genopass"), "qc-gate", *map(str, metrics),
         "--samples", str(workspace / "config/samples.tsv"),
         "--pseudonyms", str(workspace / "results/private/pseudonyms.tsv"),
         "--relatedness", str(workspace / QC / "relatedness.tsv"),
         "--mode", "warn", "--summary", str(out), "--exported", str(tmp_path / "exported.tsv")],
        capture_output=True, text=True, env=ENV,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    warned = pd.read_csv(out, sep="\t", dtype=str)
    assert warned["exported"].tolist() == ["yes"] * len(warned)
    gated = pd.read_csv(workspace / QC / "summary.tsv", sep="\t", dtype=str)
    assert warned["status"].tolist() == gated["status"].tolist()  # same decisions, flagged only
    assert len(pd.read_csv(tmp_path / "exported.tsv", sep="\t")) == len(warned)


@pytest.mark.parametrize(
    ("qc", "message"),
    [
        ({"preset": "nhs"}, "key 'qc.preset': unknown preset 'nhs'; choose one of gel, permissive"),
        (
            {"overrides": {"mean_coverage": 20}},
            "key 'qc.overrides.mean_coverage': unknown metric ID 'mean_coverage'",
        ),
        (
            {"overrides": {"mean_autosome_coverage": {"min": "thirty"}}},
            "key 'qc.overrides.mean_autosome_coverage.min': 'thirty' is not a number",
        ),
    ],
)
def test_a_bad_qc_config_stops_the_run_naming_the_key(demo, qc, message):
    config = yaml.safe_load((demo / "config/config.yaml").read_text())
    config["qc"].update(qc)
    (demo / "bad.yaml").write_text(yaml.safe_dump(config))
    proc = genopass_run(demo, "-n", "--configfile", "bad.yaml")
    assert proc.returncode != 0
    assert f"bad.yaml: {message}" in proc.stdout + proc.stderr


def test_report_renders_the_genopass_table_in_chromium(workspace, summary, tmp_path):
    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed (make setup installs it)"
    report = (workspace / QC / "multiqc_report.html").resolve()
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000"]
    shot = tmp_path / "report.png"
    subprocess.run(
        [chromium, *flags, "--hide-scrollbars", "--window-size=1400,3000",
         f"--screenshot={shot}", report.as_uri()],
        check=True, capture_output=True, timeout=180,
    )  # fmt: skip
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000
    dom = subprocess.run(
        [chromium, *flags, "--dump-dom", report.as_uri()],
        check=True, capture_output=True, text=True, timeout=180,
    ).stdout  # fmt: skip
    table = dom.split('id="genopass_summary_table"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr.*?</tr>", table, flags=re.DOTALL)
    cells = [re.sub(r"<[^>]+>", " ", row) for row in rows]
    for sample, row in summary.iterrows():
        line = next(text for text in cells if row.pseudonym in text)
        assert row.status in line.split(), sample
    for sample in summary.index:  # pseudonyms only: no sheet ID in the report
        assert sample not in dom
