"""Provenance: ``ro-crate-metadata.json``, a Workflow Run Crate (profile 0.5) of the export.

The crate's root is the export folder. It describes:

- the workflow (``mainEntity``: the Snakefile, copied into ``workflow/Snakefile`` so that the
  crate holds what it names), a ``ComputationalWorkflow`` in Snakemake;
- the run, a ``CreateAction`` whose ``instrument`` is the workflow, ``object`` the inputs and
  ``result`` the export files;
- inputs by checksum only: each is ``ni:///sha-256;<base64url>`` (RFC 6920) with its ``sha256``
  and ``contentSize``, named by its kind ("input 1 (vcf.gz)"), never by its path or file name
  (file names of deliveries carry local sample IDs);
- outputs by their path inside the export, with ``sha256`` and ``contentSize``;
- parameters as ``PropertyValue`` objects of the run, each an ``exampleOfWork`` of a
  ``FormalParameter`` of the workflow.

Deterministic: entities are added in sorted order and rocrate writes keys sorted; the run's
``endTime`` and the root's ``datePublished`` come from ``SOURCE_DATE_EPOCH`` (1970-01-01 when
unset: the crate then carries no real date).
"""

from __future__ import annotations

import base64
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from genopass import __version__
from genopass.errors import InputError
from genopass.export.manifest import checksum_file, listed_files
from genopass.export.metadata import PATH_LIKE, created

CRATE_FILE = "ro-crate-metadata.json"
PROFILES = {
    "https://w3id.org/ro/wfrun/process/0.5": "Process Run Crate",
    "https://w3id.org/ro/wfrun/workflow/0.5": "Workflow Run Crate",
    "https://w3id.org/workflowhub/workflow-ro-crate/1.0": "Workflow RO-Crate",
}
SNAKEMAKE = {
    "@id": "https://w3id.org/workflowhub/workflow-ro-crate#snakemake",
    "@type": "ComputerLanguage",
    "name": "Snakemake",
    "identifier": {"@id": "https://snakemake.readthedocs.io"},
    "url": {"@id": "https://snakemake.readthedocs.io"},
}
WORKFLOW_PATH = "workflow/Snakefile"
# Written after the crate (they list it), so not part of its results.
LATER_FILES = frozenset({"MANIFEST.tsv", "SHA256SUMS", CRATE_FILE})


@dataclass(frozen=True)
class CrateOptions:
    """What ``genopass crate`` was asked to do."""

    dataset: str
    workflow: Path | None = None  # the Snakefile; default: the source checkout's
    inputs: Sequence[Path] = ()
    parameters: Mapping[str, str] = field(default_factory=dict)


def ni_uri(sha256_hex: str) -> str:
    """RFC 6920 named-information URI of a SHA-256 digest."""
    digest = base64.urlsafe_b64encode(bytes.fromhex(sha256_hex)).rstrip(b"=").decode()
    return f"ni:///sha-256;{digest}"


def _kind(path: Path) -> str:
    suffixes = "".join(path.suffixes[-2:]) if path.suffix in (".gz", ".bgz") else path.suffix
    return suffixes.lstrip(".") or "file"


def write_crate(export_dir: Path, options: CrateOptions) -> str:
    """Write ``export_dir/ro-crate-metadata.json``; return a one-line summary."""
    from rocrate.model.contextentity import ContextEntity
    from rocrate.model.softwareapplication import SoftwareApplication
    from rocrate.rocrate import ROCrate

    from genopass.paths import WORKFLOW_DIR

    export_dir = Path(export_dir)
    if not export_dir.is_dir():
        raise InputError(f"{export_dir}: not a folder")
    workflow = Path(options.workflow) if options.workflow else WORKFLOW_DIR / "Snakefile"
    if not workflow.is_file():
        raise InputError(f"{workflow}: no such workflow file; give it with --workflow")
    for name, value in options.parameters.items():
        if PATH_LIKE.search(value):
            raise InputError(f"parameter {name}: {value!r} looks like a path; give its value")
    stamp = created() or "1970-01-01T00:00:00Z"

    copied = export_dir / WORKFLOW_PATH
    copied.parent.mkdir(parents=True, exist_ok=True)
    if not copied.exists() or copied.read_bytes() != workflow.read_bytes():
        shutil.copyfile(workflow, copied)

    crate = ROCrate(version="1.1")  # Workflow Run Crate 0.5 builds on RO-Crate 1.1
    crate.root_dataset["name"] = f"genopass export {options.dataset}"
    crate.root_dataset["description"] = (
        f"Harmonised, pseudonymised GRCh38 dataset {options.dataset} written by genopass "
        f"{__version__}"
    )
    crate.root_dataset["datePublished"] = stamp
    crate.root_dataset["license"] = "https://spdx.org/licenses/MIT"
    crate.root_dataset["conformsTo"] = [{"@id": uri} for uri in PROFILES]
    for uri, name in PROFILES.items():
        crate.add(
            ContextEntity(
                crate,
                uri,
                properties={
                    "@type": "CreativeWork",
                    "name": name,
                    "version": uri.rsplit("/", 1)[1],
                },
            )
        )
    language = crate.add(
        ContextEntity(
            crate, SNAKEMAKE["@id"], properties={k: v for k, v in SNAKEMAKE.items() if k != "@id"}
        )
    )
    workflow_sum = checksum_file(copied, WORKFLOW_PATH)
    main = crate.add_file(
        dest_path=WORKFLOW_PATH,
        properties={
            "@type": ["File", "SoftwareSourceCode", "ComputationalWorkflow"],
            "name": "genopass workflow",
            "programmingLanguage": {"@id": language.id},
            "sha256": workflow_sum.sha256,
            "contentSize": str(workflow_sum.size),
            "version": __version__,
        },
    )
    crate.root_dataset["mainEntity"] = {"@id": main.id}

    params = []
    for name, value in sorted(options.parameters.items()):
        formal = crate.add(
            ContextEntity(
                crate,
                f"#param-{name}",
                properties={
                    "@type": "FormalParameter",
                    "name": name,
                    "additionalType": "Text",
                    "conformsTo": {
                        "@id": "https://bioschemas.org/profiles/FormalParameter/1.0-RELEASE"
                    },
                },
            )
        )
        params.append(
            crate.add(
                ContextEntity(
                    crate,
                    f"#pv-{name}",
                    properties={
                        "@type": "PropertyValue",
                        "name": name,
                        "value": value,
                        "exampleOfWork": {"@id": formal.id},
                    },
                )
            )
        )
    formal_ids = [{"@id": p.id.replace("#pv-", "#param-")} for p in params]
    if formal_ids:  # RO-Crate 1.1: a single value, not a singleton array
        main["input"] = formal_ids[0] if len(formal_ids) == 1 else formal_ids

    inputs = []
    for number, path in enumerate(options.inputs, start=1):
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no such input file")
        digest = checksum_file(path, "")
        inputs.append(
            crate.add(
                ContextEntity(
                    crate,
                    ni_uri(digest.sha256),
                    properties={
                        "@type": "File",
                        "name": f"input {number} ({_kind(path)})",
                        "sha256": digest.sha256,
                        "contentSize": str(digest.size),
                    },
                )
            )
        )

    outputs = []
    for path, rel in listed_files(export_dir):
        if rel in LATER_FILES or rel == WORKFLOW_PATH or rel.startswith("encrypted/"):
            continue
        digest = checksum_file(path, rel)
        outputs.append(
            crate.add_file(
                dest_path=rel, properties={"sha256": digest.sha256, "contentSize": str(digest.size)}
            )
        )

    engine = crate.add(
        SoftwareApplication(
            crate, "#genopass", properties={"name": "genopass", "version": __version__}
        )
    )
    crate.add_action(
        main,
        identifier=f"#run-{options.dataset}",
        object=[*inputs, *params],
        result=outputs,
        properties={
            "name": f"genopass run of dataset {options.dataset}",
            "endTime": stamp,
            "agent": None,
        },
    )
    action = crate.get(f"#run-{options.dataset}")
    del action["agent"]  # no user names in the export (DESIGN.md, "Privacy")
    crate.add(
        ContextEntity(
            crate,
            "#engine-run",
            properties={
                "@type": "OrganizeAction",
                "name": "genopass run",
                "instrument": {"@id": engine.id},
                "object": {"@id": action.id},
                "endTime": stamp,
            },
        )
    )
    # Inputs are described, not shipped: web-style data entities named by their digest.
    crate.root_dataset.append_to("hasPart", inputs)
    crate.metadata.write(export_dir)
    return (
        f"wrote {export_dir / CRATE_FILE} ({len(inputs)} inputs by checksum, "
        f"{len(outputs)} outputs, {len(params)} parameters)"
    )
