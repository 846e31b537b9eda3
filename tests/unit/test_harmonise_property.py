"""Property: on random small VCFs and references, every input record is in exactly one of
output, rejects and blocks, and the output is what bcftools calls normalised.

The oracle is the generator itself (it knows each record's place and kind) and bcftools norm;
genopass's own counters are not consulted.
"""

from __future__ import annotations

import gzip
import subprocess
import tempfile
from collections import Counter
from pathlib import Path

import pysam
from helpers import write_fasta, write_vcf
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from genopass.harmonise.stream import HarmoniseOptions, harmonise_vcf
from genopass.inputs.build import MIN_SITES

LENGTH = 200
BASES = "ACGT"
KINDS = ("ok", "ok", "ok", "wrong_ref", "iupac", "repeat", "other_contig", "block")


@st.composite
def cases(draw):
    sequence = "".join(draw(st.lists(st.sampled_from(BASES), min_size=LENGTH, max_size=LENGTH)))
    gvcf = draw(st.booleans())
    # fewer records than the build check needs: a file of many wrong REFs is refused as a whole
    # (another build), which tests/unit/test_guarantees.py shows
    most = MIN_SITES - 1
    positions = sorted(draw(st.lists(st.integers(2, LENGTH - 6), min_size=1, max_size=most)))
    records = []  # (contig, pos, ref, alts, gt, kind)
    for pos in positions:
        # one record on chr1 at least: a file with none on the target is refused as a whole
        kind = draw(st.sampled_from(KINDS)) if records else "ok"
        if kind == "block" and not gvcf:
            kind = "ok"
        if kind == "repeat" and records and records[-1][0] == "chr1":
            records.append(records[-1])  # the same record again: judged as the first was
            continue
        if kind == "repeat":
            kind = "ok"
        size = draw(st.integers(1, 3))
        ref = sequence[pos - 1 : pos - 1 + size]
        if kind == "block":
            end = pos + draw(st.integers(0, 4))
            records.append(("chr1", pos, ref[0], ["<NON_REF>"], "0/0", f"block:{end}"))
            continue
        if kind == "wrong_ref":
            ref = "".join(draw(st.lists(st.sampled_from(BASES), min_size=size, max_size=size)))
            if ref == sequence[pos - 1 : pos - 1 + size]:
                kind = "ok"
        allele = st.text(alphabet=BASES, min_size=1, max_size=4).filter(lambda a, r=ref: a != r)
        alts = draw(st.lists(allele, min_size=1, max_size=3, unique=True))
        if kind == "iupac":
            alts[0] = "R"
        if gvcf:
            alts.append("<NON_REF>")
        gt = draw(st.sampled_from(["0/1", "1/1", "./.", f"0|{len(alts)}"]))
        contig = "scaffold_test" if kind == "other_contig" else "chr1"
        records.append((contig, pos, ref, alts, gt, kind))
    return sequence, gvcf, records


def header(gvcf: bool) -> str:
    lines = [
        "##fileformat=VCFv4.2",
        '##INFO=<ID=END,Number=1,Type=Integer,Description="End">',
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
        f"##contig=<ID=chr1,length={LENGTH}>",
        "##contig=<ID=scaffold_test,length=1000>",
    ]
    if gvcf:
        lines.insert(1, '##ALT=<ID=NON_REF,Description="Any other allele">')
    return "\n".join([*lines, "#CHROM POS ID REF ALT QUAL FILTER INFO FORMAT S1"])


def line(record: tuple) -> str:
    contig, pos, ref, alts, gt, kind = record
    info = f"END={kind.split(':')[1]}" if kind.startswith("block") else "."
    return f"{contig} {pos} . {ref} {','.join(alts)} . . {info} GT {gt}"


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(cases())
def test_every_record_is_in_exactly_one_place_and_the_output_is_normalised(case):
    sequence, gvcf, records = case
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        fasta = write_fasta(work / "ref.fa", {"chr1": sequence})
        # the input's order, as bcftools reads it: chr1 first, then the other contig; records at
        # one position in the generated order
        order = sorted(range(len(records)), key=lambda i: (records[i][0] != "chr1", i))
        body = "\n".join(line(records[i]) for i in order)
        vcf = write_vcf(work / "in.vcf", header(gvcf) + "\n" + body)
        options = HarmoniseOptions(
            reference=fasta,
            out=work / "out.vcf.gz",
            rejects=work / "rejects.vcf.gz",
            blocks=work / "blocks.bed.gz",
        )
        harmonise_vcf(vcf, options)

        kind_of = {number: records[i][5] for number, i in enumerate(order, start=1)}
        alts_of = {number: records[i][3] for number, i in enumerate(order, start=1)}
        with pysam.VariantFile(str(options.out)) as out:
            output = Counter(r.info["GENOPASS_SOURCE"] for r in out)
        with pysam.VariantFile(str(options.rejects)) as rejects:
            rejected = [(r.info["GENOPASS_SOURCE"], r.info["GENOPASS_REJECT"]) for r in rejects]
        with gzip.open(options.blocks, "rt") as handle:
            blocks = Counter(int(row.split("\t")[3]) for row in handle)

        duplicates = Counter(n for n, reason in rejected if reason == "duplicate")
        whole = Counter(n for n, reason in rejected if reason != "duplicate")
        reason_of = {n: reason for n, reason in rejected if reason != "duplicate"}
        for number in range(1, len(records) + 1):
            places = [number in output or number in duplicates, number in whole, number in blocks]
            assert places.count(True) == 1, (number, kind_of[number], places)
            assert whole[number] <= 1
            kind = kind_of[number]
            if kind == "iupac":
                assert reason_of[number] == "invalid_allele"
            elif kind == "other_contig":
                assert reason_of[number] == "unknown_contig"
            elif kind.startswith("block"):
                assert blocks[number] == 1
            elif kind == "wrong_ref" and number in whole:
                assert reason_of[number] == "ref_mismatch"
            else:
                assert number not in whole, (number, kind, reason_of.get(number))
                sequence_alts = [a for a in alts_of[number] if a != "<NON_REF>"]
                assert output[number] + duplicates[number] == len(sequence_alts)
        assert set(output) | set(duplicates) | set(whole) | set(blocks) <= set(kind_of)

        check = subprocess.run(
            ["bcftools", "norm", "--check-ref", "e", "-m-any", "-f", str(fasta), "-Ov"]
            + ["-o", "/dev/null", str(options.out)],
            capture_output=True,
            text=True,
            check=True,
        )
        # total/split/realigned/skipped: nothing left to split, realign or skip
        assert f"{sum(output.values())}/0/0/0" in check.stderr
