"""genopass export-vcf: a sample cut from a centre's cohort VCF, allow-listed, counts recomputed.

Expected values are written out by hand from the genotypes below and the output is read with
pysam, never with genopass.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pysam
import pytest
from helpers import write_vcf

from genopass.errors import UsageError
from genopass.export.vcf import ExportOptions, export_vcf

# A centre's joint-called cohort: cohort statistics, a centre tag, genopass's work tag, and
# FORMAT fields beyond the allow-list. AC/AN/AF are those of the centre's 3,202 people (stale).
COHORT = """
##fileformat=VCFv4.2
##FILTER=<ID=PASS,Description="All filters passed">
##FILTER=<ID=LowQual,Description="Low quality">
##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count">
##INFO=<ID=AN,Number=1,Type=Integer,Description="Allele number">
##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">
##INFO=<ID=AC_AFR,Number=A,Type=Integer,Description="Allele count in AFR">
##INFO=<ID=NS,Number=1,Type=Integer,Description="Samples with data">
##INFO=<ID=DP,Number=1,Type=Integer,Description="Combined depth">
##INFO=<ID=CTRB_SCORE,Number=1,Type=Float,Description="Centre B private score">
##INFO=<ID=GENOPASS_SOURCE,Number=1,Type=Integer,Description="Source record number">
##INFO=<ID=RS,Number=1,Type=String,Description="dbSNP ID">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">
##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
##FORMAT=<ID=PL,Number=G,Type=Integer,Description="Phred likelihoods">
##FORMAT=<ID=MIN_DP,Number=1,Type=Integer,Description="Minimum depth">
##contig=<ID=chr1,length=1000>
##reference=GRCh38
#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT LABB_1 LABB_2 LABB_3
"""
FORMAT = "GT:DP:GQ:AD:PL:MIN_DP"
RECORDS = [
    # POS REF ALT QUAL FILTER, INFO, then the three samples
    ("100 A C 50 PASS",
     "AC=900;AN=6404;AF=0.2;AC_AFR=300;NS=3202;DP=9000;CTRB_SCORE=1.5;GENOPASS_SOURCE=1;RS=rs1",
     "0/1:10:30:5,5:30,0,30:8 0/0:12:40:12,0:0,40,400:10 1/1:9:20:0,9:300,20,0:7"),
    ("200 G T 40 PASS",
     "AC=5;AN=6404;AF=0.0008;NS=3202;DP=8000;CTRB_SCORE=0.1;GENOPASS_SOURCE=2",
     "0/0:11:35:11,0:0,35,300:9 0|1:10:30:4,6:30,0,30:8 ./.:.:.:.:.:."),
    ("300 T G 30 LowQual",
     "AC=1;AN=6404;AF=0.0002;NS=3202;GENOPASS_SOURCE=3",
     "0/.:5:10:5,0:0,10,100:4 0/0:6:15:6,0:0,15,150:5 0/0:7:20:7,0:0,20,200:6"),
    ("400 C A 60 PASS",
     "AC=2;AN=6404;AF=0.0003;NS=3202;DP=7000;CTRB_SCORE=2.5;GENOPASS_SOURCE=4",
     "0/0:20:50:20,0:0,50,500:18 0/0:21:50:21,0:0,50,500:19 0/0:22:50:22,0:0,50,500:20"),
    ("500 G C 45 PASS",
     "AC=2;AN=6404;AF=0.0003;NS=3202;GENOPASS_SOURCE=5",
     "1|1:15:45:0,15:450,45,0:14 0/1:14:40:7,7:40,0,40:12 0/0:13:40:13,0:0,40,400:11"),
]  # fmt: skip
COHORT += "".join(
    f"chr1 {site.split(' ', 1)[0]} . {site.split(' ', 1)[1]} {info} {FORMAT} {calls}\n"
    for site, info, calls in RECORDS
)

# Per sample, by hand: the records whose genotype carries ALT or is a no-call, with the AC, AN
# and AF of that one genotype (AF is missing, '.', when AN is 0). chr1:400 is hom-ref for all.
EXPECTED = {
    "LABB_1": {100: ("0/1", 1, 2, 0.5), 300: ("0/.", 0, 1, 0.0), 500: ("1|1", 2, 2, 1.0)},
    "LABB_2": {200: ("0|1", 1, 2, 0.5), 500: ("0/1", 1, 2, 0.5)},
    "LABB_3": {100: ("1/1", 2, 2, 1.0), 200: ("./.", 0, 0, None)},
}
DROPPED_INFO = {"AC_AFR", "NS", "DP", "CTRB_SCORE", "GENOPASS_SOURCE", "RS"}


@pytest.fixture
def cohort(tmp_path: Path) -> Path:
    return write_vcf(tmp_path / "cohort.vcf.gz", COHORT)


def read(path: Path) -> tuple[pysam.VariantHeader, list[pysam.VariantRecord]]:
    with pysam.VariantFile(str(path)) as vcf:
        return vcf.header.copy(), list(vcf)


def gt_text(record: pysam.VariantRecord) -> str:
    call = record.samples[0]
    sep = "|" if call.phased else "/"
    return sep.join("." if a is None else str(a) for a in call["GT"])


def header_ids(header: pysam.VariantHeader, kind: str) -> set[str]:
    return {
        rec.get("ID") for rec in header.records if rec.type == kind and rec.get("ID") is not None
    }


@pytest.mark.parametrize("sample", sorted(EXPECTED))
def test_each_sample_keeps_its_own_sites_and_allow_listed_fields(tmp_path, cohort, sample):
    out = tmp_path / f"{sample}.vcf.gz"
    export_vcf(cohort, ExportOptions(out=out, sample=sample))
    header, records = read(out)
    assert list(header.samples) == [sample]
    # only the sample's own sites: the hom-ref calls, and chr1:400, are gone
    assert [r.pos for r in records] == sorted(EXPECTED[sample])
    for record in records:
        gt, ac, an, af = EXPECTED[sample][record.pos]
        assert gt_text(record) == gt
        assert set(record.info.keys()) == {"AC", "AN", "AF"}, record.pos
        assert record.info["AC"] == (ac,)
        assert record.info["AN"] == an
        assert record.info["AF"] == (pytest.approx(af) if af is not None else None,)
        assert set(record.format.keys()) <= {"GT", "DP", "GQ", "AD"}
    # definitions of dropped fields are gone; contig and reference lines stay
    assert header_ids(header, "INFO") == {"AC", "AN", "AF"}
    assert header_ids(header, "FORMAT") == {"GT", "DP", "GQ", "AD"}
    assert "chr1" in header.contigs
    text = str(header)
    assert "##reference=GRCh38" in text
    for name in DROPPED_INFO:
        assert f"##INFO=<ID={name}," not in text
    for name in ("PL", "MIN_DP"):
        assert f"##FORMAT=<ID={name}," not in text
    for other in set(EXPECTED) - {sample}:
        assert other not in text
    assert "bcftools" not in text  # no tool command lines (they carry paths)


def test_info_keep_and_format_keep_add_the_listed_fields_only(tmp_path, cohort):
    out = tmp_path / "one.vcf.gz"
    export_vcf(
        cohort, ExportOptions(out=out, sample="LABB_1", info_keep=("RS",), format_keep=("PL",))
    )
    header, records = read(out)
    assert header_ids(header, "INFO") == {"AC", "AN", "AF", "RS"}
    assert header_ids(header, "FORMAT") == {"GT", "DP", "GQ", "AD", "PL"}
    first = records[0]
    assert first.pos == 100
    assert first.info["RS"] == "rs1"
    assert first.samples[0]["PL"] == (30, 0, 30)


def test_counts_agree_with_bcftools_fill_tags_and_index_is_newer(tmp_path, cohort):
    out = tmp_path / "two.vcf.gz"
    export_vcf(cohort, ExportOptions(out=out, sample="LABB_2"))
    tbi = Path(f"{out}.tbi")
    assert tbi.is_file() and tbi.stat().st_mtime_ns >= out.stat().st_mtime_ns
    # bcftools' own count over the exported genotype, recomputed here on the output
    query = ["bcftools", "query", "-f", "%POS\t%AC\t%AN\n"]
    ours = subprocess.run([*query, str(out)], capture_output=True, text=True, check=True).stdout
    refilled = tmp_path / "refilled.vcf"
    subprocess.run(
        ["bcftools", "+fill-tags", str(out), "-o", str(refilled), "--", "-t", "AC,AN"], check=True
    )
    again = subprocess.run([*query, str(refilled)], capture_output=True, text=True, check=True)
    assert ours == again.stdout == "200\t1\t2\n500\t1\t2\n"


def test_single_sample_input_needs_no_sample_option(tmp_path, cohort):
    one = tmp_path / "harmonised.vcf.gz"
    subprocess.run(
        ["bcftools", "view", "-s", "LABB_3", "-Oz", "-o", str(one), str(cohort)], check=True
    )
    out = tmp_path / "three.vcf.gz"
    export_vcf(one, ExportOptions(out=out))
    _header, records = read(out)
    assert [(r.pos, gt_text(r)) for r in records] == [(100, "1/1"), (200, "./.")]


def test_bad_requests_are_refused_with_the_fix(tmp_path, cohort):
    out = tmp_path / "x.vcf.gz"
    with pytest.raises(UsageError, match="3 samples; name the one to export with --sample"):
        export_vcf(cohort, ExportOptions(out=out))
    with pytest.raises(UsageError, match="GENOPASS_SOURCE is a genopass work tag"):
        export_vcf(cohort, ExportOptions(out=out, sample="LABB_1", info_keep=("GENOPASS_SOURCE",)))
    with pytest.raises(UsageError, match="MIN_DP cannot be exported"):
        export_vcf(cohort, ExportOptions(out=out, sample="LABB_1", format_keep=("MIN_DP",)))
    with pytest.raises(UsageError, match="not a VCF INFO field name"):
        export_vcf(cohort, ExportOptions(out=out, sample="LABB_1", info_keep=("RS,^INFO/NS",)))
    assert not out.exists()


def test_cli_writes_the_export_and_reports_an_unknown_sample_in_one_line(tmp_path, cohort):
    out = tmp_path / "cli.vcf.gz"
    command = [sys.executable, "-m", "genopass.cli", "export-vcf", str(cohort), "--out", str(out)]
    ok = subprocess.run(
        [*command, "--sample", "LABB_1", "--info-keep", "RS,DP"], capture_output=True, text=True
    )
    assert ok.returncode == 0, ok.stderr
    header, _records = read(out)
    assert header_ids(header, "INFO") == {"AC", "AN", "AF", "RS", "DP"}
    bad = subprocess.run([*command, "--sample", "NOBODY"], capture_output=True, text=True)
    assert bad.returncode == 1
    assert bad.stderr.strip().count("\n") == 0
    assert "no sample column 'NOBODY'" in bad.stderr
    assert os.path.exists(out)  # the earlier export is left as it was


def test_input_with_only_allowed_fields_and_no_info(tmp_path):
    """Nothing to remove (a single-sample call set with GT:DP:GQ:AD and no INFO): the export
    still works, and a haploid no-call and ALT are the sample's own sites."""
    vcf = write_vcf(
        tmp_path / "plain.vcf.gz",
        """
        ##fileformat=VCFv4.2
        ##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
        ##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">
        ##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">
        ##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">
        ##contig=<ID=chrX,length=1000>
        #CHROM POS ID REF ALT QUAL FILTER INFO FORMAT gpX
        chrX 10 . A C 50 PASS . GT:DP:GQ:AD 1:8:30:0,8
        chrX 20 . G T 50 PASS . GT:DP:GQ:AD 0:9:30:9,0
        chrX 30 . C A 50 PASS . GT:DP:GQ:AD .:.:.:.
        """,
    )
    out = tmp_path / "out.vcf.gz"
    export_vcf(vcf, ExportOptions(out=out))
    header, records = read(out)
    assert header_ids(header, "INFO") == {"AC", "AN", "AF"}
    assert [(r.pos, r.info["AC"], r.info["AN"]) for r in records] == [(10, (1,), 1), (30, (0,), 0)]
