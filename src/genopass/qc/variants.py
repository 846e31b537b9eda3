"""Variant metrics of one sample from its harmonised (split, normalised) VCF.

One ``bcftools view -T REGIONS | bcftools query`` stream reads the records on the autosomes
outside gaps (and on chrX outside the pseudo-autosomal regions, for inferred sex: GRCh38's PARs
when the VCF header gives chrX GRCh38's length, none on a chrX of another length; see
:func:`genopass.qc.sex.x_pars`); the counts
follow the bcftools commands the GA4GH standard writes:

- only records where the sample's genotype carries an ALT allele, FILTER PASS (or ``.``);
- SNV: REF and ALT of one base each, or of equal length differing at one base, as an
  untrimmed record spells it (``bcftools view -v snps``); MNVs count as neither; indel:
  plain-base REF and ALT of different lengths (``-v indels``), insertion when ALT is the
  longer; the counts of insertions and deletions keep those under 50 bp, as the standard
  defines them;
- het: two different alleles (``-g het``); hom: two equal ALT alleles (``-g hom`` once hom-ref
  records are left out); haploid and half-missing genotypes count as neither, except that on
  chrX a haploid ALT call (``1``, a caller's way to write one X) counts with the homozygous ones
  in the sex check's heterozygosity;
- Ti/Tv on biallelic SNVs (``bcftools stats`` TSTV).

Records with several ALT alleles are not expected (harmonisation splits them); any found are
counted apart and left out of every metric.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

import pysam

from genopass.errors import InputError
from genopass.qc.sex import x_pars
from genopass.reads.regions import AUTOSOME
from genopass.tools import run_pipeline

PASS_FILTERS = {"PASS", "."}
TRANSITIONS = {("A", "G"), ("G", "A"), ("C", "T"), ("T", "C")}
BASES = set("ACGTN")
MAX_INDEL = 50  # the standard's "short" insertions and deletions: under 50 bp
X_NAMES = ("chrX", "X")
X_END = 1 << 31  # BED end beyond any chrX: bcftools -T stops at the contig's end


@dataclass(frozen=True)
class VariantCounts:
    """Counts from one pass over a sample's VCF."""

    snv_het: int = 0
    snv_hom: int = 0
    snv_other: int = 0  # ALT-carrying SNV genotypes that are neither (haploid, half-missing)
    transitions: int = 0
    transversions: int = 0
    indel_het: int = 0
    indel_hom: int = 0
    indel_other: int = 0
    insertions: int = 0  # under 50 bp
    deletions: int = 0
    records: int = 0  # every record in the regions, any FILTER
    called: int = 0  # of those, genotypes without a missing allele
    multiallelic: int = 0
    x_het: int = 0  # PASS biallelic SNVs on non-PAR chrX
    x_hom: int = 0
    x_contig: bool = False  # whether the regions had chrX at all

    @property
    def snvs(self) -> int:
        return self.snv_het + self.snv_hom + self.snv_other


def count_variants(vcf: Path | str, autosomes_bed: Path | str) -> VariantCounts:
    """Read the sample's (single-sample) VCF once and count what the metrics need."""
    with tempfile.TemporaryDirectory(prefix="genopass-qc-") as tmp:
        regions = Path(tmp) / "regions.bed"
        x_contigs = _write_regions(autosomes_bed, regions, _x_lengths(vcf))
        table = Path(tmp) / "records.tsv"
        view = ["bcftools", "view", "--no-version", "-T", str(regions), "-Ou", str(vcf)]
        query = [
            "bcftools",
            "query",
            "-f",
            r"%CHROM\t%POS\t%REF\t%ALT\t%FILTER[\t%GT]\n",
            "-",
        ]
        run_pipeline([view, query], about=vcf, stdout=table)
        counts = _count(table, vcf)
    return replace(counts, x_contig=bool(x_contigs))


def variant_metrics(counts: VariantCounts) -> tuple[dict[str, float], dict[str, str]]:
    """The standard's variant metrics (and call rate): (values, reasons for missing ones)."""
    values: dict[str, float] = {
        "count_snvs": counts.snvs,
        "count_insertions": counts.insertions,
        "count_deletions": counts.deletions,
    }
    missing: dict[str, str] = {}

    def ratio(key: str, top: int, bottom: int, what: str) -> None:
        if bottom:
            values[key] = top / bottom
        else:
            missing[key] = f"no {what} on the autosomes outside gaps"

    ratio("ratio_heterozygous_homzygous_snv", counts.snv_het, counts.snv_hom, "hom-ALT PASS SNV")
    ratio(
        "ratio_heterozygous_homzygous_indel",
        counts.indel_het,
        counts.indel_hom,
        "hom-ALT PASS indel",
    )
    ratio("ratio_insertion_deletion", counts.insertions, counts.deletions, "PASS deletion")
    ratio(
        "ratio_transitions_transversions_snv",
        counts.transitions,
        counts.transversions,
        "PASS transversion",
    )
    ratio("call_rate", counts.called, counts.records, "record")
    if counts.multiallelic:
        missing["multiallelic_records"] = (
            f"{counts.multiallelic} records with several ALT alleles left out (the VCF was "
            f"not split: harmonise it first)"
        )
    return values, missing


def _x_lengths(vcf: Path | str) -> dict[str, int | None]:
    """The header's length of each chrX spelling (None: not declared, or no length)."""
    try:
        with pysam.VariantFile(str(vcf)) as handle:
            contigs = handle.header.contigs
            return {name: contigs[name].length if name in contigs else None for name in X_NAMES}
    except (OSError, ValueError) as exc:
        raise InputError(f"{vcf}: cannot read the VCF header ({exc})") from None


def _write_regions(
    autosomes_bed: Path | str, out: Path, x_lengths: Mapping[str, int | None] | None = None
) -> list[str]:
    """The autosome BED plus chrX outside its PARs (both spellings; :func:`x_pars` of its
    length); return X names added."""
    bed = Path(autosomes_bed)
    try:
        lines = [line for line in bed.read_text().splitlines() if line.strip()]
    except FileNotFoundError:
        raise InputError(f"{bed}: no such file (autosome BED: 'genopass autosomes')") from None
    if not lines or not all(AUTOSOME.match(line.split("\t")[0]) for line in lines):
        raise InputError(
            f"{bed}: not an autosome BED (every line must be on chr1-chr22); make it with "
            f"'genopass autosomes REF.fa --out BED'"
        )
    added = []
    with open(out, "w") as handle:
        handle.write("\n".join(lines) + "\n")
        for name in X_NAMES:
            start = 0
            for begin, end in x_pars((x_lengths or {}).get(name)):
                handle.write(f"{name}\t{start}\t{begin - 1}\n")
                start = end
            handle.write(f"{name}\t{start}\t{X_END}\n")
            added.append(name)
    return added


def _count(table: Path, vcf: Path | str) -> VariantCounts:
    tally: Counter[str] = Counter()
    with open(table) as handle:
        for line in handle:
            fields = line.rstrip("\n").split("\t")
            if len(fields) != 6:
                raise InputError(
                    f"{vcf}: expected one sample column, found {len(fields) - 5}; give the "
                    f"sample's own (harmonised) VCF"
                )
            chrom, _pos, ref, alt, filt, gt = fields
            is_x = chrom in X_NAMES
            if not is_x:
                tally["records"] += 1
            alleles = gt.replace("|", "/").split("/")
            if "." in alleles:  # no-call or half-missing: not called
                continue
            if not is_x:
                tally["called"] += 1
            if all(a == "0" for a in alleles) or filt not in PASS_FILTERS:
                continue
            if "," in alt:
                if not is_x:
                    tally["multiallelic"] += 1
                continue
            ref, alt = ref.upper(), alt.upper()
            if not (set(ref) <= BASES and set(alt) <= BASES):
                continue  # symbolic, breakend or '*' alleles
            kind = "other"  # haploid (or polyploid) calls are neither het nor hom
            if len(alleles) == 2:
                kind = "het" if alleles[0] != alleles[1] else "hom"
            if len(ref) == len(alt) and len(ref) > 1:
                # an untrimmed SNV (GCA>ACA): bcftools calls it an SNP when one base differs
                diff = [(r, a) for r, a in zip(ref, alt, strict=True) if r != a]
                if len(diff) == 1:
                    ref, alt = diff[0]
            if len(ref) == 1 and len(alt) == 1:
                if is_x:
                    if kind in ("het", "hom"):
                        tally[f"x_{kind}"] += 1
                    elif len(alleles) == 1:  # a haploid ALT call: one X, so never heterozygous
                        tally["x_hom"] += 1
                    continue
                tally[f"snv_{kind}"] += 1
                tally["transitions" if (ref, alt) in TRANSITIONS else "transversions"] += 1
            elif len(ref) != len(alt) and not is_x:
                tally[f"indel_{kind}"] += 1
                if abs(len(alt) - len(ref)) < MAX_INDEL:
                    tally["insertions" if len(alt) > len(ref) else "deletions"] += 1
    return VariantCounts(**tally)


@dataclass(frozen=True)
class AccountingExtras:
    """Extras read from the harmonisation accounting table of the sample."""

    values: Mapping[str, float] = field(default_factory=dict)
    missing: Mapping[str, str] = field(default_factory=dict)


def accounting_extras(path: Path | str) -> AccountingExtras:
    """``pct_multiallelic_records`` and ``rejected_records`` from an accounting table."""
    import csv

    file = Path(path)
    try:
        with open(file, newline="") as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
    except FileNotFoundError:
        raise InputError(f"{file}: no such file (harmonisation accounting table)") from None
    needed = ("input_records", "reference_blocks", "split_added", "rejected_source_records")
    if len(rows) != 1 or any(key not in rows[0] for key in needed):
        raise InputError(
            f"{file}: not a one-row accounting table with columns {', '.join(needed)}; give "
            f"the --accounting file of 'genopass harmonise'"
        )
    row = {key: int(rows[0][key]) for key in needed}
    values: dict[str, float] = {"rejected_records": row["rejected_source_records"]}
    missing: dict[str, str] = {}
    variant_records = row["input_records"] - row["reference_blocks"]
    if variant_records > 0:
        values["pct_multiallelic_records"] = 100.0 * row["split_added"] / variant_records
    else:
        missing["pct_multiallelic_records"] = "the delivery has no variant record"
    return AccountingExtras(values, missing)


def pass_snvs_view(autosomes_bed: Path | str, *args: str) -> list[str]:
    """``bcftools view`` of PASS (or unfiltered) biallelic SNVs on the autosomes outside gaps,
    the sites kinship and contamination work on; ``args`` add options and the input."""
    return [
        "bcftools",
        "view",
        "--no-version",
        "-f",
        "PASS,.",
        "-v",
        "snps",
        "-m2",
        "-M2",
        "-T",
        str(autosomes_bed),
        *args,
    ]
