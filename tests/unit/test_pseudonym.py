"""Pseudonyms and the private map. Expected pseudonyms are computed here with hmac/hashlib from
DESIGN.md's definition (HMAC-SHA256 of centre TAB sample, "gp" + the first 16 hex digits), never
taken from genopass."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat
import subprocess
import sys

import pandas as pd
import pytest

from genopass.errors import UsageError
from genopass.export.pseudonym import KEY_ENV, load_key, pseudonym, write_pseudonym_table

KEY = b"0123456789abcdef0123456789abcdef"


def expected_pseudonym(key: bytes, centre: str, sample: str) -> str:
    digest = hmac.new(key, f"{centre}\t{sample}".encode(), hashlib.sha256).hexdigest()
    return "gp" + digest[:16]


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def private_key_file(tmp_path, content: bytes = KEY + b"\n"):
    path = tmp_path / "key"
    path.write_bytes(content)
    path.chmod(0o600)
    return path


def test_pseudonym_is_the_keyed_hmac_of_centre_and_sample():
    # a fixed value: HMAC-SHA256(KEY, b"CTR-A\tA-001"), first 16 hex digits
    assert expected_pseudonym(KEY, "CTR-A", "A-001") == "gp54f91b11f23f0892"
    assert pseudonym(KEY, "CTR-A", "A-001") == expected_pseudonym(KEY, "CTR-A", "A-001")


def test_same_key_same_pseudonym_other_key_other_pseudonym():
    assert pseudonym(KEY, "CTR-A", "A-001") == pseudonym(KEY, "CTR-A", "A-001")
    assert pseudonym(KEY[::-1], "CTR-A", "A-001") == expected_pseudonym(KEY[::-1], "CTR-A", "A-001")
    assert pseudonym(KEY, "CTR-A", "A-001") != pseudonym(KEY[::-1], "CTR-A", "A-001")
    # the same local ID at two centres is two people
    assert pseudonym(KEY, "CTR-B", "A-001") == expected_pseudonym(KEY, "CTR-B", "A-001")
    assert pseudonym(KEY, "CTR-A", "A-001") != pseudonym(KEY, "CTR-B", "A-001")


def test_key_from_file_and_environment(tmp_path, monkeypatch):
    assert load_key(private_key_file(tmp_path)) == KEY
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    assert load_key(None) == KEY


@pytest.mark.parametrize("file_mode", [0o644, 0o640, 0o604, 0o660])
def test_key_file_readable_by_others_is_refused_with_chmod_600(tmp_path, file_mode):
    key_file = private_key_file(tmp_path)
    key_file.chmod(file_mode)
    with pytest.raises(UsageError) as raised:
        load_key(key_file)
    message = str(raised.value)
    assert "\n" not in message
    assert str(key_file) in message
    assert f"chmod 600 {key_file}" in message


def test_cli_refuses_a_0644_key_file_in_one_line(tmp_path):
    key_file = private_key_file(tmp_path)
    key_file.chmod(0o644)
    samples = tmp_path / "samples.tsv"
    samples.write_text("sample\tcentre\tcountry\tsex\nA-001\tCTR-A\tDE\tfemale\n")
    out = tmp_path / "private" / "pseudonyms.tsv"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "genopass.cli",
            "pseudonyms",
            "--samples",
            str(samples),
            "--key-file",
            str(key_file),
            "--out",
            str(out),
        ],  # fmt: skip
        capture_output=True,
        text=True,
    )
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert f"chmod 600 {key_file}" in lines[0]
    assert not out.exists()


def test_missing_or_short_key_says_how_to_give_one(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(UsageError, match=f"no pseudonym key: .*{KEY_ENV}"):
        load_key(None)
    short = private_key_file(tmp_path, b"abc")
    with pytest.raises(UsageError, match="3 bytes long, shorter than 16"):
        load_key(short)
    with pytest.raises(UsageError, match="does not exist"):
        load_key(tmp_path / "nope")


def test_pseudonym_table_is_written_0600_in_a_0700_folder(tmp_path):
    samples = pd.DataFrame({"sample": ["A-001", "B-001"], "centre": ["CTR-A", "CTR-B"]})
    private = tmp_path / "private"
    private.mkdir(mode=0o755)  # as Snakemake makes an output's folder
    private.chmod(0o755)
    out = private / "pseudonyms.tsv"
    out.write_text("an old map\n")
    out.chmod(0o644)
    write_pseudonym_table(samples, KEY, out)
    assert mode(out) == 0o600
    assert mode(private) == 0o700
    assert sorted(p.name for p in private.iterdir()) == ["pseudonyms.tsv"]  # no temp left
    table = pd.read_csv(out, sep="\t", dtype=str)
    assert list(table.columns) == ["sample", "centre", "pseudonym"]
    assert table.pseudonym.tolist() == [
        expected_pseudonym(KEY, "CTR-A", "A-001"),
        expected_pseudonym(KEY, "CTR-B", "B-001"),
    ]
    assert KEY.decode() not in out.read_text()


def test_a_new_private_folder_is_0700_whatever_the_umask(tmp_path):
    samples = pd.DataFrame({"sample": ["A-001"], "centre": ["CTR-A"]})
    out = tmp_path / "results" / "private" / "pseudonyms.tsv"
    previous = os.umask(0o000)
    try:
        write_pseudonym_table(samples, KEY, out)
    finally:
        os.umask(previous)
    assert mode(out) == 0o600
    assert mode(out.parent) == 0o700
