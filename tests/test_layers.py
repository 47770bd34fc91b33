"""The package's folders are its layers: imports run one way (cli -> commands -> reporting -> scoring/duplicates
-> run/selectors -> io/rules -> errors), and no module imports itself back through another."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "sievekit"
# Each layer may import its own modules and those of lower layers; layers of one rank do not import each other.
RANK = {
    "errors": 0, "version": 0, "allocator": 0,
    "io": 1, "rules": 1,
    "run": 2, "selectors": 2,
    "scoring": 3, "duplicates": 3,
    "reporting": 4,
    "commands": 5,
    "__init__": 6, "cli": 6,
    "__main__": 7,
}


def _module(path: Path) -> str:
    rel = path.relative_to(PACKAGE.parent).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Every sievekit module a file imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("sievekit"))
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("sievekit"):
            for alias in node.names:  # `from sievekit.x import y` may import the submodule y
                sub = f"{node.module}.{alias.name}"
                found.add(sub if (PACKAGE.parent / sub.replace(".", "/")).with_suffix(".py").exists()
                          or (PACKAGE.parent / sub.replace(".", "/")).is_dir() else node.module)
    return found


def _layer(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "__init__"


MODULES = {_module(p): _imports(p) for p in PACKAGE.rglob("*.py")}


def test_every_package_has_a_layer():
    assert {_layer(m) for m in MODULES} <= set(RANK), sorted({_layer(m) for m in MODULES} - set(RANK))


@pytest.mark.parametrize("module", sorted(MODULES))
def test_imports_run_one_way(module):
    mine = _layer(module)
    for target in MODULES[module]:
        theirs = _layer(target)
        if theirs == mine:
            continue
        assert RANK[theirs] < RANK[mine], f"{module} ({mine}, rank {RANK[mine]}) imports {target} " \
                                          f"({theirs}, rank {RANK[theirs]})"


def test_no_import_circles():
    graph = {m: {t for t in deps if t in MODULES and t != m} for m, deps in MODULES.items()}
    # Importing a package runs its __init__: a module that imports a package depends on that __init__ too.
    done: set[str] = set()
    path: list[str] = []

    def visit(node: str) -> None:
        if node in path:
            cycle = path[path.index(node):] + [node]
            pytest.fail("import circle: " + " -> ".join(cycle))
        if node in done:
            return
        path.append(node)
        for nxt in sorted(graph[node]):
            visit(nxt)
        path.pop()
        done.add(node)

    for module in sorted(graph):
        visit(module)
