#!/usr/bin/env python3
"""Download the real references genopass needs for GRCh37 input, checksums verified.

    python scripts/fetch_references.py --outdir resources/references [--dry-run] [--only NAME]

Files (about 1.7 GB to download, 6 GB unpacked):

- GRCh38: NCBI's GRCh38 "no alt" analysis set with UCSC names (chr1..chr22, chrX, chrY, chrM,
  unlocalised/unplaced scaffolds, chrEBV): the usual target of sequencing pipelines;
- GRCh37: UCSC hg19 (chr1..chr22, chrX, chrY, hg19's chrM, randoms, haplotypes), the assembly
  whose coordinates the UCSC chain starts from;
- the UCSC liftOver chain hg19ToHg38.

Each download is checked against the checksum file its source publishes beside it (NCBI's
``md5checksums.txt``, UCSC's ``md5sum.txt``): the expected MD5 is read from there, never written
here, so a re-issued file is caught rather than trusted. FASTAs are unpacked (htslib cannot index
plain gzip) and indexed (.fai). Every file is written under a temporary name and renamed only
once verified; a file already present and verified is not downloaded again.

At the end the script prints the config lines (``reference`` and ``liftover``) to use.
``--dry-run`` prints what would be downloaded and checked, and touches nothing: no network.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import os
import shutil
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

NCBI_GRCH38 = (
    "https://ftp.ncbi.nlm.nih.gov/genomes/all/GCA/000/001/405/GCA_000001405.15_GRCh38/"
    "seqs_for_alignment_pipelines.ucsc_ids/"
)
UCSC_HG19 = "https://hgdownload.soe.ucsc.edu/goldenPath/hg19/"
CHUNK = 1 << 20


@dataclass(frozen=True)
class Reference:
    name: str
    url: str
    checksums_url: str  # the checksum file the source publishes
    saved_as: str  # file name under --outdir (unpacked for FASTAs)
    unpack: bool  # gunzip and index with .fai (FASTA) or keep as downloaded (chain)

    @property
    def file_name(self) -> str:
        return self.url.rsplit("/", 1)[-1]


REFERENCES = (
    Reference(
        "GRCh38",
        NCBI_GRCH38 + "GCA_000001405.15_GRCh38_no_alt_analysis_set.fna.gz",
        NCBI_GRCH38 + "md5checksums.txt",
        "GRCh38_no_alt_analysis_set.fa",
        True,
    ),
    Reference(
        "GRCh37",
        UCSC_HG19 + "bigZips/hg19.fa.gz",
        UCSC_HG19 + "bigZips/md5sum.txt",
        "hg19.fa",
        True,
    ),
    Reference(
        "chain",
        UCSC_HG19 + "liftOver/hg19ToHg38.over.chain.gz",
        UCSC_HG19 + "liftOver/md5sum.txt",
        "hg19ToHg38.over.chain.gz",
        False,
    ),
)


class FetchError(Exception):
    """A download or a checksum failed; the message says which file and what to do."""


def published_md5(checksums: str, file_name: str, source: str) -> str:
    """The MD5 a checksum file (``md5sum`` format: ``HEX  [./]NAME``) gives for ``file_name``."""
    for line in checksums.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("*").removeprefix("./") == file_name:
            digest = parts[0].lower()
            if len(digest) == 32 and all(c in "0123456789abcdef" for c in digest):
                return digest
    raise FetchError(f"{source}: lists no MD5 for {file_name}; the source changed its layout")


def md5_of(path: Path) -> str:
    digest = hashlib.md5()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def download(url: str, dest: Path, quiet: bool = False) -> None:
    """Stream ``url`` into ``dest`` (written as ``dest.part`` and renamed when complete)."""
    part = dest.with_name(dest.name + ".part")
    try:
        with urllib.request.urlopen(url, timeout=60) as response, open(part, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            for block in iter(lambda: response.read(CHUNK), b""):
                out.write(block)
                done += len(block)
                if not quiet and total and sys.stderr.isatty():
                    print(f"\r  {dest.name}: {done / total:6.1%}", end="", file=sys.stderr)
        if not quiet and total and sys.stderr.isatty():
            print(file=sys.stderr)
    except OSError as exc:
        part.unlink(missing_ok=True)
        raise FetchError(
            f"{url}: download failed ({exc}); check the network and run again"
        ) from exc
    os.replace(part, dest)


def read_text(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.read().decode()
    except OSError as exc:
        raise FetchError(f"{url}: cannot read the published checksums ({exc})") from exc


def fetch(reference: Reference, outdir: Path, quiet: bool = False) -> Path:
    """Download, verify and (for FASTAs) unpack and index one reference; return its path."""
    outdir.mkdir(parents=True, exist_ok=True)
    final = outdir / reference.saved_as
    verified = final.with_name(final.name + ".md5-verified")
    if final.exists() and verified.exists():
        if not quiet:
            print(f"{reference.name}: {final} already verified")
        return final
    expected = published_md5(
        read_text(reference.checksums_url), reference.file_name, reference.checksums_url
    )
    packed = outdir / reference.file_name
    if not (packed.exists() and md5_of(packed) == expected):
        if not quiet:
            print(f"{reference.name}: downloading {reference.url}")
        download(reference.url, packed, quiet)
    got = md5_of(packed)
    if got != expected:
        packed.unlink()
        raise FetchError(
            f"{packed.name}: MD5 {got}, but {reference.checksums_url} publishes {expected}; "
            f"the download is corrupt or the file changed: run again"
        )
    if reference.unpack:
        part = final.with_name(final.name + ".part")
        with gzip.open(packed, "rb") as src, open(part, "wb") as out:
            shutil.copyfileobj(src, out, CHUNK)
        os.replace(part, final)
        packed.unlink()
        import pysam

        pysam.faidx(str(final))
    verified.write_text(f"{expected}  {reference.file_name}\n")
    if not quiet:
        print(f"{reference.name}: {final} (MD5 {expected} as published)")
    return final


def config_lines(outdir: Path) -> str:
    by_name = {r.name: outdir / r.saved_as for r in REFERENCES}
    return (
        "reference:\n"
        "  name: GRCh38\n"
        f"  fasta: {by_name['GRCh38']}\n"
        "liftover:\n"
        "  GRCh37:\n"
        f"    fasta: {by_name['GRCh37']}\n"
        f"    chain: {by_name['chain']}\n"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--outdir", type=Path, default=Path("resources/references"))
    parser.add_argument(
        "--only", choices=[r.name for r in REFERENCES], action="append", help="repeatable"
    )
    parser.add_argument("--dry-run", action="store_true", help="print the plan; no network")
    args = parser.parse_args(argv)
    chosen = [r for r in REFERENCES if not args.only or r.name in args.only]
    if args.dry_run:
        for reference in chosen:
            print(f"{reference.name}:")
            print(f"  download  {reference.url}")
            print(f"  verify    MD5 listed for {reference.file_name} in {reference.checksums_url}")
            action = "unpack + index (.fai)" if reference.unpack else "keep as is"
            print(f"  save      {args.outdir / reference.saved_as} ({action})")
        print("\nthen, in config/config.yaml:\n" + config_lines(args.outdir))
        return 0
    try:
        for reference in chosen:
            fetch(reference, args.outdir)
    except FetchError as exc:
        print(f"fetch_references: error: {exc}", file=sys.stderr)
        return 1
    print("\nin config/config.yaml:\n" + config_lines(args.outdir))
    return 0


if __name__ == "__main__":
    sys.exit(main())
