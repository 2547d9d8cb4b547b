"""The project's own error type: every mistake a person can make is reported as a `Problem`.

A `Problem` says what is wrong, where (file and line when known) and what to do about it. Code that finds
several problems collects them and raises one `ConductorError` carrying all of them, so a user sees every
mistake in one run instead of fixing them one at a time.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

__all__ = ["ConductorError", "Problem", "Severity", "did_you_mean"]


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the user's input."""

    message: str
    file: str | None = None
    line: int | None = None
    hint: str | None = None
    severity: Severity = Severity.ERROR

    @property
    def location(self) -> str:
        if self.file is None:
            return ""
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def __str__(self) -> str:
        where = f"{self.location}: " if self.location else ""
        text = f"{where}{self.severity.value}: {self.message}"
        if self.hint:
            text += f"\n  hint: {self.hint}"
        return text

    def at(self, file: str | Path | None, line: int | None = None) -> Problem:
        """The same problem placed at a file (and line), unless it already has a place."""
        if self.file is not None or file is None:
            return self
        return Problem(self.message, str(file), line, self.hint, self.severity)


class ConductorError(Exception):
    """Raised for input a person can fix; carries one or more problems. Never shown as a traceback."""

    def __init__(self, problems: Problem | Iterable[Problem]) -> None:
        self.problems: list[Problem] = [problems] if isinstance(problems, Problem) else list(problems)
        if not self.problems:
            raise ValueError("ConductorError needs at least one problem")
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def single(
        cls,
        message: str,
        file: str | Path | None = None,
        line: int | None = None,
        hint: str | None = None,
    ) -> ConductorError:
        return cls(Problem(message, str(file) if file is not None else None, line, hint))


def did_you_mean(word: object, choices: Iterable[str], *, then: str = "", otherwise: str | None = None,
                 cutoff: float = 0.6) -> str:
    """A hint for a name that is not one of `choices`: "Did you mean 'x'?" for the choice most like `word`
    (difflib's ratio at least `cutoff`), followed by `then`; without a close choice, `otherwise` (or `then`
    alone when `otherwise` is None)."""
    close = difflib.get_close_matches(str(word), list(choices), n=1, cutoff=cutoff)
    if close:
        return f"Did you mean '{close[0]}'? {then}".rstrip()
    return then if otherwise is None else otherwise
