"""The shipped alias tables against NCBI's assembly reports, row by row.

The reports (``$GENOPASS_SHARED_DATA/ncbi-assembly-reports``, GENOPASS_SHARED_DATA defaulting to
``<repo>/../shared/data``) are read here with csv, not with the generator, so that a bug in
scripts/make_alias_tables.py cannot hide in its own check.
"""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO, SHARED_DATA

from genopass.inputs.contigs import AliasTable
from genopass.paths import ALIAS_DIR

SCRIPT = REPO / "scripts" / "make_alias_tables.py"
EXTRAS = REPO / "resources" / "aliases" / "extras.tsv"
REPORTS = {
    "GRCh37": "GCF_000001405.25_GRCh37.p13_assembly_report.tsv",
    "GRCh38": "GCF_000001405.39_GRCh38.p13_assembly_report.tsv",
}
# Sequences per report, as PROVENANCE.md of the reports states them.
REPORT_ROWS = {"GRCh37": 297, "GRCh38": 640}
B37_GVCF = "bio2zarr-tests/tests/data/vcf/NA12878.prod.chr20snippet.g.vcf.gz"  # GATK b37
GRCH38_1KG = "bio2zarr-tests/tests/data/vcf/chr22.vcf.gz"  # 1000 Genomes GRCh38 full analysis set


def read_tsv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        return list(csv.DictReader((x for x in handle if not x.startswith("#")), delimiter="\t"))


def read_report(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as handle:
        lines = [x.rstrip("\n") for x in handle]
    header = next(x for x in lines if x.startswith("# Sequence-Name"))[2:].split("\t")
    return [dict(zip(header, x.split("\t"), strict=True)) for x in lines if not x.startswith("#")]


@pytest.fixture(scope="module")
def reports() -> dict[str, list[dict[str, str]]]:
    folder = SHARED_DATA / "ncbi-assembly-reports"
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not present at {SHARED_DATA} (set GENOPASS_SHARED_DATA)")
    return {build: read_report(folder / name) for build, name in REPORTS.items()}


def na(value: str) -> str:
    return "" if value == "na" else value


@pytest.mark.parametrize("build", ["GRCh37", "GRCh38"])
def test_every_row_is_a_report_sequence_or_a_sourced_extra(reports, build):
    report = reports[build]
    assert len(report) == REPORT_ROWS[build]
    table = read_tsv(ALIAS_DIR / f"{build}.tsv")
    extras = [r for r in read_tsv(EXTRAS) if r["build"] == build]
    assert all(r["source"] for r in extras)
    # The report's rows first, in its order, then the extras: one table row per sequence.
    assert len(table) == len(report) + len(extras)
    for row, seq in zip(table, report, strict=False):
        role = seq["Sequence-Role"]
        where = f"{build} {seq['GenBank-Accn']}"
        assert row["genbank"] == seq["GenBank-Accn"], where
        assert row["refseq"] == na(seq["RefSeq-Accn"]), where
        assert row["ucsc"] == na(seq["UCSC-style-name"]), where
        assert row["length"] == seq["Sequence-Length"], where
        if role == "assembled-molecule":
            assert (row["ensembl"], row["class"]) == (seq["Sequence-Name"], "primary"), where
        elif role in ("unlocalized-scaffold", "unplaced-scaffold"):
            assert (row["ensembl"], row["class"]) == (seq["GenBank-Accn"], "non_primary"), where
        else:  # alt loci and patches: Ensembl and b37 name them otherwise
            assert (row["ensembl"], row["class"]) == ("", "non_primary"), where
    columns = ("ucsc", "ensembl", "refseq", "genbank", "length", "class")
    tail = table[len(report) :]
    assert [[r[c] for c in columns] for r in tail] == [[r[c] for c in columns] for r in extras]
    # An extra row is a sequence the report does not have.
    accessions = {seq["GenBank-Accn"] for seq in report} | {seq["RefSeq-Accn"] for seq in report}
    assert not [r for r in extras if {r["genbank"], r["refseq"]} & accessions]


def test_tables_equal_what_the_script_generates(reports, tmp_path):
    folder = SHARED_DATA / "ncbi-assembly-reports"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--reports", str(folder), "--out", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert f"GRCh37.tsv: {REPORT_ROWS['GRCh37'] + 3} rows" in done.stdout
    for build in REPORTS:
        assert (tmp_path / f"{build}.tsv").read_bytes() == (ALIAS_DIR / f"{build}.tsv").read_bytes()
    check = [sys.executable, str(SCRIPT), "--reports", str(folder), "--check"]
    assert subprocess.run(check, capture_output=True).returncode == 0
    # A table edited by hand is caught by --check.
    (tmp_path / "GRCh38.tsv").write_text((ALIAS_DIR / "GRCh38.tsv").read_text() + "x\n")
    stale = subprocess.run([*check, "--out", str(tmp_path)], capture_output=True, text=True)
    assert stale.returncode == 1 and "GRCh38.tsv" in stale.stderr


def test_the_mitochondrion_is_the_rcrs_in_both_reports(reports):
    for build, report in reports.items():
        (mt,) = [s for s in report if s["Sequence-Name"] == "MT"]
        assert (mt["RefSeq-Accn"], mt["GenBank-Accn"], mt["Sequence-Length"]) == (
            "NC_012920.1",
            "J01415.2",
            "16569",
        ), build
    aliases = AliasTable.load()
    assert {(a.build, a.length) for a in aliases.lookup("MT")} == {
        ("GRCh37", 16569),
        ("GRCh38", 16569),
    }
    # hg19's own chrM (16571 bp) stays a GRCh37 sequence, told apart by its length.
    assert {(a.build, a.length) for a in aliases.lookup("chrM")} == {
        ("GRCh37", 16569),
        ("GRCh37", 16571),
        ("GRCh38", 16569),
    }


def header_contigs(path: Path) -> dict[str, int]:
    header = subprocess.run(
        ["bcftools", "view", "-h", str(path)], capture_output=True, text=True, check=True
    ).stdout
    contigs = {}
    for line in header.splitlines():
        if line.startswith("##contig=<ID="):
            fields = dict(x.split("=", 1) for x in line[len("##contig=<") : -1].split(","))
            contigs[fields["ID"]] = int(fields["length"])
    return contigs


def unknown(contigs: dict[str, int], build: str) -> list[str]:
    """Contigs that the alias tables do not know on ``build`` with that length."""
    aliases = AliasTable.load()
    return [
        name
        for name, length in contigs.items()
        if not any(a.build == build and a.length == length for a in aliases.lookup(name))
    ]


def test_every_contig_of_a_gatk_b37_header_is_known_with_its_length(reports):
    contigs = header_contigs(SHARED_DATA / B37_GVCF)
    assert len(contigs) == 85  # 1-22, X, Y, MT, 59 GL scaffolds, NC_007605
    assert unknown(contigs, "GRCh37") == []


def test_every_assembly_contig_of_a_1000_genomes_grch38_header_is_known(reports):
    contigs = header_contigs(SHARED_DATA / GRCH38_1KG)
    # Decoys and HLA alleles are named by pattern, not listed; everything else is in the report.
    assembly = {n: x for n, x in contigs.items() if not n.endswith("_decoy") and "HLA-" not in n}
    assert len(contigs) - len(assembly) == 2385 + 525
    assert unknown(assembly, "GRCh38") == []


def test_an_extra_row_without_a_source_is_refused(reports, tmp_path):
    extras = tmp_path / "extras.tsv"
    rows = EXTRAS.read_text().splitlines()
    extras.write_text("\n".join([*rows, "GRCh38\tchrFOO\t\t\t\t100\tnon_primary\t"]) + "\n")
    folder = SHARED_DATA / "ncbi-assembly-reports"
    done = subprocess.run(
        [sys.executable, str(SCRIPT), "--reports", str(folder), "--extras", str(extras)]
        + ["--out", str(tmp_path / "out")],
        capture_output=True,
        text=True,
    )
    data_rows = len([r for r in rows if not r.startswith("#")])  # the column line is row 0
    assert done.returncode == 1
    assert f"extras.tsv: data row {data_rows}: give a source" in done.stderr
    assert not (tmp_path / "out").exists()
