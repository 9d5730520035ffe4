"""Positioned user-facing errors: ``file:line:col: error: message``, the line, a caret."""

from __future__ import annotations


class SourceError(Exception):
    """An error in a user's .diag text at ``line``:``col`` (1-based).

    A plain class rather than a dataclass: this module is imported by ``diagalg
    --version``, and :mod:`dataclasses` (through :mod:`inspect`) would be a third of
    that command's import time."""

    def __init__(
        self, message: str, line: int = 0, col: int = 0, path: str = "<input>", text: str | None = None
    ) -> None:
        super().__init__(message, line, col, path, text)
        self.message, self.line, self.col, self.path, self.text = message, line, col, path, text

    def __repr__(self) -> str:
        return (
            f"SourceError(message={self.message!r}, line={self.line!r}, col={self.col!r}, "
            f"path={self.path!r}, text={self.text!r})"
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SourceError):
            return NotImplemented
        return (self.message, self.line, self.col, self.path, self.text) == (
            other.message,
            other.line,
            other.col,
            other.path,
            other.text,
        )

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value, as the dataclass was

    def __str__(self) -> str:
        return self.render()

    def render(self) -> str:
        """The error as the CLI prints it (caret under the culprit)."""
        head = f"{self.path}:{self.line}:{self.col}: error: {self.message}"
        if self.text is None or self.line <= 0:
            return head
        lines = self.text.splitlines()
        if self.line > len(lines):
            return head
        src = lines[self.line - 1].replace("\t", " ")
        caret = " " * max(self.col - 1, 0) + "^"
        return f"{head}\n    {src}\n    {caret}"

    def located(self, path: str, text: str) -> "SourceError":
        if self.text is None:
            self.path, self.text = path, text
        return self


class DiagalgError(Exception):
    """A user-facing error without a source position (bad flags, unreadable file)."""
