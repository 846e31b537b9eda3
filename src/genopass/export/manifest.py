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

# One place for the column order. Crypt4GH copies will later add the checksums of their plaintext
# (``plaintext_sha256``, ``plaintext_md5``): add the columns here and fill them in
# ``ManifestEntry.row`` from what the encryption step recorded, never by decrypting.
COLUMNS = ("path", "size", "sha256", "md5")


@dataclass(frozen=True)
class ManifestEntry:
    """One listed file."""

    path: str  # relative to the manifest's folder, POSIX separators
    size: int
    sha256: str
    md5: str

    def row(self) -> tuple[str, ...]:
        return (self.path, str(self.size), self.sha256, self.md5)


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


def write_manifest(folder: Path, target: Path) -> int:
    """Write ``target`` (tab-separated, header line) for every file under folder; return count."""
    folder, target = Path(folder), Path(target)
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder")
    # Hash everything before the output's temp file exists, so it cannot list itself.
    entries = [checksum_file(path, rel) for path, rel in listed_files(folder, exclude=target)]
    with atomic_output(target) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as out:
            out.write("\t".join(COLUMNS) + "\n")
            for entry in entries:
                out.write("\t".join(entry.row()) + "\n")
    return len(entries)
