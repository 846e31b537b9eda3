"""``genopass demo-data``: the whole demo (centres A-C from :mod:`cohort`, the reads centre D
from :mod:`reads`, the GRCh37 centre E from :mod:`grch37`), its sheets and its key."""

from __future__ import annotations

import hashlib
import os
import random
import tempfile
from pathlib import Path

from genopass.demo import grch37, planted, reads
from genopass.demo.cohort import (
    CENTRE_BY_NAME,
    CENTRES,
    FASTA_NAME,
    KEY_NAME,
    PEOPLE,
    SAMPLE_COLUMNS,
    TRUTH_COLUMNS,
    TRUTH_DIR,
    UNIT_COLUMNS,
    TruthRow,
    _bad_records,
    _sort_key,
    centre_records,
    draw_cohort,
    truth_rows,
    vcf_file_name,
    vcf_header,
    write_tsv,
)
from genopass.demo.writers import write_fasta, write_vcf
from genopass.errors import UsageError


def sheet_rows(vcf_dir: str) -> tuple[list[list[str]], list[list[str]]]:
    """Rows of samples.tsv and units.tsv; VCF paths are ``<vcf_dir>/<file>``."""
    samples = [
        [p.sample, p.centre, CENTRE_BY_NAME[p.centre].country, planted.reported_sex(p), p.consent]
        for p in PEOPLE
    ]
    units = []
    for p in PEOPLE:
        vcf = f"{vcf_dir}/{vcf_file_name(p)}"
        column = p.vcf_column if p.vcf_column != p.sample else ""
        units.append([p.sample, "delivery1", "", "", "", "", vcf, column, p.build])
    samples += reads.sample_rows()  # CTR-D delivers raw reads (FASTQ)
    units += reads.unit_rows(vcf_dir)
    samples += grch37.sample_rows()  # CTR-E delivers VCFs on GRCh37 (liftover)
    units += grch37.unit_rows(vcf_dir)
    return samples, units


def demo_key(seed: int) -> str:
    """A demo secret (64 hex digits) derived from the seed; real runs use a key of their own."""
    return hashlib.sha256(f"genopass demo pseudonym key, seed {seed}".encode()).hexdigest()


def generate_demo(outdir: Path, seed: int) -> list[Path]:
    """Write the demo reference, VCFs, truth, key and sheets into ``outdir``; return the files."""
    outdir = Path(outdir)
    if outdir.exists() and not outdir.is_dir():
        raise UsageError(f"demo output folder {outdir} exists and is not a folder; name another")
    if not isinstance(seed, int):
        raise UsageError(f"demo seed must be an integer, not {seed!r}")
    outdir.mkdir(parents=True, exist_ok=True)
    rng = random.Random(seed)  # the only source of randomness: same seed, same bytes
    cohort = draw_cohort(rng)
    # a duplicate, a parent and child, a contaminated sample (and a sheet sex that is wrong)
    planted.plant(cohort, seed)

    # Build everything in a hidden folder beside the outputs, then move each file into place, so
    # an interrupted run leaves no half-written file under its final name.
    with tempfile.TemporaryDirectory(prefix=".demo-", dir=outdir) as tmp_name:
        tmp = Path(tmp_name)
        (tmp / TRUTH_DIR).mkdir()
        written: list[Path] = []

        fasta = tmp / FASTA_NAME
        write_fasta(fasta, ((contig.name, contig.seq) for contig in cohort.contigs.values()))
        written += [fasta, tmp / f"{FASTA_NAME}.fai"]

        (tmp / KEY_NAME).write_text(demo_key(seed) + "\n")
        (tmp / KEY_NAME).chmod(0o600)  # genopass refuses a key that others can read
        written.append(tmp / KEY_NAME)

        truth: dict[str, list[TruthRow]] = {}
        for centre in CENTRES:
            people = [p for p in PEOPLE if p.centre == centre.name]
            groups = [people] if centre.name == "CTR-B" else [[p] for p in people]
            for group in groups:
                records = centre_records(rng, cohort, centre, group)
                for column, person in enumerate(group):
                    truth[person.sample] = truth_rows(cohort, records, column)
                entries = [(_sort_key(r), r.line(centre)) for r in records]
                for record in _bad_records(rng, cohort, centre, group):
                    entries.append((_sort_key(record), record.line(centre)))
                if centre.name == "CTR-B":
                    # The same line twice, as concatenated batches leave it; the stable sort
                    # below keeps the two copies next to each other.
                    snvs = [r for r in records if len(r.ref) == 1 and len(r.alts) == 1]
                    twin = snvs[len(snvs) // 3]
                    entries.append((_sort_key(twin), twin.line(centre)))
                entries.sort(key=lambda entry: entry[0])
                name = vcf_file_name(group[0])
                header = vcf_header(centre, [p.vcf_column for p in group], name)
                write_vcf(tmp / name, header, [line for _, line in entries])
                written += [tmp / name, tmp / f"{name}.tbi"]

        for person in PEOPLE:
            path = tmp / TRUTH_DIR / f"{person.sample}.tsv"
            write_tsv(path, TRUTH_COLUMNS, truth[person.sample])
            written.append(path)

        written += planted.write_panel(tmp, cohort)  # the population's frequencies: qc.panel
        # CTR-D: FASTQ of D-001 (~30x) and D-002 (~8x, planted low coverage), their truth
        written += reads.write_reads_demo(tmp, cohort, seed)
        # CTR-E: GRCh37 reference, chain to GRCh38, VCFs on GRCh37 and their GRCh38 truth
        written += grch37.write_grch37_demo(tmp, cohort, seed)

        samples, units = sheet_rows(outdir.as_posix())
        write_tsv(tmp / "samples.tsv", SAMPLE_COLUMNS, samples)
        write_tsv(tmp / "units.tsv", UNIT_COLUMNS, units)
        written += [tmp / "samples.tsv", tmp / "units.tsv"]

        final = []
        (outdir / TRUTH_DIR).mkdir(exist_ok=True)
        for path in written:
            target = outdir / path.relative_to(tmp)
            os.replace(path, target)
            final.append(target)
    return final
