"""A small cohort exported end to end with the genopass CLI (no workflow), shared by the tests.

A centre's multi-sample VCF of 12 people (3 countries, both sexes) on chr22 (two file groups)
and chrX (PAR and non-PAR sites, males written haploid or as diploid homozygotes), seeded
genotypes with no-calls and partial calls. Each sample is cut with ``genopass export-vcf``; two
samples are gVCF deliveries with hand-written reference blocks; the others are variants-only
with ``--missing-genotypes reference``. Then ``cohort``, ``parquet``, ``samples-table``,
``frequencies``, ``metadata``, ``crate``, ``keys``, ``encrypt`` and ``manifest``.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pysam

BIN = Path(sys.executable).parent
# the CLI of this checkout, whatever console script another install left on PATH
GENOPASS = (sys.executable, "-m", "genopass.cli")
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}", "SOURCE_DATE_EPOCH": "0"}
ENV.pop("GENOPASS_PSEUDONYM_KEY", None)

MIN_CELL_COUNT = 3
DATASET = "tiny"
# local ID, country, sex, consent
PEOPLE = [
    ("LAB_01", "DE", "female", "DUO:0000042"),
    ("LAB_02", "DE", "female", "DUO:0000042,DUO:0000006"),
    ("LAB_03", "DE", "female", ""),
    ("LAB_04", "DE", "male", "DUO:0000042"),
    ("LAB_05", "DE", "male", "DUO:0000042"),
    ("LAB_06", "DE", "male", "DUO:0000042"),
    ("LAB_07", "FR", "female", "DUO:0000007"),
    ("LAB_08", "FR", "female", "DUO:0000007"),
    ("LAB_09", "FR", "male", "DUO:0000007"),
    ("LAB_10", "FR", "male", "DUO:0000007"),
    ("LAB_11", "SE", "female", "DUO:0000042"),
    ("LAB_12", "SE", "unknown", "DUO:0000042"),
]
CENTRE = "CTR_B"
GVCF_SAMPLES = ("LAB_01", "LAB_09")  # deliveries with reference blocks
# 0-based half-open BED blocks of the gVCF samples
BLOCKS = {
    "LAB_01": [("chr22", 0, 10_000_450), ("chrX", 0, 3_000_000)],
    "LAB_09": [("chr22", 10_000_000, 10_010_000), ("chrX", 2_900_000, 3_100_000)],
}
CONTIGS = {"chr22": 10_020_000, "chrX": 3_200_000}
CHR22_SITES = [100 + 37 * i for i in range(20)] + [10_000_400 + 29 * i for i in range(12)]
CHRX_PAR_SITES = [20_000 + 101 * i for i in range(6)]
CHRX_NONPAR_SITES = [2_900_000 + 97 * i for i in range(10)]
BASES = "ACGT"


def genotype(rng: random.Random, haploid: bool) -> str:
    roll = rng.random()
    if haploid:
        # males outside the PAR: haploid calls or diploid-written homozygotes, never het
        return rng.choice(["0", "1", "0/0", "1/1", "."]) if roll < 0.9 else "./."
    if roll < 0.05:
        return "./."
    if roll < 0.08:
        return rng.choice(["0/.", "./1"])
    return rng.choice(["0/0", "0/0", "0/1", "0|1", "1/1", "1|1"])


def centre_vcf(path: Path) -> Path:
    rng = random.Random(20260611)
    lines = [
        "##fileformat=VCFv4.2",
        '##FILTER=<ID=PASS,Description="All filters passed">',
        *(f"##contig=<ID={c},length={n}>" for c, n in CONTIGS.items()),
        "##reference=GRCh38",
        '##INFO=<ID=AC,Number=A,Type=Integer,Description="Allele count">',
        '##INFO=<ID=AN,Number=1,Type=Integer,Description="Allele number">',
        '##INFO=<ID=AF,Number=A,Type=Float,Description="Allele frequency">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">',
        '##FORMAT=<ID=GQ,Number=1,Type=Integer,Description="Genotype quality">',
        '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="Allelic depths">',
        "\t".join(
            ["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO", "FORMAT"]
            + [p[0] for p in PEOPLE]
        ),
    ]
    sites = [("chr22", p, False) for p in CHR22_SITES]
    sites += [("chrX", p, False) for p in CHRX_PAR_SITES]
    sites += [("chrX", p, True) for p in CHRX_NONPAR_SITES]
    for contig, pos, nonpar in sites:
        ref = rng.choice(BASES)
        alt = rng.choice([b for b in BASES if b != ref])
        if pos % 5 == 0:  # a few deletions
            alt, ref = ref, ref + rng.choice(BASES)
        calls = []
        for _name, _country, sex, _consent in PEOPLE:
            gt = genotype(rng, haploid=nonpar and sex == "male")
            dp = rng.randint(5, 40)
            alt_depth = 0 if gt in ("0", "0/0") else rng.randint(1, dp)
            calls.append(f"{gt}:{dp}:{rng.randint(10, 99)}:{dp - alt_depth},{alt_depth}")
        lines.append(
            "\t".join(
                [
                    contig,
                    str(pos),
                    ".",
                    ref,
                    alt,
                    "50",
                    "PASS",
                    "AC=999;AN=9999;AF=0.1",
                    "GT:DP:GQ:AD",
                    *calls,
                ]
            )
        )
    plain = path.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    pysam.tabix_index(str(plain), preset="vcf", force=True)
    return Path(f"{plain}.gz")


def write_blocks(path: Path, blocks: list[tuple[str, int, int]]) -> Path:
    plain = path.with_suffix("")
    plain.parent.mkdir(parents=True, exist_ok=True)
    plain.write_text("".join(f"{c}\t{s}\t{e}\t{i + 1}\n" for i, (c, s, e) in enumerate(blocks)))
    pysam.tabix_index(str(plain), preset="bed", force=True)
    return Path(f"{plain}.gz")


def write_fasta(path: Path) -> Path:
    rng = random.Random(7)
    unit = "".join(rng.choice(BASES) for _ in range(1000))
    with open(path, "w") as handle:
        for contig, length in CONTIGS.items():
            handle.write(f">{contig}\n")
            seq = (unit * (length // 1000 + 1))[:length]
            for start in range(0, length, 100):
                handle.write(seq[start : start + 100] + "\n")
    pysam.faidx(str(path))
    return path


def genopass(*args: str | Path, cwd: Path | None = None) -> str:
    proc = subprocess.run(
        [*GENOPASS, *map(str, args)], capture_output=True, text=True, env=ENV, cwd=cwd
    )
    assert proc.returncode == 0, f"genopass {args[0]} failed:\n{proc.stderr}"
    return proc.stdout


@dataclass(frozen=True)
class Built:
    """Paths of one built export."""

    work: Path
    export: Path
    cohort: Path
    samples_tsv: Path
    pseudonyms: Path
    pseudonym_of: dict[str, str]
    summary: Path
    keys: dict[str, tuple[Path, Path]]
    inputs: tuple[Path, ...]
    outputs: dict[str, str]

    @property
    def frequencies(self) -> Path:
        return self.export / "frequencies" / DATASET / "GRCh38"

    def sex_of(self) -> dict[str, str]:
        return {self.pseudonym_of[p[0]]: p[2] for p in PEOPLE}

    def country_of(self) -> dict[str, str]:
        return {self.pseudonym_of[p[0]]: p[1] for p in PEOPLE}


def build_export(work: Path) -> Built:
    work.mkdir(parents=True, exist_ok=True)
    centre = centre_vcf(work / "centre.vcf.gz")
    samples_tsv = work / "samples.tsv"
    samples_tsv.write_text(
        "sample\tcentre\tcountry\tsex\tconsent\n"
        + "".join(f"{s}\t{CENTRE}\t{c}\t{x}\t{d}\n" for s, c, x, d in PEOPLE)
    )
    key = work / "key"
    key.write_text("a-secret-key-for-the-tests-only\n")
    key.chmod(0o600)
    pseudonyms = work / "private" / "pseudonyms.tsv"
    outputs = {}
    outputs["pseudonyms"] = genopass(
        "pseudonyms", "--samples", samples_tsv, "--key-file", key, "--out", pseudonyms
    )
    rows = [line.split("\t") for line in pseudonyms.read_text().splitlines()[1:]]
    pseudonym_of = {sample: name for sample, _centre, name in rows}
    renamed = work / "centre.renamed.vcf.gz"
    names = work / "names.txt"
    names.write_text("".join(f"{s} {pseudonym_of[s]}\n" for s, *_ in PEOPLE))
    subprocess.run(
        ["bcftools", "reheader", "-s", names, "-o", renamed, centre], check=True, env=ENV
    )
    subprocess.run(["bcftools", "index", "-t", renamed], check=True)
    export = work / "export" / DATASET
    vcfs, blocks = [], []
    for sample, *_ in PEOPLE:
        name = pseudonym_of[sample]
        out = export / "vcf" / f"{name}.vcf.gz"
        genopass("export-vcf", renamed, "--sample", name, "--out", out)
        vcfs.append(out)
        if sample in GVCF_SAMPLES:
            bed = write_blocks(work / "harmonise" / f"{sample}.blocks.bed.gz", BLOCKS[sample])
            blocks += ["--blocks", f"{name}={bed}"]
    cohort = export / "vcf" / "cohort.vcf.gz"
    outputs["cohort"] = genopass(
        "cohort", *vcfs, *blocks, "--missing-genotypes", "reference", "--out", cohort
    )
    fasta = write_fasta(work / "ref.fa")
    outputs["parquet"] = genopass(
        "parquet", cohort, "--reference", fasta, "--out", export / "parquet"
    )
    samples_parquet = export / "parquet" / "samples" / "samples.parquet"
    outputs["samples-table"] = genopass(
        "samples-table",
        "--samples",
        samples_tsv,
        "--pseudonyms",
        pseudonyms,
        "--cohort",
        cohort,
        "--out",
        samples_parquet,
    )
    summary = work / "frequencies.summary.json"
    outputs["frequencies"] = genopass(
        "frequencies",
        export / "parquet",
        "--dataset",
        DATASET,
        "--out",
        export / "frequencies",
        "--min-cell-count",
        MIN_CELL_COUNT,
        "--summary",
        summary,
    )
    params = [
        "--param",
        f"min_cell_count={MIN_CELL_COUNT}",
        "--param",
        "missing_genotypes=reference",
        "--param",
        f"dataset={DATASET}",
    ]
    outputs["metadata"] = genopass(
        "metadata",
        export,
        "--dataset",
        DATASET,
        "--reference",
        fasta,
        "--frequencies-summary",
        summary,
        *params,
    )
    outputs["crate"] = genopass(
        "crate",
        export,
        "--dataset",
        DATASET,
        "--input",
        centre,
        "--input",
        samples_tsv,
        *params,
    )
    keys = {}
    for name in ("recipient1", "recipient2", "outsider"):
        genopass("keys", name, "--out-dir", work / "keys")
        keys[name] = (work / "keys" / f"{name}.pub", work / "keys" / f"{name}.sec")
    outputs["encrypt"] = genopass(
        "encrypt",
        export,
        "--recipient",
        keys["recipient1"][0],
        "--recipient",
        keys["recipient2"][0],
    )
    outputs["manifest"] = genopass("manifest", export, "--sha256sums", export / "SHA256SUMS")
    return Built(
        work,
        export,
        cohort,
        samples_tsv,
        pseudonyms,
        pseudonym_of,
        summary,
        keys,
        (centre, samples_tsv),
        outputs,
    )
