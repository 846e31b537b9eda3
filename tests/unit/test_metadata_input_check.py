"""metadata.json's input_check block: the input check's warnings, read from the findings that
`genopass validate --level vcf --json` writes for each input (what check_vcf runs), summed.
Expected counts are hand counts of the names each test VCF leaves undeclared."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import jsonschema
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from helpers import BIN, ENV, write_vcf

from genopass.errors import InputError
from genopass.export.metadata import MetadataOptions, build_metadata, input_check_counts
from genopass.export.samples import SAMPLES_SCHEMA
from genopass.paths import SCHEMA_DIR

HEADER = (
    "##fileformat=VCFv4.2\n"
    '##FILTER=<ID=q10,Description="Quality below 10">\n'
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
    "##contig=<ID=chr1,length=1000>\n"
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tLOCAL-ID-7\n"
)


def record(pos: int, filters: str = "PASS", info: str = "DP=5", fmt: str = "GT") -> str:
    return (
        f"chr1\t{pos}\t.\tA\tC\t50\t{filters}\t{info}\t{fmt}\t{'0/1:3' if ':' in fmt else '0/1'}\n"
    )


def findings(vcf: Path) -> Path:
    """What check_vcf keeps of one input: the JSON findings of genopass validate."""
    done = subprocess.run(
        [str(BIN / "genopass"), "validate", "--level", "vcf", "--json", str(vcf)],
        capture_output=True, text=True, env=ENV,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    out = vcf.with_suffix(".check.json")
    out.write_text(done.stdout)
    return out


@pytest.fixture
def checks(tmp_path: Path) -> list[Path]:
    # a.vcf.gz: FILTERs q20 and lowDP (q20 twice), INFO AF and FORMAT XX never declared
    a = write_vcf(
        tmp_path / "a.vcf.gz",
        HEADER
        + record(10, "q20")
        + record(20, "q20;lowDP")
        + record(30, "q10", "DP=5;AF=0.5")
        + record(40, fmt="GT:XX"),
    )
    # b.vcf.gz: FILTER q20 again (counted for this file too), and q10 is declared
    b = write_vcf(tmp_path / "b.vcf.gz", HEADER + record(10, "q10;q20"))
    # c.vcf.gz: a header and no record
    c = write_vcf(tmp_path / "c.vcf.gz", HEADER)
    return [findings(a), findings(b), findings(c)]


def test_the_warnings_are_summed_over_the_inputs(checks: list[Path]) -> None:
    assert input_check_counts(checks) == {
        "files": 3,
        "warnings": {
            "undeclared_filter": 3,  # q20 and lowDP in a, q20 in b
            "undeclared_info": 1,  # AF
            "undeclared_format": 1,  # XX
            "no_records": 1,  # c
        },
    }


def export_folder(tmp_path: Path) -> Path:
    export = tmp_path / "export"
    folder = export / "parquet" / "samples"
    folder.mkdir(parents=True)
    table = pa.table(
        {
            "sample": ["gp0123456789abcdef"],
            "country": ["SE"],
            "sex": ["female"],
            "inferred_sex": ["female"],
            "consent": [["DUO:0000042"]],
            "qc_status": ["PASS"],
        },
        schema=SAMPLES_SCHEMA,
    )
    pq.write_table(table, folder / "samples.parquet")
    return export


def test_metadata_json_carries_the_counts_and_nothing_else(tmp_path, checks) -> None:
    export = export_folder(tmp_path)
    options = MetadataOptions(out=export / "metadata.json", dataset="d", input_checks=tuple(checks))
    document = build_metadata(export, options)
    jsonschema.validate(document, json.loads((SCHEMA_DIR / "metadata.schema.json").read_text()))
    assert document["input_check"]["warnings"]["undeclared_filter"] == 3
    text = json.dumps(document)
    # counts only: no path, local sample ID or tag name of the findings
    for secret in (str(tmp_path), "LOCAL-ID-7", "q20", "lowDP", "a.vcf.gz"):
        assert secret not in text
    # without findings, no input_check block (unknown is not zero)
    plain = build_metadata(export, MetadataOptions(out=export / "m.json", dataset="d"))
    assert "input_check" not in plain


def test_a_findings_file_that_is_not_validate_json_is_named(tmp_path, checks) -> None:
    broken = tmp_path / "broken.check.json"
    broken.write_text("valid: 1 file(s) checked\n")  # the text report, not --json
    with pytest.raises(InputError, match=r"broken\.check\.json: cannot read the input check"):
        input_check_counts([checks[0], broken])
    other = tmp_path / "other.json"
    other.write_text('{"rows_written": 3}')
    with pytest.raises(InputError, match=r"other\.json: not the findings of 'genopass validate"):
        input_check_counts([other])
