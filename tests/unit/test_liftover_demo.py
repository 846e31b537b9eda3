"""The demo's GRCh37 centre lifted to GRCh38 equals the GRCh38 truth of the same people."""

from __future__ import annotations

from pathlib import Path

import pysam
import pytest
from helpers import DEMO

from genopass.demo.grch37 import CHAIN_NAME, FASTA_NAME, PEOPLE, inverted_spans, vcf_file_name
from genopass.harmonise.liftover import LiftoverSource
from genopass.harmonise.stream import HarmoniseOptions, harmonise_vcf


@pytest.fixture(scope="module")
def demo(demo_workspace: Path) -> Path:
    """The session's demo (`genopass demo-data`, default seed), read only."""
    return demo_workspace / DEMO


def harmonise(demo: Path, sample: str, build: str, out: Path):
    options = HarmoniseOptions(
        reference=demo / "GRCh38.demo.fa",
        out=out / f"{sample}.vcf.gz",
        rejects=out / f"{sample}.rejects.vcf.gz",
        build=build,
        liftover=(LiftoverSource("GRCh37", demo / FASTA_NAME, demo / CHAIN_NAME),),
    )
    accounting = harmonise_vcf(demo / vcf_file_name(sample), options)
    with pysam.VariantFile(str(options.out)) as vcf:
        got = set()
        for record in vcf:
            gt = "/".join(str(a) for a in record.samples[0]["GT"])
            got.add((record.chrom, record.pos, record.ref, record.alts[0], gt))
    with pysam.VariantFile(str(options.rejects)) as rejects:
        reasons = sorted(r.info["GENOPASS_REJECT"] for r in rejects)
    return accounting, got, reasons


def read_truth(path: Path) -> set[tuple]:
    rows = [line.split("\t") for line in path.read_text().splitlines()[1:]]
    return {(c, int(p), r, a, g) for c, p, r, a, g in rows}


@pytest.mark.parametrize("person", PEOPLE, ids=lambda p: p.sample)
def test_grch37_delivery_equals_the_grch38_truth(demo, tmp_path, person):
    accounting, got, reasons = harmonise(demo, person.sample, person.build, tmp_path)
    assert accounting.source_build == "GRCh37"  # declared, or detected for build auto
    truth = read_truth(demo / "truth" / f"{person.sample}.tsv")
    inverted = inverted_spans(demo / CHAIN_NAME)

    def inside(row: tuple) -> bool:
        return any(c == row[0] and lo < row[1] <= hi for c, lo, hi in inverted)

    figures = {}
    for kind in ("SNV", "indel"):
        wanted = [
            row
            for row in truth
            if row[4] != "0/0"
            and not inside(row)
            and ((len(row[2]) == len(row[3]) == 1) == (kind == "SNV"))
        ]
        figures[kind] = sum(row in got for row in wanted) / len(wanted)
        print(
            f"\n{person.sample} {kind}s outside inverted segments: "
            f"{sum(row in got for row in wanted)} of {len(wanted)} truth records"
        )
    assert figures["SNV"] >= 0.99
    assert figures["indel"] >= 0.97
    # in inverted segments: reverse-complemented right, or rejected, never wrong
    in_inversions = [row for row in got if inside(row)]
    assert len(in_inversions) > 20
    assert all(row in truth for row in in_inversions)
    assert got == truth  # the demo truth is exact
    # where the reference changed, GRCh37 records were swapped back
    assert accounting.swapped_total >= 3
    expected_rejects = (
        ["liftover_ambiguous", "liftover_unmapped", "ref_mismatch"] if person is PEOPLE[0] else []
    )
    assert reasons == expected_rejects


def test_a_grch37_file_declared_grch38_stops_with_both_match_rates(demo, tmp_path):
    import subprocess
    import sys
    from pathlib import Path as P

    proc = subprocess.run(
        [
            str(P(sys.executable).parent / "genopass"),
            "harmonise",
            str(demo / vcf_file_name("E-002")),
            "--reference",
            str(demo / "GRCh38.demo.fa"),
            "--build",
            "GRCh38",
            "--liftover-fasta",
            str(demo / FASTA_NAME),
            "--liftover-chain",
            str(demo / CHAIN_NAME),
            "--out",
            str(tmp_path / "x.vcf.gz"),
        ],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 1
    lines = [line for line in proc.stderr.splitlines() if "genopass: error" in line]
    assert len(lines) == 1 and "Traceback" not in proc.stderr
    assert "declared build GRCh38, but the data are on GRCh37" in lines[0]
    assert "GRCh37: REF matches at 100% of" in lines[0]
    assert "GRCh38: REF matches at" in lines[0]
    assert not (tmp_path / "x.vcf.gz").exists()
