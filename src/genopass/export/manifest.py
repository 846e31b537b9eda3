"""MANIFEST.tsv: every file of an export with its size, SHA-256 and MD5.

Recipients check a transfer with it (``sha256sum``/``md5sum`` give the same digests), so it lists
paths relative to the export folder, in a fixed order, and never the manifest itself.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from genopass.errors import InputError
from genopass.io import atomic_output

CHUNK = 1 << 20  # read 1 MiB at a time: memory stays flat whatever the file size

# One place for the column order. When the export holds Crypt4GH copies (``encrypted/``), three
# columns follow with the plaintext of each copy, from what the encryption step recorded while
# encrypting (``encrypted/PLAINTEXT.tsv``), never by decrypting; empty for plain files.
COLUMNS = ("path", "size", "sha256", "md5")
PLAINTEXT_COLUMNS = ("plaintext_size", "plaintext_sha256", "plaintext_md5")

# The encryption step's record (genopass.export.crypt writes it).
ENCRYPTED_DIR = "encrypted"
ENCRYPTED_SUFFIX = ".c4gh"
PLAINTEXT_RECORD = "PLAINTEXT.tsv"
PLAINTEXT_RECORD_COLUMNS = ("path", "size", "sha256", "md5")


@dataclass(frozen=True)
class ManifestEntry:
    """One listed file."""

    path: str  # relative to the manifest's folder, POSIX separators
    size: int
    sha256: str
    md5: str

    plaintext: tuple[str, str, str] | None = None  # size, sha256, md5 of an encrypted copy

    def row(self, with_plaintext: bool = False) -> tuple[str, ...]:
        row = (self.path, str(self.size), self.sha256, self.md5)
        if with_plaintext:
            row += self.plaintext or ("", "", "")
        return row


def checksum_file(path: Path, relative: str) -> ManifestEntry:
    """Hash one file in a single streamed pass (both digests from the same reads)."""
    sha256, md5 = hashlib.sha256(), hashlib.md5()
    size = 0
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    with open(path, "rb", buffering=0) as handle:
        while n := handle.readinto(buffer):
            sha256.update(view[:n])
            md5.update(view[:n])
            size += n
    return ManifestEntry(relative, size, sha256.hexdigest(), md5.hexdigest())


def listed_files(folder: Path, exclude: Path | None = None) -> Iterator[tuple[Path, str]]:
    """(path, relative POSIX path) of every regular file under folder, sorted by relative path.

    Symlinked folders are not followed (no loops, nothing outside the export); a symlink to a
    file is listed with its target's content, as a copy would deliver it. ``exclude`` (the
    manifest) and the temporary files of its atomic write are skipped.
    """
    root = Path(folder)
    skip = exclude.resolve() if exclude is not None else None
    found: list[tuple[str, Path]] = []
    for dirpath, _dirnames, filenames in os.walk(root):
        for name in filenames:
            path = Path(dirpath) / name
            if not path.is_file():
                continue  # sockets, fifos, dangling links
            if name in WORKFLOW_MARKERS:
                continue
            if skip is not None and (
                path.resolve() == skip
                or (path.parent.resolve() == skip.parent and _is_temp_of(name, skip.name))
            ):
                continue
            relative = path.relative_to(root).as_posix()
            if any(c in relative for c in "\t\n\r"):
                raise InputError(
                    f"{path}: file name contains a tab or line break; rename it, a manifest "
                    f"line cannot hold it"
                )
            found.append((relative, path))
    for relative, path in sorted(found):
        yield path, relative


# Empty files Snakemake keeps inside directory outputs to date them; not part of the data.
WORKFLOW_MARKERS = frozenset({".snakemake_timestamp"})


def _is_temp_of(name: str, target: str) -> bool:
    # genopass.io.atomic_output writes ".<target>.<random>.tmp" beside the target.
    return name.startswith(f".{target}.") and name.endswith(".tmp")


def read_plaintext_record(folder: Path) -> dict[str, tuple[str, str, str]]:
    """{relative path of an encrypted copy: (plaintext size, sha256, md5)}; {} without one."""
    path = Path(folder) / ENCRYPTED_DIR / PLAINTEXT_RECORD
    if not path.is_file():
        return {}
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines or tuple(lines[0].split("\t")) != PLAINTEXT_RECORD_COLUMNS:
        raise InputError(f"{path}: not a genopass plaintext record; re-run 'genopass encrypt'")
    found: dict[str, tuple[str, str, str]] = {}
    for number, line in enumerate(lines[1:], start=2):
        fields = line.split("\t")
        if len(fields) != len(PLAINTEXT_RECORD_COLUMNS):
            raise InputError(f"{path}: line {number}: expected 4 tab-separated fields")
        rel, size, sha256, md5 = fields
        found[f"{ENCRYPTED_DIR}/{rel}{ENCRYPTED_SUFFIX}"] = (size, sha256, md5)
    return found


def write_manifest(folder: Path, target: Path, sha256sums: Path | None = None) -> int:
    """Write ``target`` (tab-separated, header line) for every file under folder; return count.

    With ``sha256sums``, also that file in ``sha256sum -c`` format (run from ``folder``): every
    listed file and the manifest itself. Encrypted copies get their plaintext columns.
    """
    folder, target = Path(folder), Path(target)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    plaintext = read_plaintext_record(folder)
    # Hash everything before the outputs' temp files exist, so they cannot list themselves.
    entries = []
    for path, rel in listed_files(folder, exclude=target):
        if sha256sums is not None and _is_output(path, Path(sha256sums)):
            continue
        entry = checksum_file(path, rel)
        if rel.endswith(ENCRYPTED_SUFFIX) and rel.startswith(f"{ENCRYPTED_DIR}/"):
            if rel not in plaintext:
                raise InputError(
                    f"{path}: an encrypted copy that {ENCRYPTED_DIR}/{PLAINTEXT_RECORD} does not "
                    f"record; re-run 'genopass encrypt' so the manifest can list its plaintext"
                )
            entry = ManifestEntry(entry.path, entry.size, entry.sha256, entry.md5, plaintext[rel])
        entries.append(entry)
    encrypted = bool(plaintext)
    with atomic_output(target) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as out:
            out.write("\t".join(COLUMNS + (PLAINTEXT_COLUMNS if encrypted else ())) + "\n")
            for entry in entries:
                out.write("\t".join(entry.row(encrypted)) + "\n")
    if sha256sums is not None:
        write_sha256sums(folder, Path(sha256sums), entries, target)
    return len(entries)


def _is_output(path: Path, output: Path) -> bool:
    resolved = output.resolve()
    return path.resolve() == resolved or (
        path.parent.resolve() == resolved.parent and _is_temp_of(path.name, resolved.name)
    )


def write_sha256sums(
    folder: Path, target: Path, entries: list[ManifestEntry], manifest: Path | None = None
) -> None:
    """``<sha256>  <path>`` lines (GNU coreutils format), paths relative to ``folder``."""
    lines = [(entry.sha256, entry.path) for entry in entries]
    if manifest is not None and manifest.resolve().parent == Path(folder).resolve():
        lines.append((checksum_file(manifest, manifest.name).sha256, manifest.name))
    for _digest, rel in lines:
        if "\\" in rel:
            raise InputError(
                f"{folder / rel}: file name contains a backslash, which sha256sum -c reads as "
                f"an escape; rename it"
            )
    with atomic_output(target) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as out:
            for digest, rel in sorted(lines, key=lambda line: line[1]):
                out.write(f"{digest}  {rel}\n")
