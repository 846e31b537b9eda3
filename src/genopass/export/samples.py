"""The samples table ``parquet/samples/samples.parquet``: who the exported genotypes belong to.

One row per exported sample: ``sample`` (pseudonym), ``country``, ``sex`` (reported),
``inferred_sex`` (from QC, null until a QC summary gives it), ``consent`` (DUO codes, a list) and
``qc_status`` (``not_assessed`` until a QC summary gives it). The local sample ID never appears;
the centre only with ``include_centre`` (config ``export.include_centre: true``).

The QC summary (optional; ``results/qc/summary.tsv`` once QC is wired) is a TSV with a
``pseudonym`` (or ``sample``: the local ID, mapped through the pseudonyms table) column and any
of ``inferred_sex``, ``qc_status`` (or ``status``/``decision``) and ``reasons`` (``;`` or
``,``-separated).
"""

from __future__ import annotations

import csv
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from genopass import __version__
from genopass.errors import InputError
from genopass.io import atomic_output

log = logging.getLogger(__name__)

NOT_ASSESSED = "not_assessed"
SEXES = ("female", "male", "unknown")
SAMPLES_SCHEMA = pa.schema(
    [
        ("sample", pa.string()),
        ("country", pa.string()),
        ("sex", pa.string()),
        ("inferred_sex", pa.string()),
        ("consent", pa.list_(pa.string())),
        ("qc_status", pa.string()),
    ]
)
CENTRE_FIELD = pa.field("centre", pa.string())
# Sample tables read by several steps: same writer settings as the other tables.
PARQUET_OPTIONS = {"compression": "zstd", "write_statistics": True, "use_dictionary": True}


@dataclass(frozen=True)
class SampleRecord:
    """One exported sample as the export describes it."""

    sample: str  # pseudonym
    country: str
    sex: str
    consent: tuple[str, ...]
    centre: str
    inferred_sex: str | None = None
    qc_status: str = NOT_ASSESSED
    qc_reasons: tuple[str, ...] = field(default=())

    @property
    def stratum_sex(self) -> str:
        """The sex used for strata and ploidy: inferred when QC could tell (female or male),
        else reported (QC infers ``unknown`` without enough chrX/chrY data)."""
        return self.inferred_sex if self.inferred_sex in ("female", "male") else self.sex


def _read_tsv(path: Path) -> list[dict[str, str]]:
    if not Path(path).is_file():
        raise InputError(f"{path}: no such file")
    with open(path, encoding="utf-8", newline="") as handle:
        return [
            {k: (v or "").strip() for k, v in row.items() if k is not None}
            for row in csv.DictReader(handle, delimiter="\t")
        ]


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.replace(";", ",").split(",") if part.strip())


def read_qc_summary(path: Path, pseudonym_of: dict[str, str]) -> dict[str, dict[str, object]]:
    """{pseudonym: {inferred_sex, qc_status, qc_reasons}} from a QC summary TSV."""
    rows = _read_tsv(path)
    found: dict[str, dict[str, object]] = {}
    for number, row in enumerate(rows, start=2):
        key = row.get("pseudonym") or pseudonym_of.get(row.get("sample", ""))
        if not key:
            raise InputError(
                f"{path}: line {number}: no pseudonym (or known sample) to attach the QC result "
                f"to; the summary needs a 'pseudonym' or 'sample' column"
            )
        inferred = row.get("inferred_sex") or None
        if inferred is not None and inferred not in SEXES:
            raise InputError(
                f"{path}: line {number}: inferred_sex {inferred!r} is not one of {', '.join(SEXES)}"
            )
        status = row.get("qc_status") or row.get("status") or row.get("decision") or NOT_ASSESSED
        found[key] = {
            "inferred_sex": inferred,
            "qc_status": status,
            "qc_reasons": _split(row.get("reasons", "") or row.get("qc_reasons", "")),
        }
    return found


def vcf_samples(vcf: Path) -> list[str]:
    """Sample columns of a VCF, in order."""
    from genopass.tools import run_tool

    return run_tool(["bcftools", "query", "-l", str(vcf)], about=vcf).split()


def read_sample_records(
    samples_tsv: Path,
    pseudonyms_tsv: Path,
    *,
    qc_summary: Path | None = None,
    only: Sequence[str] | None = None,
) -> list[SampleRecord]:
    """The exported samples, sorted by pseudonym; ``only`` (pseudonyms, e.g. the cohort VCF's
    columns) restricts them and must all be known."""
    from genopass.inputs.sheets import read_samples

    sheet = read_samples(samples_tsv)
    mapping = _read_tsv(pseudonyms_tsv)
    if mapping and not {"sample", "centre", "pseudonym"} <= set(mapping[0]):
        raise InputError(
            f"{pseudonyms_tsv}: needs columns sample, centre, pseudonym "
            f"(genopass pseudonyms writes it)"
        )
    pseudonym_of = {(r["centre"], r["sample"]): r["pseudonym"] for r in mapping}
    by_sample = {r["sample"]: r["pseudonym"] for r in mapping}
    qc = read_qc_summary(qc_summary, by_sample) if qc_summary else {}
    records = []
    for row in sheet.to_dict("records"):
        key = (str(row["centre"]), str(row["sample"]))
        name = pseudonym_of.get(key)
        if name is None:
            raise InputError(
                f"{pseudonyms_tsv}: no pseudonym for sample {row['sample']} of centre "
                f"{row['centre']} in {samples_tsv}; rewrite it with 'genopass pseudonyms'"
            )
        consent = row.get("consent")
        extra = qc.get(name, {})
        records.append(
            SampleRecord(
                sample=name,
                country=str(row["country"]),
                sex=str(row["sex"]),
                consent=_split(consent) if isinstance(consent, str) else (),
                centre=str(row["centre"]),
                inferred_sex=extra.get("inferred_sex"),  # type: ignore[arg-type]
                qc_status=str(extra.get("qc_status", NOT_ASSESSED)),
                qc_reasons=tuple(extra.get("qc_reasons", ())),  # type: ignore[arg-type]
            )
        )
    if only is not None:
        known = {r.sample for r in records}
        unknown = [name for name in only if name not in known]
        if unknown:
            raise InputError(
                f"sample {unknown[0]} of the cohort has no row in {samples_tsv} "
                f"(through {pseudonyms_tsv}); the sheet and the export disagree"
            )
        wanted = set(only)
        records = [r for r in records if r.sample in wanted]
    return sorted(records, key=lambda r: r.sample)


def samples_table(records: Sequence[SampleRecord], include_centre: bool = False) -> pa.Table:
    """The Arrow table of ``samples.parquet``."""
    columns = {
        "sample": [r.sample for r in records],
        "country": [r.country for r in records],
        "sex": [r.sex for r in records],
        "inferred_sex": [r.inferred_sex for r in records],
        "consent": [list(r.consent) for r in records],
        "qc_status": [r.qc_status for r in records],
    }
    schema = SAMPLES_SCHEMA
    if include_centre:
        columns["centre"] = [r.centre for r in records]
        schema = schema.append(CENTRE_FIELD)
    table = pa.table(columns, schema=schema)
    return table.replace_schema_metadata(
        {"genopass_version": __version__, "source": "genopass samples-table"}
    )


def write_samples_table(
    samples_tsv: Path,
    pseudonyms_tsv: Path,
    out: Path,
    *,
    cohort_vcf: Path | None = None,
    qc_summary: Path | None = None,
    include_centre: bool = False,
) -> str:
    """Write ``samples.parquet`` (the cohort's samples when ``cohort_vcf`` is given)."""
    only = vcf_samples(cohort_vcf) if cohort_vcf else None
    records = read_sample_records(samples_tsv, pseudonyms_tsv, qc_summary=qc_summary, only=only)
    table = samples_table(records, include_centre)
    with atomic_output(out) as tmp:
        pq.write_table(table, tmp, **PARQUET_OPTIONS)
    return f"wrote {out} ({table.num_rows} samples)"


def read_samples_parquet(path: Path) -> pa.Table:
    """Read a samples table back (a folder or the file)."""
    path = Path(path)
    file = path / "samples.parquet" if path.is_dir() else path
    if not file.is_file():
        raise InputError(f"{file}: no samples table; write it with 'genopass samples-table'")
    return pq.read_table(file)
