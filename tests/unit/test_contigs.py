from __future__ import annotations

import pytest

from genopass.errors import InputError
from genopass.inputs.contigs import (
    CONTIG_NOT_IN_REFERENCE,
    NON_PRIMARY_CONTIG,
    UNKNOWN_CONTIG,
    AliasTable,
    plan_contigs,
)

TARGET = {"chr21": 46709983, "chr22": 50818468, "chrM": 16569}


@pytest.fixture(scope="module")
def aliases() -> AliasTable:
    return AliasTable.load()


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("22", "chr22"),  # Ensembl / 1000 Genomes
        ("chr22", "chr22"),  # UCSC
        ("NC_000022.11", "chr22"),  # RefSeq GRCh38
        ("CM000684.2", "chr22"),  # GenBank GRCh38
        ("MT", "chrM"),
        ("NC_012920.1", "chrM"),
    ],
)
def test_each_alias_style_maps_to_the_ucsc_name(aliases, name, expected):
    (decision,) = plan_contigs({name: None}, TARGET, aliases, target_build="GRCh38")
    assert decision.target == expected
    assert decision.reason is None


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("chr22_KI270731v1_random", NON_PRIMARY_CONTIG),
        ("KI270731.1", NON_PRIMARY_CONTIG),
        ("NT_187386.1", NON_PRIMARY_CONTIG),  # RefSeq name of KI270731.1
        ("chrUn_GL000195v1", NON_PRIMARY_CONTIG),
        ("HLA-A*01:01:01:01", NON_PRIMARY_CONTIG),
        ("chr6_GL000250v2_alt", NON_PRIMARY_CONTIG),
        ("chrEBV", NON_PRIMARY_CONTIG),
        ("hs37d5", NON_PRIMARY_CONTIG),
        ("chr1", CONTIG_NOT_IN_REFERENCE),
        ("7", CONTIG_NOT_IN_REFERENCE),
        ("scaffold_12", UNKNOWN_CONTIG),
        ("Chr22", UNKNOWN_CONTIG),
    ],
)
def test_rejected_contigs_get_a_reason(aliases, name, reason):
    (decision,) = plan_contigs({name: None}, TARGET, aliases, target_build="GRCh38")
    assert decision.target is None
    assert decision.reason == reason


def test_grch37_length_is_an_error_that_names_the_build(aliases):
    with pytest.raises(
        InputError,
        match=r"in.vcf.gz: contig 22 has length 51304566 \(that is "
        r"the GRCh37 length\).*chr22 .*50818468",
    ):
        plan_contigs({"22": 51304566}, TARGET, aliases, target_build="GRCh38", path="in.vcf.gz")


def test_grch37_accession_is_an_error(aliases):
    with pytest.raises(InputError, match="NC_000022.10 is a GRCh37 name"):
        plan_contigs({"NC_000022.10": None}, TARGET, aliases, target_build="GRCh38")


def test_two_names_for_one_chromosome_is_an_error(aliases):
    with pytest.raises(InputError, match="22, chr22 all map to chr22"):
        plan_contigs({"22": None, "chr22": None}, TARGET, aliases, target_build="GRCh38")


def test_non_primary_target_contigs_are_kept_only_on_request(aliases):
    target = {**TARGET, "chr22_KI270731v1_random": 150754}
    (rejected,) = plan_contigs({"KI270731.1": 150754}, target, aliases, target_build="GRCh38")
    (kept,) = plan_contigs(
        {"KI270731.1": 150754}, target, aliases, target_build="GRCh38", keep_non_primary=True
    )
    assert rejected.reason == NON_PRIMARY_CONTIG
    assert kept.target == "chr22_KI270731v1_random"


TARGET37 = {"chr21": 48129895, "chr22": 51304566, "chrM": 16569}


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("21", "chr21"),  # b37 / 1000 Genomes phase 3 / hs37d5
        ("chr21", "chr21"),  # UCSC hg19
        ("NC_000021.8", "chr21"),  # RefSeq GRCh37
        ("CM000683.1", "chr21"),  # GenBank GRCh37
        ("MT", "chrM"),  # b37's mitochondrion is the rCRS, as GRCh38's
    ],
)
def test_each_grch37_alias_style_maps_on_a_grch37_target(aliases, name, expected):
    (decision,) = plan_contigs({name: None}, TARGET37, aliases, target_build="GRCh37")
    assert decision.target == expected


def test_hg19_chrm_is_another_sequence_than_the_rcrs(aliases):
    with pytest.raises(InputError, match=r"contig chrM has length 16571 \(that is the GRCh37"):
        plan_contigs({"chrM": 16571}, TARGET, aliases, target_build="GRCh38")


@pytest.mark.parametrize(
    ("name", "target_name"),
    [
        ("KI270706.1", "chr1_KI270706v1_random"),  # Ensembl/GenBank -> UCSC (table row)
        ("KI270711.1", "chr1_KI270711v1_random"),  # no table row: the accession in the name
        ("chrUn_JTFH01000001v1_decoy", "chrUn_JTFH01000001v1_decoy"),
        ("JTFH01000001.1", "chrUn_JTFH01000001v1_decoy"),  # decoy by accession
        ("HLA-A*01:01:01:01", "HLA-A*01:01:01:01"),
        ("chrEBV", "chrEBV"),
        ("NC_007605.1", "chrEBV"),  # RefSeq name of EBV
    ],
)
def test_non_primary_contigs_map_across_styles_and_follow_the_policy(aliases, name, target_name):
    target = {**TARGET, target_name: 1000}
    (kept,) = plan_contigs(
        {name: None}, target, aliases, target_build="GRCh38", keep_non_primary=True
    )
    (rejected,) = plan_contigs({name: None}, target, aliases, target_build="GRCh38")
    assert kept.target == target_name and kept.reason is None
    assert rejected.target is None and rejected.reason == NON_PRIMARY_CONTIG


@pytest.mark.parametrize(
    "name", ["chr6_apd_hap1", "chr1_gl000192_random", "chrUn_gl000220", "GL000192.1", "NC_007605"]
)
def test_grch37_non_primary_contigs_are_recognised(aliases, name):
    (decision,) = plan_contigs({name: None}, TARGET, aliases, target_build="GRCh38")
    assert decision.reason == NON_PRIMARY_CONTIG


def test_alias_tables_have_every_primary_contig_in_four_styles(aliases):
    import csv

    from genopass.paths import ALIAS_DIR

    for build in ("GRCh37", "GRCh38"):
        with open(ALIAS_DIR / f"{build}.tsv") as handle:
            rows = list(csv.DictReader((line for line in handle if line[0] != "#"), delimiter="\t"))
        primary = {r["ucsc"]: r for r in rows if r["class"] == "primary" and r["ensembl"]}
        expected = {f"chr{c}" for c in [*range(1, 23), "X", "Y", "M"]}
        assert set(primary) == expected
        assert all(r["refseq"] and r["genbank"] for r in primary.values())


def test_b37_scaffold_maps_to_its_hg19_name(aliases):
    # GL000195.1 (b37) is chr7_gl000195_random in hg19, as the GRCh37 assembly report says.
    target = {**TARGET37, "chr7_gl000195_random": 182896}
    (decision,) = plan_contigs(
        {"GL000195.1": 182896}, target, aliases, target_build="GRCh37", keep_non_primary=True
    )
    assert decision.target == "chr7_gl000195_random"


def test_a_patch_without_ucsc_name_is_known_by_its_accession(aliases):
    # GRCh37.p13 report: HG999_1_PATCH, GenBank GL383516.1, RefSeq NW_003315903.1, 49316 bp, no
    # UCSC-style name.
    for name in ("GL383516.1", "NW_003315903.1"):
        (alias,) = aliases.lookup(name)
        assert (alias.ucsc, alias.build, alias.length, alias.primary) == (
            "GL383516.1",
            "GRCh37",
            49316,
            False,
        )


def test_grch38_pars_sit_on_the_lengths_of_ncbis_assembly_report(shared_data):
    """The chromosome lengths the PARs are tied to are GRCh38's (NCBI's report, column 9), and
    each PAR lies inside its chromosome."""
    from genopass.inputs.contigs import GRCH38_PARS

    (report,) = (shared_data / "ncbi-assembly-reports").glob("GCF_000001405.39*assembly_report*")
    lengths = {}
    for line in report.read_text().splitlines():
        if not line.startswith("#"):
            fields = line.split("\t")
            lengths[fields[0]] = int(fields[8])
    for chromosome, (length, spans) in GRCH38_PARS.items():
        assert length == lengths[chromosome]
        assert all(1 <= begin < end <= length for begin, end in spans)


def test_pars_only_on_a_chromosome_of_grch38s_length():
    from genopass.inputs.contigs import GRCH38_PARS, pseudo_autosomal_regions

    x_length, x_pars = GRCH38_PARS["X"]
    assert pseudo_autosomal_regions("X", x_length) == x_pars
    assert pseudo_autosomal_regions("X", None) == x_pars  # length unknown: a full chromosome
    assert pseudo_autosomal_regions("X", 90_000) == ()  # the demo's short chrX
    assert pseudo_autosomal_regions("Y", GRCH38_PARS["Y"][0]) == GRCH38_PARS["Y"][1]
    assert pseudo_autosomal_regions("22", None) == ()
