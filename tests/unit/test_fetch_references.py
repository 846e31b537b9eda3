"""scripts/fetch_references.py offline: the dry run, and a whole fetch from file:// URLs."""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "fetch_references.py"


@pytest.fixture(scope="module")
def fetch() -> ModuleType:
    spec = importlib.util.spec_from_file_location("genopass_fetch_references", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_dry_run_prints_the_plan_and_touches_nothing(tmp_path):
    out = tmp_path / "refs"
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--dry-run", "--outdir", str(out)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "GCA_000001405.15_GRCh38_no_alt_analysis_set.fna.gz" in text
    assert "goldenPath/hg19/bigZips/hg19.fa.gz" in text
    assert "goldenPath/hg19/liftOver/hg19ToHg38.over.chain.gz" in text
    assert "md5checksums.txt" in text and "liftOver/md5sum.txt" in text
    assert f"chain: {out / 'hg19ToHg38.over.chain.gz'}" in text
    assert not out.exists()


def test_published_md5_is_read_from_the_checksum_file(fetch):
    listing = "0123456789abcdef0123456789abcdef  ./a.fna.gz\nffffffffffffffffffffffffffffffff  b\n"
    assert fetch.published_md5(listing, "a.fna.gz", "x") == "0123456789abcdef0123456789abcdef"
    with pytest.raises(fetch.FetchError, match="lists no MD5 for c.gz"):
        fetch.published_md5(listing, "c.gz", "x")


def source_files(tmp_path: Path, md5: str | None = None) -> tuple[Path, str]:
    site = tmp_path / "site"
    site.mkdir()
    with gzip.open(site / "ref.fa.gz", "wt") as handle:
        handle.write(">chr1\nACGTACGTAC\n")
    digest = md5 or hashlib.md5((site / "ref.fa.gz").read_bytes()).hexdigest()
    (site / "md5sum.txt").write_text(f"{digest}  ref.fa.gz\n")
    return site, digest


def test_fetch_verifies_unpacks_and_indexes(fetch, tmp_path):
    site, digest = source_files(tmp_path)
    reference = replace(
        fetch.REFERENCES[1],
        url=(site / "ref.fa.gz").as_uri(),
        checksums_url=(site / "md5sum.txt").as_uri(),
        saved_as="ref.fa",
    )
    path = fetch.fetch(reference, tmp_path / "out", quiet=True)
    assert path.read_text() == ">chr1\nACGTACGTAC\n"
    assert Path(f"{path}.fai").exists()
    assert digest in (tmp_path / "out" / "ref.fa.md5-verified").read_text()


def test_a_checksum_mismatch_is_an_error_and_leaves_no_file(fetch, tmp_path):
    site, _ = source_files(tmp_path, md5="0" * 32)
    reference = replace(
        fetch.REFERENCES[1],
        url=(site / "ref.fa.gz").as_uri(),
        checksums_url=(site / "md5sum.txt").as_uri(),
        saved_as="ref.fa",
    )
    with pytest.raises(fetch.FetchError, match="ref.fa.gz: MD5 .* publishes 0{32}"):
        fetch.fetch(reference, tmp_path / "out", quiet=True)
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == []
