"""Contig naming: map each centre's contig names to the target reference's names.

Alias tables (package data, genopass/resources/aliases/<build>.tsv, generated from NCBI's
assembly reports by scripts/make_alias_tables.py) list, for every contig, its UCSC name (the
target style), its Ensembl/1000 Genomes, RefSeq and GenBank names, its length and whether
it belongs to the primary assembly.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from genopass.errors import InputError
from genopass.paths import ALIAS_DIR
from genopass.reasons import CONTIG_NOT_IN_REFERENCE, NON_PRIMARY_CONTIG, UNKNOWN_CONTIG

PRIMARY_UCSC = re.compile(r"^chr([1-9]|1[0-9]|2[0-2]|X|Y|M)$")
# Names that are never primary, whatever table knows them: alts, randoms, unplaced,
# decoys, HLA, EBV, fixes, and the bare accessions that name scaffolds.
NON_PRIMARY_NAME = re.compile(
    r"(_random$|_alt$|_fix$|_decoy$|_hap\d+$|^chrUn_|^Un_|^HLA-|^chrEBV$|^EBV$|^hs37d5$|"
    r"^NC_007605|^(chr)?(GL|KI|JH|KN|KQ|KV|KZ|ML|MU)\d+(v\d+|\.\d+)?|^N[TW]_\d+)",
    re.IGNORECASE,
)
# The GenBank accession inside a UCSC scaffold name (chr1_KI270706v1_random, chrUn_GL000195v1,
# chrUn_JTFH01000001v1_decoy, hg19's chr1_gl000192_random) or a bare one (KI270706.1): the same
# scaffold under any naming style, so that a target FASTA's scaffolds need no table row.
SCAFFOLD = re.compile(
    r"^(?:chr[0-9XYMUn]+_)?([A-Za-z]{2,6}\d{6,8})(?:v(\d+)|\.(\d+))?(?:_random|_alt|_fix|_decoy)?$"
)


NAME_COLUMNS = ("ucsc", "ensembl", "refseq", "genbank")
# GRCh38's pseudo-autosomal regions (1-based, inclusive) by chromosome, with the length of the
# chromosome they belong to (NCBI's GRCh38.p13 assembly report).
GRCH38_PARS = {
    "X": (156_040_895, ((10_001, 2_781_479), (155_701_383, 156_030_895))),
    "Y": (57_227_415, ((10_001, 2_781_479), (56_887_903, 57_217_415))),
}


@dataclass(frozen=True)
class ContigAlias:
    ucsc: str  # the UCSC-style name, or the GenBank accession of a patch that has none
    build: str
    length: int
    primary: bool
    names: tuple[str, ...] = ()  # every name of the contig in the table


@dataclass(frozen=True)
class ContigDecision:
    """What happens to the records of one source contig: renamed to ``target`` or rejected."""

    source: str
    target: str | None
    reason: str | None


class AliasTable:
    """Every known name of every contig, per build."""

    def __init__(self, rows: Iterable[tuple[str, ContigAlias]]):
        self._by_name: dict[str, list[ContigAlias]] = {}
        for name, alias in rows:
            entries = self._by_name.setdefault(name, [])
            if alias not in entries:
                entries.append(alias)
        self.builds: set[str] = {a.build for entries in self._by_name.values() for a in entries}

    @classmethod
    def load(cls, paths: Iterable[Path] | None = None) -> AliasTable:
        files = sorted(ALIAS_DIR.glob("*.tsv")) if paths is None else list(paths)
        rows: list[tuple[str, ContigAlias]] = []
        for path in files:
            build = path.stem
            with open(path, newline="") as handle:
                lines = (line for line in handle if not line.startswith("#"))
                for number, row in enumerate(csv.DictReader(lines, delimiter="\t"), start=2):
                    try:
                        names = tuple(dict.fromkeys(row[c] for c in NAME_COLUMNS if row[c]))
                        alias = ContigAlias(
                            ucsc=row["ucsc"] or row["genbank"],
                            build=build,
                            length=int(row["length"]),
                            primary=row["class"] == "primary",
                            names=names,
                        )
                    except (KeyError, ValueError, TypeError) as exc:
                        raise InputError(f"{path}: row {number}: bad alias row ({exc})") from exc
                    if not names:
                        raise InputError(f"{path}: row {number}: an alias row without a name")
                    rows.extend((name, alias) for name in names)
        return cls(rows)

    def lookup(self, name: str) -> list[ContigAlias]:
        """All contigs (of any build) that carry this name."""
        return list(self._by_name.get(name, ()))

    def builds_of(self, name: str, length: int) -> set[str]:
        """The builds that hold this sequence: a contig of this name and length, or the same
        contig (one of its names, same length) under another name there (b37's GL000195.1 is
        GRCh38's chrUn_GL000195v1; b37's NC_007605 is GRCh38's chrEBV)."""
        found = [a for a in self.lookup(name) if a.length == length]
        builds = {a.build for a in found}
        for alias in found:
            for other in alias.names:
                builds |= {a.build for a in self.lookup(other) if a.length == length}
        return builds

    def same_in_every_build(self, name: str, length: int | None) -> bool:
        """True when the contig is one sequence in every build of the tables (chrM/MT, most b37
        GL scaffolds, EBV), so that it says nothing about the build. Without a length, the name
        must have a single length in the tables (hg19's chrM differs from the rCRS: False)."""
        if length is None:
            lengths = {a.length for a in self.lookup(name)}
            if len(lengths) != 1:
                return False
            (length,) = lengths
        every = self.builds
        return len(every) > 1 and self.builds_of(name, length) >= every


def pseudo_autosomal_regions(chromosome: str, length: int | None) -> tuple[tuple[int, int], ...]:
    """GRCh38's PARs of ``chromosome`` (``X`` or ``Y``) when the contig has GRCh38's length, or
    when its length is not known (a full chromosome is then the likely case); none on a contig of
    any other length (a slice or a synthetic contig, like the demo's chrX, whose coordinates are
    not GRCh38's) nor on any other chromosome."""
    known = GRCH38_PARS.get(chromosome)
    if known is None or (length is not None and length != known[0]):
        return ()
    return known[1]


def is_primary_name(ucsc_name: str) -> bool:
    return PRIMARY_UCSC.match(ucsc_name) is not None


def scaffold_accession(name: str) -> str | None:
    """``KI270706.1`` for chr1_KI270706v1_random, KI270706.1 or KI270706v1; None otherwise."""
    match = SCAFFOLD.match(name)
    if not match:
        return None
    version = match.group(2) or match.group(3) or "1"
    return f"{match.group(1).upper()}.{version}"


def plan_contigs(
    source: Mapping[str, int | None],
    target: Mapping[str, int],
    aliases: AliasTable,
    *,
    keep_non_primary: bool = False,
    target_build: str | None = None,
    path: Path | str = "input",
) -> list[ContigDecision]:
    """Decide, for every source contig (name -> declared length), its target name or reject reason.

    A contig whose declared length contradicts the target contig it maps to means the
    file is on another build: that is an error, never a silent rename.
    """
    decisions: list[ContigDecision] = []
    for name, length in source.items():
        decision = _decide(name, length, target, aliases, keep_non_primary, target_build, path)
        decisions.append(decision)
    targets = [d.target for d in decisions if d.target]
    duplicated = {t for t in targets if targets.count(t) > 1}
    if duplicated:
        sources = [d.source for d in decisions if d.target in duplicated]
        raise InputError(
            f"{path}: contigs {', '.join(sources)} all map to {', '.join(sorted(duplicated))}; "
            f"a file must name each chromosome once"
        )
    return decisions


def _decide(
    name: str,
    length: int | None,
    target: Mapping[str, int],
    aliases: AliasTable,
    keep_non_primary: bool,
    target_build: str | None,
    path: Path | str,
) -> ContigDecision:
    known = aliases.lookup(name)
    if name in target:
        candidate = name
    else:
        in_target = [a for a in known if a.ucsc in target]
        builds = {a.build for a in in_target}
        if target_build and in_target and target_build not in builds:
            raise InputError(
                f"{path}: contig {name} is a {'/'.join(sorted(builds))} name, but the target "
                f"reference is {target_build}: declare the file's build in units.tsv or lift "
                f"it over first"
            )
        candidate = in_target[0].ucsc if in_target else None
    if candidate is None and (accession := scaffold_accession(name)):
        same = [t for t in target if scaffold_accession(t) == accession]
        candidate = same[0] if len(same) == 1 else None
    if candidate is None:
        if any(a.primary for a in known) and not NON_PRIMARY_NAME.search(name):
            return ContigDecision(name, None, CONTIG_NOT_IN_REFERENCE)
        if known or NON_PRIMARY_NAME.search(name):
            return ContigDecision(name, None, NON_PRIMARY_CONTIG)
        return ContigDecision(name, None, UNKNOWN_CONTIG)
    target_length = target[candidate]
    if length is not None and length != target_length:
        builds = sorted({a.build for a in known if a.length == length})
        hint = f" (that is the {builds[0]} length)" if builds else ""
        raise InputError(
            f"{path}: contig {name} has length {length}{hint} in the header, but {candidate} "
            f"of the target reference has length {target_length}: the file is on another "
            f"build or reference; declare its build in units.tsv or lift it over first"
        )
    if not keep_non_primary and not is_primary_name(candidate):
        return ContigDecision(name, None, NON_PRIMARY_CONTIG)
    return ContigDecision(name, candidate, None)
