"""Fixtures shared by the tests; helpers live in tests/helpers.py (a module name of its own:
every conftest.py is imported as `conftest`, so tests never import from it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import SHARED_DATA, copy_demo, make_demo


@pytest.fixture
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared real data not present at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture(scope="session")
def demo_workspace(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The demo workspace (resources/demo + config/), made once per session. Read it, never
    write into it: a test that runs the workflow or changes a file works on `copy_demo`'s copy."""
    return make_demo(tmp_path_factory.mktemp("demo-workspace"))


@pytest.fixture
def demo(demo_workspace: Path, tmp_path: Path) -> Path:
    """This test's own copy of the demo workspace, in its tmp_path."""
    return copy_demo(demo_workspace, tmp_path)
