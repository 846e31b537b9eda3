"""The accounting in bounded memory: the batched readers and per-number counters against the
whole-file versions they replaced, on the same data (many small batches and chunks).

``old_measure`` and ``old_excluded`` are the array versions the accounting had before it read
in batches; the new code must give the same accounting, and raise the same errors, on inputs
that break every rule the accounting checks.
"""

from __future__ import annotations

import functools
import gzip
import random
import types
from collections import Counter

import numpy as np
import pytest

from genopass import io
from genopass.harmonise import accounting, stream
from genopass.harmonise.accounting import (
    IN_BLOCKS,
    IN_DUPLICATES,
    IN_OUTPUT,
    IN_REJECTS,
    MAX_SOURCE_RECORDS,
    AccountingError,
    OutputNumbers,
    add_counts,
    check_source_range,
)
from genopass.reasons import DUPLICATE, reason_class

NAMES = ["number", "chrom", "pos", "alleles"]


def small_batches(monkeypatch, module, size: int = 64) -> None:
    monkeypatch.setattr(module, "iter_tsv", functools.partial(io.iter_tsv, block_size=size))


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_batched_reader_reads_what_the_whole_file_reader_reads(tmp_path, suffix):
    rng = random.Random(1)
    text = "".join(
        f"{i}\tchr{rng.choice('12XY')}\t{rng.randrange(10**9)}\t{rng.randrange(4)}\n"
        for i in range(1, 3000)
    )
    path = tmp_path / f"sites.tsv{suffix}"
    if suffix:
        with gzip.open(path, "wt") as handle:
            handle.write(text)
    else:
        path.write_text(text)
    for keep in (None, ["number", "pos"], ["chrom"]):
        whole = io.read_tsv(path, NAMES, "qsqq", keep)
        batches = list(io.iter_tsv(path, NAMES, "qsqq", keep, block_size=1 << 12))
        assert len(batches) > 5
        for name in keep or NAMES:
            if name == "chrom":
                got = np.concatenate([b["chrom"][b["chrom_code"]] for b in batches])
                assert got.tolist() == whole["chrom"][whole["chrom_code"]].tolist()
            else:
                got = np.concatenate([b[name] for b in batches])
                assert got.dtype == whole[name].dtype and np.array_equal(got, whole[name])


def test_batched_reader_of_an_empty_file_yields_nothing(tmp_path):
    plain, packed = tmp_path / "a.tsv", tmp_path / "b.tsv.gz"
    plain.write_text("")
    with gzip.open(packed, "wt"):
        pass
    assert list(io.iter_tsv(plain, NAMES, "qsqq")) == []
    assert list(io.iter_tsv(packed, NAMES, "qsqq")) == []


def test_batched_reader_refuses_a_missing_number(tmp_path):
    path = tmp_path / "n.tsv"
    path.write_text("1\n2\n.\n")
    with pytest.raises(ValueError):
        list(io.iter_tsv(path, ["number"], "q"))


def test_counts_saturate_at_255_on_both_paths():
    rng = np.random.default_rng(2)
    for numbers in (
        np.repeat(np.arange(1, 50), rng.integers(0, 600, 49)),  # a run: bincount on its span
        rng.integers(1, 10**6, 5000),  # scattered: sorted
        np.array([7] * 300 + [999_999] * 3),
    ):
        counts = np.zeros(10**6 + 1, dtype=np.uint8)
        for part in np.array_split(rng.permutation(numbers), 3):
            add_counts(counts, part)
        expected = np.minimum(np.bincount(numbers, minlength=len(counts)), 255)
        assert np.array_equal(counts, expected)


def test_more_source_numbers_than_32_bits_hold_are_refused():
    check_source_range("x.vcf.gz", MAX_SOURCE_RECORDS)
    with pytest.raises(AccountingError, match="split the input"):
        check_source_range("x.vcf.gz", MAX_SOURCE_RECORDS + 1)


# -- measure(): the same accounting and the same errors as the whole-array version ---------


def old_measure(input_records, output_numbers, rows, intervals, pieces):
    """The accounting's checks as they were, on arrays; an Accounting's fields or the error."""

    def shown(items):
        text = ", ".join(map(str, items[:5]))
        return text + (", ..." if len(items) > 5 else "")

    size = input_records + 1
    where = np.zeros(size, dtype=np.uint8)
    seen = np.zeros(size, dtype=np.int64)
    problems = []

    def place(numbers, flag, what):
        bad = numbers[(numbers < 1) | (numbers > input_records)]
        if len(bad):
            problems.append(
                f"{what} have source numbers outside 1..{input_records} ({shown(bad.tolist())})"
            )
            numbers = numbers[(numbers >= 1) & (numbers <= input_records)]
        where[numbers] |= flag
        if flag in (IN_OUTPUT, IN_DUPLICATES):
            seen[:] += np.bincount(numbers, minlength=size)

    place(output_numbers, IN_OUTPUT, "output records")
    number = np.array([r[0] for r in rows], dtype=np.int64)
    reason = np.array([r[1] for r in rows], dtype=object)
    step = np.array([r[2] for r in rows], dtype=object)
    is_duplicate = reason == DUPLICATE
    duplicate_numbers = number[is_duplicate]
    place(duplicate_numbers, IN_DUPLICATES, "duplicate rejects")
    whole = number[~is_duplicate]
    twice = np.nonzero(np.bincount(whole[(whole >= 1) & (whole <= input_records)]) > 1)[0]
    if len(twice):
        problems.append(f"source records rejected twice ({shown(twice.tolist())})")
    place(whole, IN_REJECTS, "rejects")
    blocks = np.array([b[3] for b in intervals], dtype=np.int64)
    place(blocks, IN_BLOCKS, "reference blocks")
    state = where[1:]
    rejected_or_block = (state & IN_REJECTS).astype(bool) & (state != IN_REJECTS)
    rejected_or_block |= (state & IN_BLOCKS).astype(bool) & (state != IN_BLOCKS)
    in_output = (state & (IN_OUTPUT | IN_DUPLICATES)).astype(bool)
    short = in_output & (np.minimum(seen[1:], 255) != pieces[1:size])
    missing = np.nonzero(state == 0)[0] + 1
    if len(missing):
        problems.append(f"{len(missing)} source records are nowhere ({shown(missing.tolist())})")
    crossed = np.nonzero(rejected_or_block)[0] + 1
    if len(crossed):
        problems.append(
            f"{len(crossed)} source records are in more than one of output, rejects and "
            f"blocks ({shown(crossed.tolist())})"
        )
    lost = np.nonzero(short)[0] + 1
    if len(lost):
        items = [f"{n} ({seen[n]} of {pieces[n]} alleles)" for n in lost[:5].tolist()]
        problems.append(f"source records lost alleles in splitting: {shown(items)}")
    if problems:
        return "; ".join(problems)
    rejected = Counter()
    for r, s in zip(reason[~is_duplicate], step[~is_duplicate], strict=True):
        rejected[(s, reason_class(r))] += 1
    only = np.unique(duplicate_numbers)
    only = only[(where[only] & IN_OUTPUT) == 0]
    if len(only):
        rejected[("harmonise", DUPLICATE)] = len(only)
    return {
        "output_records": len(output_numbers),
        "output_source_records": int(np.count_nonzero(state & IN_OUTPUT)),
        "rejected": dict(sorted(rejected.items())),
        "duplicate_records": len(duplicate_numbers),
        "reference_blocks": int(np.count_nonzero(state & IN_BLOCKS)),
        "block_bases_out": sum(end - start for _, start, end, _ in intervals),
    }


REJECTS_HEADER = """##fileformat=VCFv4.2
##contig=<ID=chr1,length=100000000>
##INFO=<ID=GENOPASS_SOURCE,Number=1,Type=Integer,Description="n">
##INFO=<ID=GENOPASS_REJECT,Number=1,Type=String,Description="r">
##INFO=<ID=GENOPASS_STEP,Number=1,Type=String,Description="s">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO
"""


def scenario(rng: random.Random, records: int, broken: str | None):
    """A placement of every source number (output, rejects, blocks), then one rule broken."""
    pieces = np.zeros(records + 1, dtype=np.uint8)
    output, rows, intervals = [], [], []
    for n in range(1, records + 1):
        kind = rng.choice(["output", "output", "output", "reject", "block", "duplicate"])
        if kind == "reject":
            rows.append((n, rng.choice(["ref_mismatch", "invalid_allele"]), "harmonise"))
        elif kind == "block":
            for _ in range(rng.randint(1, 2)):
                start = rng.randrange(10**6)
                intervals.append(("chr1", start, start + rng.randint(1, 50), n))
        else:
            pieces[n] = rng.randint(1, 3)
            duplicates = rng.randint(0, pieces[n] - (kind == "output"))
            output += [n] * (int(pieces[n]) - duplicates)
            rows += [(n, DUPLICATE, "harmonise")] * duplicates
    if broken == "missing" and output:
        output.remove(rng.choice(output))
    elif broken == "outside":
        where = rng.choice(["output", "rows", "duplicates", "blocks"])
        number = rng.choice([0, records + 1, records + 7])
        if where == "output":
            output.insert(rng.randrange(len(output) + 1), number)
        elif where == "blocks":
            intervals.append(("chr1", 5, 9, number))
        else:
            reason = DUPLICATE if where == "duplicates" else "ref_mismatch"
            rows.append((number, reason, "harmonise"))
    elif broken == "twice":
        rows += [(rng.randint(1, records), "ref_mismatch", "harmonise")] * 2
    elif broken == "crossed":  # a number in the blocks and elsewhere
        in_blocks = {b[3] for b in intervals}
        others = [n for n in range(1, records + 1) if n not in in_blocks]
        if others:
            intervals.append(("chr1", 1, 2, rng.choice(others)))
        else:
            output.append(rng.randint(1, records))
    elif broken == "lost":
        split = np.flatnonzero(pieces)
        if len(split):
            pieces[rng.choice(split.tolist())] += 1
        else:
            output.append(1)
    rng.shuffle(rows)
    return output, rows, intervals, pieces


@pytest.mark.parametrize(
    "broken", [None, None, "missing", "outside", "twice", "crossed", "lost", "mixed"]
)
def test_measure_gives_what_the_whole_array_version_gave(tmp_path, monkeypatch, broken):
    small_batches(monkeypatch, accounting)
    monkeypatch.setattr(accounting, "CHUNK", 7)  # the final checks in many chunks
    rng = random.Random(hash(broken) % 1000 + 3)
    for trial in range(6):
        records = rng.randint(1, 60)
        if broken == "mixed":
            output, rows, intervals, pieces = scenario(rng, records, "missing")
            extra = scenario(rng, records, "outside")
            rows += extra[1][:3]
            output += extra[0][:4]
        else:
            output, rows, intervals, pieces = scenario(rng, records, broken)
        rejects = tmp_path / f"rejects{trial}.vcf"
        lines = [
            f"chr1\t{i + 1}\t.\tA\tC\t.\t.\tGENOPASS_SOURCE={n};GENOPASS_REJECT={r};"
            f"GENOPASS_STEP={s}\n"
            for i, (n, r, s) in enumerate(rows)
        ]
        rejects.write_text(REJECTS_HEADER + "".join(lines))
        blocks = tmp_path / f"blocks{trial}.bed"
        blocks.write_text("".join(f"{c}\t{a}\t{b}\t{n}\n" for c, a, b, n in intervals))
        numbers = tmp_path / f"numbers{trial}.tsv"
        numbers.write_text("".join(f"{n}\n" for n in output))
        expected = old_measure(records, np.array(output, dtype=np.int64), rows, intervals, pieces)
        for source in (OutputNumbers(numbers, "in.vcf.gz"), np.array(output, dtype=np.int64)):
            kwargs = dict(
                path="in.vcf.gz",
                work=tmp_path,
                input_records=records,
                output_numbers=source,
                rejects=rejects,
                blocks=blocks,
                pieces=pieces,
                samples=("S",),
                source_build="GRCh38",
                swapped={},
            )
            if isinstance(expected, str):
                with pytest.raises(AccountingError) as error:
                    accounting.measure(**kwargs)
                assert str(error.value) == f"in.vcf.gz: accounting does not add up: {expected}"
            else:
                got = accounting.measure(**kwargs)
                assert {k: getattr(got, k) for k in expected} == expected
        if broken not in (None, "mixed"):
            assert isinstance(expected, str), (broken, trial)


# -- the records norm kept out, found from the sites in batches -------------------------------


def old_excluded(size, sites_rows, output, duplicates):
    numbers = np.array([r[0] for r in sites_rows])
    chroms = [r[1] for r in sites_rows]
    positions = np.array([r[2] for r in sites_rows])
    alleles = np.array([r[3] for r in sites_rows])
    pieces = np.zeros(size + 1, dtype=np.uint8)
    pieces[numbers] = np.minimum(alleles, 255)
    came_out = np.zeros(size + 1, dtype=bool)
    came_out[output[(output >= 1) & (output <= size)]] = True
    came_out[duplicates] = True
    entered = (alleles > 0) & (positions != 0)
    excluded = []
    for row in np.nonzero(entered & ~came_out[numbers])[0].tolist():
        rank = 0
        while row - rank > 0 and (
            positions[row - rank - 1] == positions[row] and chroms[row - rank - 1] == chroms[row]
        ):
            rank += 1
        excluded.append((int(numbers[row]), chroms[row], int(positions[row]), rank))
    return pieces, excluded, int(np.count_nonzero(entered))


@pytest.mark.parametrize("seed", range(4))
def test_excluded_records_are_found_and_ranked_as_before(tmp_path, monkeypatch, seed):
    small_batches(monkeypatch, stream, 48)
    rng = random.Random(seed)
    size = rng.randint(20, 300)
    rows, pos, chrom = [], 1, "chr1"
    for n in range(1, size + 1):
        if rng.random() < 0.05:
            chrom, pos = rng.choice(["chr2", "chrX", "chr10"]), 0
        if rng.random() < 0.6:  # many records at one POS: runs across batches
            pos += rng.randint(1, 5)
        rows.append((n, chrom, pos, rng.choice([0, 1, 1, 2, 300])))
    output = np.array([n for n in range(1, size + 1) if rng.random() < 0.3] + [0, size + 2])
    duplicates = [n for n in range(1, size + 1) if rng.random() < 0.1]
    sites = tmp_path / "sites.tsv"
    sites.write_text("".join(f"{n}\t{c}\t{p}\t{a}\n" for n, c, p, a in rows))
    dups = tmp_path / "duplicates.vcf"
    dups.write_text(
        "".join(f"chr1\t5\t.\tA\tC\t.\t.\tX=1;GENOPASS_SOURCE={n}\n" for n in duplicates)
    )
    result = types.SimpleNamespace(size=size, sites=sites, duplicates=dups)
    got = stream._excluded_records(result, OutputNumbers.of(output))
    pieces, excluded, entered = old_excluded(size, rows, output, duplicates)
    assert np.array_equal(got.pieces, pieces)
    assert got.excluded == excluded and len(excluded) > 3
    assert got.entered == entered
