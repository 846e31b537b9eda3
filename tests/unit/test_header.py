from __future__ import annotations

from genopass.harmonise.header import scrub_paths, standard_header

SOURCE = """##fileformat=VCFv4.1
##fileDate=20250101
##source=MyCaller v2 run by alice
##reference=file:///data/alice/refs/hs38.fa
##commandline="caller --in /home/alice/s1.bam --out /home/alice/s1.vcf"
##SAMPLE=<ID=S1,Name=Alice Smith>
##PEDIGREE=<Child=S1,Mother=S2>
##contig=<ID=1,length=248956422>
##FILTER=<ID=LowQual,Description="Low quality">
##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth; see /srv/docs/dp.txt">
##INFO=<ID=RATIO,Number=1,Type=Float,Description="ref/alt ratio">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
#CHROM	POS	ID	REF	ALT	QUAL	FILTER	INFO	FORMAT	S1
"""


def test_standard_header_keeps_definitions_and_drops_people_and_paths():
    text = standard_header(SOURCE, [("chr1", 248956422), ("chr2", 242193529)], "GRCh38", ["gp0123"])
    lines = text.splitlines()
    assert lines[0] == "##fileformat=VCFv4.1"
    assert '##FILTER=<ID=LowQual,Description="Low quality">' in lines
    assert '##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth; see <path removed>">' in lines
    assert '##INFO=<ID=RATIO,Number=1,Type=Float,Description="ref/alt ratio">' in lines
    assert "##contig=<ID=chr1,length=248956422>" in lines
    assert "##contig=<ID=chr2,length=242193529>" in lines
    assert "##reference=GRCh38" in lines
    assert lines[-1].split("\t")[-1] == "gp0123"
    for gone in (
        "alice",
        "Alice",
        "S1",
        "fileDate",
        "PEDIGREE",
        "commandline",
        "##source",
        "/data/",
        "##contig=<ID=1,",
    ):
        assert gone not in text, gone


def test_scrub_paths_leaves_ratios_and_urls_of_terms_alone():
    assert scrub_paths("ref/alt and 1/2") == "ref/alt and 1/2"
    assert scrub_paths("x /home/bob/a.vcf y") == "x <path removed> y"
    assert scrub_paths("file:///mnt/data/x.fa") == "<path removed>"
