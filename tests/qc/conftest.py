"""Fixtures of the QC tests: the demo (VCFs harmonised, D-001's reads aligned as the workflow
does) and the shared real data."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from qc_helpers import GENOPASS, run


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> Path:
    """The demo: harmonised VCFs of three samples, D-001's BAM, the autosome BED."""
    root = tmp_path_factory.mktemp("qc-demo")
    run([*GENOPASS, "demo-data", root])
    fasta = root / "GRCh38.demo.fa"
    run([*GENOPASS, "autosomes", fasta, "--out", root / "autosomes.bed"])
    for sample in ("A-001", "A-002", "C-001"):
        (source,) = root.glob(f"ctr_*.{sample}.vcf.gz")
        run(
            [
                *GENOPASS,
                "harmonise",
                source,
                "--reference",
                fasta,
                "--out",
                root / f"{sample}.harmonised.vcf.gz",
                "--accounting",
                root / f"{sample}.acc.tsv",
            ]
        )
    run(["bwa", "index", fasta])
    run(["samtools", "dict", fasta, "-o", root / "GRCh38.demo.dict"])
    lanes = []
    for lane in ("lane1", "lane2"):
        bam = root / f"{lane}.bam"
        reads = [root / f"ctr_d.D-001.{lane}_R{i}.fastq.gz" for i in (1, 2)]
        rg = f"@RG\\tID:{lane}\\tSM:D-001\\tPL:ILLUMINA"
        subprocess.run(
            f"bwa mem -t 2 -R '{rg}' {fasta} {reads[0]} {reads[1]} 2>/dev/null"
            f" | samtools fixmate -m -u - - | samtools sort -o {bam} -",
            shell=True,
            check=True,
        )
        lanes.append(bam)
    run(["samtools", "merge", "-f", "-o", root / "merged.bam", *lanes])
    bam = root / "D-001.bam"
    run(["samtools", "markdup", "-s", root / "merged.bam", bam])
    run(["samtools", "index", bam])
    return root
