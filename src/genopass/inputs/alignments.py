"""BAM/CRAM inputs: checked before anything reads them.

A centre's alignment is used as it is when it is on the target reference: the header is readable,
the file is complete and coordinate-sorted, its @SQ lines name the reference's contigs with its
lengths (and sequence digests, where both sides have them), and its first records decode (for a
CRAM: with the configured FASTA). Anything else is one InputError that names the file and what
differs. An alignment on GRCh37 (declared, or ``auto`` with the @SQ lengths of the configured
GRCh37 FASTA) is checked the same way against that FASTA; its calls are lifted over by
harmonisation.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from genopass.errors import InputError
from genopass.inputs.contigs import NON_PRIMARY_NAME, AliasTable, is_primary_name
from genopass.inputs.reference import ensure_fai, read_fai, reference_contigs
from genopass.io import atomic_output, check_bgzf_complete

log = logging.getLogger(__name__)

DECODED_RECORDS = 2000
"""How many records are decoded to prove that the file (and a CRAM's reference) is usable."""

# The end-of-file container of CRAM 3.x (CRAM specification 3.1, section 9).
CRAM3_EOF = bytes.fromhex(
    "0f000000ffffffff0fe0454f4600000000010005bdd94f0001000606010001000100ee63014b"
)
# An unreachable local path, so that htslib never fetches a CRAM reference over the network by
# its digest: the configured FASTA is the only reference a CRAM may use here.
OFFLINE_REF_PATH = "/nonexistent/genopass/no-remote-references/%s"


@dataclass(frozen=True)
class AlignmentCheck:
    """What the check found, written to the rule's output table."""

    path: str
    format: str  # BAM or CRAM
    contigs: int
    extra_contigs: tuple[str, ...]  # non-primary contigs of the file that the target lacks
    read_groups: int
    samples: tuple[str, ...]
    records_decoded: int


def read_dict_md5s(dict_path: Path | str) -> dict[str, str]:
    """{contig: M5} from a sequence dictionary (``samtools dict``)."""
    digests: dict[str, str] = {}
    with open(dict_path) as handle:
        for line in handle:
            if not line.startswith("@SQ"):
                continue
            tags = dict(field.split(":", 1) for field in line.rstrip("\n").split("\t")[1:])
            if "SN" in tags and "M5" in tags:
                digests[tags["SN"]] = tags["M5"].lower()
    return digests


def check_alignment(
    path: Path | str,
    fasta: Path | str,
    *,
    dict_path: Path | str | None = None,
    aliases: AliasTable | None = None,
    build: str | None = None,
) -> AlignmentCheck:
    """Check one BAM or CRAM against the reference ``fasta`` (its .fai is built when missing):
    the target reference, or the reference of ``build`` (GRCh37) that the file is on."""
    import pysam

    file = Path(path)
    kind = _format(file)
    _check_complete(file, kind)
    ensure_fai(Path(fasta))
    target = read_fai(Path(fasta))
    label = f"the {build} reference {fasta}" if build else f"the target reference {fasta}"
    digests = read_dict_md5s(dict_path) if dict_path else {}
    os.environ.setdefault("REF_PATH", OFFLINE_REF_PATH)
    verbosity = pysam.set_verbosity(0)
    try:
        try:
            handle = pysam.AlignmentFile(
                str(file), "rc" if kind == "CRAM" else "rb", reference_filename=str(fasta)
            )
        except (OSError, ValueError) as exc:
            raise InputError(
                f"{file}: cannot read the {kind} header ({exc}); check that the file is a "
                f"complete {kind}"
            ) from None
        with handle:
            header = handle.header.to_dict()
            _check_sorted(file, header)
            sequences = {sq["SN"]: sq for sq in header.get("SQ", [])}
            extra = _check_contigs(file, kind, sequences, target, digests, aliases, fasta, label)
            groups = header.get("RG", [])
            samples = tuple(sorted({group["SM"] for group in groups if group.get("SM")}))
            if len(samples) > 1:
                raise InputError(
                    f"{file}: holds reads of {len(samples)} samples (@RG SM "
                    f"{', '.join(samples)}); a unit holds one sample's reads: split the file "
                    f"(samtools split) and give each sample its own row"
                )
            decoded = _decode(file, kind, handle, fasta)
    finally:
        pysam.set_verbosity(verbosity)
    return AlignmentCheck(
        path=str(file),
        format=kind,
        contigs=len(sequences),
        extra_contigs=tuple(extra),
        read_groups=len(groups),
        samples=samples,
        records_decoded=decoded,
    )


def header_lengths(path: Path | str) -> dict[str, int]:
    """{contig: length} of the @SQ lines of a BAM or CRAM (only the header is read)."""
    import pysam

    os.environ.setdefault("REF_PATH", OFFLINE_REF_PATH)
    verbosity = pysam.set_verbosity(0)
    try:
        with pysam.AlignmentFile(str(path), check_sq=False) as handle:
            sequences = handle.header.to_dict().get("SQ", [])
    except (OSError, ValueError) as exc:
        raise InputError(f"{path}: cannot read the alignment header ({exc})") from None
    finally:
        pysam.set_verbosity(verbosity)
    return {str(sq["SN"]): int(sq["LN"]) for sq in sequences if "SN" in sq and "LN" in sq}


def alignment_build(
    path: Path | str,
    declared: str,
    *,
    target_fasta: Path | str,
    target_name: str,
    grch37_fasta: Path | str | None = None,
    aliases: AliasTable | None = None,
) -> str:
    """The build an alignment's calls are made on: ``GRCh37``, or ``target_name``.

    A declared build is taken as it is (check_alignment then holds the file to that reference).
    For ``auto``, the @SQ lengths decide: those of the GRCh37 FASTA (when configured) and not
    the target's, or else (no GRCh37 FASTA) a majority of GRCh37 lengths in the alias tables,
    mean GRCh37. An unreadable header is left to check_alignment to report.
    """
    if declared == "GRCh37":
        return "GRCh37"
    if declared != "auto":
        return target_name
    try:
        lengths = header_lengths(path)
    except InputError:
        return target_name
    if grch37_fasta is not None:
        if _lengths_fit(lengths, reference_contigs(grch37_fasta)) and not _lengths_fit(
            lengths, reference_contigs(target_fasta)
        ):
            return "GRCh37"
        return target_name
    from genopass.inputs.build import header_builds

    votes = header_builds(dict(lengths), aliases or AliasTable.load())
    return "GRCh37" if votes["GRCh37"] > votes["GRCh38"] else target_name


def _lengths_fit(lengths: Mapping[str, int], reference: Mapping[str, int]) -> bool:
    """Every primary contig that both have has the reference's length (and there is one)."""
    shared = [name for name in lengths if name in reference and is_primary_name(name)]
    return bool(shared) and all(lengths[name] == reference[name] for name in shared)


def write_alignment_check(check: AlignmentCheck, out: Path | str) -> None:
    """The check's findings as a two-column TSV (``key``, ``value``)."""
    rows = {
        "file": check.path,
        "format": check.format,
        "contigs": str(check.contigs),
        "extra_contigs": ",".join(check.extra_contigs) or ".",
        "read_groups": str(check.read_groups),
        "samples": ",".join(check.samples) or ".",
        "records_decoded": str(check.records_decoded),
    }
    with atomic_output(out) as tmp:
        with open(tmp, "w") as handle:
            handle.write("key\tvalue\n")
            for key, value in rows.items():
                handle.write(f"{key}\t{value}\n")


# --- the checks -----------------------------------------------------------------------------------


def _format(file: Path) -> str:
    if not file.is_file():
        raise InputError(f"{file}: does not exist; correct the path in units.tsv")
    with open(file, "rb") as handle:
        magic = handle.read(4)
    if magic == b"CRAM":
        return "CRAM"
    if magic[:2] == b"\x1f\x8b":
        return "BAM"
    raise InputError(f"{file}: neither BAM nor CRAM (the file starts with {magic!r})")


def _check_complete(file: Path, kind: str) -> None:
    if kind == "BAM":
        check_bgzf_complete(file)
        return
    with open(file, "rb") as handle:
        major = handle.read(6)[4]
        size = handle.seek(0, os.SEEK_END)
        handle.seek(max(0, size - len(CRAM3_EOF)))
        tail = handle.read()
    if major >= 3 and tail != CRAM3_EOF:
        raise InputError(
            f"{file}: truncated (the CRAM end-of-file container is missing); the file was cut "
            f"short in transfer: ask the centre to send it again"
        )


def _check_sorted(file: Path, header: Mapping[str, object]) -> None:
    hd = header.get("HD")
    order = hd.get("SO") if isinstance(hd, dict) else None
    if order != "coordinate":
        state = f"sorted by {order}" if order else "without an @HD sort order"
        raise InputError(
            f"{file}: {state} in its header, not coordinate-sorted; sort it with 'samtools sort' "
            f"(which records SO:coordinate) and give the sorted file"
        )


def _check_contigs(
    file: Path,
    kind: str,
    sequences: Mapping[str, Mapping[str, object]],
    target: Mapping[str, int],
    digests: Mapping[str, str],
    aliases: AliasTable | None,
    fasta: Path | str,
    label: str,
) -> list[str]:
    """Names, lengths and digests of the @SQ lines against the reference (``label`` names it in
    messages); the tolerated extras."""
    if not sequences:
        raise InputError(f"{file}: the header has no @SQ lines; the file holds no alignments")
    aliases = aliases or AliasTable.load()
    for name, length in target.items():
        if name not in sequences:
            present = ", ".join(list(sequences)[:5])
            raise InputError(
                f"{file}: contig {name} of {label} is not in the {kind} "
                f"header (which has {present}{', ...' if len(sequences) > 5 else ''}): the reads "
                f"were aligned to another reference; realign them to {fasta} (give the FASTQ) "
                f"or give the sample's variant calls as a VCF"
            )
        declared = int(sequences[name]["LN"])  # type: ignore[call-overload]
        if declared != length:
            hint = _build_hint(aliases, name, declared)
            raise InputError(
                f"{file}: contig {name} has length {declared}{hint} "
                f"in the {kind} header but {length} in {label}: the reads "
                f"were aligned to another reference; realign them to {fasta} (give the FASTQ) "
                f"or give the sample's variant calls as a VCF"
            )
        m5 = str(sequences[name].get("M5", "")).lower()
        if m5 and name in digests and m5 != digests[name]:
            raise InputError(
                f"{file}: contig {name} has sequence digest M5:{m5} in the {kind} header but "
                f"{digests[name]} in {label}: same name and length, other "
                f"sequence; the file was made against another reference: give that reference "
                f"as reference.fasta, or realign the reads to {fasta}"
            )
    extra = [name for name in sequences if name not in target]
    primary_extra = [name for name in extra if not NON_PRIMARY_NAME.search(name)]
    if primary_extra:
        raise InputError(
            f"{file}: contig {primary_extra[0]} of the {kind} header is not in {label}: "
            f"the reads were aligned to another reference; realign them to "
            f"{fasta} (give the FASTQ) or give the sample's variant calls as a VCF"
        )
    return extra


def _build_hint(aliases: AliasTable, name: str, length: int) -> str:
    builds = sorted({alias.build for alias in aliases.lookup(name) if alias.length == length})
    if "GRCh37" in builds:
        return (
            " (the GRCh37 length: an alignment on GRCh37 is declared so with build GRCh37, or "
            "auto, in units.tsv, and needs the liftover: block of the config)"
        )
    return f" (the {builds[0]} length)" if builds else ""


def _decode(file: Path, kind: str, handle: object, fasta: Path | str) -> int:
    """Decode the first records; a CRAM that its reference cannot decode is an error."""
    decoded = 0
    try:
        for _ in handle:  # type: ignore[attr-defined]
            decoded += 1
            if decoded >= DECODED_RECORDS:
                break
    except (OSError, ValueError) as exc:
        if kind == "CRAM":
            raise InputError(
                f"{file}: the CRAM cannot be decoded with the reference {fasta} ({exc}); a CRAM "
                f"stores differences to the reference it was made with: give that FASTA as "
                f"reference.fasta, or convert the file to BAM with its reference first"
            ) from None
        raise InputError(f"{file}: damaged BAM record after {decoded} records ({exc})") from None
    if decoded == 0:
        raise InputError(f"{file}: the {kind} holds no alignments")
    return decoded
