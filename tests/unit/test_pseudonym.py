from __future__ import annotations

import hashlib
import hmac

import pandas as pd
import pytest

from genopass.errors import UsageError
from genopass.pseudonym import KEY_ENV, load_key, pseudonym, write_pseudonym_table

KEY = b"0123456789abcdef0123456789abcdef"


def test_pseudonym_is_the_keyed_hmac_of_centre_and_sample():
    expected = hmac.new(KEY, b"CTR-A\tA-001", hashlib.sha256).hexdigest()[:16]
    assert pseudonym(KEY, "CTR-A", "A-001") == "gp" + expected


def test_same_key_same_pseudonym_other_key_other_pseudonym():
    assert pseudonym(KEY, "CTR-A", "A-001") == pseudonym(KEY, "CTR-A", "A-001")
    assert pseudonym(KEY, "CTR-A", "A-001") != pseudonym(KEY[::-1], "CTR-A", "A-001")
    # the same local ID at two centres is two people
    assert pseudonym(KEY, "CTR-A", "A-001") != pseudonym(KEY, "CTR-B", "A-001")


def test_key_from_file_and_environment(tmp_path, monkeypatch):
    key_file = tmp_path / "key"
    key_file.write_bytes(KEY + b"\n")
    assert load_key(key_file) == KEY
    monkeypatch.setenv(KEY_ENV, KEY.decode())
    assert load_key(None) == KEY


def test_missing_or_short_key_says_how_to_give_one(tmp_path, monkeypatch):
    monkeypatch.delenv(KEY_ENV, raising=False)
    with pytest.raises(UsageError, match=f"no pseudonym key: .*{KEY_ENV}"):
        load_key(None)
    short = tmp_path / "short"
    short.write_text("abc")
    with pytest.raises(UsageError, match="3 bytes long, shorter than 16"):
        load_key(short)
    with pytest.raises(UsageError, match="does not exist"):
        load_key(tmp_path / "nope")


def test_pseudonym_table_is_written_with_sample_centre_pseudonym(tmp_path):
    samples = pd.DataFrame({"sample": ["A-001", "B-001"], "centre": ["CTR-A", "CTR-B"]})
    out = tmp_path / "private" / "pseudonyms.tsv"
    write_pseudonym_table(samples, KEY, out)
    table = pd.read_csv(out, sep="\t", dtype=str)
    assert list(table.columns) == ["sample", "centre", "pseudonym"]
    assert table.pseudonym.tolist() == [
        pseudonym(KEY, "CTR-A", "A-001"),
        pseudonym(KEY, "CTR-B", "B-001"),
    ]
    assert KEY.decode() not in out.read_text()
