"""Which genome build a VCF is on: header contig lengths and REF alleles at sampled records.

Two kinds of evidence, both cheap:

- the ``##contig`` lengths of the header, looked up in the alias tables (GRCh37 and GRCh38 differ
  in the length of every primary chromosome but chrM);
- the REF match rate: up to ``SAMPLED_RECORDS`` records spread through the file (a seek per record
  through the index) whose REF is compared with each configured reference FASTA. Sites where a
  reference has N (gaps, or partial references as in tests) are not compared.

Contigs that are one sequence in every build (chrM/MT, EBV, most of b37's GL scaffolds: same name or
accession, same length) say nothing about the build: their header line casts no vote and their
records are not sampled. When no site could be compared, the evidence says so; a rate is only ever
printed over sites that were compared.

A declared build that the data contradict is an error whose message gives the evidence.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import pysam

from genopass.errors import InputError
from genopass.inputs.contigs import AliasTable
from genopass.inputs.reference import read_fai

log = logging.getLogger(__name__)

AUTO = "auto"
SAMPLED_RECORDS = 1000
# A build fits when at least this share of the sampled REF alleles match its FASTA. Real calls on
# the right build match (nearly) everywhere; on another build, REFs match by chance (~30%).
FIT = 0.9
# Fewer compared sites than this say nothing; the header's lengths decide then.
MIN_SITES = 20


@dataclass(frozen=True)
class Site:
    contig: str
    pos: int  # 1-based
    ref: str


@dataclass(frozen=True)
class BuildEvidence:
    """What the header and the sampled records say about each build."""

    header: Mapping[str, int] = field(default_factory=dict)  # build -> contigs of its length
    compared: Mapping[str, int] = field(default_factory=dict)  # build -> sites compared
    matched: Mapping[str, int] = field(default_factory=dict)  # build -> REFs that match
    sampled: int = 0  # sites sampled on contigs that can tell the builds apart
    same_everywhere: tuple[str, ...] = ()  # contigs with records, one sequence in every build

    def rate(self, build: str) -> float | None:
        compared = self.compared.get(build, 0)
        return self.matched.get(build, 0) / compared if compared else None

    def fits(self, build: str) -> bool:
        rate = self.rate(build)
        return rate is not None and self.compared.get(build, 0) >= MIN_SITES and rate >= FIT

    def describe(self) -> str:
        builds = sorted(set(self.compared) | set(self.header))
        parts = []
        uncompared = [b for b in builds if b in self.compared and not self.compared[b]]
        if uncompared:
            parts.append(f"no site could be compared with {' or '.join(uncompared)}: {self._why()}")
        for build in builds:
            compared = self.compared.get(build, 0)
            texts = []
            if compared:
                text = f"REF matches at {self.rate(build):.0%} of {compared} sampled records"
                if compared < MIN_SITES:
                    text += f", too few to decide (at least {MIN_SITES})"
                texts.append(text)
            if self.header.get(build):
                texts.append(f"{self.header[build]} header contig length(s) of {build} only")
            if texts:
                parts.append(f"{build}: {', '.join(texts)}")
        return (
            "; ".join(parts) or "no evidence: no site could be compared and no header length tells"
        )

    def _why(self) -> str:
        if self.sampled:
            return (
                f"each of the {self.sampled} sampled site(s) has a REF that is not plain ACGT, "
                f"falls on N in its FASTA, or is on a contig the FASTA lacks"
            )
        if self.same_everywhere:
            shown = ", ".join(self.same_everywhere[:5]) + (
                ", ..." if len(self.same_everywhere) > 5 else ""
            )
            return f"records only on contigs that are the same in every build ({shown})"
        return "no records on contigs that differ between builds"


def header_builds(lengths: Mapping[str, int | None], aliases: AliasTable) -> Counter[str]:
    """Per build, how many header contigs have that build's length for their name, and no other's.

    A contig that is one sequence in several builds (chrM/MT, b37's GL000195.1 = GRCh38's
    chrUn_GL000195v1, EBV) casts no vote.
    """
    votes: Counter[str] = Counter()
    for name, length in lengths.items():
        if length is None:
            continue
        builds = aliases.builds_of(name, length)
        if len(builds) == 1:
            votes[builds.pop()] += 1
    return votes


def sample_sites(
    vcf: Path,
    records_per_contig: Mapping[str, int],
    lengths: Mapping[str, int | None],
    n: int = SAMPLED_RECORDS,
) -> list[Site]:
    """Up to ``n`` records spread through an indexed VCF: a seek per record, never a full read."""
    total = sum(records_per_contig.values())
    if not total:
        return []
    sites: dict[tuple[str, int], Site] = {}
    verbosity = pysam.set_verbosity(0)
    try:
        with pysam.VariantFile(str(vcf)) as handle:
            for contig, count in records_per_contig.items():
                if not count:
                    continue
                k = max(1, min(count, round(n * count / total)))
                length = lengths.get(contig) or 2**29
                for i in range(k):
                    start = i * length // k
                    for record in handle.fetch(contig, start, length):
                        sites.setdefault((contig, record.pos), Site(contig, record.pos, record.ref))
                        break
    except (OSError, ValueError) as exc:
        raise InputError(f"{vcf}: cannot read records through its index ({exc})") from exc
    finally:
        pysam.set_verbosity(verbosity)
    return list(sites.values())


def fasta_contig_names(
    names: list[str], fasta_contigs: list[str], aliases: AliasTable
) -> dict[str, str]:
    """Source contig name -> the FASTA's name for the same chromosome (through the alias tables)."""
    by_canonical: dict[str, str] = {}
    for contig in fasta_contigs:
        for canonical in {contig, *(a.ucsc for a in aliases.lookup(contig))}:
            by_canonical.setdefault(canonical, contig)
    found = {}
    for name in names:
        for canonical in [name, *(a.ucsc for a in aliases.lookup(name))]:
            if canonical in by_canonical:
                found[name] = by_canonical[canonical]
                break
    return found


def ref_matches(sites: list[Site], fasta: Path, aliases: AliasTable) -> tuple[int, int]:
    """(compared, matched): sampled REFs against ``fasta``; sites on N or off the FASTA skipped."""
    compared = matched = 0
    try:
        handle = pysam.FastaFile(str(fasta))
    except (OSError, ValueError) as exc:
        raise InputError(f"{fasta}: cannot read the FASTA (is it indexed?): {exc}") from exc
    with handle:
        names = fasta_contig_names(
            sorted({s.contig for s in sites}), list(handle.references), aliases
        )
        lengths = dict(zip(handle.references, handle.lengths, strict=True))
        for site in sites:
            contig = names.get(site.contig)
            ref = site.ref.upper()
            if contig is None or not ref or not set(ref) <= set("ACGT"):
                continue
            end = site.pos - 1 + len(ref)
            if end > lengths[contig]:
                compared += 1  # off the end of this build's contig: certainly not this build
                continue
            seq = handle.fetch(contig, site.pos - 1, end).upper()
            if "N" in seq:
                continue
            compared += 1
            matched += seq == ref
    return compared, matched


def gather_evidence(
    vcf: Path,
    records_per_contig: Mapping[str, int],
    lengths: Mapping[str, int | None],
    references: Mapping[str, Path],
    aliases: AliasTable,
) -> BuildEvidence:
    known = dict(lengths)
    for fasta in references.values():
        fai = read_fai(fasta) if Path(f"{fasta}.fai").exists() else {}
        names = fasta_contig_names([c for c, n in known.items() if n is None], list(fai), aliases)
        for contig, name in names.items():
            known[contig] = fai[name]  # a header without lengths: spread over the FASTA's
    # Records on a contig that is the same in every build match every FASTA alike: not sampled.
    same = [
        c
        for c, n in records_per_contig.items()
        if n and aliases.same_in_every_build(c, known.get(c))
    ]
    telling = {c: n for c, n in records_per_contig.items() if c not in same}
    sites = sample_sites(vcf, telling, known)
    compared, matched = {}, {}
    for build, fasta in references.items():
        compared[build], matched[build] = ref_matches(sites, fasta, aliases)
    evidence = BuildEvidence(
        dict(header_builds(lengths, aliases)), compared, matched, len(sites), tuple(same)
    )
    log.info("%s: build evidence: %s", vcf, evidence.describe())
    return evidence


def decide_build(evidence: BuildEvidence, declared: str, path: Path | str) -> str:
    """The build to use: the declared one if the data agree, the detected one for ``auto``."""
    candidates = sorted(set(evidence.compared) | set(evidence.header))
    fitting = [b for b in candidates if evidence.fits(b)]
    header = [b for b, n in evidence.header.items() if n]
    if declared != AUTO:
        others = [b for b in fitting if b != declared]
        if evidence.fits(declared) and not (set(header) - {declared}):
            return declared
        if others or (set(header) - {declared}):
            detected = others[0] if others else sorted(set(header) - {declared})[0]
            raise InputError(
                f"{path}: declared build {declared}, but the data are on {detected} "
                f"({evidence.describe()}); correct the build in units.tsv (or set it to auto)"
            )
        if evidence.compared.get(declared, 0) >= MIN_SITES:
            raise InputError(
                f"{path}: declared build {declared}, but the REF alleles match none of the "
                f"configured references ({evidence.describe()}); the file is on another "
                f"reference or its REF column is not the reference allele"
            )
        return declared  # too few informative sites to contradict it
    if fitting:
        return max(fitting, key=lambda b: (evidence.rate(b) or 0.0, evidence.header.get(b, 0)))
    if len(header) == 1 and not any(evidence.compared.get(b, 0) >= MIN_SITES for b in candidates):
        return header[0]
    raise InputError(
        f"{path}: cannot tell its build ({evidence.describe()}); declare it in units.tsv "
        f"(GRCh37 needs a liftover entry in the config) or check that the right FASTAs are "
        f"configured"
    )
