"""Build detection on hand-made VCFs and FASTAs; expected outcomes counted by hand.

Contig lengths quoted here are those of NCBI's assembly reports (GRCh37.p13, GRCh38.p13).
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from helpers import random_sequence, write_fasta, write_vcf

from genopass.errors import InputError
from genopass.inputs.build import decide_build, gather_evidence, header_builds
from genopass.inputs.contigs import AliasTable

B37_GVCF = "bio2zarr-tests/tests/data/vcf/NA12878.prod.chr20snippet.g.vcf.gz"  # GATK b37
GRCH38_REPORT = "ncbi-assembly-reports/GCF_000001405.39_GRCh38.p13_assembly_report.tsv"
COLUMNS = "#CHROM POS ID REF ALT QUAL FILTER INFO"
OTHER = {"A": "C", "C": "G", "G": "T", "T": "A"}


@pytest.fixture(scope="module")
def aliases() -> AliasTable:
    return AliasTable.load()


def vcf_text(contig_lines: list[str], records: list[tuple[str, int, str]]) -> str:
    body = [f"{c} {p} . {r} {OTHER[r[0]]} . . ." for c, p, r in records]
    return "\n".join(["##fileformat=VCFv4.2", *contig_lines, COLUMNS, *body])


def evidence_of(
    tmp_path: Path,
    contig_lines: list[str],
    records: list[tuple[str, int, str]],
    fastas: dict[str, dict[str, str]],
    aliases: AliasTable,
):
    vcf = write_vcf(tmp_path / "in.vcf", vcf_text(contig_lines, records))
    references = {b: write_fasta(tmp_path / f"{b}.fa", c) for b, c in fastas.items()}
    lengths = {}
    for line in contig_lines:
        fields = dict(x.split("=", 1) for x in line[len("##contig=<") : -1].split(","))
        lengths[fields["ID"]] = int(fields["length"]) if "length" in fields else None
    per_contig: dict[str, int] = {}
    for contig, _, _ in records:
        per_contig[contig] = per_contig.get(contig, 0) + 1
    return vcf, gather_evidence(vcf, per_contig, lengths, references, aliases)


@pytest.fixture
def b37_header(shared_data: Path) -> list[str]:
    header = subprocess.run(
        ["bcftools", "view", "-h", str(shared_data / B37_GVCF)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    lines = [x for x in header.splitlines() if x.startswith("##contig=")]
    assert len(lines) == 85 and "##contig=<ID=GL000195.1,length=182896" in header
    return lines


@pytest.fixture
def b37_votes(shared_data: Path, b37_header: list[str]) -> int:
    """Header contigs of b37 that only GRCh37 has: neither MT (the rCRS in both builds), nor
    NC_007605 (EBV, GRCh38 analysis sets' chrEBV), nor a GL scaffold that the GRCh38 report
    lists with the same accession and length."""
    grch38 = set()
    for line in (shared_data / GRCH38_REPORT).read_text().splitlines():
        if not line.startswith("#"):
            fields = line.split("\t")
            grch38.add((fields[4], int(fields[8])))  # GenBank-Accn, Sequence-Length
    contigs = [re.match(r"##contig=<ID=([^,]+),length=(\d+)", x).groups() for x in b37_header]
    telling = [n for n, x in contigs if n not in ("MT", "NC_007605") and (n, int(x)) not in grch38]
    assert len(telling) == 24 + 47  # 1-22, X, Y and 47 of the 59 GL scaffolds
    return len(telling)


def test_b37_header_declared_grch37_is_accepted_and_detected(
    tmp_path, aliases, b37_header, b37_votes
):
    # 30 records on 20 at 10, 30, ...: the header's length (63 Mb) spreads the seeks so that
    # one record is sampled: too few sites, the header decides.
    seq37, seq38 = random_sequence(1000, seed=37), random_sequence(1000, seed=38)
    records = [("20", p, seq37[p - 1]) for p in range(10, 610, 20)]
    fastas = {"GRCh37": {"20": seq37}, "GRCh38": {"chr20": seq38}}
    vcf, evidence = evidence_of(tmp_path, b37_header, records, fastas, aliases)
    assert dict(evidence.header) == {"GRCh37": b37_votes}
    assert evidence.compared == {"GRCh37": 1, "GRCh38": 1}
    assert decide_build(evidence, "GRCh37", vcf) == "GRCh37"
    assert decide_build(evidence, "auto", vcf) == "GRCh37"
    with pytest.raises(InputError, match="declared build GRCh38, but the data are on GRCh37"):
        decide_build(evidence, "GRCh38", vcf)


def test_records_only_on_contigs_the_same_in_both_builds_are_not_compared(
    tmp_path, aliases, b37_header, b37_votes
):
    mito = random_sequence(200, seed=1)
    records = [("MT", p, mito[p - 1]) for p in (10, 20, 30)] + [("GL000195.1", 5, "A")]
    fastas = {"GRCh37": {"MT": mito}, "GRCh38": {"chrM": mito}}
    vcf, evidence = evidence_of(tmp_path, b37_header, records, fastas, aliases)
    assert evidence.compared == {"GRCh37": 0, "GRCh38": 0}
    text = evidence.describe()
    assert text.startswith(
        "no site could be compared with GRCh37 or GRCh38: records only on contigs that are "
        "the same in every build (MT, GL000195.1)"
    )
    assert "%" not in text
    assert decide_build(evidence, "GRCh37", vcf) == "GRCh37"
    assert decide_build(evidence, "auto", vcf) == "GRCh37"  # the header's lengths
    with pytest.raises(InputError, match=f"on GRCh37 .*{b37_votes} header contig length"):
        decide_build(evidence, "GRCh38", vcf)


def test_sites_all_on_n_say_so_and_never_blame_the_build(tmp_path, aliases):
    # chr22 of 600 bp (no real length: no header vote), N everywhere in both FASTAs; 30 records
    # 20 bp apart, each one found by one seek.
    records = [("chr22", p, "A") for p in range(10, 610, 20)]
    fastas = {"GRCh37": {"chr22": "N" * 600}, "GRCh38": {"chr22": "N" * 600}}
    lines = ["##contig=<ID=chr22,length=600>"]
    vcf, evidence = evidence_of(tmp_path, lines, records, fastas, aliases)
    assert evidence.compared == {"GRCh37": 0, "GRCh38": 0}
    assert evidence.rate("GRCh37") is None and evidence.rate("GRCh38") is None
    text = evidence.describe()
    assert text == (
        "no site could be compared with GRCh37 or GRCh38: each of the 30 sampled site(s) has "
        "a REF that is not plain ACGT, falls on N in its FASTA, or is on a contig the FASTA lacks"
    )
    assert decide_build(evidence, "GRCh37", vcf) == "GRCh37"  # nothing contradicts it
    with pytest.raises(InputError, match=r"cannot tell its build \(no site could be compared"):
        decide_build(evidence, "auto", vcf)


def test_ref_alleles_decide_and_mitochondrial_records_are_not_sampled(tmp_path, aliases):
    seq37, seq38 = random_sequence(2000, seed=1), random_sequence(2000, seed=2)
    mito = random_sequence(100, seed=3)
    positions = range(25, 2000, 50)  # 40 records, each found by one seek (50 bp apart)
    records = [("chr22", p, seq37[p - 1]) for p in positions]
    records += [("MT", p, mito[p - 1]) for p in range(5, 15)]  # would match both FASTAs
    fastas = {"GRCh37": {"chr22": seq37, "MT": mito}, "GRCh38": {"chr22": seq38, "chrM": mito}}
    lines = ["##contig=<ID=chr22,length=2000>", "##contig=<ID=MT,length=16569>"]
    vcf, evidence = evidence_of(tmp_path, lines, records, fastas, aliases)
    by_chance = sum(seq38[p - 1] == seq37[p - 1] for p in positions)
    assert evidence.compared == {"GRCh37": 40, "GRCh38": 40}
    assert evidence.matched == {"GRCh37": 40, "GRCh38": by_chance}
    assert decide_build(evidence, "auto", vcf) == "GRCh37"
    assert decide_build(evidence, "GRCh37", vcf) == "GRCh37"
    with pytest.raises(InputError) as error:
        decide_build(evidence, "GRCh38", vcf)
    message = str(error.value)
    assert "declared build GRCh38, but the data are on GRCh37" in message
    assert f"GRCh38: REF matches at {round(100 * by_chance / 40)}% of 40 sampled" in message
    assert "GRCh37: REF matches at 100% of 40 sampled" in message


def test_contigs_the_same_in_both_builds_cast_no_header_vote(aliases):
    same = {
        "MT": 16569,  # rCRS, NC_012920.1, in both reports
        "chrM": 16569,
        "GL000195.1": 182896,  # b37 name; GRCh38 chrUn_GL000195v1
        "chr7_gl000195_random": 182896,  # hg19 name of the same scaffold
        "chrUn_GL000195v1": 182896,
        "NC_007605": 171823,  # EBV in b37; chrEBV of the GRCh38 analysis sets
        "chrEBV": 171823,
    }
    assert header_builds(same, aliases) == {}
    telling = {
        "chrM": 16571,  # UCSC hg19's own mitochondrion (NC_001807.4)
        "22": 51304566,  # GRCh37
        "GL000192.1": 547496,  # b37 chr1_gl000192_random, placed in GRCh38
        "chr22": 50818468,  # GRCh38
    }
    assert header_builds(telling, aliases) == {"GRCh37": 3, "GRCh38": 1}
