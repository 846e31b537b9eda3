"""Where the project's shipped files live (the package is installed editable from the repo)."""

from __future__ import annotations

from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
RESOURCES = REPO_ROOT / "resources"
ALIAS_DIR = RESOURCES / "aliases"
WORKFLOW_DIR = REPO_ROOT / "workflow"
