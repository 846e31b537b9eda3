"""The demo's export package end to end (issue 10), on one workflow run of the demo with a
Crypt4GH recipient and ``export.min_cell_count: 2`` (so that country rows survive on a demo of
one to three people per country; the demo's own config keeps 5).

Every expected value is computed here with other tools: bcftools (+setGT, +fixploidy,
+fill-tags) for the frequencies and counts, sha256sum, jsonschema, rocrate, the crypt4gh command
line, DuckDB on the README's own query text.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
from pathlib import Path
from urllib.parse import unquote

import duckdb
import jsonschema
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml
from helpers import BIN, ENV, copy_demo, expected_pseudonyms, genopass_run
from test_demo_end_to_end import exported_bytes, forbidden_words

from genopass.paths import REPO_ROOT, SCHEMA_DIR

pytestmark = pytest.mark.workflow

MIN_CELL_COUNT = 2
CONFIG = "config/export_test.yaml"
MARKERS = {".snakemake_timestamp"}  # Snakemake's, inside directory outputs; not data
NOT_ENCRYPTED = {"MANIFEST.tsv", "SHA256SUMS"}


def make_keys(workdir: Path) -> None:
    """The recipient's and an outsider's key pairs, made with `genopass keys`."""
    for name in ("recipient", "outsider"):
        subprocess.run(
            [str(BIN / "genopass"), "keys", name, "--out-dir", "keys"],
            cwd=workdir,
            check=True,
            capture_output=True,
            env=ENV,
        )


def run_export(workspace: Path, workdir: Path, keys: Path | None = None) -> Path:
    """The demo with the recipient's public key and MIN_CELL_COUNT; returns results/."""
    copy_demo(workspace, workdir)
    if keys is None:
        make_keys(workdir)
    else:
        shutil.copytree(keys, workdir / "keys")
    config = yaml.safe_load((workdir / "config" / "config.yaml").read_text())
    config["export"]["min_cell_count"] = MIN_CELL_COUNT
    config["export"]["encrypt"]["recipients"] = ["keys/recipient.pub"]
    (workdir / CONFIG).write_text(yaml.safe_dump(config))
    proc = genopass_run(workdir, "--configfile", CONFIG)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return workdir / "results"


@pytest.fixture(scope="module")
def results(demo_workspace: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return run_export(demo_workspace, tmp_path_factory.mktemp("export1"))


@pytest.fixture(scope="module")
def export(results: Path) -> Path:
    return results / "export" / "demo"


@pytest.fixture(scope="module")
def sheet(results: Path) -> pd.DataFrame:
    """samples.tsv with each sample's pseudonym (computed from the key here), the QC gate's
    decision (summary.tsv: exported yes/no) and the sex that strata use: the gate's inferred sex
    when it tells female or male, else the reported one."""
    workspace = results.parent
    table = pd.read_csv(workspace / "config" / "samples.tsv", sep="\t", dtype=str)
    table["pseudonym"] = table["sample"].map(expected_pseudonyms(workspace))
    qc = pd.read_csv(results / "qc" / "summary.tsv", sep="\t", dtype=str).set_index("sample")
    table["exported"] = table["sample"].map(qc["exported"]) == "yes"
    inferred = table["sample"].map(qc["inferred_sex"])
    table["stratum_sex"] = inferred.where(inferred.isin(["female", "male"]), table["sex"])
    return table


@pytest.fixture(scope="module")
def people(sheet: pd.DataFrame) -> pd.DataFrame:
    """The samples the QC gate exports."""
    return sheet[sheet["exported"]]


def files_of(root: Path) -> set[str]:
    return {
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.name not in MARKERS
    }


def plain_files(export: Path) -> set[str]:
    return {f for f in files_of(export) if not f.startswith("encrypted/")} - NOT_ENCRYPTED


def test_the_export_holds_every_promised_file_and_nothing_else(export, results, people):
    # the samples of exported.tsv, the export rules' list, are those summary.tsv says are exported
    gate = pd.read_csv(results / "qc" / "exported.tsv", sep="\t", dtype=str)
    assert sorted(gate["pseudonym"]) == sorted(people["pseudonym"])
    grch38 = "frequencies/demo/GRCh38"
    plain = {
        "vcf/cohort.vcf.gz",
        "vcf/cohort.vcf.gz.tbi",
        *(f"vcf/{p}.vcf.gz{ext}" for p in people["pseudonym"] for ext in ("", ".tbi")),
        *(f"parquet/{t}/chrom={c}/part-0.parquet" for t in ("variants", "genotypes")
          for c in ("chr21", "chr22", "chrX")),
        "parquet/samples/samples.parquet",
        *(f"{grch38}/allele-freq-chr{n}.0.parquet" for n in ("21", "22", "X")),
        f"{grch38}/individuals.parquet",
        f"{grch38}/frequency-in-populations.jsonl",
        "metadata.json",
        "workflow/Snakefile",
        "ro-crate-metadata.json",
    }  # fmt: skip
    encrypted = {f"encrypted/{f}.c4gh" for f in plain} | {"encrypted/PLAINTEXT.tsv"}
    assert files_of(export) == plain | encrypted | NOT_ENCRYPTED
    assert not (export / "private").exists()


def test_sha256sum_checks_every_file(export):
    proc = subprocess.run(
        ["sha256sum", "--strict", "-c", "SHA256SUMS"], cwd=export, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    listed = {line.split("  ", 1)[1] for line in (export / "SHA256SUMS").read_text().splitlines()}
    assert listed == files_of(export) - {"SHA256SUMS"}


def test_manifest_lists_sizes_checksums_and_each_copy_plaintext(export):
    manifest = pd.read_csv(export / "MANIFEST.tsv", sep="\t", dtype=str, keep_default_na=False)
    assert set(manifest["path"]) == files_of(export) - NOT_ENCRYPTED
    for row in manifest.itertuples():
        data = (export / row.path).read_bytes()
        assert (int(row.size), row.sha256, row.md5) == (
            len(data), hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest()
        )  # fmt: skip
        plain = re.fullmatch(r"encrypted/(.+)\.c4gh", row.path)
        if plain:
            data = (export / plain.group(1)).read_bytes()
            want = (str(len(data)), hashlib.sha256(data).hexdigest(), hashlib.md5(data).hexdigest())
        else:
            want = ("", "", "")
        assert (row.plaintext_size, row.plaintext_sha256, row.plaintext_md5) == want, row.path


def crypt4gh_decrypt(encrypted: Path, secret: Path) -> subprocess.CompletedProcess:
    with open(encrypted, "rb") as handle:
        return subprocess.run(
            [str(BIN / "crypt4gh"), "decrypt", "--sk", str(secret)],
            stdin=handle,
            capture_output=True,
            env={**ENV, "C4GH_PASSPHRASE": ""},
        )


def test_the_recipient_decrypts_every_copy_to_the_plain_bytes(export, results):
    keys = results.parent / "keys"
    for rel in sorted(plain_files(export)):
        proc = crypt4gh_decrypt(export / "encrypted" / f"{rel}.c4gh", keys / "recipient.sec")
        assert proc.returncode == 0, (rel, proc.stderr)
        assert proc.stdout == (export / rel).read_bytes(), rel
    outsider = crypt4gh_decrypt(export / "encrypted" / "metadata.json.c4gh", keys / "outsider.sec")
    assert outsider.returncode != 0
    assert b'"dataset"' not in outsider.stdout


def test_metadata_validates_and_counts_equal_the_files(export, people):
    metadata = json.loads((export / "metadata.json").read_text())
    schema = json.loads((SCHEMA_DIR / "metadata.schema.json").read_text())
    jsonschema.validate(metadata, schema, cls=jsonschema.Draft202012Validator)
    cohort = export / "vcf" / "cohort.vcf.gz"
    records = bcftools("view", "-H", cohort).count("\n")
    carried = bcftools("query", "-i", 'GT="alt" | GT="mis"', "-f", "[%SAMPLE\n]", cohort)
    rows = frequency_rows(export)
    counts = metadata["counts"]
    assert counts["samples"] == len(people) == pq.read_metadata(samples_parquet(export)).num_rows
    assert counts["variants"] == records
    assert counts["genotype_rows"] == carried.count("\n")
    assert counts["frequency_rows"] == len(rows)
    assert sorted(s["sample"] for s in metadata["samples"]) == sorted(people["pseudonym"])
    assert metadata["parameters"]["min_cell_count"] == str(MIN_CELL_COUNT)
    assert metadata["parameters"]["recipients"] == "1"


# --- frequencies ---------------------------------------------------------------------------------

COUNTS = "%CHROM\t%POS\t%REF\t%ALT\t%AC\t%AN\t%AC_Het\t%AC_Hom\t%AC_Hemi\n"


def bcftools(*args: str | Path, stdin: bytes | None = None) -> str:
    proc = subprocess.run(["bcftools", *map(str, args)], input=stdin, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc.stdout.decode()


def ploidy_files(work: Path, people: pd.DataFrame) -> tuple[Path, Path]:
    """+fixploidy's sex and ploidy files: each exported sample's stratum sex (M, else F: only
    males change), and a male's one copy of the whole demo chrX, which is 90 kb and not GRCh38's,
    so it has no pseudo-autosomal region (docs/qc.md); its length is read from the .fai here."""
    fai = (work / "resources" / "demo" / "GRCh38.demo.fa.fai").read_text().splitlines()
    x_length = dict(line.split("\t")[:2] for line in fai)["chrX"]
    sexes, ploidy = work / "oracle.sexes.txt", work / "oracle.ploidy.txt"
    sexes.write_text(
        "".join(f"{p} {'M' if x == 'male' else 'F'}\n" for p, x in zip(
            people["pseudonym"], people["stratum_sex"], strict=True))
    )  # fmt: skip
    ploidy.write_text(f"chrX 1 {x_length} M 1\n")
    return sexes, ploidy


def population_counts(
    cohort: Path, samples: list[str], ploidy: tuple[Path, Path] | None = None
) -> dict[tuple, tuple[int, ...]]:
    """{(chrom, pos, ref, alt): (AC, AN, AC_Het, AC_Hom, AC_Hemi)} of these samples, by bcftools:
    a genotype with a missing allele set missing (a no-call), ploidy fixed from sex (+fixploidy
    with ``ploidy``'s sex and ploidy files: a male's 1/1 on chrX becomes 1, counted once, in
    AC_Hemi), then +fill-tags."""
    nocalls = subprocess.run(
        ["bcftools", "+setGT", str(cohort), "--", "-t", "q", "-n", ".", "-i", 'GT~"\\."'],
        capture_output=True,
        check=True,
    ).stdout
    if ploidy is not None:
        sexes, table = ploidy
        nocalls = subprocess.run(
            ["bcftools", "+fixploidy", "-", "--", "-s", str(sexes), "-p", str(table)],
            input=nocalls, capture_output=True, check=True,
        ).stdout  # fmt: skip
    subset = subprocess.run(
        ["bcftools", "view", "-s", ",".join(samples), "-"],
        input=nocalls,
        capture_output=True,
        check=True,
    ).stdout
    filled = subprocess.run(
        ["bcftools", "+fill-tags", "-", "--", "-t", "AC,AN,AC_Het,AC_Hom,AC_Hemi"],
        input=subset,
        capture_output=True,
        check=True,
    ).stdout
    table = bcftools("query", "-f", COUNTS, "-", stdin=filled)
    counts = {}
    for line in table.splitlines():
        chrom, pos, ref, alt, *numbers = line.split("\t")
        counts[(chrom, int(pos), ref, alt)] = tuple(map(int, numbers))
    return counts


def populations(people: pd.DataFrame) -> dict[str, list[str]]:
    """Every population with at least one member: ALL, each country, and their _F/_M strata."""
    found: dict[str, list[str]] = {}
    for row in people.itertuples():
        suffix = {"female": ["_F"], "male": ["_M"]}.get(row.stratum_sex, [])
        for code in ("ALL", row.country):
            for name in [code] + [code + s for s in suffix]:
                found.setdefault(name, []).append(row.pseudonym)
    return found


def frequency_rows(export: Path) -> list[dict]:
    rows = []
    for path in sorted((export / "frequencies" / "demo" / "GRCh38").glob("allele-freq-*.parquet")):
        chromosome = path.name.removeprefix("allele-freq-chr").split(".")[0]
        rows += [{**r, "chrom": f"chr{chromosome}"} for r in pq.read_table(path).to_pylist()]
    return rows


def samples_parquet(export: Path) -> Path:
    return export / "parquet" / "samples" / "samples.parquet"


@pytest.fixture(scope="module")
def expected_frequencies(export, people, results) -> dict[str, dict[tuple, tuple[int, ...]]]:
    cohort = export / "vcf" / "cohort.vcf.gz"
    ploidy = ploidy_files(results.parent, people)
    return {
        name: population_counts(cohort, chosen, ploidy)
        for name, chosen in populations(people).items()
    }


def suppression(counts: tuple[int, ...], members: int) -> str | None:
    """Why DESIGN.md's small-cell rule drops a row, or None when it is kept (computed here)."""
    ac, an, het, hom, hemi = counts
    if members < MIN_CELL_COUNT:
        return "population_too_small"
    if any(1 <= value < MIN_CELL_COUNT for value in (ac, het, hom, hemi, an - ac)):
        return "small_count"
    if an == 0:
        return "no_call"
    return None


AUTOSOMES = ("chr21", "chr22")


def test_every_frequency_row_equals_bcftools_counts_of_its_population(
    export, people, expected_frequencies
):
    """The autosomes' rows (chrX's: the test after the next)."""
    rows = frequency_rows(export)
    assert {r["chrom"] for r in rows} == {*AUTOSOMES, "chrX"}
    for row in (r for r in rows if r["chrom"] in AUTOSOMES):
        key = (row["chrom"], row["POS"] + 1, row["REF"], row["ALT"])
        want = expected_frequencies[row["POPULATION"]][key]
        assert (row["AC"], row["AN"], row["AC_HET"], row["AC_HOM"], row["AC_HEMI"]) == want, key
        assert row["AF"] == want[0] / want[1]
    # the sex strata and countries of at least MIN_CELL_COUNT people were reached
    published = {r["POPULATION"] for r in rows}
    assert {"ALL", "ALL_F", "ALL_M"} <= published
    assert published & set(people["country"])


def small_cell_rule(
    people: pd.DataFrame, expected: dict[str, dict[tuple, tuple[int, ...]]], contigs: tuple
) -> tuple[set[tuple], dict[str, int]]:
    """(rows kept, rows dropped by reason) of DESIGN.md's rule on the oracle's counts."""
    members = {name: len(m) for name, m in populations(people).items()}
    kept, dropped = set(), {}
    for name, counts in expected.items():
        for key, numbers in counts.items():
            if key[0] not in contigs:
                continue
            reason = suppression(numbers, members[name])
            if reason is None:
                kept.add((name, *key))
            else:
                dropped[reason] = dropped.get(reason, 0) + 1
    return kept, dropped


def row_keys(rows: list[dict], contigs: tuple) -> set[tuple]:
    return {
        (r["POPULATION"], r["chrom"], r["POS"] + 1, r["REF"], r["ALT"])
        for r in rows
        if r["chrom"] in contigs
    }


def test_exactly_the_rows_the_small_cell_rule_keeps_are_written(
    export, people, expected_frequencies
):
    """On the autosomes (chrX: the next test)."""
    members = {name: len(m) for name, m in populations(people).items()}
    kept, _ = small_cell_rule(people, expected_frequencies, AUTOSOMES)
    rows = frequency_rows(export)
    assert row_keys(rows, AUTOSOMES) == kept
    assert len([r for r in rows if r["chrom"] in AUTOSOMES]) == len(kept)
    # no row exposes a count between 1 and MIN_CELL_COUNT - 1, nor a population below it
    for row in rows:
        cells = (row["AC"], row["AC_HET"], row["AC_HOM"], row["AC_HEMI"], row["AN"] - row["AC"])
        assert not [value for value in cells if 1 <= value < MIN_CELL_COUNT], row
        assert members[row["POPULATION"]] >= MIN_CELL_COUNT, row


def test_chrx_rows_count_each_male_once_on_the_demo_chrx_without_par(
    export, people, expected_frequencies
):
    """chrX: a male has one copy of the demo's whole chrX (no PAR: it is not GRCh38's chrX), so
    his diploid-written 1/1 is one ALT in AC_HEMI and he adds 1 to AN (+fixploidy's count); the
    small-cell rule then keeps exactly the oracle's rows, and metadata.json's suppression counts
    are those of every contig.

    Before genopass frequencies read the reference's lengths, it applied GRCh38's PARs by
    position on any chrX, and 843 of the demo's 1,178 chrX rows differed from this oracle."""
    rows = frequency_rows(export)
    for row in (r for r in rows if r["chrom"] == "chrX"):
        key = (row["chrom"], row["POS"] + 1, row["REF"], row["ALT"])
        want = expected_frequencies[row["POPULATION"]][key]
        got = (row["AC"], row["AN"], row["AC_HET"], row["AC_HOM"], row["AC_HEMI"])
        assert got == want, (row["POPULATION"], key)
    males = int((people["stratum_sex"] == "male").sum())
    females = len(people) - males
    assert males and females
    everyone = expected_frequencies["ALL"]
    fully_called = [
        c for k, c in everyone.items() if k[0] == "chrX" and c[1] == males + 2 * females
    ]
    assert fully_called and any(c[4] > 0 for c in fully_called)  # AC_Hemi counted
    kept, dropped = small_cell_rule(people, expected_frequencies, ("chrX",))
    assert row_keys(rows, ("chrX",)) == kept
    _, autosomes = small_cell_rule(people, expected_frequencies, AUTOSOMES)
    for reason, count in autosomes.items():
        dropped[reason] = dropped.get(reason, 0) + count
    metadata = json.loads((export / "metadata.json").read_text())["counts"]
    assert metadata["frequency_rows_suppressed_by_reason"] == dict(sorted(dropped.items()))
    assert metadata["frequency_rows_suppressed"] == sum(dropped.values())


# --- the README's query -------------------------------------------------------------------------


def readme_queries() -> list[str]:
    """The SQL blocks of README.md's "Outputs" part that answer "AF of ... among ..."."""
    text = (REPO_ROOT / "README.md").read_text()
    blocks = re.findall(r"```sql\n(.*?)```", text, flags=re.DOTALL)
    return [block for block in blocks if block.startswith("-- AF of")]


def test_the_readme_query_answers_from_the_export_alone(export, people, monkeypatch):
    queries = readme_queries()
    assert len(queries) == 2
    cohort = export / "vcf" / "cohort.vcf.gz"
    monkeypatch.chdir(export)  # the README runs them in the export folder
    for query in queries:
        # "-- AF of chr22:9986 A>C among female samples of FR ..." or "... among all samples ..."
        where = re.match(
            r"-- AF of (chr\w+):(\d+) (\w+)>(\w+) among (all samples|female samples of (\w\w))",
            query,
        )
        assert where, query
        chrom, pos, ref, alt, _among, country = where.groups()
        chosen = people
        if country:
            chosen = people[(people["sex"] == "female") & (people["country"] == country)]
        assert len(chosen) >= 1
        counts = population_counts(cohort, list(chosen["pseudonym"]))
        ac, an, *_ = counts[(chrom, int(pos), ref, alt)]
        (got,) = duckdb.connect().execute(query).fetchone()
        assert an and got == ac / an, query


# --- privacy and determinism ---------------------------------------------------------------------


def test_no_local_id_path_or_user_name_in_any_byte_decrypted_or_not(
    export, results, sheet, tmp_path
):
    # nor the pseudonym of a sample the QC gate drops
    forbidden = forbidden_words(results) | set(sheet.loc[~sheet["exported"], "pseudonym"])
    keys = results.parent / "keys"
    decrypted = tmp_path / "decrypted"
    for rel in plain_files(export):
        proc = crypt4gh_decrypt(export / "encrypted" / f"{rel}.c4gh", keys / "recipient.sec")
        (decrypted / rel).parent.mkdir(parents=True, exist_ok=True)
        (decrypted / rel).write_bytes(proc.stdout)
    for root in (export, decrypted):
        for path, data in exported_bytes(root):
            for word in forbidden:
                assert word.encode() not in data, f"{word!r} in {path.relative_to(root)}"


def test_the_ro_crate_parses_and_lists_every_file_by_checksum(export):
    from rocrate.rocrate import ROCrate

    crate = ROCrate(str(export))
    results = {
        unquote(entity.id): entity["sha256"]
        for entity in crate.get_entities()
        if "File" in entity.type and not entity.id.startswith("ni:")
    }
    for rel, digest in results.items():
        assert hashlib.sha256((export / rel).read_bytes()).hexdigest() == digest, rel
    assert set(results) == plain_files(export) - {"ro-crate-metadata.json"}


def plaintext_checksums(export: Path) -> dict[str, tuple[str, ...]]:
    """path -> (size, sha256, md5) of each plain file; of each encrypted copy its plaintext's."""
    manifest = pd.read_csv(export / "MANIFEST.tsv", sep="\t", dtype=str, keep_default_na=False)
    found = {}
    for row in manifest.itertuples():
        if row.path.endswith(".c4gh"):
            found[row.path] = (row.plaintext_size, row.plaintext_sha256, row.plaintext_md5)
        else:
            found[row.path] = (row.size, row.sha256, row.md5)
    return found


def test_a_second_run_gives_identical_plaintext_checksums(
    demo_workspace, tmp_path, export, results
):
    second = run_export(demo_workspace, tmp_path, keys=results.parent / "keys")
    assert plaintext_checksums(second / "export" / "demo") == plaintext_checksums(export)
