"""Pieces every entity extractor shares: the entity dict, option checking, and the JSON files they save.

Options come from a config.yml pipeline entry; a wrong one is the user's mistake and is reported as a
`ConductorError` naming the component and the option. Saved state is JSON only, so loading a model runs no
code; a missing or damaged file is reported with its path and what to do.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from bot.errors import ConductorError
from bot.nlu.components import EntityDict

__all__ = [
    "ComponentOptions",
    "make_entity",
    "malformed",
    "read_json",
    "write_json",
]

_RETRAIN_HINT = "Train the model again with `bot train`."


def make_entity(
    entity: str,
    value: Any,
    start: int,
    end: int,
    extractor: str,
    confidence: float = 1.0,
    role: str | None = None,
    group: str | None = None,
) -> EntityDict:
    """An entity in Rasa's /model/parse shape; `role` and `group` appear only when set."""
    found: EntityDict = {
        "entity": entity,
        "start": start,
        "end": end,
        "value": value,
        "confidence_entity": confidence,
    }
    if role is not None:
        found["role"] = role
    if group is not None:
        found["group"] = group
    found["extractor"] = extractor
    return found


class ComponentOptions:
    """A component's options from config.yml, checked against the keys and types it knows.

    `accepted_only` are Rasa options a project may carry that change nothing here; they are allowed so a
    Rasa config.yml loads unchanged.
    """

    def __init__(
        self,
        component: str,
        given: Mapping[str, Any] | None,
        defaults: Mapping[str, Any],
        accepted_only: frozenset[str] = frozenset(),
    ) -> None:
        self.component = component
        self._values = dict(defaults)
        known = set(defaults) | accepted_only | {"name"}
        unknown = sorted(str(key) for key in (given or {}) if key not in known)
        if unknown:
            raise ConductorError.single(
                f"{component}: unknown option(s) {', '.join(map(repr, unknown))}",
                hint=f"Options of {component}: {', '.join(sorted(defaults))}.",
            )
        for key, value in (given or {}).items():
            if key in defaults:
                self._values[key] = value

    def flag(self, key: str) -> bool:
        value = self._values[key]
        if not isinstance(value, bool):
            raise self.wrong(key, value, "true or false")
        return value

    def number(self, key: str, *, minimum: float = 0.0) -> float:
        value = self._values[key]
        if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
            raise self.wrong(key, value, f"a number of at least {minimum:g}")
        return float(value)

    def whole(self, key: str, *, minimum: int = 1) -> int | None:
        """A whole number, or None when the option is left at `null`/unset meaning "choose for me"."""
        value = self._values[key]
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise self.wrong(key, value, f"a whole number of at least {minimum}")
        return value

    def choice(self, key: str, choices: tuple[str, ...]) -> str:
        value = self._values[key]
        if value not in choices:
            raise self.wrong(key, value, "one of " + ", ".join(map(repr, choices)))
        return str(value)

    def raw(self, key: str) -> Any:
        return self._values[key]

    def wrong(self, key: str, value: Any, expected: str) -> ConductorError:
        """The error for an option whose value is not what it should be."""
        return ConductorError.single(
            f"{self.component}: option {key!r} is {value!r}, expected {expected}",
            hint=f"Fix `{key}` under `- name: {self.component}` in config.yml.",
        )


def write_json(path: Path, content: Any) -> None:
    path.write_text(json.dumps(content, ensure_ascii=False, indent=1), encoding="utf-8")


def read_json(path: Path, component: str) -> Any:
    """The JSON a component saved; a missing or unreadable file is a `ConductorError` saying to retrain."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConductorError.single(
            f"{component}: the model file is missing", file=path, hint=_RETRAIN_HINT
        ) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ConductorError.single(
            f"{component}: the model file cannot be read ({exc})", file=path, hint=_RETRAIN_HINT
        ) from None


def malformed(path: Path, component: str, what: str) -> ConductorError:
    """The error for a saved file whose content is not what the component wrote."""
    return ConductorError.single(f"{component}: malformed model file: {what}", file=path, hint=_RETRAIN_HINT)
