"""Crypt4GH copies of the export for named recipients (GA4GH Crypt4GH, ``crypt4gh`` package).

``encrypt_export`` writes ``<export>/encrypted/<path>.c4gh`` for every export file, readable by
every recipient's secret key, and records each plaintext's size and checksums (taken while
encrypting, never by decrypting) in ``encrypted/PLAINTEXT.tsv``; ``genopass manifest`` lists
them beside the encrypted files' own. Crypt4GH draws a random session key per file, so the
encrypted bytes differ between runs; the plaintext checksums are what a re-run must reproduce.

``generate_keys`` makes a key pair for tests and demos (the secret key unencrypted, 0600).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from genopass.errors import InputError, UsageError
from genopass.export.manifest import (
    CHUNK,
    ENCRYPTED_DIR,
    PLAINTEXT_RECORD,
    PLAINTEXT_RECORD_COLUMNS,
    listed_files,
)
from genopass.export.manifest import ENCRYPTED_SUFFIX as SUFFIX
from genopass.export.pseudonym import private_output
from genopass.io import atomic_output

log = logging.getLogger(__name__)

# Written after encryption, so never encrypted themselves.
NOT_ENCRYPTED = frozenset({"MANIFEST.tsv", "SHA256SUMS"})


@dataclass(frozen=True)
class KeyPair:
    public: Path
    secret: Path


def generate_keys(name: str, folder: Path) -> KeyPair:
    """``folder/NAME.pub`` and ``folder/NAME.sec`` (unencrypted secret key, mode 0600)."""
    from crypt4gh import sodium
    from crypt4gh.keys.c4gh import encode_private_key

    if not name or "/" in name or name.startswith("."):
        raise UsageError(f"key name {name!r}: give a plain file name such as 'recipient1'")
    folder = Path(folder)
    pair = KeyPair(folder / f"{name}.pub", folder / f"{name}.sec")
    for path in (pair.public, pair.secret):
        if path.exists():
            raise UsageError(f"{path} exists already: remove it or choose another name")
    secret = os.urandom(32)
    with contextlib.redirect_stderr(io.StringIO()):  # "private key is not encrypted"
        encoded = encode_private_key(secret, None, name.encode())
    import base64

    with private_output(pair.secret) as tmp:
        tmp.write_bytes(
            b"-----BEGIN CRYPT4GH PRIVATE KEY-----\n"
            + base64.b64encode(encoded)
            + b"\n-----END CRYPT4GH PRIVATE KEY-----\n"
        )
    with atomic_output(pair.public) as tmp:
        tmp.write_bytes(
            b"-----BEGIN CRYPT4GH PUBLIC KEY-----\n"
            + base64.b64encode(sodium.derive_pk(secret))
            + b"\n-----END CRYPT4GH PUBLIC KEY-----\n"
        )
    return pair


def read_public_key(path: Path) -> bytes:
    from crypt4gh.keys import get_public_key

    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such public key file (export.encrypt.recipients)")
    try:
        return get_public_key(str(path))
    except Exception as exc:  # crypt4gh raises ValueError/binascii errors alike
        raise InputError(
            f"{path}: not a Crypt4GH (or ssh-ed25519) public key ({exc}); make one with "
            f"'genopass keys NAME' or 'crypt4gh-keygen'"
        ) from None


def read_secret_key(path: Path) -> bytes:
    from crypt4gh.keys import get_private_key

    try:
        return get_private_key(str(path), lambda: "")
    except Exception as exc:
        raise InputError(f"{path}: cannot read the Crypt4GH secret key ({exc})") from None


class _HashingReader(io.RawIOBase):
    """A file reader that hashes what it hands out (plaintext checksums in the same pass)."""

    def __init__(self, handle: io.BufferedReader) -> None:
        self.handle = handle
        self.sha256, self.md5, self.size = hashlib.sha256(), hashlib.md5(), 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # type: ignore[override]
        n = self.handle.readinto(buffer)
        if n:
            view = memoryview(buffer)[:n]
            self.sha256.update(view)
            self.md5.update(view)
            self.size += n
        return n or 0

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        if offset or whence != io.SEEK_SET:
            raise io.UnsupportedOperation("only a seek to the start")
        return self.handle.seek(0)


def export_files(export_dir: Path) -> list[tuple[Path, str]]:
    """The plain export files to encrypt: everything but encrypted/ and the manifests."""
    return [
        (path, rel)
        for path, rel in listed_files(export_dir)
        if not rel.startswith(f"{ENCRYPTED_DIR}/") and rel not in NOT_ENCRYPTED
    ]


def encrypt_export(export_dir: Path, recipients: Sequence[Path]) -> str:
    """Encrypt every export file for all ``recipients`` into ``export_dir/encrypted/``."""
    from crypt4gh import lib

    if not recipients:
        raise UsageError("genopass encrypt: give at least one --recipient public key")
    export_dir = Path(export_dir)
    if not export_dir.is_dir():
        raise InputError(f"{export_dir}: not a folder")
    public_keys = [read_public_key(p) for p in recipients]
    sender = os.urandom(32)  # a throwaway sender key: recipients need no key of ours
    keys = [(0, sender, pk) for pk in public_keys]
    target = export_dir / ENCRYPTED_DIR
    files = export_files(export_dir)
    record: list[tuple[str, ...]] = []
    written: set[Path] = set()
    for path, rel in files:
        out = target / f"{rel}{SUFFIX}"
        with atomic_output(out) as tmp, open(path, "rb", buffering=CHUNK) as plain:
            reader = _HashingReader(plain)
            with open(tmp, "wb") as sink:
                lib.encrypt(keys, reader, sink)
            record.append(
                (rel, str(reader.size), reader.sha256.hexdigest(), reader.md5.hexdigest())
            )
        written.add(out)
    # Copies of files no longer in the export would be listed with stale checksums: remove them.
    for stale in sorted(target.rglob(f"*{SUFFIX}")):
        if stale not in written:
            stale.unlink()
    with atomic_output(target / PLAINTEXT_RECORD) as tmp:
        with open(tmp, "w", encoding="utf-8", newline="\n") as handle:
            handle.write("\t".join(PLAINTEXT_RECORD_COLUMNS) + "\n")
            for row in record:
                handle.write("\t".join(row) + "\n")
    return f"encrypted {len(files)} files for {len(public_keys)} recipients into {target}"


def decrypt_file(encrypted: Path, secret_key: Path, out: Path) -> None:
    """Decrypt one file with a recipient's secret key (tests, and a receiver's check)."""
    from crypt4gh import lib

    key = read_secret_key(secret_key)
    with open(encrypted, "rb") as source, atomic_output(out) as tmp, open(tmp, "wb") as sink:
        try:
            lib.decrypt([(0, key, None)], source, sink)
        except Exception as exc:
            raise InputError(f"{encrypted}: cannot decrypt with {secret_key} ({exc})") from None
