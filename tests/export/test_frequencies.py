"""Frequencies against bcftools' own counts on sample subsets, suppression, and a DuckDB query.

Oracle: the cohort VCF, partial calls set missing (a genotype with a missing allele is a
no-call), ploidy fixed from sex with ``bcftools +fixploidy`` (GRCh38 PARs), cut to the
population's samples with ``bcftools view -s`` and counted by ``bcftools +fill-tags``.
"""

from __future__ import annotations

import json
import subprocess

import duckdb
import pyarrow.parquet as pq
from export_helpers import DATASET, MIN_CELL_COUNT, Built

PLOIDY = """\
chrX 1 10000 M 1
chrX 2781480 155701382 M 1
chrX 156030896 156040895 M 1
"""


QUERY = "%CHROM\t%POS\t%REF\t%ALT\t%AC\t%AN\t%AC_Het\t%AC_Hom\t%AC_Hemi\n"


def oracle(built: Built, samples: list[str]) -> dict[tuple[str, int, str, str], tuple[int, ...]]:
    """{(chrom, pos, ref, alt): (AC, AN, AC_Het, AC_Hom, AC_Hemi)} from bcftools."""
    work = built.work
    sexes = work / "oracle.sexes.txt"
    sexes.write_text(
        "".join(f"{s} {'M' if x == 'male' else 'F'}\n" for s, x in built.sex_of().items())
    )
    ploidy = work / "oracle.ploidy.txt"
    ploidy.write_text(PLOIDY)
    stages = [
        ["bcftools", "+setGT", str(built.cohort), "--", "-t", "q", "-n", ".", "-i", 'GT~"\\."'],
        ["bcftools", "+fixploidy", "-", "--", "-s", str(sexes), "-p", str(ploidy)],
        ["bcftools", "view", "-s", ",".join(samples), "-"],
        ["bcftools", "+fill-tags", "-", "--", "-t", "AC,AN,AC_Het,AC_Hom,AC_Hemi"],
        ["bcftools", "query", "-f", QUERY],
    ]  # fmt: skip
    data = None
    for stage in stages:
        data = subprocess.run(stage, input=data, capture_output=True, check=True).stdout
    counts = {}
    for line in data.decode().splitlines():
        chrom, pos, ref, alt, *numbers = line.split("\t")
        counts[(chrom, int(pos), ref, alt)] = tuple(int(n) for n in numbers)
    return counts


def read_rows(built: Built) -> list[dict]:
    rows = []
    for path in sorted(built.frequencies.glob("allele-freq-chr*.parquet")):
        chromosome = path.name.split(".")[0].removeprefix("allele-freq-chr")
        for row in pq.read_table(path).to_pylist():
            rows.append({**row, "chrom": f"chr{chromosome}"})
    return rows


def members(built: Built, population: str) -> list[str]:
    country_of, sex_of = built.country_of(), built.sex_of()
    code, _, sex = population.partition("_")
    wanted = {"F": "female", "M": "male", "": None}[sex]
    return [
        s
        for s in country_of
        if (code == "ALL" or country_of[s] == code) and (wanted is None or sex_of[s] == wanted)
    ]


def test_every_row_equals_bcftools_counts_of_its_population(built: Built) -> None:
    rows = read_rows(built)
    assert rows, "no frequency row survived suppression"
    cache: dict[str, dict] = {}
    for row in rows:
        population = row["POPULATION"]
        if population not in cache:
            cache[population] = oracle(built, members(built, population))
        key = (row["chrom"], row["POS"] + 1, row["REF"], row["ALT"])
        want = cache[population][key]
        got = (row["AC"], row["AN"], row["AC_HET"], row["AC_HOM"], row["AC_HEMI"])
        assert got == want, (population, key)
        assert row["AF"] == row["AC"] / row["AN"]
        assert row["AC"] == row["AC_HET"] + row["AC_HOM"] + row["AC_HEMI"]
    # the checks reached sex strata and the hemizygous counts of males on chrX
    assert {r["POPULATION"] for r in rows} >= {"ALL", "DE"}
    assert any(r["AC_HEMI"] > 0 for r in rows)


def test_no_row_exposes_a_small_count(built: Built) -> None:
    rows = read_rows(built)
    for row in rows:
        for column in ("AC", "AC_HET", "AC_HOM", "AC_HEMI"):
            assert not 1 <= row[column] < MIN_CELL_COUNT, (row, column)
        assert not 1 <= row["AN"] - row["AC"] < MIN_CELL_COUNT, row
        assert len(members(built, row["POPULATION"])) >= MIN_CELL_COUNT
    # populations smaller than the minimum (FR_F has 2, SE_F 1) never appear
    assert not {"FR_F", "FR_M", "SE", "SE_F"} & {r["POPULATION"] for r in rows}


def test_suppression_counts_add_up(built: Built) -> None:
    summary = json.loads(built.summary.read_text())
    variants = (
        duckdb.connect()
        .execute(
            f"SELECT count(*) FROM read_parquet('{built.export}/parquet/variants/*/*.parquet')"
        )
        .fetchone()[0]
    )
    populations = {r["POPULATION"] for r in read_rows(built)}
    assert populations  # 11 populations: ALL, ALL_F, ALL_M and DE, FR, SE with their strata
    assert summary["rows_computed"] == variants * 11
    assert summary["rows_written"] == len(read_rows(built))
    assert summary["rows_written"] + summary["rows_suppressed"] == summary["rows_computed"]
    # every row of a population with fewer than MIN_CELL_COUNT people: FR_F, FR_M, SE, SE_F
    assert summary["suppressed"]["population_too_small"] == variants * 4


def test_a_male_hemizygous_x_call_counts_once(built: Built) -> None:
    # a chrX site outside the PAR where exactly one DE male carries ALT (hand count from GT)
    males = members(built, "DE_M")
    con = duckdb.connect()
    rows = con.execute(
        f"""SELECT pos, ref, alt, list(sample) FILTER (alt_count > 0) AS carriers,
            list(sample) FILTER (alt_count IS NULL) AS nocalls, list(gt) AS gts
        FROM read_parquet('{built.export}/parquet/genotypes/*/*.parquet')
        WHERE chrom = 'chrX' AND pos > 2781479 GROUP BY ALL
        HAVING count(*) FILTER (alt_count > 0) > 0 ORDER BY pos"""
    ).fetchall()
    assert rows
    from genopass.export.frequencies import write_frequencies
    from genopass.export.samples import SampleRecord

    # without suppression (min_cell_count 1) every count is visible
    records = [
        SampleRecord(s, built.country_of()[s], built.sex_of()[s], (), "")
        for s in sorted(built.country_of())
    ]
    out = built.work / "unsuppressed"
    from genopass.export.frequencies import FrequencyOptions

    write_frequencies(
        built.export / "parquet", records, FrequencyOptions(out, DATASET, min_cell_count=1)
    )
    table = (
        duckdb.connect()
        .execute(
            f"SELECT * FROM read_parquet('{out}/{DATASET}/GRCh38/allele-freq-chrX.*.parquet') "
            "WHERE POPULATION = 'DE_M'"
        )
        .fetchall()
    )
    got = {(r[0] + 1, r[1], r[2]): r for r in table}
    checked = 0
    for pos, ref, alt, carriers, nocalls, gts in rows:
        de_males = [c for c in carriers if c in males]
        row = got[(pos, ref, alt)]
        ac, ac_het, ac_hom, ac_hemi, an = row[6:11]
        # each male carrier counts one ALT allele, whether written "1" or "1/1"
        assert ac == ac_hemi == len(de_males), (pos, carriers, gts)
        assert ac_het == ac_hom == 0
        # every DE male called there adds one allele to AN, a no-call none
        assert an == len(males) - len([c for c in nocalls or [] if c in males])
        checked += 1
    assert checked


def test_duckdb_answers_af_among_female_samples_of_a_country(built: Built) -> None:
    """The docs/export.md query: AF of chrN:POS REF>ALT among female samples of DE."""
    rows = read_rows(built)
    target = next(r for r in rows if r["POPULATION"] == "DE_F")
    chromosome = target["chrom"].removeprefix("chr")
    folder = built.frequencies
    af = (
        duckdb.connect()
        .execute(
            f"""SELECT AF FROM read_parquet('{folder}/allele-freq-chr{chromosome}.*.parquet')
        WHERE POS = {target["POS"] + 1} - 1 AND REF = '{target["REF"]}'
          AND ALT = '{target["ALT"]}' AND POPULATION = 'DE_F'"""
        )
        .fetchone()[0]
    )
    want = oracle(built, members(built, "DE_F"))[
        (target["chrom"], target["POS"] + 1, target["REF"], target["ALT"])
    ]
    assert af == want[0] / want[1]
    # the same from the export's genotypes and samples tables (hom-ref rows implied)
    export = built.export / "parquet"
    count = (
        duckdb.connect()
        .execute(
            f"""WITH f AS (SELECT sample FROM '{export}/samples/samples.parquet'
                       WHERE country = 'DE' AND sex = 'female')
        SELECT sum(coalesce(g.alt_count, 0)), 2 * (SELECT count(*) FROM f)
               - 2 * count(g.sample) FILTER (WHERE g.alt_count IS NULL)
        FROM f LEFT JOIN (SELECT * FROM read_parquet('{export}/genotypes/*/*.parquet')
              WHERE chrom = '{target["chrom"]}' AND pos = {target["POS"] + 1}
              AND ref = '{target["REF"]}' AND alt = '{target["ALT"]}') g USING (sample)"""
        )
        .fetchone()
    )
    assert count[0] / count[1] == af


def test_individuals_and_beacon_lines(built: Built) -> None:
    individuals = pq.read_table(built.frequencies / "individuals.parquet").to_pylist()
    samples = pq.read_table(built.export / "parquet" / "samples" / "samples.parquet")
    sexes = samples["sex"].to_pylist()
    assert [r["INDEX"] for r in individuals] == list(range(len(sexes)))
    assert [r["SEX"] for r in individuals] == [{"female": "F", "male": "M"}.get(s) for s in sexes]
    lines = (built.frequencies / "frequency-in-populations.jsonl").read_text().splitlines()
    by_variant: dict[tuple, list] = {}
    for row in read_rows(built):
        by_variant.setdefault((row["chrom"], row["POS"], row["REF"], row["ALT"]), []).append(row)
    assert len(lines) == len(by_variant)
    for line in lines:
        record = json.loads(line)
        key = (
            f"chr{record['referenceName']}",
            record["start"],
            record["referenceBases"],
            record["alternateBases"],
        )
        (entry,) = record["frequencyInPopulations"]
        assert set(entry) == {"source", "sourceReference", "frequencies"}
        assert [f["population"] for f in entry["frequencies"]] == [
            r["POPULATION"] for r in by_variant[key]
        ]
        for f, r in zip(entry["frequencies"], by_variant[key], strict=True):
            assert (f["alleleFrequency"], f["alleleCount"], f["alleleNumber"]) == (
                r["AF"],
                r["AC"],
                r["AN"],
            )
