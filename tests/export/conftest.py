"""The exported small cohort, built once per session (tests/export/export_helpers.py)."""

from __future__ import annotations

import pytest
from export_helpers import Built, build_export


@pytest.fixture(scope="session")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_export(tmp_path_factory.mktemp("export") / "run")
