"""Helpers shared by the tests (imported as `from helpers import ...`): writers of tiny
VCF/FASTA inputs, the demo workspace, `genopass run` in a workspace."""

from __future__ import annotations

import hashlib
import hmac
import os
import random
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pysam

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(os.environ.get("GENOPASS_SHARED_DATA", REPO.parent / "shared" / "data"))


def write_vcf(path: Path, text: str, *, index: bool = True) -> Path:
    """Write VCF text (leading spaces of lines stripped) bgzipped, and index it."""
    lines = [line.strip() for line in text.strip().splitlines()]
    plain = path.with_suffix("") if path.suffix == ".gz" else path
    # Columns may be written with runs of spaces in tests; VCF needs tabs.
    body = "\n".join(line if line.startswith("##") else "\t".join(line.split()) for line in lines)
    plain.write_text(body + "\n")
    if index:
        pysam.tabix_index(str(plain), preset="vcf", force=True)
    else:
        pysam.tabix_compress(str(plain), str(plain) + ".gz", force=True)
        plain.unlink()
    return Path(str(plain) + ".gz")


def write_fasta(path: Path, contigs: dict[str, str]) -> Path:
    with open(path, "w") as handle:
        for name, seq in contigs.items():
            handle.write(f">{name}\n")
            for start in range(0, len(seq), 60):
                handle.write(seq[start : start + 60] + "\n")
    pysam.faidx(str(path))
    return path


def random_sequence(length: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice("ACGT") for _ in range(length))


# Workflow tests run the installed CLI with the virtual environment's tools first on PATH, and
# without a key in the environment unless a test gives one.
BIN = Path(sys.executable).parent
ENV = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
ENV.pop("GENOPASS_PSEUDONYM_KEY", None)


DEMO = Path("resources/demo")  # where `genopass demo-data` puts the demo, under a workspace


def make_demo(workdir: Path, *args: str) -> Path:
    """The demo as a user makes it: `genopass demo-data resources/demo ARGS` and the shipped
    config/. For a demo of its own (another seed); others copy the session's (`demo_workspace`)."""
    subprocess.run(
        [str(BIN / "genopass"), "demo-data", DEMO.as_posix(), *args],
        cwd=workdir,
        check=True,
        capture_output=True,
        env=ENV,
    )
    shutil.copytree(REPO / "config", workdir / "config", dirs_exist_ok=True)
    return workdir


def copy_demo(workspace: Path, workdir: Path) -> Path:
    """A copy of the demo workspace in ``workdir`` (4 MB: a copy costs some 30 ms), to run and
    modify as a user's own."""
    shutil.copytree(workspace, workdir, dirs_exist_ok=True)
    return workdir


def expected_pseudonyms(workspace: Path) -> dict[str, str]:
    """sample -> pseudonym of a workspace's samples.tsv under its key file, computed here from
    DESIGN.md's definition (HMAC-SHA256 of centre TAB sample, "gp" + 16 hex digits), not by
    genopass."""
    key = (workspace / DEMO / "pseudonym.key").read_text().strip().encode()
    with open(workspace / "config" / "samples.tsv") as handle:
        rows = [line.rstrip("\n").split("\t") for line in handle][1:]
    found = {}
    for sample, centre, *_ in rows:
        digest = hmac.new(key, f"{centre}\t{sample}".encode(), hashlib.sha256).hexdigest()
        found[sample] = "gp" + digest[:16]
    return found


CONFIG_OPTIONS = ("--configfile", "--configfiles")


def genopass_run(
    workdir: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess:
    """`genopass run --cores 2 ARGS --configfile config/config.yaml` in ``workdir``.

    config/config.yaml is passed as `make demo` passes it (the workflow names no config of its
    own), unless ARGS give a --configfile; last, since Snakemake's --configfile takes every
    value that follows it (targets included).
    """
    given = any(arg.split("=", 1)[0] in CONFIG_OPTIONS for arg in args)
    config = [] if given else ["--configfile", "config/config.yaml"]
    return subprocess.run(
        [str(BIN / "genopass"), "run", "--cores", "2", *args, *config],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=env or ENV,
    )


def job_counts(dry_run_output: str) -> dict[str, int]:
    """The 'Job stats' table of a Snakemake dry run: rule -> number of jobs."""
    table = dry_run_output.split("Job stats:", 1)[1].split("Reasons:", 1)[0]
    return {
        rule: int(count)
        for rule, count in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.MULTILINE)
        if rule != "total"
    }


def fasta_primary_contigs(fasta: Path) -> list[str]:
    """Contig names of a FASTA's header lines, in order, without the unplaced/random ones (names
    with '_'): the contigs a per-contig job runs on. Read from the FASTA, not from genopass."""
    with open(fasta) as handle:
        names = [line[1:].split()[0] for line in handle if line.startswith(">")]
    return [name for name in names if "_" not in name]
