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
from typing import TYPE_CHECKING

from genopass import __version__
from genopass.errors import InputError
from genopass.export.manifest import checksum_file, listed_files
from genopass.export.metadata import PATH_LIKE, created

if TYPE_CHECKING:  # rocrate is imported where it is used: the CLI starts faster
    from rocrate.model.entity import Entity
    from rocrate.rocrate import ROCrate

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
    from rocrate.rocrate import ROCrate

    export_dir = Path(export_dir)
    workflow = _checked_workflow(export_dir, options)
    stamp = created() or "1970-01-01T00:00:00Z"
    copied = _copy_workflow(export_dir, workflow)

    crate = ROCrate(version="1.1")  # Workflow Run Crate 0.5 builds on RO-Crate 1.1
    _describe_root(crate, options.dataset, stamp)
    main = _add_workflow(crate, copied)
    params = _add_parameters(crate, main, options.parameters)
    inputs = _add_inputs(crate, options.inputs)
    outputs = _add_outputs(crate, export_dir)
    _add_run(crate, main, options.dataset, stamp, [*inputs, *params], outputs)
    # Inputs are described, not shipped: web-style data entities named by their digest.
    crate.root_dataset.append_to("hasPart", inputs)
    crate.metadata.write(export_dir)
    return (
        f"wrote {export_dir / CRATE_FILE} ({len(inputs)} inputs by checksum, "
        f"{len(outputs)} outputs, {len(params)} parameters)"
    )


def _checked_workflow(export_dir: Path, options: CrateOptions) -> Path:
    """The Snakefile to describe, after refusing what must not enter the crate."""
    from genopass.paths import WORKFLOW_DIR

    if not export_dir.is_dir():
        raise InputError(f"{export_dir}: not a folder")
    workflow = Path(options.workflow) if options.workflow else WORKFLOW_DIR / "Snakefile"
    if not workflow.is_file():
        raise InputError(f"{workflow}: no such workflow file; give it with --workflow")
    for name, value in options.parameters.items():
        if PATH_LIKE.search(value):
            raise InputError(f"parameter {name}: {value!r} looks like a path; give its value")
    return workflow


def _copy_workflow(export_dir: Path, workflow: Path) -> Path:
    """The crate holds the workflow it names (rewritten only when it changed)."""
    copied = export_dir / WORKFLOW_PATH
    copied.parent.mkdir(parents=True, exist_ok=True)
    if not copied.exists() or copied.read_bytes() != workflow.read_bytes():
        shutil.copyfile(workflow, copied)
    return copied


def _describe_root(crate: ROCrate, dataset: str, stamp: str) -> None:
    from rocrate.model.contextentity import ContextEntity

    crate.root_dataset["name"] = f"genopass export {dataset}"
    crate.root_dataset["description"] = (
        f"Harmonised, pseudonymised GRCh38 dataset {dataset} written by genopass {__version__}"
    )
    crate.root_dataset["datePublished"] = stamp
    crate.root_dataset["license"] = "https://spdx.org/licenses/MIT"
    crate.root_dataset["conformsTo"] = [{"@id": uri} for uri in PROFILES]
    for uri, name in PROFILES.items():
        properties = {"@type": "CreativeWork", "name": name, "version": uri.rsplit("/", 1)[1]}
        crate.add(ContextEntity(crate, uri, properties=properties))


def _add_workflow(crate: ROCrate, copied: Path) -> Entity:
    """The workflow, the crate's ``mainEntity``."""
    from rocrate.model.contextentity import ContextEntity

    language_properties = {k: v for k, v in SNAKEMAKE.items() if k != "@id"}
    language = crate.add(ContextEntity(crate, SNAKEMAKE["@id"], properties=language_properties))
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
    return main


def _add_parameters(crate: ROCrate, main: Entity, parameters: Mapping[str, str]) -> list[Entity]:
    """Each parameter: a FormalParameter of the workflow and the run's PropertyValue of it."""
    from rocrate.model.contextentity import ContextEntity

    params = []
    for name, value in sorted(parameters.items()):
        formal_properties = {
            "@type": "FormalParameter",
            "name": name,
            "additionalType": "Text",
            "conformsTo": {"@id": "https://bioschemas.org/profiles/FormalParameter/1.0-RELEASE"},
        }
        formal = crate.add(ContextEntity(crate, f"#param-{name}", properties=formal_properties))
        value_properties = {
            "@type": "PropertyValue",
            "name": name,
            "value": value,
            "exampleOfWork": {"@id": formal.id},
        }
        params.append(crate.add(ContextEntity(crate, f"#pv-{name}", properties=value_properties)))
    formal_ids = [{"@id": p.id.replace("#pv-", "#param-")} for p in params]
    if formal_ids:  # RO-Crate 1.1: a single value, not a singleton array
        main["input"] = formal_ids[0] if len(formal_ids) == 1 else formal_ids
    return params


def _add_inputs(crate: ROCrate, paths: Sequence[Path]) -> list[Entity]:
    """Inputs by digest and kind only: their names and paths carry local IDs."""
    from rocrate.model.contextentity import ContextEntity

    inputs = []
    for number, path in enumerate(paths, start=1):
        path = Path(path)
        if not path.is_file():
            raise InputError(f"{path}: no such input file")
        digest = checksum_file(path, "")
        properties = {
            "@type": "File",
            "name": f"input {number} ({_kind(path)})",
            "sha256": digest.sha256,
            "contentSize": str(digest.size),
        }
        inputs.append(crate.add(ContextEntity(crate, ni_uri(digest.sha256), properties=properties)))
    return inputs


def _add_outputs(crate: ROCrate, export_dir: Path) -> list[Entity]:
    """The export's files by their path inside it (not the files written after the crate)."""
    outputs = []
    for path, rel in listed_files(export_dir):
        if rel in LATER_FILES or rel == WORKFLOW_PATH or rel.startswith("encrypted/"):
            continue
        digest = checksum_file(path, rel)
        properties = {"sha256": digest.sha256, "contentSize": str(digest.size)}
        outputs.append(crate.add_file(dest_path=rel, properties=properties))
    return outputs


def _add_run(
    crate: ROCrate,
    main: Entity,
    dataset: str,
    stamp: str,
    objects: list[Entity],
    outputs: list[Entity],
) -> None:
    """The run (a CreateAction of the workflow) and genopass's OrganizeAction around it."""
    from rocrate.model.contextentity import ContextEntity
    from rocrate.model.softwareapplication import SoftwareApplication

    engine = crate.add(
        SoftwareApplication(
            crate, "#genopass", properties={"name": "genopass", "version": __version__}
        )
    )
    crate.add_action(
        main,
        identifier=f"#run-{dataset}",
        object=objects,
        result=outputs,
        properties={"name": f"genopass run of dataset {dataset}", "endTime": stamp, "agent": None},
    )
    action = crate.get(f"#run-{dataset}")
    del action["agent"]  # no user names in the export (DESIGN.md, "Privacy")
    run_properties = {
        "@type": "OrganizeAction",
        "name": "genopass run",
        "instrument": {"@id": engine.id},
        "object": {"@id": action.id},
        "endTime": stamp,
    }
    crate.add(ContextEntity(crate, "#engine-run", properties=run_properties))
