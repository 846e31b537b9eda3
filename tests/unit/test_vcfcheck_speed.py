"""The input check's quick path (genopass.inputs.vcfcheck._Checker.quick) never weakens the
check, and it is the path that decides well-formed data.

- On seeded random records (well formed, and damaged by random edits), the check's verdict is
  the verdict of the field-by-field path alone (`_Checker.full`, the reference): the quick path
  accepts only records the field-by-field path accepts, and hands the rest to it.
- On the benchmark's synthetic data (genopass.demo.synthetic, what scripts/bench.py times),
  every record is decided by the quick path (no timing here: speed is measured by a benchmark,
  docs/validation.md gives the figures).
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from genopass.demo.synthetic import SyntheticReference, generate_vcf
from genopass.inputs.vcfcheck import CheckResult, Header, _add_definition, _Checker, check_vcf

DEFINITIONS = [
    '##FILTER=<ID=q10,Description="q">',
    '##INFO=<ID=DP,Number=1,Type=Integer,Description="d">',
    '##INFO=<ID=AF,Number=A,Type=Float,Description="d">',
    '##INFO=<ID=END,Number=1,Type=Integer,Description="d">',
    '##INFO=<ID=FL,Number=0,Type=Flag,Description="d">',
    '##INFO=<ID=NOTE,Number=.,Type=String,Description="d">',
    '##FORMAT=<ID=GT,Number=1,Type=String,Description="g">',
    '##FORMAT=<ID=AD,Number=R,Type=Integer,Description="a">',
    '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="a">',
    '##FORMAT=<ID=GL,Number=G,Type=Float,Description="a">',
    '##FORMAT=<ID=PR,Number=2,Type=Integer,Description="a">',
    '##FORMAT=<ID=FT,Number=1,Type=String,Description="a">',
    '##FORMAT=<ID=CH,Number=1,Type=Character,Description="a">',
    '##FORMAT=<ID=ST,Number=A,Type=String,Description="a">',
    "##contig=<ID=chr1,length=5000>",
]
FORMATS = ["GT:AD:DP", "GT:AD:DP:GL", "GT", "AD:DP", "GT:PR:FT", "GT:CH", "GT:ST:GL", "DP:GT"]
EDITS = list("0123456789,:/|.-+eE;=<> ax\t") + ["10", "00", "::", ",,", "\t0/1", ""]


def checker(samples: int) -> _Checker:
    header = Header()
    for number, text in enumerate(DEFINITIONS, start=2):
        _add_definition(Path("t.vcf"), number, text, header)
    header.samples = [f"S{i}" for i in range(samples)]
    return _Checker(header, CheckResult(Path("t.vcf")), keep=5)


def value(key: str, n_alt: int, rng: random.Random) -> str:
    if key == "GT":
        return rng.choice(["0/1", "0|1", "1/1", "./.", "0", "1", "0/0/1", f"0/{n_alt}", "."])
    if key == "AD":
        return ",".join(str(rng.randint(0, 150)) for _ in range(n_alt + 1))
    if key == "DP":
        return str(rng.randint(0, 1500))
    if key == "GL":
        return ",".join(f"{rng.uniform(-99, 0):.2f}" for _ in range((n_alt + 1) * (n_alt + 2) // 2))
    if key == "PR":
        return f"{rng.randint(0, 9)},{rng.randint(0, 99)}"
    if key == "CH":
        return rng.choice(["a", "1", "ab"])
    if key == "ST":
        return ",".join("s" for _ in range(n_alt))
    return rng.choice(["PASS", "lowQ", "a/5"])


def random_record(samples: int, pos: int, rng: random.Random) -> bytes:
    n_alt = rng.choice([1, 1, 1, 2, 3])
    fmt = rng.choice(FORMATS)
    info = rng.choice(["DP=10", f"DP=5;AF={','.join(['0.5'] * n_alt)}", "FL;DP=3", ".", "NOTE=a"])
    qual = rng.choice(["50", ".", "1e3", "3.5"])
    alt = ",".join(rng.sample("CGT", n_alt))
    cols = ["chr1", str(pos), ".", "A", alt, qual, rng.choice(["PASS", ".", "q10"]), info]
    if samples:
        cols.append(fmt)
        for _ in range(samples):
            fields = [value(k, n_alt, rng) for k in fmt.split(":")]
            cols.append(":".join(fields[: rng.choice([len(fields)] * 4 + [1])]))
    text = "\t".join(cols)
    for _ in range(rng.choice([0, 0, 1, 2, 3])):
        i = rng.randrange(len(text) + 1)
        text = text[:i] + rng.choice(EDITS) + text[i + rng.choice([0, 1]) :]
    return text.encode()


@pytest.mark.parametrize("samples", [0, 1, 3, 40])
def test_the_quick_path_gives_the_field_by_field_verdicts(samples: int) -> None:
    rng = random.Random(1000 + samples)
    both, reference = checker(samples), checker(samples)
    accepted = 0
    for n in range(4000):
        raw = random_record(samples, 100 + n, rng)
        expected = reference.full(n + 1, n + 1, raw)
        assert both.record(n + 1, n + 1, raw) == expected, raw
        assert both.site == reference.site, raw
        if raw.isascii() and both.quick(raw):
            accepted += 1
    assert both.result.defects == reference.result.defects
    # warnings of the records both paths accept alike (the quick path warns as it goes)
    assert both.result.warned.get("undeclared_filter", []) == reference.result.warned.get(
        "undeclared_filter", []
    )
    assert accepted > 500  # the quick path was exercised, not bypassed


@pytest.mark.parametrize(("records", "samples"), [(20_000, 1), (1_500, 100)])
def test_the_quick_path_decides_the_benchmark_data(tmp_path, monkeypatch, records, samples):
    reference = SyntheticReference(seed=1)
    vcf = generate_vcf(tmp_path / "bench.vcf.gz", reference, records, samples, seed=1)
    slow = []
    full = _Checker.full

    def counted(self, ordinal, line, raw):
        slow.append(ordinal)
        return full(self, ordinal, line, raw)

    monkeypatch.setattr(_Checker, "full", counted)
    result = check_vcf(vcf)
    assert result.records == records and result.malformed == 0
    assert slow == []
    # the same verdicts with the quick path turned off
    monkeypatch.setattr(_Checker, "quick", lambda self, raw: False)
    again = check_vcf(vcf)
    assert (again.records, again.defects, again.warnings) == (
        result.records,
        result.defects,
        result.warnings,
    )
    assert len(slow) == records
