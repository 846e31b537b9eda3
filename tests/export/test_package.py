"""The package around the data: cohort, samples table, metadata, RO-Crate, Crypt4GH, manifest,
privacy, determinism. Expected values are hand counts or read with other tools (pysam,
jsonschema, rocrate, crypt4gh, sha256sum)."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
from pathlib import Path

import jsonschema
import pyarrow.parquet as pq
import pysam
import pytest
from export_helpers import BLOCKS, DATASET, GVCF_SAMPLES, PEOPLE, Built, build_export

from genopass.errors import InputError
from genopass.export.crypt import decrypt_file
from genopass.paths import SCHEMA_DIR


def test_cohort_tells_not_called_from_reference(built: Built) -> None:
    """gVCF samples: 0/0 inside their blocks, ./. outside; variants-only: 0/0 (reference)."""
    centre = pysam.VariantFile(str(built.work / "centre.vcf.gz"))
    delivered = {
        (r.chrom, r.pos): {s: r.samples[s]["GT"] for s in r.samples} for r in centre.fetch()
    }
    cohort = pysam.VariantFile(str(built.cohort))
    checked = {"block": 0, "outside": 0, "reference": 0}
    for record in cohort.fetch():
        for sample, *_ in PEOPLE:
            name = built.pseudonym_of[sample]
            gt = record.samples[name]["GT"]
            source = delivered[(record.chrom, record.pos)][sample]
            carries = any(a not in (0, None) for a in source) or None in source
            if carries:
                continue  # its own record, exported as delivered
            if sample in GVCF_SAMPLES:
                inside = any(
                    c == record.chrom and s < record.pos <= e for c, s, e in BLOCKS[sample]
                )
                want = (0, 0) if inside else (None, None)
                checked["block" if inside else "outside"] += 1
            else:
                want = (0, 0)
                checked["reference"] += 1
            assert gt == want, (record.chrom, record.pos, sample)
        # AC/AN recomputed from the cohort's genotypes, never the centre's AC=999
        alleles = [a for s in record.samples.values() for a in s["GT"] if a is not None]
        assert record.info["AN"] == len(alleles)
        assert record.info["AC"][0] == sum(1 for a in alleles if a == 1)
    assert all(checked.values()), checked


def test_cohort_missing_mode_writes_no_call(tmp_path: Path, built: Built) -> None:
    from genopass.export.cohort import CohortOptions, build_cohort

    vcfs = sorted((built.export / "vcf").glob("gp*.vcf.gz"))
    out = tmp_path / "cohort.vcf.gz"
    build_cohort(vcfs, CohortOptions(out, {}, "missing"))
    for record in pysam.VariantFile(str(out)).fetch():
        for sample in record.samples.values():
            assert sample["GT"] != (0, 0)  # nobody delivered hom-ref calls


def test_cohort_refuses_unknown_blocks_sample(tmp_path: Path, built: Built) -> None:
    from genopass.errors import UsageError
    from genopass.export.cohort import CohortOptions, build_cohort

    vcfs = sorted((built.export / "vcf").glob("gp*.vcf.gz"))[:2]
    with pytest.raises(UsageError, match="nobody|none of the VCFs"):
        build_cohort(vcfs, CohortOptions(tmp_path / "c.vcf.gz", {"gpnobody": vcfs[0]}))


def test_samples_table(built: Built) -> None:
    table = pq.read_table(built.export / "parquet" / "samples" / "samples.parquet")
    assert table.schema.names == [
        "sample", "country", "sex", "inferred_sex", "consent", "qc_status"
    ]  # fmt: skip
    rows = {r["sample"]: r for r in table.to_pylist()}
    for sample, country, sex, consent in PEOPLE:
        row = rows[built.pseudonym_of[sample]]
        assert (row["country"], row["sex"]) == (country, sex)
        assert row["consent"] == [c for c in consent.split(",") if c]
        assert row["inferred_sex"] is None and row["qc_status"] == "not_assessed"
    assert list(rows) == sorted(rows)


def test_metadata_validates_and_counts_match_the_files(built: Built) -> None:
    document = json.loads((built.export / "metadata.json").read_text())
    schema = json.loads((SCHEMA_DIR / "metadata.schema.json").read_text())
    jsonschema.Draft202012Validator(schema).validate(document)
    import duckdb

    parquet = built.export / "parquet"
    con = duckdb.connect()
    n_variants = con.execute(
        f"SELECT count(*) FROM read_parquet('{parquet}/variants/*/*.parquet')"
    ).fetchone()[0]
    n_genotypes = con.execute(
        f"SELECT count(*) FROM read_parquet('{parquet}/genotypes/*/*.parquet')"
    ).fetchone()[0]
    n_cohort = int(subprocess.run(["bcftools", "index", "-n", built.cohort], capture_output=True,
                                  text=True, check=True).stdout)  # fmt: skip
    frequency_rows = sum(
        pq.read_metadata(p).num_rows for p in built.frequencies.glob("allele-freq-*.parquet")
    )
    summary = json.loads(built.summary.read_text())
    counts = document["counts"]
    assert counts["samples"] == len(PEOPLE)
    assert counts["variants"] == n_variants == n_cohort
    assert counts["genotype_rows"] == n_genotypes
    assert counts["frequency_rows"] == frequency_rows
    assert counts["frequency_rows_suppressed"] == summary["rows_suppressed"] > 0
    assert {s["sample"] for s in document["samples"]} == set(built.pseudonym_of.values())
    consents = {c for *_, consent in PEOPLE for c in consent.split(",") if c}
    assert document["consent"]["dataset"] == sorted(consents)
    md5 = {c["name"]: c["md5"] for c in document["reference"]["contigs"]}
    fasta = pysam.FastaFile(str(built.work / "ref.fa"))
    assert md5["chr22"] == hashlib.md5(fasta.fetch("chr22").upper().encode()).hexdigest()
    assert set(document["tools"]) >= {"bcftools", "htslib", "duckdb", "pyarrow", "genopass"}
    assert document["parameters"]["min_cell_count"] == "3"
    assert document["created"] == "1970-01-01T00:00:00Z"  # SOURCE_DATE_EPOCH=0


def test_metadata_refuses_a_path_parameter() -> None:
    from genopass.errors import UsageError
    from genopass.export.metadata import parse_parameters

    with pytest.raises(UsageError, match="looks like a path"):
        parse_parameters(["reference=/data/ref/GRCh38.fa"])


def test_ro_crate_parses_and_holds_no_local_path(built: Built) -> None:
    from rocrate.rocrate import ROCrate

    text = (built.export / "ro-crate-metadata.json").read_text()
    for local in (str(built.work), "/tmp", "LAB_", "centre.vcf", "samples.tsv", "/root"):
        assert local not in text
    crate = ROCrate(str(built.export))
    action = next(e for e in crate.get_entities() if e.type == "CreateAction")
    inputs = [e for e in action["object"] if e.id.startswith("ni:///sha-256;")]
    want = {hashlib.sha256(p.read_bytes()).hexdigest() for p in built.inputs}
    assert {e["sha256"] for e in inputs} == want
    results = {e.id for e in action["result"]}
    assert "metadata.json" in results and "vcf/cohort.vcf.gz" in results
    assert crate.mainEntity.id == "workflow/Snakefile"
    values = {e["name"]: e["value"] for e in action["object"] if e.type == "PropertyValue"}
    assert values["min_cell_count"] == "3"


def test_recipients_decrypt_every_file_and_others_cannot(built: Built, tmp_path: Path) -> None:
    encrypted = sorted((built.export / "encrypted").rglob("*.c4gh"))
    plain = [p for p in sorted(built.export.rglob("*")) if p.is_file()]
    plain = [p for p in plain if "encrypted" not in p.relative_to(built.export).parts]
    plain = [p for p in plain if p.name not in ("MANIFEST.tsv", "SHA256SUMS")]
    assert len(encrypted) == len(plain)
    for path in encrypted:
        rel = path.relative_to(built.export / "encrypted").as_posix().removesuffix(".c4gh")
        for recipient in ("recipient1", "recipient2"):
            out = tmp_path / recipient / rel
            decrypt_file(path, built.keys[recipient][1], out)
            assert out.read_bytes() == (built.export / rel).read_bytes()
    with pytest.raises(InputError, match="cannot decrypt"):
        decrypt_file(encrypted[0], built.keys["outsider"][1], tmp_path / "nope")


def test_manifest_and_sha256sums(built: Built) -> None:
    subprocess.run(["sha256sum", "--quiet", "-c", "SHA256SUMS"], cwd=built.export, check=True)
    header, *rows = [
        line.split("\t") for line in (built.export / "MANIFEST.tsv").read_text().splitlines()
    ]
    assert header[-3:] == ["plaintext_size", "plaintext_sha256", "plaintext_md5"]
    by_path = {r[0]: r for r in rows}
    for path, size, sha256, md5, p_size, p_sha256, p_md5 in rows:
        data = (built.export / path).read_bytes()
        assert (int(size), sha256, md5) == (
            len(data), hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest()
        )  # fmt: skip
        if path.endswith(".c4gh"):
            original = by_path[path.removeprefix("encrypted/").removesuffix(".c4gh")]
            assert (p_size, p_sha256, p_md5) == tuple(original[1:4])
        else:
            assert (p_size, p_sha256, p_md5) == ("", "", "")


def _export_bytes(root: Path) -> list[bytes]:
    """Every byte a receiver gets: files as they are, gzip members decompressed, Parquet values."""
    found = []
    for path in sorted(root.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        found.append(data)
        if data[:2] == b"\x1f\x8b":
            found.append(gzip.decompress(data))
        if path.suffix == ".parquet":
            found.append(str(pq.read_table(path).to_pylist()).encode())
    return found


def test_no_local_id_path_or_user_in_any_byte(built: Built) -> None:
    import getpass

    secrets = [s.encode() for s, *_ in PEOPLE] + [str(built.work).encode(), b"CTR_B"]
    user = getpass.getuser().encode()
    for data in _export_bytes(built.export):
        for secret in secrets:
            assert secret not in data
        if len(user) > 3:
            assert b"/" + user + b"/" not in data


def test_same_inputs_and_key_give_identical_files(built: Built, tmp_path: Path) -> None:
    again = build_export(tmp_path / "run")
    first = {r[0]: r for r in _manifest_rows(built.export)}
    second = {r[0]: r for r in _manifest_rows(again.export)}
    assert first.keys() == second.keys()
    for path, row in first.items():
        if path.endswith(".c4gh"):  # random session keys: the plaintext must match
            assert row[4:] == second[path][4:], path
        elif path in ("MANIFEST.tsv", "SHA256SUMS") or path.startswith("encrypted/"):
            continue
        else:
            assert row[1:4] == second[path][1:4], path
    assert DATASET in str(again.frequencies)


def _manifest_rows(export: Path) -> list[list[str]]:
    return [line.split("\t") for line in (export / "MANIFEST.tsv").read_text().splitlines()[1:]]


def test_roc_validator_workflow_run_crate_profile(built: Built) -> None:
    """roc-validator, profile workflow-run-crate-0.5, REQUIRED level. Offline here: the two
    checks that fetch the RO-Crate JSON-LD context from the web are skipped (they cannot run
    without a network); every other check runs."""
    import json
    import sys

    report = built.work / "rocval.json"
    proc = subprocess.run(
        [str(Path(sys.executable).parent / "rocrate-validator"), "validate",
         "-p", "workflow-run-crate-0.5", "--offline", "--no-paging",
         "-s", "ro-crate-1.1_3.1", "-s", "ro-crate-1.1_3.2",
         "-f", "json", "-o", str(report), str(built.export)],
        capture_output=True, text=True, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    result = json.loads(report.read_text())
    assert result["passed"], (proc.stderr[-2000:], result.get("issues"))
