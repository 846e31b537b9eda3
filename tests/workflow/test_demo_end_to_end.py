"""The demo end to end, as `make demo` runs it: every promise of the export checked."""

from __future__ import annotations

import gzip
import os
import stat
import subprocess
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pysam
import pytest
from helpers import copy_demo, expected_pseudonyms, genopass_run

from genopass.demo import reads

pytestmark = pytest.mark.workflow


# INFO keys an export may carry with the demo's config (export.info_keep is empty), and the
# variants table's columns (README, "Outputs").
ALLOWED_INFO = {"AC", "AN", "AF"}
# ...and in the cohort VCF the frequency strata genopass recounts (genopass cohort)
COHORT_INFO = ALLOWED_INFO | {"AC_Het", "AC_Hom", "AC_Hemi"}
ALLOWED_FORMAT = {"GT", "DP", "GQ", "AD"}
VARIANT_COLUMNS = [
    "chrom", "pos", "ref", "alt", "variant_key", "id", "qual", "filter",
    "info_AC", "info_AN", "info_AF",
]  # fmt: skip


def run_demo(workspace: Path, workdir: Path) -> Path:
    """`make demo` on a copy of the demo workspace in ``workdir``."""
    proc = genopass_run(copy_demo(workspace, workdir))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return workdir / "results"


@pytest.fixture(scope="module")
def results(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_demo(demo_workspace, tmp_path_factory.mktemp("demo1"))


@pytest.fixture(scope="module")
def export(results: Path) -> Path:
    return results / "export" / "demo"


@pytest.fixture(scope="module")
def pseudonyms(results: Path) -> dict[str, str]:
    """sample -> pseudonym, computed here from the key (not read from genopass's map)."""
    return expected_pseudonyms(results.parent)


@pytest.fixture(scope="module")
def exported(results: Path, pseudonyms: dict[str, str]) -> dict[str, str]:
    """sample -> pseudonym of the samples the QC gate exports (results/qc/exported.tsv)."""
    gate = pd.read_csv(results / "qc" / "exported.tsv", sep="\t", dtype=str)
    assert all(pseudonyms[s] == p for s, p in zip(gate["sample"], gate["pseudonym"], strict=True))
    return {sample: pseudonyms[sample] for sample in gate["sample"]}


def test_private_map_holds_the_keyed_pseudonyms(results: Path, pseudonyms: dict[str, str]):
    table = pd.read_csv(results / "private" / "pseudonyms.tsv", sep="\t", dtype=str)
    assert dict(zip(table["sample"], table["pseudonym"], strict=True)) == pseudonyms
    # the demo's people: 7 of CTR-A..C, D-001 and D-002 of CTR-D, E-001 and E-002 of CTR-E
    assert len(pseudonyms) == 11


def sample_vcfs(export: Path) -> list[Path]:
    return sorted(p for p in (export / "vcf").glob("*.vcf.gz") if p.name != "cohort.vcf.gz")


def test_export_has_the_promised_files(export, pseudonyms, exported):
    names = {p.relative_to(export).as_posix() for p in export.rglob("*") if p.is_file()}
    for sample, pseudonym in pseudonyms.items():
        kept = sample in exported  # a sample the QC gate drops has no file
        assert (f"vcf/{pseudonym}.vcf.gz" in names) == kept, sample
        assert (f"vcf/{pseudonym}.vcf.gz.tbi" in names) == kept, sample
    assert {
        "vcf/cohort.vcf.gz",
        "vcf/cohort.vcf.gz.tbi",
        "MANIFEST.tsv",
        *(
            f"parquet/{table}/chrom={contig}/part-0.parquet"
            for table in ("variants", "genotypes")
            for contig in ("chr21", "chr22", "chrX")
        ),
    } <= names
    assert not (export / "private").exists()


def own_site(gt: str) -> bool:
    """A genotype that carries an ALT allele or a missing allele (not hom-ref)."""
    return any(allele != "0" for allele in gt.replace("|", "/").split("/"))


def test_harmonised_records_equal_the_demo_truth(results, export, exported):
    """Each centre's delivery, whatever its naming and representation, ends as the truth: the
    sample's own records (ALT-carrying or no-call), and no site that only others carry."""
    truth_dir = results.parent / "resources" / "demo" / "truth"
    for sample, pseudonym in exported.items():
        if sample in {s.sample for s in reads.READS_SAMPLES}:
            # called from simulated reads, so not exactly its truth: recall and precision are
            # checked in tests/workflow/test_reads_demo.py
            continue
        truth = pd.read_csv(truth_dir / f"{sample}.tsv", sep="\t", dtype=str)
        expected = [row for row in truth.itertuples(index=False, name=None) if own_site(row[4])]
        with pysam.VariantFile(str(export / "vcf" / f"{pseudonym}.vcf.gz")) as vcf:
            assert list(vcf.header.samples) == [pseudonym]
            got = []
            for rec in vcf:
                call = rec.samples[0]
                sep = "|" if call.phased else "/"
                gt = sep.join("." if a is None else str(a) for a in call["GT"])
                got.append((rec.chrom, str(rec.pos), rec.ref, rec.alts[0], gt))
        # records at one position may come in any order (VCF leaves it open)
        assert sorted(got) == sorted(expected), sample


def test_contigs_are_ucsc_and_records_biallelic_and_normalised(results, export):
    fasta = results.parent / "resources" / "demo" / "GRCh38.demo.fa"
    for vcf in [*sample_vcfs(export), export / "vcf" / "cohort.vcf.gz"]:
        with pysam.VariantFile(str(vcf)) as handle:
            assert list(handle.header.contigs) == ["chr21", "chr22", "chrX"]
            for rec in handle:
                assert rec.chrom in {"chr21", "chr22", "chrX"}
                assert len(rec.alts) == 1, f"{vcf.name}: multiallelic {rec.chrom}:{rec.pos}"
        check = subprocess.run(
            ["bcftools", "norm", "--check-ref", "e", "-f", str(fasta), "-o", os.devnull, str(vcf)],
            capture_output=True,
            text=True,
        )
        assert check.returncode == 0, check.stderr
        total, split, realigned, skipped = check.stderr.strip().split("\t")[-1].split("/")
        assert int(total) > 0
        assert (split, realigned, skipped) == ("0", "0", "0"), vcf.name


def source_numbers(vcf: Path) -> list[int]:
    with pysam.VariantFile(str(vcf)) as handle:
        return [rec.info["GENOPASS_SOURCE"] for rec in handle]


def test_every_input_record_is_in_exactly_one_file(results, pseudonyms):
    """Read each sample's output, rejects and blocks with pysam and place every source number,
    independently of genopass's own check; the input's record count comes from bcftools."""
    folder = results / "harmonise" / "harmonise_vcf"
    table = pd.read_csv(results / "harmonise" / "accounting.tsv", sep="\t").set_index("samples")
    units = pd.read_csv(results.parent / "config" / "units.tsv", sep="\t", dtype=str)
    for sample, pseudonym in pseudonyms.items():
        row = table.loc[pseudonym]
        output = set(source_numbers(folder / f"{sample}.vcf.gz"))
        with pysam.VariantFile(str(folder / f"{sample}.rejects.vcf.gz")) as handle:
            rejects = [(r.info["GENOPASS_SOURCE"], r.info["GENOPASS_REJECT"]) for r in handle]
        whole = [n for n, reason in rejects if reason != "duplicate"]
        duplicates = {n for n, reason in rejects if reason == "duplicate"}
        with gzip.open(folder / f"{sample}.blocks.bed.gz", "rt") as handle:
            blocks = {int(line.split("\t")[3]) for line in handle}
        assert len(whole) == len(set(whole)), sample
        assert not (output & set(whole)) and not (output & blocks) and not (blocks & set(whole))
        everything = output | set(whole) | duplicates | blocks
        assert everything == set(range(1, int(row.input_records) + 1)), sample
        vcf = units.loc[units["sample"] == sample, "vcf"].dropna()
        if len(vcf):  # a delivered VCF: its record count, by bcftools
            counted = subprocess.run(
                ["bcftools", "index", "-n", str(results.parent / vcf.iloc[0])],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            assert int(counted) == row.input_records, sample
        assert row.output_source_records == len(output)
        assert row.rejected_source_records == len(whole) + len(duplicates - output)
        assert row.input_records == (
            row.output_source_records + row.rejected_source_records + row.reference_blocks
        )
    # the deliberate faults of the demo, each in its place
    assert table.loc[pseudonyms["A-001"], "rejected_non_primary_contig"] == 1
    assert table.loc[pseudonyms["C-001"], "rejected_ref_mismatch"] == 1
    assert table.loc[pseudonyms["B-001"], "duplicate_records"] >= 1
    assert table.rejected_source_records.sum() > 0


def test_export_carries_only_allow_listed_fields(export):
    """No INFO key outside AC/AN/AF in any export VCF (header or record) or Parquet column."""
    for vcf in [*sample_vcfs(export), export / "vcf" / "cohort.vcf.gz"]:
        allowed = COHORT_INFO if vcf.name == "cohort.vcf.gz" else ALLOWED_INFO
        with pysam.VariantFile(str(vcf)) as handle:
            header = handle.header
            assert set(header.info.keys()) == allowed, vcf.name
            assert set(header.formats.keys()) <= ALLOWED_FORMAT, vcf.name
            for rec in handle:
                assert set(rec.info.keys()) <= allowed, f"{vcf.name} {rec.chrom}:{rec.pos}"
                assert set(rec.format.keys()) <= ALLOWED_FORMAT, f"{vcf.name} {rec.pos}"
    for part in (export / "parquet" / "variants").glob("chrom=*/*.parquet"):
        assert pq.read_schema(part).names == VARIANT_COLUMNS, part
    for part in (export / "parquet" / "genotypes").glob("chrom=*/*.parquet"):
        assert not [n for n in pq.read_schema(part).names if n.startswith("info_")], part


def test_ac_an_af_are_counts_of_the_exported_genotypes(export):
    """AC/AN/AF of every export VCF equal a count of its genotypes made here (pysam)."""
    for vcf in [*sample_vcfs(export), export / "vcf" / "cohort.vcf.gz"]:
        with pysam.VariantFile(str(vcf)) as handle:
            for rec in handle:
                alleles = [a for call in rec.samples.values() for a in call["GT"]]
                an = sum(a is not None for a in alleles)
                ac = sum(a == 1 for a in alleles)
                where = f"{vcf.name} {rec.chrom}:{rec.pos}"
                assert rec.info["AN"] == an, where
                assert rec.info["AC"] == (ac,), where
                if an:
                    assert rec.info["AF"][0] == pytest.approx(ac / an, abs=1e-6), where


def test_centre_b_samples_keep_only_their_own_sites(export, pseudonyms):
    """CTR-B delivers one cohort file: each of its people gets their own sites only."""
    for sample in ("B-001", "B-002", "B-003"):
        vcf = export / "vcf" / f"{pseudonyms[sample]}.vcf.gz"
        gts = subprocess.run(
            ["bcftools", "query", "-f", "[%GT]\n", str(vcf)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        assert gts and all(own_site(gt) for gt in gts), sample


def test_private_map_is_readable_by_its_owner_only(results):
    private = results / "private"
    assert stat.S_IMODE(private.stat().st_mode) == 0o700
    for path in private.rglob("*"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def exported_bytes(export: Path) -> list[tuple[Path, bytes]]:
    """Every exported file's bytes, plus its decompressed content (gzip) or its values (Parquet)."""
    contents = []
    for path in sorted(p for p in export.rglob("*") if p.is_file()):
        data = path.read_bytes()
        contents.append((path, data))
        if path.name.endswith(".gz"):
            contents.append((path, gzip.decompress(data)))
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            metadata = pq.read_metadata(path).metadata or {}
            text = table.to_pandas().to_csv() + repr(metadata)
            contents.append((path, text.encode()))
    return contents


def forbidden_words(results: Path) -> set[str]:
    """Sample IDs, VCF column names, the workspace's path, common path parts and user names."""
    samples = pd.read_csv(results.parent / "config" / "samples.tsv", sep="\t", dtype=str)
    units = pd.read_csv(results.parent / "config" / "units.tsv", sep="\t", dtype=str)
    forbidden = set(samples["sample"]) | set(units["vcf_sample"].dropna())
    forbidden |= {
        str(results.parent),
        "/home/",
        "/scratch/",
        "/data/",
        "resources/demo",
        "Mustermann",
        "alice",
    }
    for user in {os.environ.get("USER"), os.environ.get("LOGNAME")} - {None, ""}:
        forbidden.add(f"/{user}/")
    return forbidden


def test_no_sample_id_path_or_user_name_in_any_byte_of_the_export(results, export):
    forbidden = forbidden_words(results)
    for path, data in exported_bytes(export):
        for word in forbidden:
            assert word.encode() not in data, f"{word!r} in {path.relative_to(export)}"


def test_manifest_lists_every_exported_file_with_checksums(export):
    import hashlib

    manifest = pd.read_csv(export / "MANIFEST.tsv", sep="\t", dtype={"size": int})
    files = sorted(
        p.relative_to(export).as_posix()
        for p in export.rglob("*")
        if p.is_file() and p.name not in {"MANIFEST.tsv", "SHA256SUMS", ".snakemake_timestamp"}
    )
    assert sorted(manifest["path"]) == files
    for row in manifest.itertuples():
        data = (export / row.path).read_bytes()
        assert row.size == len(data)
        assert row.sha256 == hashlib.sha256(data).hexdigest()
        assert row.md5 == hashlib.md5(data).hexdigest()


def test_parquet_genotypes_match_the_cohort_vcf(export):
    def read(table: str) -> pd.DataFrame:
        files = sorted((export / "parquet" / table).glob("chrom=*/*.parquet"))
        return pd.concat([pq.read_table(f).to_pandas() for f in files], ignore_index=True)

    variants, genotypes = read("variants"), read("genotypes")
    cohort = export / "vcf" / "cohort.vcf.gz"
    records = subprocess.run(
        ["bcftools", "view", "-H", str(cohort)], capture_output=True, text=True, check=True
    ).stdout.count("\n")
    assert len(variants) == records
    carried = subprocess.run(
        ["bcftools", "query", "-i", 'GT="alt" | GT="mis"', "-f", "[%SAMPLE\n]", str(cohort)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.count("\n")
    assert len(genotypes) == carried


def test_a_second_run_gives_byte_identical_exports(demo_workspace, tmp_path, export):
    second = run_demo(demo_workspace, tmp_path) / "export" / "demo"
    assert (second / "MANIFEST.tsv").read_bytes() == (export / "MANIFEST.tsv").read_bytes()
