"""Calling contigs and autosome intervals of the target reference."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from helpers import write_fasta

from genopass.errors import InputError
from genopass.inputs import reference
from genopass.reads import regions


def test_reference_contigs_from_fai_and_from_fasta(tmp_path: Path) -> None:
    fasta = write_fasta(tmp_path / "ref.fa", {"chr21": "ACGT" * 30, "chrUn_x": "A" * 7})
    assert reference.reference_contigs(fasta) == {"chr21": 120, "chrUn_x": 7}
    Path(f"{fasta}.fai").unlink()
    assert reference.reference_contigs(fasta) == {"chr21": 120, "chrUn_x": 7}
    with pytest.raises(InputError, match="reference FASTA .* does not exist"):
        reference.reference_contigs(tmp_path / "missing.fa")


def test_a_stale_fai_is_not_trusted(tmp_path: Path) -> None:
    fasta = write_fasta(tmp_path / "ref.fa", {"chr1": "ACGT"})
    fasta.write_text(">chr2\nACGTACGT\n")
    fai = Path(f"{fasta}.fai")
    os.utime(fai, (1, 1))
    assert reference.reference_contigs(fasta) == {"chr2": 8}


def test_calling_contigs_are_the_primary_chromosomes() -> None:
    contigs = {"chr1": 10, "chr1_KI270706v1_random": 5, "chrX": 9, "chrM": 3, "chrEBV": 4}
    assert regions.calling_contigs(contigs) == ["chr1", "chrX", "chrM"]
    assert regions.calling_contigs({"ctg1": 5, "ctg2": 6}) == ["ctg1", "ctg2"]


def test_autosomes_outside_runs_of_n(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seq = "NNNN" + "ACGT" * 5 + "NN" + "ACGTA" + "N" * 9 + "CC"
    fasta = write_fasta(tmp_path / "ref.fa", {"chr2": seq, "chrX": "ACGT", "chr22": "ACG"})
    # chunks of 7 bases: the run of nine Ns spans two chunks
    monkeypatch.setattr(regions, "CHUNK_BASES", 7)
    assert regions.autosome_intervals(fasta) == [
        ("chr2", 4, 24),
        ("chr2", 26, 31),
        ("chr2", 40, 42),
        ("chr22", 0, 3),
    ]
    bed = tmp_path / "a.bed"
    assert regions.write_autosome_bed(fasta, bed) == 30
    assert bed.read_text().splitlines()[0] == "chr2\t4\t24"


def test_no_autosome(tmp_path: Path) -> None:
    fasta = write_fasta(tmp_path / "ref.fa", {"chrX": "ACGT"})
    with pytest.raises(InputError, match="no autosome"):
        regions.autosome_intervals(fasta)
