"""The QC step on the demo: every planted problem (genopass.demo.planted: a wrong sheet sex, a
duplicate, a parent and child, a contaminated sample; genopass.demo.reads: a low-coverage
sample) is named in summary.tsv and relatedness.tsv, clean samples PASS, inferred sex and chrX
heterozygosity equal bcftools counts, coverage equals Picard and samtools depth, kinship uses
the autosomes only, the gate decides what is exported, a bad preset stops the run before any
job, and the MultiQC report renders in headless Chromium."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import BIN, ENV, copy_demo, expected_pseudonyms, genopass_run

from genopass.demo import cohort, grch37, planted, reads
from genopass.paths import RESOURCES

pytestmark = pytest.mark.workflow

QC = Path("results/qc")
# Each person's chromosomes as the demo makes them (female: two chrX, male: one)
GENETIC_SEX = {
    **{p.sample: p.genetic_sex for p in cohort.PEOPLE},
    **{s.sample: s.sex for s in reads.READS_SAMPLES},
    **{p.sample: p.sex for p in grch37.PEOPLE},
}
# The samples with a planted problem; every other one must PASS with no reason.
PLANTED = {
    *planted.WRONG_SEX,
    planted.DUPLICATE[1],
    *planted.PARENT_CHILD,
    *planted.CONTAMINATION,
    reads.LOW_COVERAGE,
}
CLEAN = sorted(set(GENETIC_SEX) - PLANTED)


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
    assert CLEAN == ["B-002", "B-003", "D-001", "E-001", "E-002"]
    assert sorted(summary.index) == sorted(GENETIC_SEX)
    assert summary.loc[CLEAN, "status"].tolist() == ["PASS"] * len(CLEAN)
    assert summary.loc[CLEAN, "reasons"].isna().all()


def test_planted_wrong_sex_is_a_sex_mismatch_that_fails(summary):
    ((sample, reported),) = planted.WRONG_SEX.items()
    genetic = GENETIC_SEX[sample]
    assert reported != genetic
    row = summary.loc[sample]
    assert (row.inferred_sex, row.sex_check) == (genetic, "mismatch")
    assert row.status == "FAIL" and row.exported == "no"
    assert row.reasons == f"sex mismatch: reported {reported}, inferred {genetic}"


def test_every_inferred_sex_is_the_persons_and_only_the_planted_one_mismatches(workspace, summary):
    sheet = pd.read_csv(workspace / "config/samples.tsv", sep="\t", dtype=str)
    reported = dict(zip(sheet["sample"], sheet["sex"], strict=True))
    for sample, genetic in GENETIC_SEX.items():
        row = summary.loc[sample]
        assert row.inferred_sex == genetic, sample
        expected = "unknown" if reported[sample] == "unknown" else "match"
        if sample in planted.WRONG_SEX:
            expected = "mismatch"
        assert row.sex_check == expected, sample


def bcftools_count(*args: str) -> int:
    out = subprocess.run(
        ["bcftools", "view", "-H", *args], capture_output=True, text=True, check=True
    ).stdout
    return len(out.splitlines())


def test_x_heterozygosity_equals_bcftools_counts_on_the_whole_short_chrx(workspace, summary):
    """het / (het + hom) of PASS SNVs on chrX, all of it: the demo's chrX is not GRCh38's
    (90 kb), so no PAR is left out (docs/qc.md)."""
    fai = (workspace / "resources/demo/GRCh38.demo.fa.fai").read_text().splitlines()
    assert dict(line.split("\t")[:2] for line in fai)["chrX"] == "90000"
    for sample in GENETIC_SEX:
        vcf = workspace / "results/harmonise/harmonise_vcf" / f"{sample}.vcf.gz"
        where = ["-f", "PASS,.", "-v", "snps", "-m2", "-M2", "-r", "chrX", str(vcf)]
        het = bcftools_count("-g", "het", *where)
        hom = bcftools_count("-g", "hom", "-i", 'GT="alt"', *where)
        assert het + hom >= 50, sample
        row = summary.loc[sample]
        assert float(row.x_heterozygosity) == round(het / (het + hom), 4), sample
        if GENETIC_SEX[sample] == "male":
            assert het / (het + hom) <= 0.15, sample
        else:
            assert het / (het + hom) >= 0.30, sample


def test_planted_low_coverage_fails_the_permissive_coverage_threshold(summary):
    preset = yaml.safe_load((RESOURCES / "qc/presets/permissive.yaml").read_text())
    minimum = preset["thresholds"]["mean_autosome_coverage"]["min"]
    row = summary.loc[reads.LOW_COVERAGE]
    coverage = float(row.mean_autosome_coverage)
    assert coverage < minimum
    assert row.status == "FAIL" and row.exported == "no"
    assert row.reasons == f"mean_autosome_coverage {row.mean_autosome_coverage} not >= {minimum}"
    # the 30x sample of the same centre passes it
    assert float(summary.loc["D-001", "mean_autosome_coverage"]) >= minimum


def picard_mean_coverage(path: Path) -> float:
    lines = path.read_text().splitlines()
    header = next(i for i, line in enumerate(lines) if line.startswith("GENOME_TERRITORY"))
    row = dict(zip(lines[header].split("\t"), lines[header + 1].split("\t"), strict=False))
    return float(row["MEAN_COVERAGE"])


def samtools_depth_mean(bam: Path, bed: Path) -> tuple[int, float]:
    """`samtools depth -a` over the autosome BED, MAPQ and base quality >= 20, duplicates and
    secondary alignments out (samtools' default flag filter), overlapping mates once (-s);
    the mean by awk."""
    depth = subprocess.Popen(
        ["samtools", "depth", "-a", "-s", "-Q", "20", "-q", "20", "-b", str(bed), str(bam)],
        stdout=subprocess.PIPE,
    )
    awk = subprocess.run(
        ["awk", '{n++; t+=$3} END {printf "%d %.4f\\n", n, t/n}'],
        stdin=depth.stdout, capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert depth.wait() == 0
    bases, mean = awk.stdout.split()
    return int(bases), float(mean)


@pytest.mark.parametrize("sample", [s.sample for s in reads.READS_SAMPLES])
def test_mean_autosome_coverage_equals_picard_and_samtools_depth(workspace, summary, sample):
    bam = workspace / "results/align/samtools_markdup" / f"{sample}.bam"
    bed = workspace / QC / "write_autosomes/GRCh38.demo.fa.autosomes.bed"
    reported = float(summary.loc[sample, "mean_autosome_coverage"])
    picard = picard_mean_coverage(workspace / QC / "picard_collect_wgs_metrics" / f"{sample}.txt")
    assert reported == round(picard, 2)
    bases, mean = samtools_depth_mean(bam, bed)
    lengths = {
        line.split("\t")[0]: int(line.split("\t")[1])
        for line in (workspace / "resources/demo/GRCh38.demo.fa.fai").read_text().splitlines()
    }
    assert bases == lengths["chr21"] + lengths["chr22"]  # every autosome base, chrX not among them
    assert abs(reported - mean) <= 0.01 * mean, (reported, mean)


def test_kinship_and_the_qc_cohort_use_the_autosomes_only(workspace):
    index = subprocess.run(
        ["bcftools", "index", "-s", str(workspace / QC / "write_qc_cohort/cohort.vcf.gz")],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert [line.split("\t")[0] for line in index.splitlines()] == ["chr21", "chr22"]


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
