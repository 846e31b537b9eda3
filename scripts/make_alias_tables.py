#!/usr/bin/env python3
"""Generate genopass's contig alias tables from NCBI's assembly reports.

    python scripts/make_alias_tables.py [--reports DIR] [--extras FILE] [--out DIR] [--check]

Reads the GRCh37.p13 and GRCh38.p13 assembly reports (``*_assembly_report.tsv``, one row per
sequence: Sequence-Name, role, GenBank and RefSeq accessions, length, UCSC-style name), appends the
hand-kept rows of ``resources/aliases/extras.tsv`` (decoys, EBV, HLA, hg19's chrM: sequences the
reports do not list), and writes ``<build>.tsv`` into the package data folder
(src/genopass/resources/aliases/), byte for byte the same on every run. ``--check`` writes nothing
and exits 1 when a shipped table differs from what would be generated.

Columns: ``ucsc`` (UCSC-style name, empty for the patches the report gives none), ``ensembl``
(Ensembl / 1000 Genomes / GATK b37 name: 1..22, X, Y, MT for chromosomes, the GenBank accession
for unlocalised and unplaced scaffolds, empty for alt loci and patches, which those sources name
otherwise), ``refseq``, ``genbank``, ``length``, ``class`` (primary for assembled molecules, i.e.
chr1-22, X, Y and the mitochondrion; non_primary otherwise).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("GENOPASS_SHARED_DATA", REPO.parent / "shared" / "data"))
REPORTS = SHARED_DATA / "ncbi-assembly-reports"
EXTRAS = REPO / "resources" / "aliases" / "extras.tsv"
OUT = REPO / "src" / "genopass" / "resources" / "aliases"

COLUMNS = ("ucsc", "ensembl", "refseq", "genbank", "length", "class")
REPORT_COLUMNS = (
    "Sequence-Name",
    "Sequence-Role",
    "Assigned-Molecule",
    "Assigned-Molecule-Location/Type",
    "GenBank-Accn",
    "Relationship",
    "RefSeq-Accn",
    "Assembly-Unit",
    "Sequence-Length",
    "UCSC-style-name",
)
# Roles whose GenBank accession is also the Ensembl / 1000 Genomes / b37 name of the sequence.
SCAFFOLD_ROLES = {"unlocalized-scaffold", "unplaced-scaffold"}
ASSEMBLY_NAME = re.compile(r"^#\s*Assembly name:\s*(\S+)")
MISSING = "na"  # the reports' empty cell


class ReportError(Exception):
    """A report or the extras file is not what this script reads; the message says which line."""


@dataclass(frozen=True)
class Report:
    path: Path
    assembly: str  # GRCh37.p13
    rows: tuple[dict[str, str], ...]  # report columns, in file order

    @property
    def build(self) -> str:
        return self.assembly.split(".")[0]  # GRCh37.p13 -> GRCh37


def read_report(path: Path) -> Report:
    """An NCBI assembly report: its assembly name and its sequence rows."""
    assembly = None
    header: list[str] | None = None
    rows: list[dict[str, str]] = []
    with open(path, newline="") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\r\n")
            if match := ASSEMBLY_NAME.match(line):
                assembly = match.group(1)
            elif line.startswith("# Sequence-Name"):
                header = line[2:].split("\t")
                if tuple(header) != REPORT_COLUMNS:
                    raise ReportError(f"{path}: line {number}: unexpected columns {header}")
            elif line and not line.startswith("#"):
                fields = line.split("\t")
                if header is None or len(fields) != len(header):
                    raise ReportError(
                        f"{path}: line {number}: {len(fields)} fields before or outside the "
                        f"'# Sequence-Name' header of {len(REPORT_COLUMNS)} columns"
                    )
                rows.append(dict(zip(header, fields, strict=True)))
    if assembly is None or not rows:
        raise ReportError(f"{path}: no '# Assembly name:' line or no sequence rows")
    return Report(path, assembly, tuple(rows))


def table_row(row: dict[str, str]) -> dict[str, str]:
    """One alias-table row from one report row."""
    role = row["Sequence-Role"]
    if role == "assembled-molecule":
        ensembl = row["Sequence-Name"]
    elif role in SCAFFOLD_ROLES:
        ensembl = row["GenBank-Accn"]
    else:
        ensembl = ""
    return {
        "ucsc": _cell(row["UCSC-style-name"]),
        "ensembl": ensembl,
        "refseq": _cell(row["RefSeq-Accn"]),
        "genbank": _cell(row["GenBank-Accn"]),
        "length": str(int(row["Sequence-Length"])),
        "class": "primary" if role == "assembled-molecule" else "non_primary",
    }


def _cell(value: str) -> str:
    return "" if value == MISSING else value


def read_extras(path: Path) -> dict[str, list[dict[str, str]]]:
    """Hand-kept rows per build, in file order, each with its ``source``."""
    with open(path, newline="") as handle:
        lines = [line for line in handle if not line.startswith("#")]
    extras: dict[str, list[dict[str, str]]] = {}
    for number, row in enumerate(csv.DictReader(lines, delimiter="\t"), start=1):
        if any(row.get(c) is None for c in ("build", *COLUMNS, "source")):
            raise ReportError(
                f"{path}: data row {number}: needs build, {', '.join(COLUMNS)}, source"
            )
        if not row["source"] or not row["length"].isdigit():
            raise ReportError(f"{path}: data row {number}: give a source and a numeric length")
        extras.setdefault(row["build"], []).append(row)
    return extras


def render(report: Report, extras: Sequence[dict[str, str]]) -> str:
    """The alias table of one build: comment header, column line, report rows, extra rows."""
    rows = [table_row(row) for row in report.rows]
    out = io.StringIO()
    out.write(
        f"# {report.build} contig aliases, generated by scripts/make_alias_tables.py from\n"
        f"# NCBI's {report.path.name}\n"
        f"# ({report.assembly}, {len(rows)} sequences) and {len(extras)} hand-kept rows of\n"
        "# resources/aliases/extras.tsv. Do not edit by hand: edit those, run the script.\n"
        "# ucsc = UCSC-style name (empty: the report gives none); ensembl = Ensembl / 1000\n"
        "# Genomes / b37 name (1..22, X, Y, MT; unlocalised and unplaced scaffolds by GenBank\n"
        "# accession); refseq, genbank = accessions; class: primary = assembled molecules\n"
        "# (chr1-22, X, Y, M), non_primary = scaffolds, alt loci, patches, decoys, EBV, HLA.\n"
        "# Mitochondrion: the reports' MT (both builds) is the rCRS, NC_012920.1, 16569 bp,\n"
        "# which b37 calls MT and GRCh38 chrM. UCSC hg19's chrM is another sequence\n"
        "# (NC_001807.4, 16571 bp): both GRCh37 rows are named chrM; the length tells them apart.\n"
    )
    for extra in extras:
        out.write(f"# extra {extra['ucsc'] or extra['genbank']}: {extra['source']}\n")
    out.write("\t".join(COLUMNS) + "\n")
    for row in [*rows, *extras]:
        out.write("\t".join(row[c] for c in COLUMNS) + "\n")
    return out.getvalue()


def generate(reports: Sequence[Path], extras_path: Path) -> dict[str, str]:
    """File name -> text of every alias table."""
    extras = read_extras(extras_path)
    tables: dict[str, str] = {}
    for path in reports:
        report = read_report(path)
        if f"{report.build}.tsv" in tables:
            raise ReportError(f"{path}: a second report of {report.build}")
        tables[f"{report.build}.tsv"] = render(report, extras.pop(report.build, []))
    if extras:
        raise ReportError(
            f"{extras_path}: rows of build(s) {', '.join(sorted(extras))} that no report covers"
        )
    return tables


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--reports",
        type=Path,
        default=REPORTS,
        help="folder of the *_assembly_report.tsv files (default: $GENOPASS_SHARED_DATA/"
        "ncbi-assembly-reports, $GENOPASS_SHARED_DATA defaulting to ../shared/data)",
    )
    parser.add_argument("--extras", type=Path, default=EXTRAS, help="hand-kept extra rows")
    parser.add_argument("--out", type=Path, default=OUT, help="folder the tables are written to")
    parser.add_argument(
        "--check", action="store_true", help="write nothing; exit 1 if a table is out of date"
    )
    args = parser.parse_args(argv)
    reports = sorted(args.reports.glob("*_assembly_report.tsv"))
    if not reports:
        parser.error(f"no *_assembly_report.tsv in {args.reports}; give --reports")
    try:
        tables = generate(reports, args.extras)
    except (OSError, ReportError) as exc:
        print(f"make_alias_tables: {exc}", file=sys.stderr)
        return 1
    stale = []
    for name, text in tables.items():
        path = args.out / name
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(str(path))
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        rows = sum(1 for line in text.splitlines() if not line.startswith("#")) - 1
        print(f"{path}: {rows} rows")
    if stale:
        print(f"out of date: {', '.join(stale)}; run {sys.argv[0]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
