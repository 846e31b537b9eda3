"""Variant metrics against a hand count and against the bcftools commands the GA4GH standard
writes (bcftools view -v snps|indels -f PASS -g het|hom, bcftools stats TSTV), on hand-made,
demo and real (GIAB HG001 Platinum, 1000 Genomes) VCFs."""

from __future__ import annotations

import subprocess

import pytest
from qc_helpers import bcftools_count, run, write_vcf

from genopass.qc.variants import accounting_extras, count_variants, variant_metrics

HEADER = [
    "##fileformat=VCFv4.2",
    '##FILTER=<ID=LowQual,Description="low">',
    "##contig=<ID=chr1,length=100000>",
    "##contig=<ID=chrX,length=156040895>",
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
    "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1",
]


def test_hand_made_counts(tmp_path):
    rows = [
        "chr1\t100\t.\tA\tG\t50\tPASS\t.\tGT\t0/1",  # SNV het, transition
        "chr1\t200\t.\tC\tA\t50\tPASS\t.\tGT\t1/1",  # SNV hom, transversion
        "chr1\t300\t.\tG\tA\t50\t.\t.\tGT\t0|1",  # SNV het (no filter applied), transition
        "chr1\t400\t.\tT\tC\t50\tLowQual\t.\tGT\t0/1",  # not PASS
        "chr1\t500\t.\tA\tAT\t50\tPASS\t.\tGT\t0/1",  # insertion het
        "chr1\t600\t.\tAT\tA\t50\tPASS\t.\tGT\t1/1",  # deletion hom
        "chr1\t700\t.\tATT\tA\t50\tPASS\t.\tGT\t0/1",  # deletion het
        "chr1\t800\t.\tC\tT\t50\tPASS\t.\tGT\t0/0",  # hom-ref: not counted
        "chr1\t900\t.\tC\tT\t50\tPASS\t.\tGT\t./.",  # no-call
        "chr1\t60000\t.\tG\tT\t50\tPASS\t.\tGT\t0/1",  # in a gap: outside the BED
        "chrX\t50000\t.\tA\tG\t50\tPASS\t.\tGT\t0/1",  # PAR1: left out of sex
        "chrX\t3000000\t.\tA\tG\t50\tPASS\t.\tGT\t0/1",  # non-PAR het
        "chrX\t3000100\t.\tA\tC\t50\tPASS\t.\tGT\t1/1",  # non-PAR hom
    ]
    vcf = write_vcf(tmp_path / "s.vcf", HEADER, rows)
    bed = tmp_path / "auto.bed"
    bed.write_text("chr1\t0\t50000\nchr1\t70000\t100000\n")
    counts = count_variants(vcf, bed)
    values, missing = variant_metrics(counts)
    assert values["count_snvs"] == 3
    assert values["count_insertions"] == 1
    assert values["count_deletions"] == 2
    assert values["ratio_heterozygous_homzygous_snv"] == 2 / 1
    assert values["ratio_heterozygous_homzygous_indel"] == 2 / 1
    assert values["ratio_insertion_deletion"] == 1 / 2
    assert values["ratio_transitions_transversions_snv"] == 2 / 1
    assert values["call_rate"] == 8 / 9  # 9 records in the BED, one no-call
    assert (counts.x_het, counts.x_hom) == (1, 1)
    assert missing == {}


def test_haploid_chrx_alt_calls_count_as_one_x(tmp_path):
    """A male written haploid on chrX (``1``, ``0``): each ALT call is a non-heterozygous one
    (hand count: 2 haploid ALT + 1 diploid hom = 3, no het); haploid calls stay out of the
    autosomal het/hom counts."""
    rows = [
        "chr1\t100\t.\tA\tG\t50\tPASS\t.\tGT\t1",  # haploid on an autosome: neither
        "chrX\t3000000\t.\tA\tG\t50\tPASS\t.\tGT\t1",
        "chrX\t3000100\t.\tA\tC\t50\tPASS\t.\tGT\t1",
        "chrX\t3000200\t.\tC\tT\t50\tPASS\t.\tGT\t0",  # REF: carries no ALT
        "chrX\t3000300\t.\tG\tA\t50\tPASS\t.\tGT\t1/1",
    ]
    vcf = write_vcf(tmp_path / "haploid.vcf", HEADER, rows)
    bed = tmp_path / "auto.bed"
    bed.write_text("chr1\t0\t100000\n")
    counts = count_variants(vcf, bed)
    assert (counts.x_het, counts.x_hom) == (0, 3)
    assert (counts.snv_het, counts.snv_hom) == (0, 0)


@pytest.mark.parametrize(
    ("x_length", "x_name", "expected"),
    [
        # GRCh38's chrX: the PAR1 het (50,000) is left out, the non-PAR het and hom count
        ("156040895", "chrX", (1, 1)),
        ("156040895", "X", (1, 1)),
        # a chrX of another length (a slice, the demo's short one) has no PAR: all three count
        ("3200000", "chrX", (2, 1)),
        ("3200000", "X", (2, 1)),
    ],
)
def test_pars_are_left_out_only_on_a_grch38_length_chrx(tmp_path, x_length, x_name, expected):
    header = [
        line.replace("chrX,length=156040895", f"{x_name},length={x_length}") for line in HEADER
    ]
    rows = [
        f"{x_name}\t50000\t.\tA\tG\t50\tPASS\t.\tGT\t0/1",  # in GRCh38's PAR1
        f"{x_name}\t3000000\t.\tA\tG\t50\tPASS\t.\tGT\t0/1",
        f"{x_name}\t3000100\t.\tA\tC\t50\tPASS\t.\tGT\t1/1",
    ]
    vcf = write_vcf(tmp_path / "x.vcf", header, rows)
    bed = tmp_path / "auto.bed"
    bed.write_text("chr1\t0\t100000\n")
    counts = count_variants(vcf, bed)
    assert (counts.x_het, counts.x_hom) == expected
    # the oracle: bcftools on the same calls, PAR1 excluded or not by a regions file of our own
    regions = tmp_path / "x.bed"
    par = x_length == "156040895"
    regions.write_text(
        f"{x_name}\t0\t10000\n{x_name}\t2781479\t155701382\n" if par else f"{x_name}\t0\t9999999\n"
    )
    het = bcftools_count("-v", "snps", "-g", "het", "-T", str(regions), str(vcf))
    hom = bcftools_count("-v", "snps", "-g", "hom", "-T", str(regions), str(vcf))
    assert (het, hom) == expected


def bcftools_metrics(vcf, bed, snvs_only=False) -> dict[str, float]:
    """The standard's commands: PASS, the sample's ALT-carrying genotypes, the autosome BED."""
    base = ["-f", "PASS,.", "-T", str(bed), "-i", 'GT="alt"', str(vcf)]
    snv_het = bcftools_count("-v", "snps", "-g", "het", *base)
    snv_hom = bcftools_count("-v", "snps", "-g", "hom", *base)
    indel_het = bcftools_count("-v", "indels", "-g", "het", *base)
    indel_hom = bcftools_count("-v", "indels", "-g", "hom", *base)
    where = ["-f", "PASS,.", "-T", str(bed), str(vcf)]
    alt = 'GT="alt"'
    ins = bcftools_count(
        "-v",
        "indels",
        "-i",
        f"{alt} && strlen(ALT)>strlen(REF) && strlen(ALT)-strlen(REF)<50",
        *where,
    )
    dels = bcftools_count(
        "-v",
        "indels",
        "-i",
        f"{alt} && strlen(ALT)<strlen(REF) && strlen(REF)-strlen(ALT)<50",
        *where,
    )
    tstv = subprocess.run(
        f"bcftools view -Ou -f PASS,. -T {bed} -i 'GT=\"alt\"' {vcf} | bcftools stats -",
        shell=True,
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    (line,) = [row for row in tstv.splitlines() if row.startswith("TSTV")]
    ts, tv = int(line.split("\t")[2]), int(line.split("\t")[3])
    snvs = bcftools_count("-v", "snps", *base)
    snv_metrics = {
        "count_snvs": snvs,
        "ratio_heterozygous_homzygous_snv": snv_het / snv_hom,
        "ratio_transitions_transversions_snv": ts / tv,
    }
    if snvs_only:  # a panel of SNVs only (1000 Genomes popgen slice)
        return snv_metrics
    return {
        **snv_metrics,
        "count_insertions": ins,
        "count_deletions": dels,
        "ratio_heterozygous_homzygous_indel": indel_het / indel_hom,
        "ratio_insertion_deletion": ins / dels,
    }


def assert_equal_metrics(vcf, bed, snvs_only=False) -> dict[str, float]:
    values, _ = variant_metrics(count_variants(vcf, bed))
    expected = bcftools_metrics(vcf, bed, snvs_only=snvs_only)
    for key, value in expected.items():
        assert values[key] == pytest.approx(value, rel=1e-12), key
    return values


@pytest.mark.parametrize("sample", ["A-001", "A-002", "C-001"])
def test_demo_samples_equal_bcftools(demo, sample):
    values = assert_equal_metrics(demo / f"{sample}.harmonised.vcf.gz", demo / "autosomes.bed")
    assert values["count_snvs"] > 100


def test_demo_accounting_extras(demo):
    extras = accounting_extras(demo / "A-001.acc.tsv")
    row = dict(
        zip(
            *[line.split("\t") for line in (demo / "A-001.acc.tsv").read_text().splitlines()],
            strict=True,
        )
    )
    split = int(row["split_added"])
    assert extras.values["pct_multiallelic_records"] == 100 * split / int(row["input_records"])
    assert extras.values["rejected_records"] == int(row["rejected_source_records"])


def test_giab_hg001_platinum_chr21_equals_bcftools(shared_data, tmp_path):
    source = shared_data / "hap.py-giab-platinum/example/happy/PG_NA12878_hg38-chr21.vcf.gz"
    split = tmp_path / "hg001.vcf.gz"
    run(["bcftools", "norm", "-m-any", "-Oz", "-o", split, source])
    run(["tabix", "-p", "vcf", split])
    bed = tmp_path / "chr21.bed"
    bed.write_text("chr21\t0\t46709983\n")
    values = assert_equal_metrics(split, bed)
    assert values["count_snvs"] > 40_000


@pytest.mark.parametrize("sample", ["HG00096", "NA12878"])
def test_1000_genomes_chr22_equals_bcftools(shared_data, tmp_path, sample):
    source = shared_data / "nf-core-test-datasets/popgen/1000GP.chr22.vcf.gz"
    one = tmp_path / f"{sample}.vcf.gz"
    run(["bcftools", "view", "-s", sample, "-Oz", "-o", one, source])
    run(["tabix", "-p", "vcf", one])
    bed = tmp_path / "chr22.bed"
    bed.write_text("chr22\t0\t50818468\n")
    values = assert_equal_metrics(one, bed, snvs_only=True)
    assert values["count_snvs"] > 20
