"""The layers hold, and docs/architecture.md is true to the code.

The import graph (every import, also inside functions, except the lazy ones of
the Jupyter ``_repr_*`` hooks) has no cycle; the model imports nothing above it;
no module is over 800 lines; every file the architecture page names exists; every
statement kind that runs has a handler in the checker.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import diagalg
from diagalg import program
from diagalg.checker import _HANDLERS

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "diagalg"


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, name: str) -> set[str]:
    """Modules of the package that ``path`` imports (outside ``_repr_*`` functions)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("_repr_"):
            return
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                up = parts[: len(parts) - node.level + 1]
                base = ".".join(up + ([node.module] if node.module else []))
            for alias in node.names:
                found.add(f"{base}.{alias.name}")  # a submodule, when it is one
                found.add(f"{base}.?")  # else a name from ``base`` itself (resolved in _graph)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _graph() -> dict[str, set[str]]:
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        found = _imports(path, name)
        deps = {m for m in found if m in modules}
        # `from .x import name`: x itself; `from . import sub`: only the submodule, not the package
        deps |= {
            m[:-2]
            for m in found
            if m.endswith(".?") and m[:-2] in modules and not any(d.startswith(m[:-1]) for d in deps)
        }
        graph[name] = deps - {name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on: set[str] = set()
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            strong(v)
    return out


def test_the_package_has_no_import_cycle() -> None:
    assert _cycles(_graph()) == []


def test_the_model_imports_nothing_above_it() -> None:
    graph = _graph()
    above = (
        "diagalg.lower",
        "diagalg.parser",
        "diagalg.cli",
        "diagalg.render",
        "diagalg.checker",
        "diagalg.engine",
        "diagalg.rules",
        "diagalg.numeric",
        "diagalg.report",
    )
    for low in ("diagalg.model", "diagalg.program", "diagalg.dims"):
        assert not [m for m in graph[low] if m.startswith(above)], low


def test_the_renderer_does_not_run_the_engine() -> None:
    graph = _graph()
    for name, deps in graph.items():
        if name.startswith("diagalg.render"):
            assert not [
                m
                for m in deps
                if m.startswith(
                    ("diagalg.engine", "diagalg.checker", "diagalg.rules", "diagalg.lower", "diagalg.program")
                )
            ], name


def test_no_module_is_over_800_lines() -> None:
    long = {
        str(p.relative_to(ROOT)): n
        for p in PACKAGE.rglob("*.py")
        if (n := len(p.read_text(encoding="utf-8").splitlines())) > 800
    }
    assert long == {}


def test_every_file_the_architecture_page_names_exists() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:[a-z_]+/)*[a-z_]+\.(?:py|lark))`", text))
    named |= {m + "/" for m in re.findall(r"`([a-z_]+)/`", text)}
    assert len(named) > 20
    for name in sorted(named):
        candidates = [
            ROOT / name,
            PACKAGE / name,
            PACKAGE / "numeric" / name,
            PACKAGE / "render" / name,
            PACKAGE / "lower" / name,
            PACKAGE / "rules" / name,
        ]
        assert any(c.exists() for c in candidates), name


def test_every_statement_that_runs_has_a_handler() -> None:
    kinds = set(program.RunStmt.__args__)  # the statements a program runs
    assert set(_HANDLERS) == kinds
    assert diagalg  # imported for its registrations (the front end)
