#!/usr/bin/env python3
"""Prints the package-level import graph of the code that ships: one line per arrow between two
packages, with how many import statements make it. tests/test_layers.py checks the same imports
against the allowed direction.

    scripts/import_graph.py [ROOT]    (ROOT: a checkout, the current directory by default)"""

from __future__ import annotations

import ast
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

PACKAGES = ("server", "demo", "schema", "resolvers", "storage", "pubsub", "events")


@dataclass(frozen=True, slots=True)
class Import:
    module: str  # the importing module, dotted
    line: int
    target: str  # the imported module, dotted (a `from x import y` names x)

    @property
    def arrow(self) -> tuple[str, str]:
        return self.module.split(".")[0], self.target.split(".")[0]


def imports(root: Path) -> list[Import]:
    """Every import statement of the packages under `root` that names one of the packages, anywhere
    in a module (functions and TYPE_CHECKING blocks too)."""
    found: list[Import] = []
    for package in PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            module = ".".join(path.relative_to(root).with_suffix("").parts)
            for node in ast.walk(ast.parse(path.read_text(), str(path))):
                if not isinstance(node, ast.Import | ast.ImportFrom):
                    continue
                for target in _targets(node, module):
                    if target.split(".")[0] in PACKAGES:
                        found.append(Import(module.removesuffix(".__init__"), node.lineno, target))
    return found


def _targets(node: ast.Import | ast.ImportFrom, module: str) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    if not node.level:
        return [node.module or ""]
    # Relative (never out of its own top-level package): `level` dots drop as many trailing parts
    # of the importing module, "__init__" counting as the part of a package's own module.
    parts = module.split(".")[: -node.level]
    return [".".join([*parts, node.module] if node.module else parts)]


def graph(root: Path) -> Counter[tuple[str, str]]:
    return Counter(i.arrow for i in imports(root) if i.arrow[0] != i.arrow[1])


def main(root: Path) -> None:
    edges = graph(root)
    for (source, target), count in sorted(edges.items(), key=lambda e: (PACKAGES.index(e[0][0]), e[0][1])):
        print(f"{source:>9} -> {target:<9} {count:4d}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else Path.cwd())
