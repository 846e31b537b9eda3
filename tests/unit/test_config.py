"""The config: the schema's defaults fill a user's config (and nothing of the demo's); bad, misspelt
and not-yet-implemented keys fail with one message naming the file and the key."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from genopass.errors import InputError, UsageError
from genopass.inputs.config import load_config, load_schema, workflow_config
from genopass.paths import REPO_ROOT
from genopass.qc.presets import check_qc_config

MINIMAL_CONFIG = {
    "samples": "config/samples.tsv",
    "units": "config/units.tsv",
    "reference": {"fasta": "ref.fa"},
}


def config_error(config: dict, label: str | None = None) -> str:
    with pytest.raises(InputError) as excinfo:
        load_config(config, label=label)
    return str(excinfo.value)


# --- defaults ------------------------------------------------------------------------------------


def test_defaults_are_the_schema_s() -> None:
    config = load_config(MINIMAL_CONFIG)
    assert config == {
        "samples": "config/samples.tsv",
        "units": "config/units.tsv",
        "outdir": "results",
        "reference": {"name": "GRCh38", "fasta": "ref.fa"},
        "liftover": {},
        "reads": {"aligner": "bwa", "caller": "bcftools"},
        "harmonise": {"non_primary_contigs": "reject"},
        "scatter": {"region_size": None},
        "pseudonymisation": {"key_file": None},
        "qc": {
            "preset": "permissive",
            "mode": "gate",
            "overrides": {},
            "keep_duplicate": "first",
            "panel": None,
            "report_sample_names": "pseudonym",
        },
        "export": {
            "dataset": "demo",
            "min_cell_count": 5,
            "missing_genotypes": "missing",
            "include_centre": False,
            "source_reference": "",
            "info_keep": [],
            "format_keep": [],
            "encrypt": {"recipients": []},
        },
    }
    assert "outdir" not in MINIMAL_CONFIG  # the caller's dict is left alone


def test_snakemake_validate_fills_the_same_defaults() -> None:
    """The Snakefile's validate() and the package read one schema: the same config comes out."""
    from snakemake.utils import validate

    config = {**MINIMAL_CONFIG, "reference": dict(MINIMAL_CONFIG["reference"])}
    validate(config, schema=str(REPO_ROOT / "workflow" / "schemas" / "config.schema.yaml"))
    assert config == load_config(MINIMAL_CONFIG)


def test_empty_liftover_stays_empty() -> None:
    assert load_config({**MINIMAL_CONFIG, "liftover": {}})["liftover"] == {}


def test_shipped_config_is_the_demo() -> None:
    config = load_config(REPO_ROOT / "config" / "config.yaml")
    assert config["reference"]["fasta"] == "resources/demo/GRCh38.demo.fa"
    assert config["pseudonymisation"]["key_file"] == "resources/demo/pseudonym.key"
    assert config["liftover"]["GRCh37"]["fasta"] == "resources/demo/GRCh37.demo.fa"


def test_export_keeps() -> None:
    config = load_config(
        {**MINIMAL_CONFIG, "export": {"info_keep": ["CSQ", "gnomAD.AF"], "format_keep": ["PS"]}}
    )
    assert config["export"]["info_keep"] == ["CSQ", "gnomAD.AF"]
    assert config["export"]["format_keep"] == ["PS"]


# --- bad values ----------------------------------------------------------------------------------


def test_unknown_key() -> None:
    message = config_error({**MINIMAL_CONFIG, "export": {"datasett": "x"}}, label="my.yaml")
    assert message == (
        "my.yaml: unknown key 'datasett' under 'export'; check the spelling (allowed: dataset, "
        "encrypt, format_keep, include_centre, info_keep, min_cell_count, missing_genotypes, "
        "source_reference)"
    )


def test_bad_value(tmp_path: Path) -> None:
    path = tmp_path / "config.yaml"
    path.write_text(
        "samples: s.tsv\nunits: u.tsv\nreference: {fasta: ref.fa}\nexport: {min_cell_count: 0}\n"
    )
    with pytest.raises(InputError) as excinfo:
        load_config(path)
    message = str(excinfo.value)
    assert message.startswith(f"{path}: key 'export.min_cell_count': 0 is less than the minimum")


def test_missing_fasta() -> None:
    message = config_error({**MINIMAL_CONFIG, "reference": {"name": "GRCh38"}})
    assert message.startswith("config: missing key 'fasta' under 'reference'")


def test_format_keep_allows_pl_and_ps_only() -> None:
    message = config_error({**MINIMAL_CONFIG, "export": {"format_keep": ["PL", "GL"]}})
    assert message == (
        "config: key 'export.format_keep.1': 'GL' is not one of ['PL', 'PS'] (a FORMAT field "
        "that may be kept, PL or PS)"
    )


def test_info_keep_takes_info_ids() -> None:
    message = config_error({**MINIMAL_CONFIG, "export": {"info_keep": ["AC AN"]}})
    assert message.startswith("config: key 'export.info_keep.0': 'AC AN' does not match")


# --- keys of features that do not exist yet ------------------------------------------------------


def qc_error(qc: dict) -> str:
    """The message of a config whose qc keys the QC stage refuses (as the workflow checks)."""
    with pytest.raises(InputError) as excinfo:
        load_config({**MINIMAL_CONFIG, "qc": qc}, label="my.yaml", checks=[check_qc_config])
    return str(excinfo.value)


def test_qc_unknown_preset() -> None:
    assert qc_error({"preset": "qatar"}) == (
        "my.yaml: key 'qc.preset': unknown preset 'qatar'; choose one of gel, permissive, qphi "
        "or give a preset YAML file"
    )


def test_qc_overrides_are_checked() -> None:
    assert qc_error({"overrides": {"pct_autosome_15x": 90}}).startswith(
        "my.yaml: key 'qc.overrides.pct_autosome_15x': unknown metric ID 'pct_autosome_15x'"
    )
    assert qc_error({"preset": "gel", "overrides": {"pct_autosomes_15x": "lots"}}) == (
        "my.yaml: key 'qc.overrides.pct_autosomes_15x': 'lots' is not a number or a mapping "
        "of bounds"
    )
    config = {**MINIMAL_CONFIG, "qc": {"preset": "gel", "overrides": {"pct_autosomes_15x": 90}}}
    assert load_config(config, checks=[check_qc_config])["qc"]["overrides"] == {
        "pct_autosomes_15x": 90
    }


def test_encryption_recipient_missing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    message = config_error({**MINIMAL_CONFIG, "export": {"encrypt": {"recipients": ["a.pub"]}}})
    assert message == (
        "config: key 'export.encrypt.recipients' (item 1): public key file a.pub does not exist "
        f"(relative paths start from the working directory {tmp_path}); give the recipient's "
        "Crypt4GH public key ('genopass keys NAME' makes a pair)"
    )


def test_encryption_recipient_is_a_secret_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "a.pub").write_text("-----BEGIN CRYPT4GH PUBLIC KEY-----\n")
    (tmp_path / "b.sec").write_text("-----BEGIN CRYPT4GH PRIVATE KEY-----\n")
    export = {"encrypt": {"recipients": ["a.pub", "b.sec"]}}
    assert config_error({**MINIMAL_CONFIG, "export": export}) == (
        "config: key 'export.encrypt.recipients' (item 2): b.sec is a secret key; give the "
        "recipient's public key (.pub) and keep the secret key with its owner"
    )
    export = {"encrypt": {"recipients": ["a.pub"]}}
    loaded = load_config({**MINIMAL_CONFIG, "export": export})["export"]
    assert loaded["encrypt"]["recipients"] == ["a.pub"]
    assert (loaded["missing_genotypes"], loaded["include_centre"]) == ("missing", False)


# --- the workflow's config -----------------------------------------------------------------------


def test_workflow_without_config() -> None:
    with pytest.raises(UsageError) as excinfo:
        workflow_config({}, [])
    assert str(excinfo.value) == (
        "no config given: run 'genopass run --configfile path/to/config.yaml' (start from a copy "
        "of config/config.yaml and config/README.md; 'make demo' runs the demo with "
        "config/config.yaml)"
    )


def test_workflow_config_names_its_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    bad = {**MINIMAL_CONFIG, "qc": {"mode": "strict"}}
    with pytest.raises(InputError) as excinfo:
        workflow_config(bad, [tmp_path / "project" / "a.yaml", Path("/elsewhere/b.yaml")])
    assert str(excinfo.value).startswith(
        "project/a.yaml, /elsewhere/b.yaml: key 'qc.mode': 'strict' is not one of ['gate', 'warn']"
    )


def test_workflow_config_from_the_command_line_only() -> None:
    with pytest.raises(InputError) as excinfo:
        workflow_config({"samples": "s.tsv"}, [])
    assert str(excinfo.value).startswith(
        "--config: missing key 'units', 'reference' at the top level"
    )


# --- config/README.md documents every key and column ---------------------------------------------


def schema_leaves(schema: dict, prefix: str = "") -> dict[str, dict]:
    """Dotted key -> schema of every key without keys of its own."""
    leaves = {}
    for name, sub in schema.get("properties", {}).items():
        key = f"{prefix}{name}"
        leaves |= schema_leaves(sub, f"{key}.") if "properties" in sub else {key: sub}
    return leaves


def readme_rows() -> dict[str, list[str]]:
    """The first cell (a `name`) of every table row of config/README.md -> the other cells."""
    rows = {}
    for line in (REPO_ROOT / "config" / "README.md").read_text().splitlines():
        cells = [cell.strip() for cell in line.strip("|").split(" | ")]
        if line.startswith("| `") and cells[0].endswith("`"):
            rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_readme_lists_every_config_key_with_its_default() -> None:
    rows = readme_rows()
    for key, schema in schema_leaves(load_schema("config")).items():
        assert key in rows, f"config/README.md does not list {key}"
        if "default" in schema:
            shown = yaml.safe_dump(schema["default"], default_flow_style=True).splitlines()[0]
            assert rows[key][1] == f"`{shown}`", (key, rows[key])


def test_readme_lists_every_sheet_column() -> None:
    rows = readme_rows()
    for sheet in ("samples", "units"):
        for column in load_schema(sheet)["properties"]:
            assert column in rows, f"config/README.md does not list the {sheet} column {column}"


def test_scatter_region_size() -> None:
    """scatter.region_size: null (one job per sample) or bases, at least 1000; an error names
    the key."""
    assert load_config({**MINIMAL_CONFIG, "scatter": {"region_size": 5000}})["scatter"] == {
        "region_size": 5000
    }
    assert load_config({**MINIMAL_CONFIG, "scatter": {}})["scatter"] == {"region_size": None}
    for bad, why in [(0, "less than the minimum of 1000"), ("1M", "not of type"), (True, "not of")]:
        message = config_error({**MINIMAL_CONFIG, "scatter": {"region_size": bad}}, "c.yaml")
        assert message.startswith("c.yaml: key 'scatter.region_size': ") and why in message
    message = config_error({**MINIMAL_CONFIG, "scatter": {"size": 10}}, "c.yaml")
    assert "unknown key 'size' under 'scatter'" in message and "region_size" in message
