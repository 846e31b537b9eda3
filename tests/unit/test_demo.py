"""The demo generator: deterministic, each centre's quirks present, truth = bcftools norm."""

from __future__ import annotations

import gzip
import re
import subprocess
from collections import Counter
from pathlib import Path

import pysam
import pytest
from helpers import DEMO

from genopass.demo import planted
from genopass.demo.make import generate_demo
from genopass.errors import UsageError
from genopass.export.pseudonym import load_key

REPO = Path(__file__).resolve().parents[2]
SEED = 20261124  # the CLI's default, which the workflow's demo uses

# Each VCF: its sample columns -> sheet IDs, and the contig names it must use.
VCFS = {
    "ctr_a.A-001.vcf.gz": ({"A-001": "A-001"}, {"21", "22", "X", "KI270731.1"}),
    "ctr_a.A-002.vcf.gz": ({"A-002": "A-002"}, {"21", "22", "X"}),
    "ctr_b.cohort.vcf.gz": (
        {"LABB_0001": "B-001", "LABB_0002": "B-002", "B-003": "B-003"},
        {"chr21", "chr22", "chrX", "chr22_KI270731v1_random"},
    ),
    "ctr_c.C-001.vcf.gz": ({"C-001": "C-001"}, {"NC_000021.9", "NC_000022.11", "NC_000023.11"}),
    "ctr_c.C-002.vcf.gz": (
        {"C-002": "C-002"},
        {"NC_000021.9", "NC_000022.11", "NC_000023.11", "NT_187388.1"},
    ),
}
# Written by hand here rather than read from the alias table, so the test checks the demo
# against the naming conventions themselves.
TO_UCSC = {
    "21": "chr21",
    "22": "chr22",
    "X": "chrX",
    "NC_000021.9": "chr21",
    "NC_000022.11": "chr22",
    "NC_000023.11": "chrX",
    "chr21": "chr21",
    "chr22": "chr22",
    "chrX": "chrX",
}
LENGTHS = {"chr21": "150000", "chr22": "120000", "chrX": "90000"}  # the demo's, by design
# Each person's chromosomes, written here by hand (the demo's design, docs/qc.md): a male has
# one chrX. B-003's sheet sex is unknown; C-002 is male, reported female (planted.WRONG_SEX).
GENETIC_SEX = {
    "A-001": "female", "A-002": "male", "B-001": "female", "B-002": "male", "B-003": "male",
    "C-001": "male", "C-002": "male", "D-001": "female", "D-002": "male", "E-001": "female",
    "E-002": "male",
}  # fmt: skip
NON_PRIMARY = {"KI270731.1", "chr22_KI270731v1_random", "NT_187388.1"}


@pytest.fixture(scope="module")
def demo(demo_workspace: Path) -> Path:
    """The session's demo (`genopass demo-data resources/demo`, default seed), read only."""
    return demo_workspace / DEMO


def bcftools(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bcftools", *args], input=stdin, capture_output=True, text=True, check=True
    )


def vcf_lines(path: Path) -> tuple[list[str], list[list[str]]]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        lines = handle.read().splitlines()
    header = [line for line in lines if line.startswith("#")]
    return header, [line.split("\t") for line in lines if not line.startswith("#")]


def read_truth(path: Path) -> list[tuple[str, ...]]:
    lines = path.read_text().splitlines()
    assert lines[0].split("\t") == ["chrom", "pos", "ref", "alt", "gt"]
    return [tuple(line.split("\t")) for line in lines[1:]]


def fasta_seq(demo: Path) -> dict[str, str]:
    with pysam.FastaFile(str(demo / "GRCh38.demo.fa")) as fasta:
        return {name: fasta.fetch(name) for name in fasta.references}


def test_same_seed_same_bytes_other_seed_other_data(
    demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # written to resources/demo as the session's demo was (units.tsv names the folder)
    monkeypatch.chdir(tmp_path)
    again = generate_demo(DEMO, seed=SEED)
    names = sorted(path.relative_to(DEMO).as_posix() for path in again)
    on_disk = sorted(p.relative_to(demo).as_posix() for p in demo.rglob("*") if p.is_file())
    assert names == on_disk
    # 22 of the VCF centres, 10 of CTR-D (D-001: 4 FASTQ, D-002: 2 FASTQ, 2 truth VCFs +
    # indexes), 9 of CTR-E (GRCh37 FASTA + .fai, chain, 2 VCFs + indexes, 2 truths), 2 of the QC
    # panel (panel.vcf.gz + .tbi)
    assert len(names) == 43
    for name in names:
        assert (demo / name).read_bytes() == (DEMO / name).read_bytes(), name
    other = tmp_path / "other"
    generate_demo(other, seed=SEED + 1)
    assert (other / "GRCh38.demo.fa").read_bytes() != (demo / "GRCh38.demo.fa").read_bytes()
    assert (other / "pseudonym.key").read_bytes() != (demo / "pseudonym.key").read_bytes()


def test_reference_is_grch38_like_with_repeats(demo: Path) -> None:
    fai = (demo / "GRCh38.demo.fa.fai").read_text().splitlines()
    assert [line.split("\t")[:2] for line in fai] == [[c, n] for c, n in LENGTHS.items()]
    lines = (demo / "GRCh38.demo.fa").read_text().splitlines()
    assert {len(line) for line in lines if not line.startswith(">")} <= set(range(1, 61))
    seqs = fasta_seq(demo)
    whole = "".join(seqs.values())
    assert set(whole) == set("ACGT")  # uppercase, no N
    assert 0.36 < (whole.count("G") + whole.count("C")) / len(whole) < 0.46
    assert re.search(r"A{12,}|C{12,}|G{12,}|T{12,}", whole)
    assert len(re.findall(r"(?:CA){8,}|(?:AC){8,}|(?:TG){8,}|(?:GT){8,}", whole)) >= 3
    assert re.search(r"(CAG|CTG|AAT|ATT|GGC|AAC|TTC|AGG)\1{5,}", whole)
    # copies of the repeated element share 40-mers that random sequence would not repeat
    counts = Counter(whole[i : i + 40] for i in range(0, len(whole) - 40))
    shared = [kmer for kmer, n in counts.items() if n >= 3 and len(set(kmer)) == 4]
    assert len(shared) >= 20


def test_key_is_a_usable_demo_secret(demo: Path) -> None:
    key = (demo / "pseudonym.key").read_text().strip()
    assert re.fullmatch(r"[0-9a-f]{64}", key)
    assert load_key(demo / "pseudonym.key") == key.encode()


@pytest.mark.parametrize("name", sorted(VCFS))
def test_vcf_readable_with_its_samples_and_contigs(demo: Path, name: str) -> None:
    columns, contigs = VCFS[name]
    path = demo / name
    assert (demo / f"{name}.tbi").is_file()
    samples = bcftools("query", "-l", str(path)).stdout.split()
    assert samples == list(columns)
    records = bcftools("view", "-H", str(path)).stdout.splitlines()
    assert 300 <= len(records) <= 1000
    assert {line.split("\t")[0] for line in records} == contigs
    header, rows = vcf_lines(path)
    assert header[0] == "##fileformat=VCFv4.2"
    declared = dict(re.findall(r"##contig=<ID=([^,]+),length=(\d+)>", "\n".join(header)))
    for contig in contigs:
        expected = LENGTHS.get(TO_UCSC.get(contig), "150754")
        assert declared[contig] == expected
    # sorted by position within contig, in header order
    order = list(declared)
    keys = [(order.index(row[0]), int(row[1])) for row in rows]
    assert keys == sorted(keys)
    # bcftools' own index query agrees that every record is reachable by region
    counted = sum(
        int(line.split("\t")[2]) for line in bcftools("index", "-s", str(path)).stdout.splitlines()
    )
    assert counted == len(rows)


def test_every_ref_matches_the_fasta_except_the_planted_mismatch(demo: Path) -> None:
    seqs = fasta_seq(demo)
    mismatches = []
    for name in VCFS:
        for row in vcf_lines(demo / name)[1]:
            if row[0] in NON_PRIMARY:
                continue
            chrom, pos, ref = TO_UCSC[row[0]], int(row[1]), row[3]
            if seqs[chrom][pos - 1 : pos - 1 + len(ref)] != ref:
                mismatches.append((name, chrom, pos, ref, row[4]))
    assert len(mismatches) == 1
    name, chrom, pos, ref, alt = mismatches[0]
    assert name == "ctr_c.C-001.vcf.gz"
    # neither allele is the reference base, so swapping REF/ALT cannot rescue it
    assert seqs[chrom][pos - 1] not in (ref, alt)


def _renamed_copy(src: Path, out: Path) -> Path:
    """UCSC names, and the undeclared INFO tag declared so that bcftools can process the file."""
    header, rows = vcf_lines(src)
    text = []
    for line in header:
        if line.startswith("##contig=<ID="):
            contig = line[len("##contig=<ID=") :].split(",")[0]
            line = line.replace(f"<ID={contig},", f"<ID={TO_UCSC.get(contig, 'chrUn_x')},")
        if line.startswith("#CHROM"):
            text.append('##INFO=<ID=CTRB_SCORE,Number=1,Type=String,Description="x">')
        text.append(line)
    for row in rows:
        if row[0] in NON_PRIMARY:
            continue  # not on the target: harmonisation rejects it
        text.append("\t".join([TO_UCSC[row[0]], *row[1:]]))
    out.write_text("\n".join(text) + "\n")
    return out


@pytest.mark.parametrize("name", sorted(VCFS))
def test_truth_equals_bcftools_norm(demo: Path, tmp_path: Path, name: str) -> None:
    columns, _ = VCFS[name]
    renamed = _renamed_copy(demo / name, tmp_path / "renamed.vcf")
    fasta = str(demo / "GRCh38.demo.fa")
    # -c x drops the planted REF mismatch, as harmonisation rejects it
    normed = bcftools("norm", "-m-any", "-f", fasta, "-c", "x", "-Ov", str(renamed))
    query = bcftools(
        "query", "-f", r"%CHROM\t%POS\t%REF\t%ALT[\t%GT]\n", "-", stdin=normed.stdout
    ).stdout.splitlines()
    for index, sample in enumerate(columns.values()):
        expected = [tuple(line.split("\t")[:4] + [line.split("\t")[4 + index]]) for line in query]
        truth = read_truth(demo / "truth" / f"{sample}.tsv")
        assert len(truth) == len(set(truth))
        assert set(truth) == set(expected), sample
        # sorted by contig then position
        keys = [(chrom, int(pos)) for chrom, pos, *_ in truth]
        assert keys == sorted(keys)
    # bcftools duplicates exactly the records the VCF holds twice; the truth lists them once
    duplicates = sum(n - 1 for n in Counter(query).values())
    assert duplicates == (1 if name == "ctr_b.cohort.vcf.gz" else 0)


def test_truth_holds_a_few_hundred_varied_variants_per_person(demo: Path) -> None:
    for sample in ("A-001", "A-002", "B-001", "B-002", "B-003", "C-001", "C-002"):
        rows = read_truth(demo / "truth" / f"{sample}.tsv")
        carried = [row for row in rows if set(row[4]) & set("123456789")]
        assert 200 <= len(carried) <= 700, sample
        kinds = Counter(
            "snv" if len(ref) == len(alt) == 1 else "del" if len(ref) > len(alt) else "ins"
            for _, _, ref, alt, _ in carried
        )
        assert kinds["snv"] > 100 and kinds["ins"] >= 10 and kinds["del"] >= 10, sample
        gts = Counter(gt.replace("|", "/") for *_, gt in carried)
        assert gts["1/1"] >= 10 and gts["0/1"] + gts["1/0"] >= 50, sample
        # split multiallelics: 1/2 became 1/0 and 0/1
        assert gts["1/0"] >= 1, sample
        # canonical: trimmed, and indels anchored on one shared first base
        for _, _, ref, alt, _ in rows:
            assert not (len(ref) > 1 and len(alt) > 1), (sample, ref, alt)
            if len(ref) != len(alt):
                assert ref[0] == alt[0]
        assert {row[0] for row in rows} == {"chr21", "chr22", "chrX"}


def _norm_stats(stderr: str) -> dict[str, int]:
    match = re.search(r"total/split/realigned/skipped:\s+(\d+)/(\d+)/(\d+)/(\d+)", stderr)
    assert match, stderr
    names = ("total", "split", "realigned", "skipped")
    return dict(zip(names, map(int, match.groups()), strict=True))


@pytest.mark.parametrize("name", sorted(VCFS))
def test_indels_not_left_aligned_and_not_trimmed_exist(
    demo: Path, tmp_path: Path, name: str
) -> None:
    renamed = _renamed_copy(demo / name, tmp_path / "renamed.vcf")
    fasta = str(demo / "GRCh38.demo.fa")
    stats = _norm_stats(bcftools("norm", "-f", fasta, "-c", "x", "-Ov", str(renamed)).stderr)
    assert stats["realigned"] > 0
    # Biallelic indels already in minimal form (one shared anchor base): only a left shift can
    # move them, so a changed position proves that the centre wrote them right-shifted.
    _, rows = vcf_lines(renamed)
    minimal = [
        row
        for row in rows
        if "," not in row[4]
        and len(row[3]) != len(row[4])
        and min(len(row[3]), len(row[4])) == 1
        and row[3][0] == row[4][0]
    ]
    only = tmp_path / "minimal.vcf"
    header = [line for line in renamed.read_text().splitlines() if line.startswith("#")]
    only.write_text("\n".join(header + ["\t".join(row) for row in minimal]) + "\n")
    normed = bcftools("norm", "-f", fasta, "-Ov", str(only)).stdout
    after = [line.split("\t")[1] for line in normed.splitlines() if not line.startswith("#")]
    shifted = sum(a != row[1] for a, row in zip(after, minimal, strict=True))
    assert shifted >= 5
    # and some records carry extra shared bases around the event (not trimmed)
    untrimmed = [
        row
        for row in rows
        if len(row[3]) > 1
        and all(len(alt) > 1 and alt[-1] == row[3][-1] for alt in row[4].split(","))
    ]
    assert untrimmed


def test_centre_b_cohort_quirks(demo: Path) -> None:
    header, rows = vcf_lines(demo / "ctr_b.cohort.vcf.gz")
    lines = Counter("\t".join(row) for row in rows)
    assert [n for n in lines.values() if n > 1] == [2]  # one line written twice
    assert not any("ID=CTRB_SCORE" in line for line in header)
    assert sum("CTRB_SCORE=" in row[7] for row in rows) >= 5
    for tag in ("AC", "AN", "DP"):
        assert any(line.startswith(f"##INFO=<ID={tag},") for line in header)
    multi = [row for row in rows if "," in row[4]]
    assert len(multi) >= 5
    assert any(call.split(":")[0] == "1/2" for row in multi for call in row[9:])
    assert {row[8] for row in rows} == {"GT:DP:GQ:AD"}
    # AC/AN agree with the genotypes
    for row in rows:
        if row[0] == "chr22_KI270731v1_random":
            continue
        alleles = [a for call in row[9:] for a in re.split(r"[/|]", call.split(":")[0])]
        called = [a for a in alleles if a != "."]
        info = dict(item.split("=") for item in row[7].split(";"))
        assert int(info["AN"]) == len(called)
        n_alts = len(row[4].split(","))
        ac = [called.count(str(i)) for i in range(1, n_alts + 1)]
        assert info["AC"] == ",".join(map(str, ac))


def test_centre_a_header_carries_paths_and_names(demo: Path) -> None:
    for sample in ("A-001", "A-002"):
        header, rows = vcf_lines(demo / f"ctr_a.{sample}.vcf.gz")
        text = "\n".join(header)
        assert re.search(r"^##commandline=.*/home/alice/", text, re.M)
        assert "##reference=file:///data/ctr-a/ref/hs38.fa" in header
        assert re.search(rf"^##SAMPLE=<ID={sample},", text, re.M)
        assert {row[8] for row in rows} == {"GT:DP:GQ:AD"}


def test_centre_c_format_and_phasing(demo: Path) -> None:
    phased = 0
    for sample in ("C-001", "C-002"):
        _, rows = vcf_lines(demo / f"ctr_c.{sample}.vcf.gz")
        assert {row[8] for row in rows} == {"GT:DP"}
        phased += sum("|" in row[9].split(":")[0] for row in rows)
    assert phased >= 10


def test_sheets_in_config_are_what_demo_data_writes(demo: Path) -> None:
    for sheet in ("samples.tsv", "units.tsv"):
        assert (demo / sheet).read_bytes() == (REPO / "config" / sheet).read_bytes(), sheet
    units = (REPO / "config" / "units.tsv").read_text().splitlines()
    assert "resources/demo/ctr_b.cohort.vcf.gz\tLABB_0001\tGRCh38" in units[3]
    samples = [
        line.split("\t") for line in (REPO / "config" / "samples.tsv").read_text().splitlines()
    ]
    assert [row[0] for row in samples[1:]] == [
        "A-001",
        "A-002",
        "B-001",
        "B-002",
        "B-003",
        "C-001",
        "C-002",
        "D-001",
        "D-002",
        "E-001",
        "E-002",
    ]
    assert {row[2] for row in samples[1:]} == {"DE", "FR", "IT", "ES", "NL"}


def test_sheets_pass_the_sheet_checks(demo_workspace: Path, monkeypatch) -> None:
    from genopass.inputs import sheets

    monkeypatch.chdir(demo_workspace)  # the sheets name resources/demo/...
    loaded = sheets.load_sheets(REPO / "config" / "samples.tsv", REPO / "config" / "units.tsv")
    assert len(loaded.samples) == 11
    # the FASTQ units of D-001 (two) and D-002 (one) have no build (reads are aligned to the
    # target): auto; CTR-E: E-001 declares GRCh37, E-002's build is detected (auto)
    assert sorted(loaded.units["build"]) == ["GRCh37"] + ["GRCh38"] * 6 + ["auto"] * 5


def x_genotypes(path: Path) -> dict[str, Counter]:
    """Per sample column, the genotypes of its chrX records (bcftools query)."""
    names = bcftools("query", "-l", str(path)).stdout.split()
    with pysam.VariantFile(str(path)) as handle:
        chrom = next(c for c in handle.header.contigs if TO_UCSC.get(c) == "chrX")
    rows = bcftools("query", "-r", chrom, "-f", r"[%GT\t]\n", str(path)).stdout.splitlines()
    found = {name: Counter() for name in names}
    for row in rows:
        for name, gt in zip(names, row.rstrip("\t").split("\t"), strict=True):
            found[name][gt.replace("|", "/")] += 1
    return found


def test_males_are_hemizygous_on_chrx_females_diploid(demo: Path) -> None:
    """Every delivered VCF of centres A-C and E: a male's chrX calls are hom (0/0, 1/1, 2/2,
    written diploid as callers write them), never het; a female has het and hom calls there;
    each carries at least qc.sex's 50 ALT SNVs on chrX (checked on the truth)."""
    files = [*VCFS, "ctr_e.E-001.vcf.gz", "ctr_e.E-002.vcf.gz"]
    for name in files:
        columns = VCFS.get(name, ({name.split(".")[1]: name.split(".")[1]}, set()))[0]
        for column, gts in x_genotypes(demo / name).items():
            sample = columns[column]
            het = sum(n for gt, n in gts.items() if len(set(gt.split("/")) - {"."}) > 1)
            hom_alt = sum(n for gt, n in gts.items() if gt in ("1/1", "2/2"))
            if GENETIC_SEX[sample] == "male":
                assert het == 0 and hom_alt >= 50, (sample, gts)
            else:
                assert het >= 50 and hom_alt >= 10, (sample, gts)
    for sample in GENETIC_SEX:
        if sample.startswith("D-"):
            continue  # reads samples: tests/unit/test_demo_reads.py
        rows = read_truth(demo / "truth" / f"{sample}.tsv")
        snvs = [r for r in rows if r[0] == "chrX" and len(r[2]) == len(r[3]) == 1 and "1" in r[4]]
        assert len(snvs) >= 50, sample


def test_the_planted_son_has_his_mothers_x(demo: Path) -> None:
    """planted.PARENT_CHILD: B-001 is A-002's mother, so every ALT on his one chrX is one of hers,
    and where she is homozygous ALT so is he (from the truth files)."""
    mother, son = planted.PARENT_CHILD
    assert (GENETIC_SEX[mother], GENETIC_SEX[son]) == ("female", "male")

    def x_alts(sample: str, hom: bool) -> set[tuple[str, ...]]:
        rows = read_truth(demo / "truth" / f"{sample}.tsv")
        return {
            (pos, ref, alt)
            for chrom, pos, ref, alt, gt in rows
            if chrom == "chrX"
            and (gt.replace("|", "/") == "1/1" if hom else "1" in gt.replace("|", "/").split("/"))
        }

    his = x_alts(son, hom=False)
    assert len(his) >= 50 and his <= x_alts(mother, hom=False)
    assert x_alts(mother, hom=True) <= his


def test_the_sheet_sex_is_wrong_for_the_planted_sample_only(demo: Path) -> None:
    rows = [line.split("\t") for line in (demo / "samples.tsv").read_text().splitlines()[1:]]
    reported = {row[0]: row[3] for row in rows}
    wrong = {
        s for s, sex in reported.items() if sex in ("female", "male") and sex != GENETIC_SEX[s]
    }
    assert wrong == set(planted.WRONG_SEX) == {"C-002"}
    assert reported["C-002"] == "female" and GENETIC_SEX["C-002"] == "male"
    assert {s for s, sex in reported.items() if sex == "unknown"} == {"B-003"}


def test_refuses_an_outdir_that_is_a_file(tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    with pytest.raises(UsageError, match="not a folder"):
        generate_demo(target, seed=1)
