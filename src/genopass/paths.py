"""Where genopass finds its files.

Files the package reads at run time are package data (under ``genopass/resources/``), found next to
this module however genopass is installed (editable, wheel, conda). The repository's own folders
(``workflow/``) exist only in a source checkout: ``REPO_ROOT`` and ``WORKFLOW_DIR`` point there and
mean nothing in an installed wheel.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent
RESOURCES = PACKAGE_DIR / "resources"  # package data (pyproject: tool.setuptools.package-data)
ALIAS_DIR = RESOURCES / "aliases"  # <build>.tsv, made by scripts/make_alias_tables.py
SCHEMA_DIR = RESOURCES / "schemas"  # config, samples, units (workflow/schemas links here)

REPO_ROOT = PACKAGE_DIR.parents[1]  # the checkout, when genopass runs from src/
WORKFLOW_DIR = REPO_ROOT / "workflow"
