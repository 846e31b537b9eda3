"""The strict input check every VCF passes before harmonisation (and ``genopass validate``).

One streaming pass over the decompressed text (memory flat in the file's size) with two kinds
of outcome (the table is in docs/validation.md):

- a **file refusal** (:class:`FileRefusal`): the file or its header cannot be trusted (not
  bgzip, truncated, no ``#CHROM`` line, duplicate sample names, CRLF line ends, a header that is
  not UTF-8, records out of order...). One line names the file, the line and the defect;
- a **record defect** (:class:`Defect`): one record is malformed (POS not an integer, QUAL not a
  number, INFO/FORMAT values not of the declared Type/Number, GT alleles beyond the ALT count, a
  symbolic allele's END past the contig, bytes that are not UTF-8, a wrong column count). The
  record's ordinal (1-based, input order: the stream's source number) and defect are written to
  the malformed list that ``genopass harmonise --malformed`` rejects as ``malformed:<defect>``.

Things the stream already rejects (IUPAC codes and empty ALT entries: ``invalid_allele``) and
things genopass declares on the fly (FILTER/INFO/FORMAT names the header never declared) are not
defects here; the undeclared names are counted as warnings.
"""

from __future__ import annotations

import gzip
import re
import shutil
import subprocess
import zlib
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from math import comb
from pathlib import Path

from genopass.errors import InputError
from genopass.io import BGZF_EOF

# Record defects: the code after "malformed:" in the rejects.
COLUMN_COUNT = "column_count"
POS_NOT_INTEGER = "pos_not_integer"
QUAL_NOT_NUMBER = "qual_not_number"
QUAL_NEGATIVE = "qual_negative"
INFO_TYPE = "info_type"
INFO_NUMBER = "info_number"
FORMAT_TYPE = "format_type"
FORMAT_NUMBER = "format_number"
GT_INVALID = "gt_invalid"
GT_ALLELE_OUT_OF_RANGE = "gt_allele_out_of_range"
END_BEYOND_CONTIG = "end_beyond_contig"
END_BEFORE_POS = "end_before_pos"
POS_BEYOND_CONTIG = "pos_beyond_contig"
NOT_UTF8 = "not_utf8"
BAD_TAG_NAME = "bad_tag_name"
GT_NOT_FIRST = "gt_not_first"
RECORD_DEFECTS = (
    COLUMN_COUNT,
    POS_NOT_INTEGER,
    QUAL_NOT_NUMBER,
    QUAL_NEGATIVE,
    INFO_TYPE,
    INFO_NUMBER,
    FORMAT_TYPE,
    FORMAT_NUMBER,
    GT_INVALID,
    GT_ALLELE_OUT_OF_RANGE,
    END_BEYOND_CONTIG,
    END_BEFORE_POS,
    POS_BEYOND_CONTIG,
    NOT_UTF8,
    BAD_TAG_NAME,
    GT_NOT_FIRST,
)

# File refusals.
EMPTY_FILE = "empty_file"
NOT_BGZIP = "not_bgzip"
TRUNCATED = "truncated"
NO_FILEFORMAT = "no_fileformat"
NO_COLUMN_HEADER = "no_column_header"
BAD_COLUMN_HEADER = "bad_column_header"
DUPLICATE_SAMPLE = "duplicate_sample"
BAD_META_LINE = "bad_meta_line"
HEADER_NOT_UTF8 = "header_not_utf8"
CRLF = "crlf_line_ends"
UNSORTED = "unsorted"

# Warnings (counted, never a reject).
UNDECLARED_FILTER = "undeclared_filter"
UNDECLARED_INFO = "undeclared_info"
UNDECLARED_FORMAT = "undeclared_format"
NO_RECORDS = "no_records"

FIXED_COLUMNS = ("#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO")
TYPES = ("Integer", "Float", "Flag", "Character", "String")
MAGIC = {
    b"BZh": "bzip2",
    b"\xfd7zXZ\x00": "xz",
    b"PK\x03\x04": "zip",
    b"\x28\xb5\x2f\xfd": "zstd",
    b"BCF\x02": "BCF",
}
FIX = {
    "bzip2": "decompress it (bunzip2) and recompress it with 'bgzip'",
    "xz": "decompress it (unxz) and recompress it with 'bgzip'",
    "zip": "unzip it and recompress the VCF with 'bgzip'",
    "zstd": "decompress it (zstd -d) and recompress it with 'bgzip'",
    "gzip": "recompress it with 'bgzip' (htslib) so that it can be indexed",
    "plain": "compress it with 'bgzip' (htslib)",
}

_INT = r"[-+]?\d+"
_FLOAT = r"[-+]?(?:\d+\.?\d*(?:[eE][-+]?\d+)?|\.\d+(?:[eE][-+]?\d+)?|[Ii]nf(?:inity)?|NaN|nan)"
VALUE = {
    "Integer": re.compile(rf"(?:{_INT}|\.)(?:,(?:{_INT}|\.))*"),
    "Float": re.compile(rf"(?:{_FLOAT}|\.)(?:,(?:{_FLOAT}|\.))*"),
    "Character": re.compile(r"[^,](?:,[^,])*"),
    "String": re.compile(r".*", re.DOTALL),
}
QUAL = re.compile(_FLOAT)
POS = re.compile(r"\d+")
# htslib (1.16) cannot read a GT that begins with a phase sign (VCF 4.4 allows "|0|1")
GT = re.compile(r"(?:\d+|\.)(?:[/|](?:\d+|\.))*")
DIGITS = re.compile(r"\d+")
META = re.compile(r"^##(INFO|FORMAT|FILTER|contig|ALT)=<(.*)>\s*$")
ITEM = re.compile(r'([A-Za-z_][\w.]*)=("(?:[^"\\]|\\.)*"|[^,]*)')


class FileRefusal(InputError):
    """The file as a whole cannot be trusted: one line naming the file, line and defect."""

    def __init__(self, path: Path, line: int | None, defect: str, detail: str) -> None:
        where = f"line {line}: " if line else ""
        super().__init__(f"{path}: {where}{defect}: {detail}")
        self.path, self.line, self.defect, self.detail = path, line, defect, detail


@dataclass(frozen=True)
class Defect:
    """A malformed record: its ordinal (the stream's source number), line and defect."""

    ordinal: int
    line: int
    defect: str
    detail: str


@dataclass(frozen=True)
class Field:
    number: str  # "1", "2", "A", "R", "G", "."
    type: str


@dataclass
class Header:
    info: dict[str, Field] = field(default_factory=dict)
    format: dict[str, Field] = field(default_factory=dict)
    filters: set[str] = field(default_factory=lambda: {"PASS"})
    contigs: dict[str, int | None] = field(default_factory=dict)
    samples: list[str] = field(default_factory=list)
    lines: int = 0  # header lines, the #CHROM line included


@dataclass
class CheckResult:
    """What one pass found: record defects (every one), warnings and counts."""

    path: Path
    records: int = 0
    defects: Counter[str] = field(default_factory=Counter)
    warnings: Counter[str] = field(default_factory=Counter)
    first: dict[str, list[Defect]] = field(default_factory=dict)  # per defect, the first few
    warned: dict[str, list[str]] = field(default_factory=dict)

    @property
    def malformed(self) -> int:
        return sum(self.defects.values())


def sniff(path: Path) -> str:
    """The file's container: bgzf, gzip, bzip2, xz, zip, zstd, BCF, plain or empty."""
    with open(path, "rb") as handle:
        head = handle.read(18)
    if not head:
        return "empty"
    for magic, kind in MAGIC.items():
        if head.startswith(magic):
            return kind
    if head[:2] == b"\x1f\x8b":
        # BGZF: gzip with FEXTRA holding the 'BC' subfield (SAM specification 4.1)
        return "bgzf" if len(head) >= 16 and head[3] & 4 and head[12:14] == b"BC" else "gzip"
    return "plain"


def check_container(path: Path) -> None:
    """Refuse what is not a complete bgzipped file (the stream reads BGZF only)."""
    kind = sniff(path)
    if kind == "empty":
        raise FileRefusal(path, None, EMPTY_FILE, "the file is empty (0 bytes)")
    if kind == "BCF":
        raise FileRefusal(
            path, None, NOT_BGZIP, "a BCF file; convert it with 'bcftools view -Oz' first"
        )
    if kind != "bgzf":
        raise FileRefusal(
            path,
            None,
            NOT_BGZIP,
            f"compressed with {kind}, not bgzip; {FIX[kind]}"
            if kind != "plain"
            else f"not compressed; {FIX[kind]}",
        )
    with open(path, "rb") as handle:
        handle.seek(0, 2)
        if handle.tell() < len(BGZF_EOF):
            raise FileRefusal(path, None, TRUNCATED, "shorter than one BGZF block")
        handle.seek(-len(BGZF_EOF), 2)
        if handle.read() != BGZF_EOF:
            raise FileRefusal(
                path,
                None,
                TRUNCATED,
                "the file ends without the BGZF end-of-file block: it "
                "was cut short in transfer; ask the centre to send it again",
            )


def read_lines(path: Path) -> Iterator[bytes]:
    """The decompressed lines of a BGZF (or plain text) file, ``\\n`` kept; damage refused.
    A BCF file is read as the VCF text bcftools writes of it."""
    opener = gzip.open if sniff(path) in ("bgzf", "gzip") else open
    try:
        with opener(path, "rb") as handle:
            if handle.peek(3)[:3] == b"BCF":
                yield from _bcf_lines(path)
                return
            yield from handle
    except (EOFError, OSError, zlib.error) as exc:
        raise FileRefusal(
            path,
            None,
            TRUNCATED,
            f"a compressed block is damaged or cut short ({exc}); ask "
            f"the centre to send the file again",
        ) from None


def read_all_lines(path: Path) -> Iterator[bytes]:
    """:func:`read_lines` for a whole pass: a BGZF file is decompressed by ``bgzip -dc`` in a
    process of its own when bgzip is on PATH (libdeflate, beside the checking process: about a
    third of the time of Python's gzip); damage is refused the same way."""
    bgzip = shutil.which("bgzip")
    if bgzip is None or sniff(path) != "bgzf":
        yield from read_lines(path)
        return
    with gzip.open(path, "rb") as handle:
        is_bcf = handle.peek(3)[:3] == b"BCF"
    if is_bcf:
        yield from _bcf_lines(path)
        return
    command = [bgzip, "-dc", str(path)]
    with subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=1 << 20
    ) as process:
        assert process.stdout is not None and process.stderr is not None
        yield from process.stdout
        error = process.stderr.read().decode("utf-8", "replace").strip()
    if process.returncode:
        last = error.splitlines()[-1] if error else f"bgzip exit {process.returncode}"
        raise FileRefusal(
            path,
            None,
            TRUNCATED,
            f"a compressed block is damaged or cut short ({last}); ask "
            f"the centre to send the file again",
        )


def _bcf_lines(path: Path) -> Iterator[bytes]:
    command = ["bcftools", "view", "--no-version", "-Ov", str(path)]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as process:
        assert process.stdout is not None and process.stderr is not None
        yield from process.stdout
        error = process.stderr.read().decode("utf-8", "replace").strip()
    if process.returncode:
        raise FileRefusal(path, None, TRUNCATED, f"bcftools cannot read the BCF ({error[-200:]})")


def check_file_header(path: Path | str) -> Header:
    """The container and header checks only (what ``genopass harmonise`` refuses itself)."""
    path = Path(path)
    check_container(path)
    return read_header(path, read_lines(path))


def parse_meta(text: str) -> tuple[str, dict[str, str]] | None:
    """(kind, items) of an ``##INFO/FORMAT/FILTER/contig/ALT=<...>`` line; None for others."""
    found = META.match(text)
    if not found:
        return None
    items = {k: v.strip('"') for k, v in ITEM.findall(found.group(2))}
    return found.group(1), items


def read_header(path: Path, lines: Iterator[bytes]) -> Header:
    """The header's definitions and samples; refuses a header that cannot be trusted."""
    header = Header()
    number = 0
    for raw in lines:
        number += 1
        if raw.endswith(b"\r\n"):
            raise FileRefusal(
                path,
                number,
                CRLF,
                "lines end in CRLF (Windows); convert with 'dos2unix' "
                "(or tr -d '\\r') and bgzip again",
            )
        try:
            text = raw.decode("utf-8").rstrip("\n")
        except UnicodeDecodeError as exc:
            raise FileRefusal(
                path,
                number,
                HEADER_NOT_UTF8,
                f"header bytes are not UTF-8 ({exc.reason} at byte {exc.start})",
            ) from None
        if number == 1 and not text.startswith("##fileformat=VCF"):
            raise FileRefusal(
                path,
                1,
                NO_FILEFORMAT,
                f"the first line is not ##fileformat=VCFv4.x ({text[:40]!r}); is it a VCF?",
            )
        if text.startswith("##"):
            _add_definition(path, number, text, header)
            continue
        if text.startswith("#"):
            _read_columns(path, number, text, header)
            header.lines = number
            return header
        raise FileRefusal(
            path, number, NO_COLUMN_HEADER, "a record before the #CHROM column header line"
        )
    if number == 0:
        raise FileRefusal(path, None, EMPTY_FILE, "the file holds no line at all")
    raise FileRefusal(
        path,
        number,
        NO_COLUMN_HEADER,
        "the header ends without the #CHROM column line (the file is truncated or is no VCF)",
    )


def _add_definition(path: Path, number: int, text: str, header: Header) -> None:
    parsed = parse_meta(text)
    if parsed is None:
        if text.startswith(("##INFO=", "##FORMAT=", "##FILTER=", "##contig=")):
            raise FileRefusal(path, number, BAD_META_LINE, f"cannot parse {text[:80]!r}")
        return
    kind, items = parsed
    name = items.get("ID")
    if not name:
        raise FileRefusal(path, number, BAD_META_LINE, f"no ID in {text[:80]!r}")
    if kind in ("INFO", "FORMAT"):
        num, typ = items.get("Number"), items.get("Type")
        if typ not in TYPES or not num or not (num.isdigit() or num in "ARG."):
            raise FileRefusal(
                path,
                number,
                BAD_META_LINE,
                f"{kind}/{name}: Number={num} Type={typ} is not "
                f"a VCF Number (an integer, A, R, G or .) and Type ({', '.join(TYPES)})",
            )
        (header.info if kind == "INFO" else header.format)[name] = Field(num, typ)
    elif kind == "FILTER":
        header.filters.add(name)
    elif kind == "contig":
        length = items.get("length")
        header.contigs[name] = int(length) if length and length.isdigit() else None


def _read_columns(path: Path, number: int, text: str, header: Header) -> None:
    columns = text.split("\t")
    if tuple(columns[:8]) != FIXED_COLUMNS or len(columns) == 9:
        raise FileRefusal(
            path,
            number,
            BAD_COLUMN_HEADER,
            "the column line is not '#CHROM POS ID REF ALT "
            "QUAL FILTER INFO [FORMAT samples...]' separated by tabs",
        )
    if len(columns) > 9 and columns[8] != "FORMAT":
        raise FileRefusal(path, number, BAD_COLUMN_HEADER, "the 9th column is not FORMAT")
    samples = columns[9:]
    repeated = [name for name, n in Counter(samples).items() if n > 1]
    if repeated:
        raise FileRefusal(
            path,
            number,
            DUPLICATE_SAMPLE,
            f"sample name {', '.join(repeated[:5])} appears "
            f"more than once in the #CHROM line; each sample column needs its own name",
        )
    if any(not name for name in samples):
        raise FileRefusal(path, number, BAD_COLUMN_HEADER, "an empty sample name")
    header.samples = samples


@dataclass
class _Checker:
    """Checks one record at a time, by two paths with the same verdicts.

    The quick path (:meth:`quick`: bytes, split once, one regular expression for INFO, the
    sample columns by their skeleton, :class:`_Layout`) accepts only records that the
    field-by-field path accepts, and hands every other record to it (:meth:`full`), which names
    the defect or finds none. The header's validators are built once per key and ALT count.
    """

    header: Header
    result: CheckResult
    keep: int
    formats: dict[str, list[tuple[int, str, Field | None]]] = field(default_factory=dict)
    fast_info: dict[int, re.Pattern[str]] = field(default_factory=dict)
    quick_info: dict[int, re.Pattern[bytes]] = field(default_factory=dict)
    fast_samples: dict[tuple[str, int], re.Pattern[str]] = field(default_factory=dict)
    layouts: dict[tuple[bytes, int], _Layout | None] = field(default_factory=dict)
    filters_seen: set[bytes] = field(default_factory=lambda: {b".", b"PASS"})
    chroms: dict[bytes, str] = field(default_factory=dict)
    cached: int = 0  # bytes of record skeletons cached (all layouts)
    info_seen: dict[int, set[bytes]] = field(default_factory=dict)  # INFO accepted, per ALT count
    tabs: int = -1  # tabs between the sample columns (-1: no sample)

    def __post_init__(self) -> None:
        self.tabs = len(self.header.samples) - 1 if self.header.samples else -1

    site: tuple[str, int] = ("", 0)  # CHROM and POS of the last record (POS: leading digits)

    def record(self, ordinal: int, line: int, raw: bytes) -> str | None:
        """The defect of one record line (``\\n`` stripped), or None; warnings counted."""
        if raw.isascii() and self.quick(raw):
            return None
        return self.full(ordinal, line, raw)

    def quick(self, raw: bytes) -> bool:
        """True when the record is well formed (its site and warnings then recorded); False
        when the field-by-field path must decide."""
        cols = raw.split(b"\t", 9)
        tabs = self.tabs
        if tabs >= 0:
            if len(cols) != 10:
                return False
            samples = cols[9]
            if samples.count(b"\t") != tabs or b"\t\t" in samples:
                return False
            if not samples or samples[-1] == 9 or samples[0] == 9:  # an empty column
                return False
        elif len(cols) != 8:
            return False
        chrom, pos, _id, _ref, alt, qual, filters, info = cols[:8]
        if not pos.isdigit() or b"<" in alt:  # symbolic alleles: END is checked field by field
            return False
        if qual != b"." and (qual[:1] == b"-" or not QUAL_BYTES.fullmatch(qual)):
            return False
        name = self.chroms.get(chrom)
        if name is None:
            name = chrom.decode()
            if len(self.chroms) < CACHE_SIZE:
                self.chroms[chrom] = name
        position = int(pos)
        length = self.header.contigs.get(name)
        if length is not None and position > length + 1:
            return False
        n_alt = 0 if alt == b"." else alt.count(b",") + 1
        if info != b".":
            seen = self.info_seen.get(n_alt)
            if seen is None:
                seen = self.info_seen[n_alt] = set()
                self.quick_info[n_alt] = re.compile(
                    _info_pattern(self.header.info, n_alt).pattern.encode()
                )
            if info not in seen:
                if not self.quick_info[n_alt].fullmatch(info):
                    return False
                if len(info) <= SHORT and len(seen) < CACHE_SIZE:
                    seen.add(info)
        if tabs >= 0:
            layout = self.layouts.get((cols[8], n_alt), _UNSEEN)
            if layout is _UNSEEN:
                layout = self.layout(cols[8], n_alt)
                if len(self.layouts) < CACHE_SIZE:
                    self.layouts[(cols[8], n_alt)] = layout
            if layout is None or not layout.accepts(cols[9]):  # type: ignore[union-attr]
                return False
        if filters not in self.filters_seen:
            if self.check_filters(filters.decode()) is not None:
                return False
            if len(self.filters_seen) < CACHE_SIZE:
                self.filters_seen.add(filters)
        self.site = (name, position)
        return True

    def layout(self, format_bytes: bytes, n_alt: int) -> _Layout | None:
        """The skeleton check of one FORMAT, or None when only the field-by-field path can
        judge it (undeclared or empty keys, a Character field)."""
        keys = format_bytes.decode().split(":")
        definitions = [self.header.format.get(key) for key in keys]
        if "GT" in keys[1:] or any(d is None or d.type == "Character" for d in definitions):
            return None
        keyed = [(i, k, d) for i, (k, d) in enumerate(zip(keys, definitions, strict=True))]
        return _Layout(self, keyed, n_alt)

    def check_filters(self, filters: str) -> str | None:
        """Warns of undeclared FILTER names; returns one that no header can declare."""
        if filters not in (".", "PASS"):
            for name in filters.split(";"):
                if name not in self.header.filters:
                    if not name or UNDECLARABLE.search(name):
                        return name
                    self.warn(UNDECLARED_FILTER, name)
        return None

    def full(self, ordinal: int, line: int, raw: bytes) -> str | None:
        """The field-by-field check of one record: its defect (named), or None."""
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = raw.decode("utf-8", "replace")
            self.site = _site(text.split("\t", 2))
            return self.defect(ordinal, line, NOT_UTF8, f"byte {exc.start} is not UTF-8")
        cols = text.split("\t")
        self.site = _site(cols)
        header = self.header
        width = 8 + (1 + len(header.samples) if header.samples else 0)
        if len(cols) != width and not (len(cols) == 8 and not header.samples):
            return self.defect(
                ordinal, line, COLUMN_COUNT, f"{len(cols)} columns, the header has {width}"
            )
        if header.samples and "" in cols[9:]:
            # htslib miscounts the columns when the last is empty
            name = header.samples[cols.index("", 9) - 9]
            return self.defect(
                ordinal, line, COLUMN_COUNT, f"sample {name}: an empty column (missing is '.')"
            )
        chrom, pos, _id, ref, alt, qual, filters, info = cols[:8]
        if not pos.isdigit() or not pos.isascii():
            return self.defect(ordinal, line, POS_NOT_INTEGER, f"POS {pos!r}")
        if qual != ".":
            if not QUAL.fullmatch(qual):
                return self.defect(ordinal, line, QUAL_NOT_NUMBER, f"QUAL {qual!r}")
            if qual.startswith("-") and float(qual) < 0:
                return self.defect(ordinal, line, QUAL_NEGATIVE, f"QUAL {qual}")
        n_alt = 0 if alt == "." else alt.count(",") + 1
        undeclarable = self.check_filters(filters)
        if undeclarable is not None:
            return self.defect(ordinal, line, BAD_TAG_NAME, _undeclarable("FILTER", undeclarable))
        position = int(pos)
        length = header.contigs.get(chrom)
        if length is not None and position > length + 1:
            return self.defect(
                ordinal, line, POS_BEYOND_CONTIG, f"POS {position} past {chrom}'s length {length}"
            )
        end = None
        fast = self.fast_info.get(n_alt)
        if fast is None:
            fast = self.fast_info[n_alt] = _info_pattern(header.info, n_alt)
        if info == "." or fast.fullmatch(info):
            if "END=" in info and "<" in alt:
                found = re.search(r"(?:^|;)END=(\d+)", info)
                end = int(found.group(1)) if found else None
        else:
            for item in info.split(";"):
                key, eq, value = item.partition("=")
                definition = header.info.get(key)
                if definition is None:
                    if UNDECLARABLE.search(key):
                        return self.defect(ordinal, line, BAD_TAG_NAME, _undeclarable("INFO", key))
                    if key:
                        self.warn(UNDECLARED_INFO, key)
                    continue
                problem = _value_problem(definition, value if eq else None, n_alt, None)
                if problem:
                    code = INFO_TYPE if problem == "type" else INFO_NUMBER
                    return self.defect(ordinal, line, code, f"INFO/{key}={value} ({problem})")
                if key == "END" and value.isdigit():
                    end = int(value)
        if end is not None and "<" in alt:
            if length is not None and end > length:
                return self.defect(
                    ordinal, line, END_BEYOND_CONTIG, f"END {end} past {chrom}'s length {length}"
                )
            if end < position:
                return self.defect(ordinal, line, END_BEFORE_POS, f"END {end} < POS {position}")
        if header.samples:
            return self.samples(ordinal, line, cols, n_alt)
        return None

    def samples(self, ordinal: int, line: int, cols: list[str], n_alt: int) -> str | None:
        fast = self.fast_samples.get((cols[8], n_alt))
        if fast is None:
            fast = _samples_pattern(self.header, cols[8], n_alt)
            self.fast_samples[(cols[8], n_alt)] = fast
        if fast.fullmatch("\t".join(cols[9:])):
            return None
        return self.slow_samples(ordinal, line, cols, n_alt)

    def slow_samples(self, ordinal: int, line: int, cols: list[str], n_alt: int) -> str | None:
        for key in cols[8].split(":"):
            if key not in self.header.format and (not key or UNDECLARABLE.search(key)):
                # htslib cannot declare such a tag: bcftools stops at the record
                return self.defect(ordinal, line, BAD_TAG_NAME, _undeclarable("FORMAT", key))
        if "GT" in cols[8].split(":")[1:]:
            # VCF: GT comes first when present; htslib misreads the record otherwise
            return self.defect(ordinal, line, GT_NOT_FIRST, f"FORMAT {cols[8]}: GT is not first")
        keys = self.formats.get(cols[8])
        if keys is None:
            keys = []
            for index, key in enumerate(cols[8].split(":")):
                definition = self.header.format.get(key)
                if definition is None and key != ".":
                    self.warn(UNDECLARED_FORMAT, key)
                keys.append((index, key, definition))
            self.formats[cols[8]] = keys
        for column, sample in enumerate(cols[9:]):
            problem = self.sample_problem(keys, sample, n_alt)
            if problem:
                code, detail = problem
                name = self.header.samples[column]
                return self.defect(ordinal, line, code, f"sample {name}: {detail}")
        return None

    @staticmethod
    def sample_problem(
        keys: list[tuple[int, str, Field | None]], sample: str, n_alt: int
    ) -> tuple[str, str] | None:
        """(defect, detail) of one sample column under FORMAT ``keys``, or None."""
        values = sample.split(":")
        if len(values) > len(keys):
            format_string = ":".join(key for _i, key, _d in keys)
            return FORMAT_NUMBER, f"{len(values)} values for FORMAT {format_string}"
        ploidy = None
        gt_first = bool(keys) and keys[0][1] == "GT"
        if gt_first:
            gt = values[0]
            if not GT.fullmatch(gt):
                if gt[:1] in ("/", "|") and GT.fullmatch(gt[1:]):
                    return GT_INVALID, f"GT {gt!r} begins with a phase sign (htslib cannot read it)"
                return GT_INVALID, f"GT {gt!r}"
            alleles = DIGITS.findall(gt)
            if alleles and max(map(int, alleles)) > n_alt:
                return GT_ALLELE_OUT_OF_RANGE, f"GT {gt} with {n_alt} ALT allele(s)"
            ploidy = gt.count("/") + gt.count("|") + 1
        for index, key, definition in keys[1:] if gt_first else keys:
            if definition is None or index >= len(values):
                continue
            problem = _value_problem(definition, values[index], n_alt, ploidy)
            if problem:
                code = FORMAT_TYPE if problem == "type" else FORMAT_NUMBER
                return code, f"FORMAT/{key}={values[index]} ({problem})"
        return None

    def defect(self, ordinal: int, line: int, code: str, detail: str) -> str:
        self.result.defects[code] += 1
        shown = self.result.first.setdefault(code, [])
        if len(shown) < self.keep:
            shown.append(Defect(ordinal, line, code, detail))
        return code

    def warn(self, code: str, name: str) -> None:
        names = self.result.warned.setdefault(code, [])
        if name not in names:
            names.append(name)
            self.result.warnings[code] += 1


class _Layout:
    """The sample columns of one FORMAT and ALT count, checked by their skeleton.

    The skeleton of the sample columns is the text with each run of ASCII digits made one
    ``0`` (``bytes.translate`` then ``replace``). The field-by-field verdict of a sample column
    is the verdict of its skeleton for everything but two things: the allele numbers of GT
    (checked apart, :meth:`alleles_in_range`) and the length of a Character value (FORMATs with
    a Character field take the field-by-field path). Integer and Float syntax, Numbers, GT
    syntax and ploidy (Number=G) survive the change, and a cohort's columns have a handful of
    skeletons: each one is judged once by the field-by-field check of one sample, and each
    record's whole skeleton is looked up in a bounded cache.
    """

    def __init__(self, checker: _Checker, keys: list[tuple[int, str, Field | None]], n_alt: int):
        self.keys, self.n_alt = keys, n_alt
        self.problem = checker.sample_problem
        self.checker = checker
        self.gt_first = keys[0][1] == "GT"
        self.skeletons: dict[bytes, bool] = {}  # one sample's skeleton -> verdict
        self.records: dict[bytes, bool] = {}  # a record's skeleton -> verdict
        self.exact: set[bytes] = set()  # short sample columns accepted
        # GT alleles: digits within the ALT count -> 'a', others -> 'b', separators -> '/'
        small = bytes(range(48, 48 + min(n_alt, 9) + 1))
        large = bytes(range(48 + min(n_alt, 9) + 1, 58))
        self.allele_map = bytes.maketrans(
            b"\t|" + small + large, b"//" + b"a" * len(small) + b"b" * len(large)
        )

    def accepts(self, columns: bytes) -> bool:
        if columns in self.exact:  # a few samples: the columns themselves recur
            return True
        skeleton = columns.translate(_SKELETON)
        while b"00" in skeleton:
            skeleton = skeleton.replace(b"00", b"0")
        verdict = self.records.get(skeleton)
        if verdict is None:
            verdict = all(self.sample_verdict(one) for one in set(skeleton.split(b"\t")))
            if self.checker.cached < CACHE_BYTES:
                self.records[skeleton] = verdict
                self.checker.cached += len(skeleton)
        if not verdict or self.gt_first and not self.alleles_in_range(columns):
            return False
        if len(columns) <= SHORT and len(self.exact) < CACHE_SIZE:
            self.exact.add(columns)
        return True

    def sample_verdict(self, skeleton: bytes) -> bool:
        verdict = self.skeletons.get(skeleton)
        if verdict is None:
            verdict = self.problem(self.keys, skeleton.decode(), self.n_alt) is None
            if len(self.skeletons) < CACHE_SIZE:
                self.skeletons[skeleton] = verdict
        return verdict

    def alleles_in_range(self, columns: bytes) -> bool:
        """True when no GT allele can exceed the ALT count (False may be a false alarm: a
        leading zero, '/' in a String field; the field-by-field path then decides).

        Every GT allele follows a tab, '/' or '|' (or starts the columns), all three '/' in
        the mapped text; an allele beyond the ALT count is a digit mapped to 'b' or two digits
        or more. Separators elsewhere only add false alarms."""
        return _BAD_ALLELE.search(b"/" + columns.translate(self.allele_map)) is None


_UNSEEN = object()
CACHE_SIZE = 100_000  # entries per cache (FORMAT layouts, skeletons, contig names, FILTERs)
SHORT = 64  # bytes: INFO and sample columns this short are cached as they are
CACHE_BYTES = 32 << 20  # bytes of record skeletons cached (memory stays flat)
_SKELETON = bytes.maketrans(b"123456789", b"000000000")
QUAL_BYTES = re.compile(_FLOAT.encode())
_BAD_ALLELE = re.compile(rb"/(?:b|a[ab])")  # an allele beyond the ALT count, mapped (_Layout)


# Fast paths: one regular expression per INFO (per ALT count) and per FORMAT (per ALT count)
# that matches exactly the values the field-by-field check accepts, or fewer; a record that
# does not match goes through the field-by-field check, which names the defect (or finds none).
_VALUE_ATOM = {
    "Integer": _INT,
    "Float": _FLOAT,
    "Character": r"[^,;:\t]",
    "String": None,
    "Flag": None,
}


def _values(definition: Field, n_alt: int, ploidy: int | None, stop: str) -> str:
    """A pattern of one field's value: exactly the Number of values of the Type, or '.'."""
    atom = _VALUE_ATOM[definition.type]
    if atom is None:
        return rf"[^{stop}]*"
    number = definition.number
    one = rf"(?:{atom}|\.)"
    if number.isdigit():
        count: int | None = int(number)
    elif number == "A":
        count = n_alt
    elif number == "R":
        count = n_alt + 1
    elif number == "G" and ploidy is not None:
        count = comb(n_alt + ploidy, ploidy)
    else:
        count = None
    if count is None:
        return rf"{one}(?:,{one})*"
    if count == 0:
        return r"\."
    return rf"(?:{one}(?:,{one}){{{count - 1}}}|\.)"


def _info_pattern(info: dict[str, Field], n_alt: int) -> re.Pattern[str]:
    items = []
    for key, definition in sorted(info.items(), key=lambda kv: -len(kv[0])):
        name = re.escape(key)
        if definition.type == "Flag":
            items.append(name)
        else:
            items.append(rf"{name}={_values(definition, n_alt, None, ';')}")
    item = "(?:" + "|".join(items) + ")" if items else "(?!)"
    return re.compile(rf"{item}(?:;{item})*")


def _samples_pattern(header: Header, format_string: str, n_alt: int) -> re.Pattern[str]:
    keys = format_string.split(":")
    if any(key not in header.format for key in keys) or "GT" in keys[1:]:
        return re.compile("(?!)")  # undeclared keys: the field-by-field check counts them
    allele = "(?:" + "|".join(str(i) for i in range(n_alt, -1, -1)) + r"|\.)"
    # diploid first: most samples match the first branch tried
    gts = {
        2: rf"{allele}[/|]{allele}",
        1: allele,
        None: rf"{allele}(?:[/|]{allele}){{2,}}",  # ploidy 3+: Number=G not checked
    }
    branches = []
    for ploidy, gt in gts.items():
        parts = []
        for index, key in enumerate(keys):
            if index == 0 and key == "GT":
                parts.append(gt)
            else:
                parts.append(_values(header.format[key], n_alt, ploidy, ":\t"))
        if keys[0] != "GT" and ploidy is not None:
            continue
        # trailing fields may be dropped: a(:b(:c)?)?
        pattern = parts[-1]
        for part in reversed(parts[:-1]):
            pattern = f"{part}(?::{pattern})?"
        branches.append(f"(?:{pattern})")
    sample = "(?:" + "|".join(branches) + ")"
    n = len(header.samples)
    return re.compile(sample + (rf"(?:\t{sample}){{{n - 1}}}" if n > 1 else ""))


# A FILTER/INFO/FORMAT name that no header line can declare (htslib cannot parse the line).
UNDECLARABLE = re.compile(r"[,<>]|^\s|\s$")


def _undeclarable(kind: str, name: str) -> str:
    what = "an empty name" if not name else f"{name!r}: ',', '<', '>' or spaces around it"
    return f"{kind} {what}: not declared, and no header line can declare it"


def _site(cols: list[str]) -> tuple[str, int]:
    digits = DIGITS.match(cols[1]) if len(cols) > 1 else None
    return cols[0], int(digits.group(0)) if digits else 0


def _value_problem(definition: Field, value: str | None, n_alt: int, ploidy: int | None) -> str:
    """'' when ``value`` fits the definition, else what is wrong ('type' or a Number text)."""
    typ, number = definition.type, definition.number
    if typ == "Flag":
        return "" if value is None else "type"
    if value is None:
        return "number: no value"
    if value == ".":
        return ""
    if not VALUE[typ].fullmatch(value):
        return "type"
    if number == "." or typ == "String" and number == "1":
        return ""
    count = value.count(",") + 1
    if number.isdigit():
        expected = int(number)
    elif number == "A":
        expected = n_alt
    elif number == "R":
        expected = n_alt + 1
    elif ploidy is not None:  # G: one value per genotype of this ploidy
        expected = comb(n_alt + ploidy, ploidy)
    else:
        return ""
    return "" if count == expected else f"number: {count} values, Number={number} wants {expected}"


def check_vcf(path: Path | str, malformed: Path | None = None, keep: int = 5) -> CheckResult:
    """Check ``path`` in one pass; write ``ordinal<TAB>defect`` of each malformed record to
    ``malformed``. Raises :class:`FileRefusal` for what cannot be trusted as a whole."""
    path = Path(path)
    check_container(path)
    result = CheckResult(path)
    lines = read_all_lines(path)
    header = read_header(path, lines)
    checker = _Checker(header, result, keep)
    order: dict[str, int] = {}
    last_chrom, last_pos = None, -1
    out = open(malformed, "w") if malformed else None  # noqa: SIM115 (closed below)
    try:
        line = header.lines
        for raw in lines:
            line += 1
            result.records += 1
            if raw.endswith(b"\r\n"):
                raise FileRefusal(
                    path,
                    line,
                    CRLF,
                    "lines end in CRLF (Windows); convert with 'dos2unix' and bgzip again",
                )
            raw = raw.rstrip(b"\n")
            if not raw:
                raise FileRefusal(path, line, COLUMN_COUNT, "an empty line among the records")
            code = checker.record(result.records, line, raw)
            if code and out is not None:
                out.write(f"{result.records}\t{code}\n")
            if code == POS_NOT_INTEGER:
                continue  # rejected; a POS that is no number says nothing about the order
            name, pos = checker.site
            if name != last_chrom:
                if name in order:
                    raise FileRefusal(
                        path,
                        line,
                        UNSORTED,
                        f"records of {name} again after those of "
                        f"{last_chrom}: the file is not sorted; sort it with 'bcftools sort'",
                    )
                order[name] = len(order)
                last_chrom, last_pos = name, pos
            elif pos < last_pos:
                raise FileRefusal(
                    path,
                    line,
                    UNSORTED,
                    f"{name}:{pos} after {name}:{last_pos}: the file is "
                    f"not sorted; sort it with 'bcftools sort'",
                )
            last_pos = pos
    finally:
        if out is not None:
            out.close()
    if result.records == 0:
        result.warnings[NO_RECORDS] += 1
    return result
