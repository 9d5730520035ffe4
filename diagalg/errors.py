"""Positioned user-facing errors: ``file:line:col: error: message``, the line, a caret."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass
class SourceError(Exception):
    """An error in a user's .diag text at ``line``:``col`` (1-based)."""

    message: str
    line: int = 0
    col: int = 0
    path: str = "<input>"
    text: str | None = None

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
