"""A wheel installed non-editable works on its own: its package data are inside it.

The wheel is built from a copy of the project's sources (so the checkout gets no build/ folder
and no stale file can slip in), installed with ``pip install --target``, and run from a folder
outside the repository with only that target on PYTHONPATH (the dependencies come from this
environment's site-packages, which hold genopass only as an editable path entry that PYTHONPATH
precedes).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import REPO, random_sequence, write_fasta, write_vcf

LENGTH = 1200


def pip(*args: str, cwd: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "pip", "--disable-pip-version-check", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("packaging")
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    ignore = shutil.ignore_patterns("*.egg-info", "__pycache__", "*.pyc")
    shutil.copytree(REPO / "src", source / "src", ignore=ignore)
    # Built in an isolated environment, as `pip install .` builds it: the build backend that
    # pyproject.toml requires, not whatever setuptools this environment happens to hold.
    pip("wheel", "--no-deps", "-w", str(root / "wheels"), str(source), cwd=root)
    (wheel,) = (root / "wheels").glob("genopass-*.whl")
    target = root / "site"
    pip("install", "--no-deps", "--no-index", "--target", str(target), str(wheel), cwd=root)
    return target


def run(target: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(target)}
    return subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True)


def test_the_installed_package_is_the_wheel_with_its_alias_tables(installed, tmp_path):
    code = (
        "import genopass, genopass.paths as p; print(genopass.__file__); "
        "print(*sorted(x.name for x in p.ALIAS_DIR.glob('*.tsv')))"
    )
    done = run(installed, tmp_path, "-c", code)
    assert done.returncode == 0, done.stderr
    module, tables = done.stdout.splitlines()
    assert Path(module).resolve().is_relative_to(installed.resolve())
    assert not Path(module).resolve().is_relative_to(REPO.resolve())
    assert tables == "GRCh37.tsv GRCh38.tsv"
    # Byte copies of the repository's tables.
    for name in tables.split():
        shipped = installed / "genopass" / "resources" / "aliases" / name
        assert shipped.read_bytes() == (REPO / "src/genopass/resources/aliases" / name).read_bytes()


def test_the_installed_cli_renames_contig_22_to_chr22(installed, tmp_path):
    work = tmp_path / "elsewhere"  # outside the repository: nothing resolves through it
    work.mkdir()
    seq = random_sequence(LENGTH, seed=22)
    write_fasta(work / "ref.fa", {"chr22": seq})
    records = [
        f"22 {p} . {seq[p - 1]} {'C' if seq[p - 1] != 'C' else 'G'} 50 PASS ."
        for p in (100, 500, 900)
    ]
    write_vcf(
        work / "in.vcf.gz",
        "\n".join(
            [
                "##fileformat=VCFv4.2",
                f"##contig=<ID=22,length={LENGTH}>",
                "#CHROM POS ID REF ALT QUAL FILTER INFO",
                *records,
            ]
        ),
    )
    done = run(
        installed,
        work,
        "-m",
        "genopass.cli",
        "harmonise",
        "--reference",
        "ref.fa",
        "--out",
        "out.vcf.gz",
        "in.vcf.gz",
    )
    assert done.returncode == 0, done.stderr
    view = ["bcftools", "view", "--no-version"]
    body = subprocess.run([*view, "-H", "out.vcf.gz"], cwd=work, capture_output=True, text=True)
    assert [line.split("\t")[:2] for line in body.stdout.splitlines()] == [
        ["chr22", "100"],
        ["chr22", "500"],
        ["chr22", "900"],
    ]
    header = subprocess.run([*view, "-h", "out.vcf.gz"], cwd=work, capture_output=True, text=True)
    assert f"##contig=<ID=chr22,length={LENGTH}>" in header.stdout


def test_the_installed_cli_loads_a_sheet_with_the_shipped_schemas(installed, tmp_path):
    """genopass pseudonyms validates samples.tsv against its schema: package data too."""
    import hashlib
    import hmac

    work = tmp_path / "sheets"
    work.mkdir()
    (work / "samples.tsv").write_text("sample\tcentre\tcountry\tsex\nS1\tCTR\tSE\tfemale\n")
    key = "a-key-for-the-packaging-test"
    (work / "key").write_text(key + "\n")
    (work / "key").chmod(0o600)
    done = run(
        installed,
        work,
        "-m",
        "genopass.cli",
        "pseudonyms",
        "--samples",
        "samples.tsv",
        "--key-file",
        "key",
        "--out",
        "private/pseudonyms.tsv",
    )
    assert done.returncode == 0, done.stderr
    rows = (work / "private" / "pseudonyms.tsv").read_text().splitlines()
    assert rows[0].split("\t") == ["sample", "centre", "pseudonym"]
    sample, centre, pseudonym = rows[1].split("\t")
    assert (sample, centre) == ("S1", "CTR")
    # as documented: "gp" + 16 hex digits of HMAC-SHA256(key, centre TAB sample)
    digest = hmac.new(key.encode(), b"CTR\tS1", hashlib.sha256).hexdigest()
    assert pseudonym == "gp" + digest[:16]
