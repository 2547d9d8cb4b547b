"""The base of the domain's section readers: problems, and the shapes YAML values must have.

`ShapeReader` collects the problems of one document (errors are counted, so that a reader can leave out a
part it found errors in) and checks that a value is a mapping, a list, text, true/false or a list of names,
and that a mapping has only known keys, each with a message naming the value found, the line and a fix.
The helpers word values for those messages and strip YAML's line-number containers off what is kept.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeGuard

from bot.errors import Problem, Severity, did_you_mean
from bot.yamlio import line_of


def describe(value: Any) -> str:
    if value is None:
        return "empty (null)"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return f"the text {value!r}"
    if isinstance(value, int | float):
        return f"the number {value}"
    return type(value).__name__  # pragma: no cover - YAML gives no other kinds


def is_number(value: Any) -> TypeGuard[float]:
    return isinstance(value, int | float) and not isinstance(value, bool)


class ShapeReader:
    """Checks the shapes of one parsed domain document's values, collecting every problem on the way.

    The section readers build on it; parts with errors are left out of their results, and the caller raises
    when any error was found.
    """

    def __init__(self, source: str | None) -> None:
        self.source = source
        self.problems: list[Problem] = []
        self._errors = 0

    def error(self, message: str, line: int | None, hint: str) -> None:
        self._errors += 1
        self.problems.append(Problem(message, self.source, line, hint))

    def warn(self, message: str, line: int | None, hint: str) -> None:
        self.problems.append(Problem(message, self.source, line, hint, Severity.WARNING))

    # shapes

    def mapping(self, value: Any, what: str, line: int | None, hint: str) -> Mapping[Any, Any]:
        """`value` if it is a mapping; empty (after an error unless it was null) otherwise."""
        if value is None:
            return {}
        if not isinstance(value, dict):
            self.error(f"{what} must be a mapping, not {describe(value)}", line, hint)
            return {}
        return value

    def sequence(self, value: Any, what: str, line: int | None, hint: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            self.error(f"{what} must be a list, not {describe(value)}", line, hint)
            return []
        return value

    def string(self, value: Any, what: str, line: int | None) -> str | None:
        if value is None or isinstance(value, str):
            return value
        self.error(
            f"{what} must be text, not {describe(value)}", line, "Write it as text (quote it if needed)."
        )
        return None

    def boolean(self, value: Any, what: str, line: int | None, default: bool) -> bool:
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        self.error(
            f"{what} must be true or false, not {describe(value)}",
            line,
            "Write true or false (in Rasa's YAML, yes/no/on/off are text, not booleans).",
        )
        return default

    def names(self, value: Any, what: str, line: int | None, single_allowed: bool = True) -> list[str] | None:
        """A list of names; a single name counts as a list of one where Rasa allows it."""
        if value is None:
            return None
        if isinstance(value, str) and single_allowed:
            return [value]
        if isinstance(value, list) and all(isinstance(item, str) for item in value):
            return list(value)
        self.error(
            f"{what} must be a list of names, not {describe(value)}",
            line,
            "Write the names as a YAML list, e.g. [name_a, name_b].",
        )
        return None

    def unknown_keys(
        self, spec: Mapping[Any, Any], allowed: Iterable[str], what: str, *, error: bool, why: str = ""
    ) -> None:
        allowed = tuple(allowed)
        for key in spec:
            if key in allowed:
                continue
            message = f"{what} has the key '{key}', which Rasa 3.x does not know"
            hint = did_you_mean(key, allowed, then=f"Allowed keys: {', '.join(allowed)}.{why}")
            if error:
                self.error(message, line_of(spec, key), hint)
            else:
                self.warn(message + "; it is ignored", line_of(spec, key), hint)
