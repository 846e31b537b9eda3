"""Keyed pseudonyms: HMAC-SHA256 of centre and sample under a secret key the user supplies."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import stat
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

from genopass.errors import UsageError

KEY_ENV = "GENOPASS_PSEUDONYM_KEY"
MIN_KEY_BYTES = 16
PSEUDONYM_PREFIX = "gp"
PSEUDONYM_HEX_DIGITS = 16  # 64 bits: collisions are negligible for millions of samples

HOW_TO_GIVE_A_KEY = (
    f"give a secret key of at least {MIN_KEY_BYTES} characters in a file named by "
    f"config 'pseudonymisation: {{key_file: PATH}}' (CLI: --key-file) or in the environment "
    f"variable {KEY_ENV}; keep the same key for later batches so that pseudonyms line up"
)


def load_key(key_file: Path | str | None = None) -> bytes:
    """The secret key from ``key_file`` or, if none is given, from the environment."""
    if key_file:
        path = Path(key_file)
        if not path.is_file():
            raise UsageError(f"pseudonym key file {path} does not exist: {HOW_TO_GIVE_A_KEY}")
        check_key_file_mode(path)
        key = path.read_bytes().strip()
        source = str(path)
    else:
        key = os.environ.get(KEY_ENV, "").strip().encode()
        source = f"${KEY_ENV}"
        if not key:
            raise UsageError(f"no pseudonym key: {HOW_TO_GIVE_A_KEY}")
    if len(key) < MIN_KEY_BYTES:
        raise UsageError(
            f"pseudonym key from {source} is {len(key)} bytes long, shorter than "
            f"{MIN_KEY_BYTES}: {HOW_TO_GIVE_A_KEY}"
        )
    return key


# Permissions of the private outputs (DESIGN.md, "Privacy"): the owner alone reads them.
PRIVATE_FILE_MODE = 0o600
PRIVATE_DIR_MODE = 0o700


def check_key_file_mode(path: Path) -> None:
    """Refuse a key file that its group or other users can read or write."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise UsageError(
            f"pseudonym key file {path} is readable or writable by group or others "
            f"(mode {mode:04o}): restrict it with 'chmod 600 {path}'"
        )


@contextlib.contextmanager
def private_output(path: Path | str) -> Iterator[Path]:
    """Yield a temporary file beside ``path`` that only its owner can read (0600, in a 0700
    folder); it replaces ``path`` only if the block succeeds, so ``path`` is never partial."""
    final = Path(path)
    final.parent.mkdir(mode=PRIVATE_DIR_MODE, parents=True, exist_ok=True)
    os.chmod(final.parent, PRIVATE_DIR_MODE)  # also when the folder was made by someone else
    fd, name = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, PRIVATE_FILE_MODE)  # mkstemp's mode already; kept whatever the writer did
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


def pseudonym(key: bytes, centre: str, sample: str) -> str:
    """Stable pseudonym of one person-sample: same key, centre and sample -> same pseudonym."""
    # The tab cannot occur in sheet values, so ("A", "BC") and ("AB", "C") never collide.
    message = f"{centre}\t{sample}".encode()
    digest = hmac.new(key, message, hashlib.sha256).hexdigest()
    return PSEUDONYM_PREFIX + digest[:PSEUDONYM_HEX_DIGITS]


def pseudonym_table(samples: pd.DataFrame, key: bytes) -> pd.DataFrame:
    """``sample``, ``centre``, ``pseudonym`` for every row of a samples sheet."""
    table = samples[["sample", "centre"]].copy()
    table["pseudonym"] = [
        pseudonym(key, centre, sample)
        for sample, centre in zip(table["sample"], table["centre"], strict=True)
    ]
    duplicated = table["pseudonym"].duplicated(keep=False)
    if duplicated.any():
        clash = ", ".join(table.loc[duplicated, "sample"])
        raise UsageError(f"pseudonym collision between samples {clash}; use another key")
    return table.reset_index(drop=True)


def write_pseudonym_table(samples: pd.DataFrame, key: bytes, out: Path) -> pd.DataFrame:
    """Write the private map (0600 in a 0700 folder); it must live outside the export
    (``<outdir>/private/``)."""
    table = pseudonym_table(samples, key)
    with private_output(out) as tmp:
        table.to_csv(tmp, sep="\t", index=False)
    return table
