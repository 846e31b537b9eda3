"""The workflow configuration: load it, validate it against its JSON schema, fill defaults.

The schemas are package data (``genopass/resources/schemas/``; ``workflow/schemas`` links there) so
that the Snakefile (through ``snakemake.utils.validate``) and the package, however installed, read
the very same files. The schema is the only
source of defaults: a user's config is never merged with the demo's (config/config.yaml).
Files that the schema cannot check (the recipients' public keys) are checked here, naming the key.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from jsonschema import Draft202012Validator, validators

from genopass.errors import InputError, UsageError
from genopass.paths import SCHEMA_DIR


@cache
def load_schema(name: str) -> dict[str, Any]:
    """The schema ``<name>.schema.yaml`` of the package (cached; do not mutate it)."""
    path = SCHEMA_DIR / f"{name}.schema.yaml"
    if not path.is_file():
        raise UsageError(f"genopass schema {path} is missing: reinstall genopass")
    with open(path, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def _fill_defaults(validator_class: type) -> type:
    """A validator class that also sets the ``default`` of every absent property."""
    validate_properties = validator_class.VALIDATORS["properties"]

    def properties(
        validator: Any, props: dict[str, Any], instance: Any, schema: dict[str, Any]
    ) -> Iterator[jsonschema.ValidationError]:
        if isinstance(instance, dict):
            for name, subschema in props.items():
                if "default" in subschema and name not in instance:
                    instance[name] = copy.deepcopy(subschema["default"])
        yield from validate_properties(validator, props, instance, schema)

    return validators.extend(validator_class, {"properties": properties})


DefaultFillingValidator = _fill_defaults(Draft202012Validator)


def validator(name: str, fill_defaults: bool = False) -> Draft202012Validator:
    """A validator for the schema ``name`` (config, samples or units)."""
    schema = load_schema(name)
    cls = DefaultFillingValidator if fill_defaults else Draft202012Validator
    return cls(schema)


def first_error(errors: Iterator[jsonschema.ValidationError]) -> jsonschema.ValidationError | None:
    """The most relevant error of a validation (the deepest, as jsonschema ranks them)."""
    return jsonschema.exceptions.best_match(errors)


NO_CONFIG = (
    "no config given: run 'genopass run --configfile path/to/config.yaml' (start from a copy of "
    "config/config.yaml and config/README.md; 'make demo' runs the demo with config/config.yaml)"
)
"""The message of a run without a config (the Snakefile names no config file of its own)."""


ConfigCheck = Callable[[Mapping[str, Any], str], None]
"""A later stage's check of its keys, ``(config, label) -> None``, raising InputError naming
``label`` and the key (the QC stage's: :func:`genopass.qc.presets.check_qc_config`, which loads
``qc.preset`` with ``qc.overrides``); the caller passes it, as this stage imports no later one."""


def load_config(
    source: Path | str | Mapping[str, Any],
    label: str | None = None,
    checks: Sequence[ConfigCheck] = (),
) -> dict[str, Any]:
    """Read (if a path) and validate the config; return a copy with defaults filled in.

    ``label`` names the config in messages (default: its path, or "config" for a mapping);
    ``checks`` run after the schema, on the filled config.
    Raises InputError naming the file, the key and the bad value.
    """
    if isinstance(source, Mapping):
        config = copy.deepcopy(dict(source))
    else:
        config = _read_yaml(Path(source))
    label = label or ("config" if isinstance(source, Mapping) else str(source))
    error = first_error(validator("config", fill_defaults=True).iter_errors(config))
    if error is not None:
        raise InputError(f"{label}: {describe_config_error(error)}")
    _check_recipients(config["export"]["encrypt"]["recipients"], label)
    for check in checks:
        check(config, label)
    return config


def workflow_config(
    config: Mapping[str, Any],
    configfiles: Sequence[Path | str],
    checks: Sequence[ConfigCheck] = (),
) -> dict[str, Any]:
    """The workflow's config (from ``--configfile`` and ``--config``), checked, with defaults.

    An empty config is a UsageError saying how to give one; the rest is :func:`load_config`,
    naming the config files in its messages.
    """
    if not config:
        raise UsageError(NO_CONFIG)
    label = ", ".join(_shown_path(path) for path in configfiles) or "--config"
    return load_config(config, label=label, checks=checks)


def _shown_path(path: Path | str) -> str:
    """A config file's path relative to the working directory when it lies below it."""
    path = Path(path)
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


CRYPT4GH_SECRET = "PRIVATE KEY"
"""In the first line of a Crypt4GH (or OpenSSH) secret key file, never of a public key."""


def _check_recipients(recipients: Sequence[str], label: str) -> None:
    """Each of ``export.encrypt.recipients`` is a readable file that is not a secret key."""
    for number, recipient in enumerate(recipients, start=1):
        path = Path(recipient)
        where = f"{label}: key 'export.encrypt.recipients' (item {number})"
        if not path.is_file():
            raise InputError(
                f"{where}: public key file {recipient} does not exist (relative paths start from "
                f"the working directory {Path.cwd()}); give the recipient's Crypt4GH public key "
                f"('genopass keys NAME' makes a pair)"
            )
        try:
            with open(path, encoding="utf-8", errors="replace") as handle:
                first = handle.readline()
        except OSError as exc:
            raise InputError(f"{where}: cannot read {recipient} ({exc.strerror})") from None
        if CRYPT4GH_SECRET in first:
            raise InputError(
                f"{where}: {recipient} is a secret key; give the recipient's public key (.pub) "
                f"and keep the secret key with its owner"
            )


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise InputError(f"config file {path} does not exist (start from config/config.yaml)")
    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise InputError(f"{path}: not valid YAML{line}: {exc}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected a mapping of keys to values, not {type(data).__name__}")
    return data


def describe_config_error(error: jsonschema.ValidationError) -> str:
    """One sentence: which key, what is wrong with its value, and what is expected."""
    key = ".".join(str(part) for part in error.absolute_path)
    if error.validator == "additionalProperties":
        allowed = sorted(error.schema.get("properties", {}))
        unknown = sorted(set(error.instance) - set(allowed))
        where = f"under '{key}'" if key else "at the top level"
        return (
            f"unknown key {', '.join(repr(name) for name in unknown)} {where}; "
            f"check the spelling (allowed: {', '.join(allowed)})"
        )
    if error.validator == "required":
        missing = [name for name in error.validator_value if name not in error.instance]
        where = f"under '{key}'" if key else "at the top level"
        names = ", ".join(repr(name) for name in missing)
        described = _describe(error.schema, missing[0]) if missing else ""
        return f"missing key {names} {where}{described}"
    description = error.schema.get("description")
    about = f" ({description})" if description else ""
    return f"key '{key or '(top level)'}': {error.message}{about}"


def _describe(schema: Mapping[str, Any], name: str) -> str:
    description = schema.get("properties", {}).get(name, {}).get("description")
    return f" ({description})" if description else ""
