"""``genopass validate``: a VCF/gVCF, a Parquet folder or an export folder, with no workflow.

``--level vcf`` is the input check the workflow runs on every VCF (:mod:`genopass.inputs.vcfcheck`);
``--level export`` (the default for an export folder) adds the export contract. Exit 0 valid,
1 invalid, 2 cannot run. The GDI validation-framework contract is in :mod:`.gdi`.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from genopass.errors import UsageError
from genopass.validate.export import check_export_folder, check_parquet, is_export_folder
from genopass.validate.report import Report
from genopass.validate.vcf import check_export_vcf, check_input_vcf

LEVELS = ("vcf", "export")


def validate_paths(
    paths: Sequence[Path],
    level: str | None = None,
    fasta: Path | None = None,
    keep: int = 5,
    malformed: Path | None = None,
) -> Report:
    """Check every path; ``level`` None: export for an export folder, vcf for a VCF."""
    if malformed is not None and (len(paths) != 1 or Path(paths[0]).is_dir()):
        raise UsageError("--malformed writes the list of one VCF: give exactly one VCF")
    if fasta is not None and not Path(str(fasta) + ".fai").is_file():
        raise UsageError(f"{fasta}: no .fai index beside it; run 'samtools faidx {fasta}'")
    report = Report(keep=keep)
    for path in map(Path, paths):
        if not path.exists():
            raise UsageError(f"{path}: no such file or folder")
        if path.is_dir():
            if is_export_folder(path):
                if level == "vcf":
                    for vcf in sorted((path / "vcf").glob("*.vcf.gz")):
                        report.files.append(str(vcf))
                        check_input_vcf(vcf, report)
                else:
                    check_export_folder(path, report, fasta)
            elif list(path.glob("*/chrom=*/*.parquet")) or list(path.glob("chrom=*/*.parquet")):
                report.files.append(str(path))
                check_parquet(path if (path / "variants").is_dir() else path.parent, report)
            else:
                raise UsageError(
                    f"{path}: neither an export folder (no MANIFEST.tsv) nor a Parquet folder"
                )
            continue
        report.files.append(str(path))
        if check_input_vcf(path, report, malformed) and level == "export":
            check_export_vcf(path, report, fasta)
    return report
