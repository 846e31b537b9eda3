"""What ``genopass validate`` found: problems by kind, rendered as lines or JSON."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

ERROR, WARNING, INFO = "error", "warning", "info"


@dataclass(frozen=True)
class Problem:
    """One finding: the file, its kind (a defect code), what is wrong, and where."""

    path: str
    kind: str
    message: str
    record: int | None = None  # 1-based record number in input order
    line: int | None = None
    level: str = ERROR

    def text(self) -> str:
        where = (
            f"record {self.record} (line {self.line}): "
            if self.record
            else (f"line {self.line}: " if self.line else "")
        )
        return f"{self.path}: {where}{self.kind}: {self.message}"


@dataclass
class Report:
    """Problems of every kind, the first ``keep`` of each kept, all counted."""

    keep: int = 5
    files: list[str] = field(default_factory=list)
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (level, kind) -> n
    shown: list[Problem] = field(default_factory=list)

    def add(self, problem: Problem, count: int = 1) -> None:
        key = (problem.level, problem.kind)
        if sum(1 for p in self.shown if (p.level, p.kind) == key) < self.keep:
            self.shown.append(problem)
        self.counts[key] += count

    def error(self, path: Path | str, kind: str, message: str, **where: int | None) -> None:
        self.add(Problem(str(path), kind, message, **where))

    def warning(self, path: Path | str, kind: str, message: str, count: int = 1) -> None:
        self.add(Problem(str(path), kind, message, level=WARNING), count)

    @property
    def valid(self) -> bool:
        return not any(level == ERROR for level, _ in self.counts)

    def lines(self) -> list[str]:
        out = []
        for problem in self.shown:
            out.append(f"{problem.level}: {problem.text()}")
        for (level, kind), n in sorted(self.counts.items()):
            hidden = n - sum(1 for p in self.shown if (p.level, p.kind) == (level, kind))
            if hidden > 0:
                out.append(f"{level}: {kind}: {hidden} more not shown ({n} in all)")
        verdict = "valid" if self.valid else "INVALID"
        errors = sum(n for (level, _), n in self.counts.items() if level == ERROR)
        warnings = sum(n for (level, _), n in self.counts.items() if level == WARNING)
        out.append(
            f"{verdict}: {len(self.files)} file(s) checked, {errors} error(s), "
            f"{warnings} warning(s)"
        )
        return out

    def as_json(self) -> str:
        document = {
            "valid": self.valid,
            "files": self.files,
            "counts": [
                {"level": level, "kind": kind, "count": n}
                for (level, kind), n in sorted(self.counts.items())
            ],
            "problems": [{k: v for k, v in vars(p).items() if v is not None} for p in self.shown],
        }
        return json.dumps(document, indent=2, sort_keys=True)
