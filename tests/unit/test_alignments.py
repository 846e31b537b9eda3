"""BAM/CRAM checks against the target reference: each fault one InputError naming the file."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pysam
import pytest
from helpers import random_sequence, write_fasta

from genopass.errors import InputError
from genopass.inputs.alignments import alignment_build, check_alignment, read_dict_md5s

CONTIGS = {"chr21": random_sequence(3000, 1), "chr22": random_sequence(2000, 2)}


@pytest.fixture
def reference(tmp_path: Path) -> Path:
    fasta = write_fasta(tmp_path / "ref.fa", CONTIGS)
    subprocess.run(["samtools", "dict", "-o", str(tmp_path / "ref.dict"), str(fasta)], check=True)
    return fasta


def write_bam(
    path: Path,
    contigs: dict[str, int],
    *,
    sort_order: str = "coordinate",
    samples: tuple[str, ...] = ("S1",),
    reads: int = 50,
) -> Path:
    header = {
        "HD": {"VN": "1.6", "SO": sort_order},
        "SQ": [{"SN": name, "LN": length} for name, length in contigs.items()],
        "RG": [{"ID": f"rg{i}", "SM": sample} for i, sample in enumerate(samples)],
    }
    with pysam.AlignmentFile(str(path), "wb", header=header) as out:
        first = next(iter(contigs))
        for i in range(reads):
            read = pysam.AlignedSegment(out.header)
            read.query_name = f"r{i}"
            read.reference_id = 0
            read.reference_start = 10 + 20 * i
            read.mapping_quality = 60
            read.cigarstring = "50M"
            start = read.reference_start
            read.query_sequence = CONTIGS.get(first, "A" * 5000)[start : start + 50]
            read.query_qualities = pysam.qualitystring_to_array("F" * 50)
            read.set_tag("RG", "rg0")
            out.write(read)
    return path


LENGTHS = {name: len(seq) for name, seq in CONTIGS.items()}


def test_a_bam_on_the_target_passes(tmp_path: Path, reference: Path) -> None:
    bam = write_bam(tmp_path / "a.bam", LENGTHS)
    result = check_alignment(bam, reference, dict_path=tmp_path / "ref.dict")
    assert (result.format, result.contigs, result.samples) == ("BAM", 2, ("S1",))
    assert result.records_decoded == 50
    assert result.extra_contigs == ()


def test_decoys_in_the_header_are_tolerated(tmp_path: Path, reference: Path) -> None:
    bam = write_bam(tmp_path / "a.bam", {**LENGTHS, "chrUn_JTFH01000001v1_decoy": 1000})
    assert check_alignment(bam, reference).extra_contigs == ("chrUn_JTFH01000001v1_decoy",)


def test_other_contig_length_names_file_contig_and_both_lengths(
    tmp_path: Path, reference: Path
) -> None:
    bam = write_bam(tmp_path / "a.bam", {"chr21": 3000, "chr22": 2500})
    with pytest.raises(InputError) as excinfo:
        check_alignment(bam, reference)
    message = str(excinfo.value)
    assert message.startswith(f"{bam}: contig chr22 has length 2500 in the BAM header but 2000")
    assert "aligned to another reference" in message


def test_grch37_lengths_are_named(tmp_path: Path, reference: Path) -> None:
    bam = write_bam(tmp_path / "a.bam", {"chr21": 3000, "chr22": 51304566})
    with pytest.raises(InputError, match="the GRCh37 length: an alignment on GRCh37 is declared"):
        check_alignment(bam, reference)


def test_the_build_of_an_alignment(tmp_path: Path, reference: Path) -> None:
    ref37 = write_fasta(tmp_path / "ref37.fa", {"chr21": "A" * 2900, "chr22": "C" * 2000})
    on37 = write_bam(tmp_path / "a.bam", {"chr21": 2900, "chr22": 2000})
    on38 = write_bam(tmp_path / "b.bam", {"chr21": 3000, "chr22": 2000})
    real37 = write_bam(tmp_path / "c.bam", {"chr21": 48129895, "chr22": 51304566})

    def build(bam: Path, declared: str = "auto", grch37: Path | None = ref37) -> str:
        return alignment_build(
            bam, declared, target_fasta=reference, target_name="GRCh38", grch37_fasta=grch37
        )

    assert build(on37) == "GRCh37"
    assert build(on38) == "GRCh38"
    assert build(on38, "GRCh37") == "GRCh37"  # declared: check_alignment holds it to GRCh37
    assert build(on37, "GRCh38") == "GRCh38"
    assert build(on37, grch37=None) == "GRCh38"  # no liftover: the check names the lengths
    assert build(real37, grch37=None) == "GRCh37"  # the alias tables know real GRCh37
    # checked against the GRCh37 FASTA, whose .fai is built when missing
    Path(f"{ref37}.fai").unlink()
    assert check_alignment(on37, ref37, build="GRCh37").contigs == 2
    with pytest.raises(InputError, match=r"length 3000 in the BAM header but 2900 in the GRCh37"):
        check_alignment(on38, ref37, build="GRCh37")


def test_a_target_contig_missing_from_the_header(tmp_path: Path, reference: Path) -> None:
    bam = write_bam(tmp_path / "a.bam", {"chr21": 3000})
    with pytest.raises(InputError, match=r"contig chr22 of the target reference .* is not in"):
        check_alignment(bam, reference)


def test_another_chromosome_in_the_header(tmp_path: Path, reference: Path) -> None:
    bam = write_bam(tmp_path / "a.bam", {**LENGTHS, "chr1": 248956422})
    with pytest.raises(InputError, match="contig chr1 of the BAM header is not in the target"):
        check_alignment(bam, reference)


@pytest.mark.parametrize("order", ["unsorted", "queryname"])
def test_not_coordinate_sorted(tmp_path: Path, reference: Path, order: str) -> None:
    bam = write_bam(tmp_path / "a.bam", LENGTHS, sort_order=order)
    with pytest.raises(InputError, match=f"sorted by {order} in its header, not coordinate"):
        check_alignment(bam, reference)


def test_several_samples(tmp_path: Path, reference: Path) -> None:
    bam = write_bam(tmp_path / "a.bam", LENGTHS, samples=("S1", "S2"))
    with pytest.raises(InputError, match=r"holds reads of 2 samples \(@RG SM S1, S2\)"):
        check_alignment(bam, reference)


def test_truncated_bam(tmp_path: Path, reference: Path) -> None:
    bam = write_bam(tmp_path / "a.bam", LENGTHS)
    bam.write_bytes(bam.read_bytes()[:-28])
    with pytest.raises(InputError, match="truncated"):
        check_alignment(bam, reference)


@pytest.fixture
def cram(tmp_path: Path, reference: Path) -> Path:
    bam = write_bam(tmp_path / "a.bam", LENGTHS)
    out = tmp_path / "a.cram"
    subprocess.run(
        ["samtools", "view", "-C", "-T", str(reference), "-o", str(out), str(bam)], check=True
    )
    return out


def test_a_cram_decodes_with_its_reference(tmp_path: Path, reference: Path, cram: Path) -> None:
    result = check_alignment(cram, reference, dict_path=tmp_path / "ref.dict")
    assert (result.format, result.records_decoded) == ("CRAM", 50)


def other_reference(tmp_path: Path) -> Path:
    """Same names and lengths, other bases: a CRAM made against ref.fa cannot use it."""
    folder = tmp_path / "other"
    folder.mkdir()
    changed = {
        name: seq[:100] + seq[100:].translate(str.maketrans("ACGT", "CGTA"))
        for name, seq in CONTIGS.items()
    }
    fasta = write_fasta(folder / "ref.fa", changed)
    subprocess.run(["samtools", "dict", "-o", str(folder / "ref.dict"), str(fasta)], check=True)
    return fasta


def test_a_cram_with_another_reference_by_digest(tmp_path: Path, cram: Path) -> None:
    fasta = other_reference(tmp_path)
    with pytest.raises(InputError) as excinfo:
        check_alignment(cram, fasta, dict_path=fasta.with_suffix(".dict"))
    message = str(excinfo.value)
    assert message.startswith(f"{cram}: contig chr21 has sequence digest M5:")
    assert "same name and length, other sequence" in message


def test_a_cram_with_another_reference_by_decoding(tmp_path: Path, cram: Path) -> None:
    fasta = other_reference(tmp_path)
    with pytest.raises(InputError, match=f"cannot be decoded with the reference {fasta}"):
        check_alignment(cram, fasta)  # no .dict: the digests are not compared first


def test_read_dict_md5s(tmp_path: Path, reference: Path) -> None:
    import hashlib

    digests = read_dict_md5s(tmp_path / "ref.dict")
    assert digests == {name: hashlib.md5(seq.encode()).hexdigest() for name, seq in CONTIGS.items()}
