"""Presets (loading errors), inferred sex, gate decisions on hand-made metrics, summary.tsv,
the per-sample JSON shape and the CLI's exit codes."""

from __future__ import annotations

import csv
import json
import re

import pytest
from click.testing import CliRunner

from genopass.cli import main
from genopass.errors import InputError
from genopass.qc.alignment import ContigDepth
from genopass.qc.catalogue import catalogue, standard_ids
from genopass.qc.gate import FAIL, PASS, WARN, SheetSample, decide, write_summary
from genopass.qc.kinship import Relatedness
from genopass.qc.presets import available_presets, load_preset
from genopass.qc.report import SampleQC, read_sample_qc, write_sample_qc
from genopass.qc.sex import compare_sex, infer_sex

STANDARD = [
    "pct_reads_mapped", "pct_reads_properly_paired", "mean_autosome_coverage",
    "pct_autosomes_15x", "mad_autosome_coverage", "mean_insert_size",
    "insert_size_std_deviation", "yield_bp_q30", "cross_contamination_rate", "count_snvs",
    "count_insertions", "count_deletions", "ratio_heterozygous_homzygous_snv",
    "ratio_heterozygous_homzygous_indel", "ratio_insertion_deletion",
    "ratio_transitions_transversions_snv",
]  # fmt: skip


def test_catalogue_has_the_16_standard_ids_spelt_as_the_standard():
    assert standard_ids() == STANDARD
    assert catalogue()["cross_contamination_rate"].decimals == 4


def test_shipped_presets_load():
    assert available_presets() == ["gel", "permissive", "qphi"]
    gel = load_preset("gel")
    bounds = {(t.metric, t.bound, t.value) for t in gel.thresholds}
    assert bounds == {
        ("pct_autosomes_15x", "min", 95.0),
        ("yield_bp_q30", "gt", 85e9),
        ("cross_contamination_rate", "max", 0.03),
    }


@pytest.mark.parametrize(
    ("text", "overrides", "message"),
    [
        (None, {"pct_autosome_15x": 90}, "qc.overrides.pct_autosome_15x: unknown metric ID"),
        (None, {"pct_autosomes_15x": "lots"}, "not a number or a mapping"),
        (None, {"mean_autosome_coverage": 30}, "has no bound(s) for mean_autosome_coverage"),
        (None, {"mean_autosome_coverage": {"least": 3}}, "mean_autosome_coverage.least: unknown"),
        ("thresholds: {count_snp: {min: 1}}", None, "thresholds.count_snp: unknown metric ID"),
        ("thresholds: {count_snvs: {min: many}}", None, "count_snvs.min: 'many' is not a number"),
    ],
)
def test_bad_presets_and_overrides_name_the_key(tmp_path, text, overrides, message):
    preset = "gel"
    if text is not None:
        preset = tmp_path / "mine.yaml"
        preset.write_text(f"name: mine\nsource: test\n{text}\n")
    with pytest.raises(InputError) as error:
        load_preset(preset, overrides)
    assert message in str(error.value)


def test_unknown_preset_lists_the_shipped_ones():
    with pytest.raises(InputError, match="unknown preset 'nhs'; choose one of gel, permissive"):
        load_preset("nhs")


def test_sex_from_x_heterozygosity_and_depth():
    assert infer_sex(300, 250).inferred == "female"
    assert infer_sex(4, 400).inferred == "male"
    few = infer_sex(3, 10)
    assert few.inferred == "unknown" and "13 ALT-carrying" in few.reason
    assert infer_sex(0, 0, ContigDepth(30.0, 15.2, 14.8)).inferred == "male"
    conflict = infer_sex(300, 250, ContigDepth(30.0, 15.0, 15.0))
    assert conflict.inferred == "unknown" and "disagrees" in conflict.reason
    assert compare_sex("female", "male") == "mismatch"
    assert compare_sex("unknown", "male") == "unknown"


def qc(pseudonym, **values):
    base = {"mean_autosome_coverage": 32.0, "pct_autosomes_15x": 97.0, "count_snvs": 1000}
    info = {"inferred_sex": values.pop("sex", "female")}
    return SampleQC(pseudonym, {**base, **values}, {"yield_bp_q30": "no reads"}, info)


SAMPLES = [
    SheetSample("S1", "C1", "female", "P1"),
    SheetSample("S2", "C1", "male", "P2"),  # reported male, inferred female
    SheetSample("S3", "C2", "female", "P3"),  # low coverage
    SheetSample("S4", "C2", "female", "P4"),  # S1 again, more coverage
    SheetSample("S5", "C3", "female", "P5"),  # S1's child
]


def decisions(keep="first", mode="gate"):
    qcs = {
        "P1": qc("P1"),
        "P2": qc("P2"),
        "P3": qc("P3", mean_autosome_coverage=12.0, pct_autosomes_15x=40.0),
        "P4": qc("P4", mean_autosome_coverage=40.0),
        "P5": qc("P5", cross_contamination_rate=0.041),
    }
    related = [
        Relatedness("S1", "S4", "C1", "C2", 0.49, 900, "duplicate"),
        Relatedness("S1", "S5", "C1", "C3", 0.25, 900, "first_degree"),
    ]
    return qcs, decide(SAMPLES, qcs, related, load_preset("gel"), mode=mode, keep=keep)


def test_gate_decisions_and_reasons():
    _, found = decisions()
    by = {d.sample.sample: d for d in found}
    assert by["S1"].status == WARN  # kept duplicate, parent of S5
    assert by["S1"].reasons == ("first-degree relative of P5 (C3), kinship 0.2500",)
    assert by["S2"].status == FAIL
    assert by["S2"].reasons == ("sex mismatch: reported male, inferred female",)
    assert by["S3"].status == FAIL
    assert by["S3"].reasons == ("pct_autosomes_15x 40 not >= 95",)
    assert by["S4"].status == FAIL
    assert by["S4"].reasons == ("duplicate of P1 (C1), which is kept (rule: first)",)
    assert by["S5"].status == FAIL
    assert by["S5"].reasons == (
        "cross_contamination_rate 0.041 not <= 0.03",
        "first-degree relative of P1 (C1), kinship 0.2500",
    )
    assert [d.exported for d in found] == [True, False, False, False, False]
    assert by["S1"].unchecked == (
        "yield_bp_q30: no reads",
        "cross_contamination_rate: not computed",
    )


def test_duplicate_kept_by_coverage_and_warn_mode_exports_all():
    _, found = decisions(keep="coverage", mode="warn")
    by = {d.sample.sample: d for d in found}
    assert by["S1"].reasons[0] == "duplicate of P4 (C2), which is kept (rule: coverage)"
    assert by["S4"].status == PASS
    assert all(d.exported for d in found)


def test_summary_and_json(tmp_path):
    qcs, found = decisions()
    write_summary(found, qcs, tmp_path / "summary.tsv")
    with open(tmp_path / "summary.tsv") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    assert [r["status"] for r in rows] == ["WARN", "FAIL", "FAIL", "FAIL", "FAIL"]
    assert rows[2]["reasons"] == "pct_autosomes_15x 40 not >= 95"
    assert rows[0]["yield_bp_q30"] == "" and rows[0]["count_snvs"] == "1000"
    write_sample_qc(qcs["P5"], tmp_path / "p5.json")
    data = json.loads((tmp_path / "p5.json").read_text())
    assert data["biosample"] == {"id": "P5"}
    assert data["wgs_qc_metrics"]["aln_metrics"]["cross_contamination_rate"] == 0.041
    assert data["wgs_qc_metrics"]["variant_metrics"] == {"count_snvs": 1000}
    assert isinstance(data["wgs_qc_metrics"]["variant_metrics"]["count_snvs"], int)
    assert "yield_bp_q30" not in data["wgs_qc_metrics"]["aln_metrics"]
    assert data["genopass"]["unavailable"] == {"yield_bp_q30": "no reads"}
    assert read_sample_qc(tmp_path / "p5.json").values == qcs["P5"].values


def test_cli_bad_preset_is_one_line_and_exit_1(tmp_path):
    samples = tmp_path / "samples.tsv"
    samples.write_text("sample\tcentre\tcountry\tsex\nS1\tC1\tDE\tfemale\n")
    pseudonyms = tmp_path / "pseudonyms.tsv"
    pseudonyms.write_text("sample\tcentre\tpseudonym\nS1\tC1\tP1\n")
    write_sample_qc(qc("P1"), tmp_path / "p1.json")
    args = ["qc-gate", str(tmp_path / "p1.json"), "--samples", str(samples), "--pseudonyms",
            str(pseudonyms), "--summary", str(tmp_path / "s.tsv")]  # fmt: skip
    result = CliRunner().invoke(main, [*args, "--preset", "nope"])
    assert result.exit_code == 1
    assert "unknown preset 'nope'" in result.output
    result = CliRunner().invoke(main, [*args, "--override", "mean_autosome_coverage=5"])
    assert result.exit_code == 0, result.output
    assert "1 PASS" in result.output
    result = CliRunner().invoke(main, [*args, "--mode", "sometimes"])
    assert result.exit_code == 2


@pytest.mark.parametrize(
    ("name", "hosts"),
    [
        (
            "gel",
            ("pipeline-rd-help.genomicsengland.co.uk", "pipeline-nb-help.genomicsengland.co.uk"),
        ),
        ("qphi", ("qphi.org.qa",)),
    ],
)
def test_programme_presets_cite_their_published_sources(name, hosts):
    """The programme presets name the pages they quote (title and URL) and say which parts are
    this project's reading; the permissive one says it is no programme's."""
    source = load_preset(name).source
    urls = re.findall(r"https://[^\s)]+", source)
    assert {url.split("/")[2] for url in urls} == set(hosts), urls
    assert '"' in source  # a quoted document title
    assert "this project's reading" in source
    assert "this project's choice" in load_preset("permissive").source
