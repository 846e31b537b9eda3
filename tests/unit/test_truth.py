"""Truth comparison: alleles normalised on both sides, counted genotype-aware or allele-level."""

from __future__ import annotations

from pathlib import Path

from helpers import write_fasta, write_vcf

from genopass.reads.calls import compare, compare_vcfs, normalised_alleles

SEQ = "GATTACACCCCCAGTTGGCATCGATGCAAGTCCA" * 3

HEADER = """
    ##fileformat=VCFv4.2
    ##contig=<ID=chr1,length=102>
    ##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
"""


def vcf(path: Path, sample: str, records: str) -> Path:
    columns = "#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT " + sample
    return write_vcf(path, HEADER + columns + "\n" + records.strip())


def test_alleles_are_normalised_and_counted(tmp_path: Path) -> None:
    fasta = write_fasta(tmp_path / "ref.fa", {"chr1": SEQ})
    calls = vcf(
        tmp_path / "calls.vcf",
        "S",
        """
        chr1 2 . A G . . . GT 0/1
        chr1 12 . CA A . . . GT 1/1
        chr1 20 . A C,T . . . GT 1/2
        chr1 30 . T C . . . GT 0/0
        chr1 40 . T <NON_REF> . . . GT 0/1
        """,
    )
    alleles = normalised_alleles(calls, fasta)
    # the deletion of one C of CCCCC is left-aligned to the base before the run
    assert alleles == {
        ("chr1", 2, "A", "G"): 1,
        ("chr1", 7, "AC", "A"): 2,
        ("chr1", 20, "A", "C"): 1,
        ("chr1", 20, "A", "T"): 1,
    }


def test_compare_genotype_aware_and_allele_level(tmp_path: Path) -> None:
    truth = {("c", 1, "A", "G"): 1, ("c", 5, "AC", "A"): 2, ("c", 9, "T", "C"): 2}
    calls = {("c", 1, "A", "G"): 1, ("c", 5, "AC", "A"): 1, ("c", 12, "G", "T"): 1}
    aware = compare(calls, truth)
    assert (aware["snv"].truth, aware["snv"].called, aware["snv"].found) == (2, 2, 1)
    assert (aware["indel"].recall, aware["indel"].precision) == (0.0, 0.0)
    level = compare(calls, truth, genotypes=False)
    assert (level["indel"].recall, level["indel"].precision) == (1.0, 1.0)
    assert level["snv"].recall == 0.5
    assert str(level["snv"]) == "snv: recall 0.5000 (1/2), precision 0.5000 (1/2)"


def test_two_spellings_of_one_variant_match(tmp_path: Path) -> None:
    fasta = write_fasta(tmp_path / "ref.fa", {"chr1": SEQ})
    truth = vcf(tmp_path / "t.vcf", "T", "chr1 7 . AC A . . . GT 0/1")
    calls = vcf(tmp_path / "c.vcf", "C", "chr1 10 . CCC CC . . . GT 1/0")
    figures = compare_vcfs(calls, truth, fasta)
    assert (figures["indel"].found, figures["indel"].truth, figures["indel"].called) == (1, 1, 1)


def test_cli_prints_figures(tmp_path: Path) -> None:
    import subprocess
    import sys

    fasta = write_fasta(tmp_path / "ref.fa", {"chr1": SEQ})
    truth = vcf(tmp_path / "t.vcf", "T", "chr1 2 . A G . . . GT 0/1\nchr1 7 . AC A . . . GT 1/1")
    calls = vcf(tmp_path / "c.vcf", "C", "chr1 2 . A G . . . GT 1/1\nchr1 7 . AC A . . . GT 1/1")
    genopass = Path(sys.executable).parent / "genopass"
    command = [str(genopass), "compare-calls", str(calls), str(truth), "--reference", str(fasta)]
    proc = subprocess.run(command, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [
        "snv: recall 0.0000 (0/1), precision 0.0000 (0/1)",
        "indel: recall 1.0000 (1/1), precision 1.0000 (1/1)",
    ]
    proc = subprocess.run([*command, "--alleles-only"], capture_output=True, text=True)
    assert proc.stdout.splitlines()[0] == "snv: recall 1.0000 (1/1), precision 1.0000 (1/1)"
    proc = subprocess.run([*command, "--calls-sample", "X"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert proc.stderr.startswith(f"genopass: error: {calls}: bcftools view failed")
