"""Symbolic ALT alleles never reach the Parquet tables as if they were sequence."""

from __future__ import annotations

import pyarrow.parquet as pq
from conftest import write_vcf

from genopass.export.parquet import ParquetOptions, vcf_to_parquet

VCF = """##fileformat=VCFv4.2
##ALT=<ID=DEL,Description="Deletion">
##ALT=<ID=NON_REF,Description="Any other allele">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
##contig=<ID=chr1,length=300>
#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT S1 S2
chr1 1 . A <DEL> . . . GT 0/1 0/0
chr1 2 . A * . . . GT 0/1 0/1
chr1 3 . A G . . . GT 0/1 1/1
chr1 4 . A <NON_REF> . . . GT 0/0 0/0
chr1 5 . A C . . . GT 0/0 ./."""


def test_records_with_symbolic_alleles_are_left_out(tmp_path):
    for samples in ("S1\tS2", "S1"):
        text = (
            VCF
            if samples == "S1\tS2"
            else "\n".join(
                " ".join(line.split()[:10]) if not line.startswith("##") else line
                for line in VCF.splitlines()
            )
        )
        vcf = write_vcf(tmp_path / f"in{len(samples)}.vcf", text)
        out = tmp_path / f"pq{len(samples)}"
        vcf_to_parquet([vcf], ParquetOptions(out=out))
        variants = pq.read_table(out / "variants" / "chrom=chr1").to_pandas()
        # <DEL> and <NON_REF> are no sequence; "*" (an upstream deletion) is VCF's own marker
        assert list(variants["pos"]) == [2, 3, 5]
        genotypes = pq.read_table(out / "genotypes" / "chrom=chr1").to_pandas()
        assert set(genotypes["pos"]) <= {2, 3, 5}
        assert not any(alt.startswith("<") for alt in genotypes["alt"])
