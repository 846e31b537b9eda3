"""The package's shape: stage packages in workflow order over a small core, and no import cycle.

Read from the source with ``ast`` (every ``import`` of a genopass module, at module level or
inside a function), not by importing anything.
"""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[2] / "src"
PACKAGE = SRC / "genopass"
# A stage may import the core and the stages before it, never one after it.
STAGES = ["core", "inputs", "reads", "harmonise", "qc", "export", "validate", "demo"]
ENTRY_POINTS = {"genopass.cli"}  # the CLI hands off to every stage; nothing imports it


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def stage_of(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 or (len(parts) == 2 and parts[1] in STAGES) else "core"


def imports_of(path: Path, modules: set[str]) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            base = node.module
            # `from genopass import reasons` imports the module genopass.reasons
            names = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in modules else base for a in node.names
            ]
        else:
            continue
        found |= {name for name in names if name in modules}
    return found


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    return {name: imports_of(path, set(paths)) - {name} for name, path in paths.items()}


def test_every_module_lives_in_a_known_stage_or_the_core():
    for module in graph():
        assert stage_of(module) in STAGES, module


def test_no_stage_imports_a_later_stage():
    order = {stage: i for i, stage in enumerate(STAGES)}
    wrong = [
        (module, target)
        for module, targets in graph().items()
        if module not in ENTRY_POINTS
        for target in targets
        if order[stage_of(target)] > order[stage_of(module)] or target in ENTRY_POINTS
    ]
    assert wrong == []


def test_there_is_no_import_cycle():
    edges = graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(edges[module]):
            if state.get(target) == 1:
                cycles.append(path[path.index(target) :] + [target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(edges):
        if module not in state:
            visit(module, [module])
    assert cycles == []


def test_the_checks_can_fail():
    """The walker sees a cycle and a backward import when there is one (hand-made modules)."""
    assert stage_of("genopass.harmonise.stream") == "harmonise"
    assert stage_of("genopass.tools") == "core"
    assert stage_of("genopass.inputs") == "inputs"
    edges = graph()
    assert "genopass.harmonise.accounting" in edges["genopass.harmonise.stream"]
    assert "genopass.inputs.contigs" in edges["genopass.harmonise.stream"]
