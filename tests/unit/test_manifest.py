"""MANIFEST.tsv: sizes and checksums, order, the manifest itself left out."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from genopass.errors import InputError
from genopass.export import manifest
from genopass.export.manifest import write_manifest

FILES = {
    "b.txt": b"second\n",
    "a/z.bin": bytes(range(256)) * 4097,  # > 1 MiB: several chunks
    "a/empty": b"",
    "A.txt": b"upper case sorts first\n",
    "vcf/x.vcf.gz": b"\x1f\x8b" + b"\x00" * 100,
    "a b/space name.tsv": b"x\ty\n",
}


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    root = tmp_path / "export"
    for name, data in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def read_manifest(path: Path) -> list[list[str]]:
    return [line.split("\t") for line in path.read_text().splitlines()]


def test_sizes_and_checksums(folder: Path) -> None:
    target = folder / "MANIFEST.tsv"
    assert write_manifest(folder, target) == len(FILES)
    header, *rows = read_manifest(target)
    assert header == ["path", "size", "sha256", "md5"]
    for path, size, sha256, md5 in rows:
        data = FILES[path]
        assert int(size) == len(data)
        assert sha256 == hashlib.sha256(data).hexdigest()
        assert md5 == hashlib.md5(data).hexdigest()


def test_order_is_sorted_relative_posix_paths(folder: Path) -> None:
    target = folder / "MANIFEST.tsv"
    write_manifest(folder, target)
    paths = [row[0] for row in read_manifest(target)[1:]]
    assert paths == sorted(FILES)
    assert paths[0] == "A.txt" and "a b/space name.tsv" in paths


def test_target_excluded_and_rerun_stable(folder: Path) -> None:
    target = folder / "MANIFEST.tsv"
    write_manifest(folder, target)
    first = target.read_bytes()
    # A re-run sees the old manifest and a stale temp file of a crashed run: neither is listed.
    (folder / ".MANIFEST.tsv.abc123.tmp").write_text("partial")
    assert write_manifest(folder, target) == len(FILES)
    assert target.read_bytes() == first
    assert "MANIFEST.tsv" not in target.read_text()


def test_target_outside_folder(folder: Path, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere" / "manifest.tsv"
    assert write_manifest(folder, target) == len(FILES)
    assert not any(p.name.endswith(".tmp") for p in target.parent.iterdir())


def test_symlinked_folders_not_followed(folder: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text("not part of the export")
    os.symlink(outside, folder / "link")
    write_manifest(folder, folder / "MANIFEST.tsv")
    assert "secret" not in (folder / "MANIFEST.tsv").read_text()


def test_streams_in_chunks(folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(manifest, "CHUNK", 1000)  # many reads per file, same digests
    entry = manifest.checksum_file(folder / "a" / "z.bin", "a/z.bin")
    assert entry.size == len(FILES["a/z.bin"])
    assert entry.sha256 == hashlib.sha256(FILES["a/z.bin"]).hexdigest()


def test_no_partial_manifest_on_error(folder: Path) -> None:
    bad = folder / "bad\tname"
    bad.write_text("x")
    target = folder / "MANIFEST.tsv"
    with pytest.raises(InputError, match="tab"):
        write_manifest(folder, target)
    assert not target.exists()


def test_not_a_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        write_manifest(tmp_path / "missing", tmp_path / "m.tsv")
