"""pytest plugin: ``.diag`` files as test files, one test per checked statement.

Installed with diagalg (entry point ``pytest11``), but it collects nothing until
asked, so installing diagalg changes no one's test suite. Enable it with the ini
option ::

    [pytest]
    diagalg_files = true

or per run with ``pytest -p diagalg.pytest_plugin``. Then every ``*.diag`` file
pytest meets is collected: each assertion, calc block, user rule, ``show`` and
``expand``/``paths`` statement is one test item, run with the same machinery as
``diagalg check``. A failing item's message is exactly what ``diagalg check``
prints for it (its result lines); a static error in the file (syntax, names,
labels, dimensions) is a collection error showing ``file:line:col: error:``, the
line and a caret. An inconclusive result fails too (``check`` exits 4 for it).
``diagalg_seed`` (ini, default 0) sets the seed of the random draws.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

import pytest

if TYPE_CHECKING:
    from _pytest._code.code import TerminalRepr, TracebackStyle

    from .program import RunStmt

PLUGIN_NAME = "diagalg.pytest_plugin"


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        "diagalg_files",
        type="bool",
        default=False,
        help="collect *.diag files: one test per assertion, calc block and rule (diagalg)",
    )
    parser.addini("diagalg_seed", default="0", help="seed of diagalg's random draws in .diag tests")


def _enabled(config: pytest.Config) -> bool:
    if config.getini("diagalg_files"):
        return True
    requested = getattr(config.option, "plugins", None) or []
    return PLUGIN_NAME in requested


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> DiagFile | None:
    if file_path.suffix == ".diag" and _enabled(parent.config):
        return DiagFile.from_parent(parent, path=file_path)
    return None


class DiagCheckFailure(Exception):
    """A statement's results as ``diagalg check`` prints them."""


class DiagFile(pytest.File):
    """A .diag file: loaded (with its imports) and checked statically at collection."""

    def collect(self) -> Iterator[DiagItem]:
        from .checker import Checker, Options
        from .lower import load_program

        try:  # the path as a user would type it for `diagalg check`, so the messages read the same
            shown = self.path.relative_to(Path.cwd())
        except ValueError:
            shown = self.path
        program = load_program(shown)  # a SourceError becomes a collection error (repr_failure)
        try:
            seed = int(self.config.getini("diagalg_seed"))
        except ValueError:
            raise pytest.UsageError(f"diagalg_seed must be an integer, not {self.config.getini('diagalg_seed')!r}")
        self.checker = Checker(program, Options(seed=seed))
        for stmt in program.statements:
            text = stmt.source.text
            short = text if len(text) <= 60 else text[:59].rstrip() + " …"
            yield DiagItem.from_parent(self, name=f"line {stmt.source.line}: {short}", stmt=stmt)

    def repr_failure(  # type: ignore[override]  # no style, as pytest's own Collector.repr_failure
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str | TerminalRepr:
        from .errors import SourceError

        if isinstance(excinfo.value, SourceError):
            return excinfo.value.render()
        return super().repr_failure(excinfo)


class DiagItem(pytest.Item):
    """One statement of a .diag file (a calc block is one item; it fails if a step fails)."""

    def __init__(self, *, stmt: RunStmt, **kw: Any) -> None:
        super().__init__(**kw)
        self.stmt = stmt

    def runtest(self) -> None:
        from .checker import OK

        assert isinstance(self.parent, DiagFile)  # items are collected from their file
        results = self.parent.checker.run_statement(self.stmt)
        if any(r.status != OK for r in results):
            lines: list[str] = []
            for r in results:
                lines.append(r.line())
                lines += ["    " + out for out in r.output]
            raise DiagCheckFailure("\n".join(lines))

    def repr_failure(
        self, excinfo: pytest.ExceptionInfo[BaseException], style: TracebackStyle | None = None
    ) -> str | TerminalRepr:
        if isinstance(excinfo.value, DiagCheckFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style=style)

    def reportinfo(self) -> tuple[Path, int, str]:
        return self.path, self.stmt.source.line - 1, f"{self.path.name}:{self.stmt.source.line}"
