"""Scatter by region: the regions of a reference (checked by hand against .fai lengths), and
harmonisation region by region gathered into what one job writes, boundaries included."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest
from helpers import random_sequence, write_fasta, write_vcf

from genopass.harmonise.regions import (
    GatherOptions,
    count_regions,
    gather_regions,
    harmonise_region,
    read_table,
    region_files,
)
from genopass.harmonise.stream import HarmoniseOptions, harmonise_vcf
from genopass.inputs.plan import OTHER_REGION, Region, scatter_regions

# --- the regions --------------------------------------------------------------------------------


def test_windows_of_the_demo_lengths_by_hand() -> None:
    # the demo's .fai: chr21 150000, chr22 120000; windows of 40000 bases
    regions = scatter_regions({"chr21": 150_000, "chr22": 120_000}, 40_000)
    assert regions == [
        Region("chr21.1", "chr21", 1, 40_000),
        Region("chr21.2", "chr21", 40_001, 80_000),
        Region("chr21.3", "chr21", 80_001, 120_000),
        Region("chr21.4", "chr21", 120_001, None),  # 120001..150000, and past the end
        Region("chr22.1", "chr22", 1, 40_000),
        Region("chr22.2", "chr22", 40_001, 80_000),
        Region("chr22.3", "chr22", 80_001, None),  # exactly 120000: three windows, not four
        Region(OTHER_REGION, "", 0, None),
    ]


def test_a_contig_shorter_than_the_size_is_one_window_and_non_primary_go_to_other() -> None:
    contigs = {"chr1": 999, "chr1_KI270706v1_random": 175_055, "chrM": 16_569, "chrEBV": 171_823}
    regions = scatter_regions(contigs, 10_000)
    assert [(r.name, r.start, r.end) for r in regions] == [
        ("chr1.1", 1, None),
        ("chrM.1", 1, 10_000),
        ("chrM.2", 10_001, None),
        (OTHER_REGION, 0, None),
    ]


def test_a_reference_without_primary_names_is_cut_whole() -> None:
    regions = scatter_regions({"ctg7": 2500, "ctg9": 1000}, 1000)
    assert [r.name for r in regions] == ["ctg7.1", "ctg7.2", "ctg7.3", "ctg9.1", OTHER_REGION]
    assert regions[2].start == 2001 and regions[2].end is None


def test_a_size_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        scatter_regions({"chr1": 10}, 0)


# --- harmonisation by region --------------------------------------------------------------------

SIZE = 1000


def reference(tmp_path: Path) -> Path:
    """chr1 of 4000 bases with an A run across the boundary 1000|1001 (positions 990-1010),
    and chr2; no other contig."""
    chr1 = list(random_sequence(4000, seed=7))
    chr1[988] = "C"  # position 989: the base before the run
    for i in range(989, 1010):
        chr1[i] = "A"
    chr1[1010] = "G"
    return write_fasta(
        tmp_path / "ref.fa", {"chr1": "".join(chr1), "chr2": random_sequence(3000, 8)}
    )


def ref_base(fasta: Path, pos: int, contig: str = "chr1") -> str:
    import pysam

    with pysam.FastaFile(str(fasta)) as handle:
        return handle.fetch(contig, pos - 1, pos)


def seam_vcf(tmp_path: Path, fasta: Path) -> Path:
    """Records around the boundary 1000|1001 of chr1: a deletion of one A written at 1003 (in
    window 2) that normalisation moves to 989 (window 1), the same deletion written at 995
    (window 1: a duplicate once both are left-aligned), a trimmed record moving from 1000 up to
    1001, records at each side, one on chrUn (rejected) and some on chr2."""
    b = lambda pos, contig="chr1": ref_base(fasta, pos, contig)  # noqa: E731
    rows = [
        ("chr1", 500, b(500), "T" if b(500) != "T" else "G"),
        ("chr1", 995, "AA", "A"),
        ("chr1", 1000, "A" + b(1001), "A" + ("C" if b(1001) != "C" else "T")),  # MNP-like
        ("chr1", 1003, "AA", "A"),
        ("chr1", 1003, "A", "T"),
        ("chr1", 1500, b(1500), "T" if b(1500) != "T" else "G"),
        ("chr1", 2999, b(2999) + b(3000), b(2999)),  # a deletion across 3000|3001
        ("chr1", 3001, b(3001), "T" if b(3001) != "T" else "C"),
        ("chrUn_x", 5, "A", "G"),
        ("chr2", 10, b(10, "chr2"), "T" if b(10, "chr2") != "T" else "C"),
        ("chr2", 1001, b(1001, "chr2"), "T" if b(1001, "chr2") != "T" else "C"),
    ]
    header = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=chr1,length=4000>",
        "##contig=<ID=chrUn_x,length=100>",
        "##contig=<ID=chr2,length=3000>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1",
    ]
    lines = [f"{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\t.\tGT\t0/1" for c, p, r, a in rows]
    return write_vcf(tmp_path / "in.vcf.gz", "\n".join(header + lines))


def records(vcf: Path) -> list[str]:
    return subprocess.run(
        ["bcftools", "view", "-H", str(vcf)], check=True, capture_output=True, text=True
    ).stdout.splitlines()


def accounting_row(path: Path) -> dict[str, str]:
    with open(path, newline="") as handle:
        return next(csv.DictReader(handle, delimiter="\t"))


def unsplit_and_split(tmp_path: Path, vcf: Path, fasta: Path) -> tuple[Path, Path]:
    """One job's files (one/) and the gathered files of the region jobs (split/)."""

    def files(folder: Path, name: str) -> dict[str, Path]:
        return {
            "out": folder / f"{name}.vcf.gz",
            "rejects": folder / f"{name}.rejects.vcf.gz",
            "accounting": folder / f"{name}.accounting.tsv",
            "blocks": folder / f"{name}.blocks.bed.gz",
        }

    one = files(tmp_path / "one", "s")
    harmonise_vcf(vcf, HarmoniseOptions(reference=fasta, **one))
    table = tmp_path / "split" / "regions.tsv"
    count_regions(vcf, fasta, SIZE, table)
    regions = tmp_path / "split" / "regions"
    for region in scatter_regions({"chr1": 4000, "chr2": 3000}, SIZE):
        names = region_files(regions, region.name)
        options = HarmoniseOptions(
            reference=fasta,
            out=names["vcf"],
            rejects=names["rejects"],
            accounting=names["accounting"],
            blocks=names["blocks"],
        )
        harmonise_region(vcf, options, table, region.name)
    split = files(tmp_path / "split", "s")
    gather_regions(table, regions, GatherOptions(**split), about=vcf)
    return one["out"], split["out"]


def test_a_record_left_aligned_across_a_boundary_is_gathered_as_one_job_writes_it(
    tmp_path: Path,
) -> None:
    fasta = reference(tmp_path)
    vcf = seam_vcf(tmp_path, fasta)
    one, split = unsplit_and_split(tmp_path, vcf, fasta)
    unsplit_records = records(one)
    # the oracle is one job's output: the deletion at 1003 is left-aligned to 989, below the
    # boundary, and the one at 995 duplicates it there
    positions = [line.split("\t")[1] for line in unsplit_records if line.startswith("chr1\t")]
    assert "989" in positions and positions.count("1003") == 1  # only the SNV stays
    assert "1001" in positions  # the record written at 1000, trimmed one base up
    assert records(split) == unsplit_records
    assert accounting_row(split.with_name("s.accounting.tsv")) == accounting_row(
        one.with_name("s.accounting.tsv")
    )
    assert accounting_row(one.with_name("s.accounting.tsv"))["rejected_duplicate"] == "1"
    # every source number of the file in exactly one place, as one job numbers them
    table = read_table(tmp_path / "split" / "regions.tsv")
    assert sum(run.records for run in table) == 11
    assert [r.region for r in table] == [
        "chr1.1", "chr1.2", "chr1.3", "chr1.4", OTHER_REGION, "chr2.1", "chr2.2",
    ]  # fmt: skip


def test_the_region_table_follows_the_file_order(tmp_path: Path) -> None:
    fasta = reference(tmp_path)
    vcf = seam_vcf(tmp_path, fasta)
    table = tmp_path / "regions.tsv"
    count_regions(vcf, fasta, SIZE, table)
    runs = read_table(table)
    assert [(r.region, r.contig, r.first, r.records) for r in runs] == [
        ("chr1.1", "chr1", 1, 3),  # 500, 995, 1000
        ("chr1.2", "chr1", 4, 3),  # 1003, 1003, 1500
        ("chr1.3", "chr1", 7, 1),  # 2999 (spans 3000|3001: its start's window)
        ("chr1.4", "chr1", 8, 1),  # 3001
        (OTHER_REGION, "chrUn_x", 9, 1),
        ("chr2.1", "chr2", 10, 1),
        ("chr2.2", "chr2", 11, 1),
    ]


def gvcf_with_defects(tmp_path: Path, fasta: Path) -> tuple[Path, Path]:
    """A gVCF around the boundaries of chr1: a reference block spanning 1000|1001 (taken by its
    start's window), variant records with <NON_REF>, a record whose REF and ALT are swapped
    (ALT spells the reference), and a record listed as malformed by its ordinal (the 6th)."""
    b = lambda pos: ref_base(fasta, pos)  # noqa: E731
    other = lambda pos: "T" if b(pos) != "T" else "G"  # noqa: E731
    rows = [
        ("chr1", 1, b(1), "<NON_REF>", "END=940"),
        ("chr1", 941, b(941), f"{other(941)},<NON_REF>", "."),
        ("chr1", 942, b(942), "<NON_REF>", "END=1100"),
        ("chr1", 1101, other(1101), b(1101), "."),  # swapped: ALT is the reference base
        ("chr1", 1102, b(1102), "<NON_REF>", "END=2500"),
        ("chr1", 2501, b(2501), f"{other(2501)},<NON_REF>", "."),  # listed as malformed
        ("chr1", 2502, b(2502), "<NON_REF>", "END=4000"),
        ("chr2", 1, b(1), "<NON_REF>", "END=3000"),
    ]
    rows[-1] = ("chr2", 1, ref_base(fasta, 1, "chr2"), "<NON_REF>", "END=3000")
    header = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=chr1,length=4000>",
        "##contig=<ID=chr2,length=3000>",
        '##ALT=<ID=NON_REF,Description="Any other allele">',
        '##INFO=<ID=END,Number=1,Type=Integer,Description="End of the block">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1",
    ]
    lines = [f"{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\t{i}\tGT\t0/1" for c, p, r, a, i in rows]
    malformed = tmp_path / "malformed.tsv"
    malformed.write_text("6\tbad_value\n")
    return write_vcf(tmp_path / "in.g.vcf.gz", "\n".join(header + lines)), malformed


def lines_of(path: Path) -> list[str]:
    return subprocess.run(
        ["zcat", str(path)], check=True, capture_output=True, text=True
    ).stdout.splitlines()


def test_gvcf_blocks_swaps_and_malformed_records_gather_as_one_job(tmp_path: Path) -> None:
    fasta = reference(tmp_path)
    vcf, malformed = gvcf_with_defects(tmp_path, fasta)
    one_dir, split_dir = tmp_path / "one", tmp_path / "split"
    names = lambda folder: {  # noqa: E731
        "out": folder / "s.vcf.gz",
        "rejects": folder / "s.rejects.vcf.gz",
        "accounting": folder / "s.accounting.tsv",
        "blocks": folder / "s.blocks.bed.gz",
    }
    harmonise_vcf(vcf, HarmoniseOptions(reference=fasta, malformed=malformed, **names(one_dir)))
    table = split_dir / "regions.tsv"
    count_regions(vcf, fasta, SIZE, table)
    for region in scatter_regions({"chr1": 4000, "chr2": 3000}, SIZE):
        files = region_files(split_dir / "regions", region.name)
        options = HarmoniseOptions(
            reference=fasta,
            malformed=malformed,
            out=files["vcf"],
            rejects=files["rejects"],
            accounting=files["accounting"],
            blocks=files["blocks"],
        )
        harmonise_region(vcf, options, table, region.name)
    gather_regions(table, split_dir / "regions", GatherOptions(**names(split_dir)), about=vcf)
    one, split = names(one_dir), names(split_dir)
    assert records(split["out"]) == records(one["out"])
    # the same blocks, with the file's source numbers, sorted as one job sorts them
    assert lines_of(split["blocks"]) == lines_of(one["blocks"]) and lines_of(one["blocks"])
    # (read as text: a malformed record's reject keeps 8 columns, which bcftools refuses)
    assert sorted(lines_of(split["rejects"])) == sorted(lines_of(one["rejects"]))
    row = accounting_row(split["accounting"])
    assert row == accounting_row(one["accounting"])
    assert row["rejected_malformed"] == "1" and row["swapped_ref_alt"] == "1"
    assert row["reference_blocks"] == "5"


# --- the export by region and by contig ---------------------------------------------------------


def sample_vcf(tmp_path: Path, name: str, rows: list[tuple[str, int, str, str, str]]) -> Path:
    header = [
        "##fileformat=VCFv4.2",
        "##contig=<ID=chr1,length=4000>",
        "##contig=<ID=chr2,length=3000>",
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        f"#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\t{name}",
    ]
    lines = [f"{c}\t{p}\t.\t{r}\t{a}\t.\tPASS\t.\tGT\t{g}" for c, p, r, a, g in rows]
    return write_vcf(tmp_path / f"{name}.vcf.gz", "\n".join(header + lines))


def test_the_cohort_by_region_gathers_to_the_same_bytes(tmp_path: Path) -> None:
    from genopass.export.cohort import CohortOptions, build_cohort, gather_cohort

    a = sample_vcf(tmp_path, "a", [("chr1", 999, "A", "G", "0/1"), ("chr1", 1001, "C", "T", "1/1"),
                                   ("chr2", 5, "G", "A", "0/1")])  # fmt: skip
    b = sample_vcf(tmp_path, "b", [("chr1", 1000, "T", "C", "0/1"), ("chr1", 1001, "C", "T", "0/1"),
                                   ("chr2", 2500, "A", "C", "1/1")])  # fmt: skip
    whole = tmp_path / "whole.vcf.gz"
    build_cohort([a, b], CohortOptions(whole, {}, "reference"))
    parts = []
    for region in scatter_regions({"chr1": 4000, "chr2": 3000}, SIZE):
        if region.is_window:
            parts.append(tmp_path / f"{region.name}.vcf.gz")
            build_cohort([a, b], CohortOptions(parts[-1], {}, "reference", region=region.spec))
    gathered = tmp_path / "gathered.vcf.gz"
    gather_cohort(parts, gathered, threads=2)
    assert len(records(whole)) == 5
    assert gathered.read_bytes() == whole.read_bytes()
    assert Path(f"{gathered}.tbi").read_bytes() == Path(f"{whole}.tbi").read_bytes()


def test_parquet_by_contig_gathers_to_the_same_files(tmp_path: Path) -> None:
    from genopass.export.parquet import ParquetOptions, gather_contigs, vcf_to_parquet

    vcf = sample_vcf(tmp_path, "a", [("chr1", 999, "A", "G", "0/1"), ("chr2", 5, "G", "A", "1/1")])
    vcf_to_parquet([vcf], ParquetOptions(out=tmp_path / "whole"))
    for contig in ("chr1", "chr2"):
        vcf_to_parquet([vcf], ParquetOptions(out=tmp_path / contig, contigs=(contig,)))
    gather_contigs([tmp_path / "chr1", tmp_path / "chr2"], tmp_path / "gathered")

    def files(folder: Path) -> dict[str, bytes]:
        return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*.parquet")}

    assert len(files(tmp_path / "whole")) == 4  # 2 tables x 2 contigs
    assert files(tmp_path / "gathered") == files(tmp_path / "whole")


def test_frequencies_by_contig_gather_to_the_same_files_and_summary(tmp_path: Path) -> None:
    import json

    from genopass.export.frequencies import (
        FrequencyOptions,
        gather_frequencies,
        write_frequencies,
    )
    from genopass.export.parquet import ParquetOptions, vcf_to_parquet
    from genopass.export.samples import SampleRecord

    vcf = sample_vcf(tmp_path, "a", [("chr1", 999, "A", "G", "0/1"), ("chr2", 5, "G", "A", "1/1"),
                                     ("chr2", 7, "C", "T", "0/1")])  # fmt: skip
    vcf_to_parquet([vcf], ParquetOptions(out=tmp_path / "parquet"))
    people = [SampleRecord("a", "SE", "female", (), "")]

    def run(out: Path, contigs: tuple[str, ...] = ()) -> None:
        options = FrequencyOptions(out / "frequencies", "d", min_cell_count=1, contigs=contigs)
        summary = write_frequencies(tmp_path / "parquet", people, options)
        (out / "summary.json").write_text(
            json.dumps(summary.as_dict(), indent=2, sort_keys=True) + "\n"
        )

    run(tmp_path / "whole")
    for contig in ("chr1", "chr2"):
        run(tmp_path / contig, (contig,))
    parts = {"chr2": tmp_path / "chr2", "chr1": tmp_path / "chr1"}  # any order
    gathered = tmp_path / "gathered"
    gather_frequencies(parts, gathered / "frequencies", gathered / "summary.json", "d")

    def files(folder: Path) -> dict[str, bytes]:
        return {
            str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()
        }

    whole = files(tmp_path / "whole")
    assert len(whole) == 5  # 2 frequency files, individuals, JSON Lines, summary
    assert files(gathered) == whole
