"""Per-sample export VCF: the sample's own sites, allow-listed fields, AC/AN/AF recomputed.

DESIGN.md, "Privacy": the export describes the exported samples only. A harmonised VCF cut from
a centre's joint-called cohort file still carries the cohort's statistics (AC_AFR, NS, MLEAC,
rank sums, a centre's private tags) and the sites that only other people of that cohort carry.
This step writes what may cross the border, by construction rather than by a deny-list:

- records: only those where the sample's genotype carries an ALT allele or is (partly) a
  no-call. A delivered hom-ref call (``0/0``) is dropped: in a per-sample file it says nothing
  about the sample that absence does not (the cohort VCF restores it with
  ``bcftools merge --missing-to-ref``), and it would tell the receiver where someone else in
  the centre's cohort carries a variant;
- INFO: every field is removed except the user's ``export.info_keep`` and the fields that define
  a symbolic allele (END, SVTYPE, SVLEN); then AC, AN and AF are computed from the exported
  genotype (``bcftools +fill-tags -t AC,AN,AF``). Work tags (``GENOPASS_*``, such as the
  per-record source number of the accounting) can never be kept;
- FORMAT: GT, DP, GQ, AD, plus PL and PS when listed in ``export.format_keep``;
- header: bcftools drops the definitions of the removed fields; ##contig, ##reference, ##FILTER
  and ##ALT lines stay. No tool version or command line is written.

Everything runs in one bcftools pipeline of uncompressed BCF, compressed once at the end.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from genopass.errors import InputError, ToolError, UsageError
from genopass.io import atomic_output, check_bgzf_complete
from genopass.tools import PipelineError, run_pipeline, run_tool

log = logging.getLogger(__name__)

BCFTOOLS = "bcftools"
# Recomputed from the exported genotypes, always present.
RECOMPUTED_INFO = ("AC", "AN", "AF")
# They define the allele of a symbolic record (<DEL>, <DUP>...), not a statistic of people.
ALLELE_INFO = ("END", "SVTYPE", "SVLEN")
BASE_FORMAT = ("GT", "DP", "GQ", "AD")
OPTIONAL_FORMAT = ("PL", "PS")
# Tags that genopass writes into its work files (the accounting's source number, ...).
WORK_TAG_PREFIX = "GENOPASS_"
# The sample's own sites: its genotype carries an ALT allele, or an allele is missing.
OWN_SITES = 'GT="alt" || GT="mis"'  # "mis": any allele missing (./., 0/., .)
VCF_ID = re.compile(r"^[A-Za-z_][0-9A-Za-z_.]*$")


@dataclass(frozen=True)
class ExportOptions:
    """What ``genopass export-vcf`` was asked to do."""

    out: Path
    sample: str | None = None  # the column to export; None: the input's only sample
    info_keep: tuple[str, ...] = ()
    format_keep: tuple[str, ...] = ()
    threads: int = 1


def parse_keep(values: Iterable[str]) -> tuple[str, ...]:
    """Repeated and/or comma-separated field names -> names, order kept, duplicates dropped."""
    names: dict[str, None] = {}
    for value in values:
        for name in value.split(","):
            if name.strip():
                names.setdefault(name.strip(), None)
    return tuple(names)


def check_info_keep(info_keep: Sequence[str]) -> tuple[str, ...]:
    """``export.info_keep`` checked: VCF names, no work tags; AC/AN/AF (recomputed) left out."""
    for name in info_keep:
        if not VCF_ID.match(name):
            raise UsageError(
                f"export.info_keep: {name!r} is not a VCF INFO field name "
                f"(letters, digits, '_' and '.', not starting with a digit)"
            )
        if name.upper().startswith(WORK_TAG_PREFIX):
            raise UsageError(
                f"export.info_keep: {name} is a genopass work tag, never exported; "
                f"remove it from export.info_keep"
            )
    return tuple(dict.fromkeys(n for n in info_keep if n not in RECOMPUTED_INFO))


def kept_info(info_keep: Sequence[str]) -> tuple[str, ...]:
    """The INFO fields an export VCF keeps from its input (AC/AN/AF are recomputed)."""
    return tuple(dict.fromkeys((*ALLELE_INFO, *check_info_keep(info_keep))))


def kept_format(format_keep: Sequence[str]) -> tuple[str, ...]:
    """GT, DP, GQ, AD and the optional FORMAT fields asked for."""
    for name in format_keep:
        if name not in (*BASE_FORMAT, *OPTIONAL_FORMAT):
            raise UsageError(
                f"export.format_keep: {name} cannot be exported; FORMAT keeps "
                f"{', '.join(BASE_FORMAT)} and, when listed, {' or '.join(OPTIONAL_FORMAT)}"
            )
    return tuple(dict.fromkeys((*BASE_FORMAT, *format_keep)))


def allowed_info(info_keep: Sequence[str]) -> frozenset[str]:
    """Every INFO key an export VCF may hold."""
    return frozenset((*RECOMPUTED_INFO, *kept_info(info_keep)))


@dataclass(frozen=True)
class _Header:
    """What the pipeline needs to know of the input's header."""

    samples: tuple[str, ...]
    info: frozenset[str]
    format: frozenset[str]


def _read_header(vcf: Path) -> _Header:
    text = run_tool([BCFTOOLS, "view", "-h", "--no-version", str(vcf)], about=vcf)
    columns = next((line for line in text.splitlines() if line.startswith("#CHROM")), "")
    return _Header(
        samples=tuple(columns.split("\t")[9:]),
        info=frozenset(_definitions(text, "INFO")),
        format=frozenset(_definitions(text, "FORMAT")),
    )


def _definitions(header_text: str, kind: str) -> list[str]:
    return re.findall(rf"^##{kind}=<ID=([^,>]+)", header_text, flags=re.MULTILINE)


def _remove_all_but(kind: str, keep: Sequence[str], defined: frozenset[str]) -> list[str]:
    """A ``bcftools annotate -x`` stage that removes every ``kind`` field except ``keep``, or
    no stage when the header defines nothing else (bcftools 1.16 then fails: "No matching tag").

    One kind per stage: bcftools 1.16 matches a ``^`` list by name across kinds
    (``^INFO/RS,^FORMAT/DP`` would keep INFO/DP too).
    """
    if defined <= set(keep):
        return []
    spec = "^" + ",".join(f"{kind}/{name}" for name in keep) if keep else kind
    return [BCFTOOLS, "annotate", "--no-version", "-Ou", "-x", spec, "-"]


def export_commands(vcf: Path, options: ExportOptions, header: _Header) -> list[list[str]]:
    """The bcftools pipeline that writes the export VCF to stdout (bgzipped)."""
    view = [BCFTOOLS, "view", "--no-version", "-Ou"]
    first = [*view, str(vcf)]
    if len(header.samples) != 1:
        # Cut the column first: the site filter of one `bcftools view` sees every sample.
        first = [*view, "--no-update", "-s", str(options.sample), str(vcf)]
    stages = [
        first,
        [*view, "-i", OWN_SITES, "-"],
        _remove_all_but("INFO", kept_info(options.info_keep), header.info),
        _remove_all_but("FORMAT", kept_format(options.format_keep), header.format),
        [
            BCFTOOLS,
            "+fill-tags",
            "--no-version",
            "-Oz",
            "--threads",
            str(options.threads),
            "-",
            "--",
            "-t",
            ",".join(RECOMPUTED_INFO),
        ],  # fmt: skip
    ]
    return [stage for stage in stages if stage]


def _choose_sample(vcf: Path, samples: Sequence[str], wanted: str | None) -> str:
    if wanted is None:
        if len(samples) != 1:
            raise UsageError(
                f"{vcf}: holds {len(samples)} samples; name the one to export with --sample"
            )
        return samples[0]
    if wanted not in samples:
        shown = ", ".join(samples[:5]) + (", ..." if len(samples) > 5 else "")
        raise InputError(f"{vcf}: no sample column {wanted!r} (columns: {shown or 'none'})")
    return wanted


def export_vcf(vcf: Path, options: ExportOptions) -> str:
    """Write the per-sample export VCF (+ .tbi) of one harmonised VCF; return a summary."""
    vcf = Path(vcf)
    if not vcf.is_file():
        raise InputError(f"{vcf}: no such file")
    check_bgzf_complete(vcf)
    header = _read_header(vcf)
    sample = _choose_sample(vcf, header.samples, options.sample)
    options = ExportOptions(
        out=Path(options.out),
        sample=sample,
        info_keep=options.info_keep,
        format_keep=options.format_keep,
        threads=options.threads,
    )
    commands = export_commands(vcf, options, header)
    out = options.out
    tbi = Path(f"{out}.tbi")
    # the VCF is renamed into place first, its index after it (so the index is newer)
    with atomic_output(tbi) as tmp_tbi, atomic_output(out) as tmp_vcf:
        try:
            run_pipeline(commands, about=vcf, stdout=tmp_vcf)
        except PipelineError as exc:
            hint = ""
            if any("fill-tags" in err for err in exc.stderrs):
                hint = "; bcftools needs its plugins: set BCFTOOLS_PLUGINS to their folder"
            raise InputError(f"{exc}{hint}") from None
        _check_info(tmp_vcf, allowed_info(options.info_keep), about=vcf)
        run_tool([BCFTOOLS, "index", "-t", "-f", "-o", str(tmp_tbi), str(tmp_vcf)], about=out)
    records = run_tool([BCFTOOLS, "index", "-n", str(out)], about=out).strip()
    return f"wrote {out} (sample {sample}: {records} records with an ALT allele or a no-call)"


def _check_info(vcf: Path, allowed: frozenset[str], *, about: Path) -> None:
    """The allow-list held: no INFO definition (hence no INFO key) outside it."""
    extra = _read_header(vcf).info - allowed
    if extra:
        raise ToolError(
            f"{about}: export would carry INFO {', '.join(sorted(extra))} outside the "
            f"allow-list; this is a genopass bug, please report it"
        )
