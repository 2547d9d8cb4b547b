"""Rasa's entity markup inside example text, read into plain text plus entity spans, and written back.

The forms Rasa 3.x reads (its `entities_parser` grammar; the grammar carries over, the code does not):

* `[text](entity)` and `[text](entity:value)` (the value makes `text` a synonym of `value`);
* `[text]{"entity": "e", "value": "v", "role": "r", "group": "g"}` (only "entity" is required);
* `[text][{"entity": "a"}, {"entity": "b", "role": "r"}]`: several entities on the same span.

Anything else stays text exactly as Rasa leaves it (`see [1] above`, `[a] (b)`, a lone `[`). Markup that is
clearly meant as an annotation but broken (a closing bracket missing, bad JSON, no entity name) is a
`ConductorError` instead of being silently trained as text. The format has no escape character, so plain
text containing `[...]` directly followed by `(`, `{` or `[` cannot be written without becoming markup.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from typing import Any

from bot.errors import ConductorError, Problem, Severity
from bot.project.nlu_data import EntitySpan

__all__ = ["format_annotated", "parse_annotated"]

_ANNOTATION = re.compile(
    r"""\[(?P<text>[^\]]+)\]
        (?: \( (?P<entity>[^:)]+?) (?: : (?P<value>[^)]+) )? \)
          | \{ (?P<object>[^}]+?) \}
          | \[ (?P<array>.*?) \]
        )""",
    re.VERBOSE,
)
"""One annotation, with the extent Rasa gives it: the first `]` ends the text, the first `)`, `}` or `]`
ends the part after it."""

_STARTED_ANNOTATION = re.compile(r"\[(?P<text>[^\]]*)\](?P<opener>[({\[])")
"""`[...]` directly followed by an opening bracket: where an annotation that failed to match was meant."""

_CLOSER = {"(": ")", "{": "}", "[": "]"}
_ENTITY_KEYS = ("entity", "value", "role", "group")
_BRACKETS = frozenset("[](){}")
_SHORT_NAME = re.compile(r"[^\s\[\](){}:]+(?:[ \t]+[^\s\[\](){}:]+)*")
"""Entity names that `[text](entity)` can carry unchanged."""

_FORMS = (
    'Write [text](entity), [text]{"entity": "name", "value": "v"} or '
    '[text][{"entity": "a"}, {"entity": "b"}].'
)


class _AnnotationError(Exception):
    def __init__(self, message: str, hint: str) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def parse_annotated(
    text: str,
    file: str | None = None,
    line: int | None = None,
    *,
    warnings: list[Problem] | None = None,
) -> tuple[str, list[EntitySpan]]:
    """Split Rasa-annotated `text` into its plain text and entity spans (offsets into the plain text).

    An entity without an explicit value has its text as value. Keys other than entity/value/role/group in a
    JSON annotation are ignored, as Rasa ignores them; when `warnings` is given, each is reported there.
    Raises `ConductorError` (at `file`:`line`) for markup that is meant as an annotation but is broken.
    """
    if "[" not in text:
        return text, []
    plain: list[str] = []
    entities: list[EntitySpan] = []
    consumed = 0
    length = 0
    try:
        for match in _ANNOTATION.finditer(text):
            before = text[consumed : match.start()]
            _check_unmatched(before)
            plain.append(before)
            length += len(before)
            span_text = match.group("text")
            start, end = length, length + len(span_text)
            for entity, value, role, group, unknown in _entities_of(match):
                entities.append(EntitySpan(start, end, span_text, entity, value, role, group))
                if unknown and warnings is not None:
                    warnings.append(_unknown_keys_warning(match.group(0), unknown, file, line))
            plain.append(span_text)
            length = end
            consumed = match.end()
        _check_unmatched(text[consumed:])
    except _AnnotationError as exc:
        raise ConductorError(Problem(exc.message, file, line, exc.hint)) from None
    plain.append(text[consumed:])
    return "".join(plain), entities


_Entity = tuple[str, Any, str | None, str | None, list[str]]


def _entities_of(match: re.Match[str]) -> Iterator[_Entity]:
    span_text = match.group("text")
    markup = match.group(0)
    entity = match.group("entity")
    if entity is not None:
        if not entity.strip():
            raise _AnnotationError(f"the annotation {markup!r} has an empty entity name", _FORMS)
        if _BRACKETS.intersection(entity):
            raise _AnnotationError(
                f"the annotation {markup!r} has brackets in its entity name {entity!r}",
                "Close each annotation before the next one starts: [text](entity).",
            )
        value = match.group("value")
        yield entity, span_text if value is None else value, None, None, []
        return
    body = match.group("object")
    if body is not None:
        yield _entity_from_json(_load_json("{" + body + "}", markup), span_text, markup)
        return
    items = _load_json("[" + match.group("array") + "]", markup)
    if not isinstance(items, list) or not items:
        raise _AnnotationError(f"the annotation {markup!r} lists no entities", _FORMS)
    for item in items:
        yield _entity_from_json(item, span_text, markup)


def _load_json(source: str, markup: str) -> Any:
    try:
        return json.loads(source)
    except (json.JSONDecodeError, RecursionError) as exc:
        reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
        raise _AnnotationError(
            f"the entity annotation {markup!r} is not valid JSON ({reason})",
            'Use double quotes around keys and values: [text]{"entity": "name"}. ' + _FORMS,
        ) from None


def _entity_from_json(item: Any, span_text: str, markup: str) -> _Entity:
    if not isinstance(item, dict):
        raise _AnnotationError(
            f"the annotation {markup!r} must hold JSON objects, found {json.dumps(item)}", _FORMS
        )
    if "entity" not in item:
        raise _AnnotationError(
            f'the annotation {markup!r} has no "entity" key', 'Add "entity": "<entity name>" to it.'
        )
    for key in _ENTITY_KEYS:
        if key in item and not isinstance(item[key], str):
            raise _AnnotationError(
                f'"{key}" in the annotation {markup!r} must be a string, found {json.dumps(item[key])}',
                f'Put the {key} in double quotes, e.g. "{key}": "{item[key]}".',
            )
    entity: str = item["entity"]
    if not entity.strip():
        raise _AnnotationError(
            f"the annotation {markup!r} has an empty entity name", 'Name the entity: "entity": "<name>".'
        )
    unknown = [str(key) for key in item if key not in _ENTITY_KEYS]
    return entity, item.get("value", span_text), item.get("role"), item.get("group"), unknown


def _check_unmatched(segment: str) -> None:
    """Raise for markup in text Rasa's grammar did not match that is evidently a broken annotation."""
    for started in _STARTED_ANNOTATION.finditer(segment):
        opener = started.group("opener")
        closer = _CLOSER[opener]
        close_at = segment.find(closer, started.end())
        if close_at < 0:
            raise _AnnotationError(
                f"the annotation {segment[started.start():]!r} is missing its closing {closer!r}",
                f"Close it with {closer!r}. {_FORMS}",
            )
        markup = segment[started.start() : close_at + 1]
        if not started.group("text"):
            raise _AnnotationError(
                f"the annotation {markup!r} marks empty text", "Put the entity's words inside the [ ]."
            )
        inside = segment[started.end() : close_at]
        if opener == "(":
            entity, colon, value = inside.partition(":")
            if not entity.strip():
                raise _AnnotationError(f"the annotation {markup!r} has an empty entity name", _FORMS)
            if colon and not value:
                raise _AnnotationError(
                    f"the annotation {markup!r} has an empty value after ':'",
                    "Write the synonym value after the colon, or drop the colon: [text](entity).",
                )
        elif opener == "{" and not inside.strip():
            raise _AnnotationError(
                f'the annotation {markup!r} has no "entity" key', 'Add "entity": "<entity name>" to it.'
            )
        raise _AnnotationError(f"the annotation {markup!r} cannot be read", _FORMS)


def _unknown_keys_warning(markup: str, unknown: list[str], file: str | None, line: int | None) -> Problem:
    return Problem(
        f"the annotation {markup!r} has keys that are ignored: {', '.join(unknown)}",
        file,
        line,
        "Only entity, value, role and group are read; check the spelling.",
        Severity.WARNING,
    )


def format_annotated(text: str, entities: Iterable[EntitySpan]) -> str:
    """Write `text` with `entities` as Rasa markup: the inverse of `parse_annotated`.

    Entities on the same span share one `[text][...]` list. An entity the format cannot express is left
    out of the markup: one overlapping an earlier, different span, one with an empty span, or one whose
    text contains `]`. Values that are not strings are written as their `str()`.
    """
    spans: dict[tuple[int, int], list[EntitySpan]] = {}
    for span in sorted(entities, key=lambda e: (e.start, e.end)):
        spans.setdefault((span.start, span.end), []).append(span)
    pieces: list[str] = []
    written = 0
    for (start, end), group in spans.items():
        span_text = text[start:end]
        if start < written or start >= end or end > len(text) or "]" in span_text:
            continue
        pieces.append(text[written:start])
        pieces.append(f"[{span_text}]{_format_entities(span_text, group)}")
        written = end
    pieces.append(text[written:])
    return "".join(pieces)


def _format_entities(span_text: str, group: list[EntitySpan]) -> str:
    fields = [_fields(span_text, span) for span in group]
    if len(fields) == 1:
        only = fields[0]
        if list(only) == ["entity"] and _SHORT_NAME.fullmatch(only["entity"]):
            return f"({only['entity']})"
        return _json_object(only)
    return "[" + ", ".join(_json_object(item) for item in fields) + "]"


def _fields(span_text: str, span: EntitySpan) -> dict[str, str]:
    fields = {"entity": span.entity}
    if span.role is not None:
        fields["role"] = span.role
    if span.group is not None:
        fields["group"] = span.group
    if span.value is not None and span.value != span_text:
        fields["value"] = span.value if isinstance(span.value, str) else str(span.value)
    return fields


def _json_object(fields: dict[str, str]) -> str:
    """A flat JSON object whose strings cannot end the markup early: `}` and `]` in them become escapes."""
    members = (f"{_json_string(key)}: {_json_string(value)}" for key, value in fields.items())
    return "{" + ", ".join(members) + "}"


def _json_string(value: str) -> str:
    return json.dumps(value, ensure_ascii=False).replace("}", "\\u007d").replace("]", "\\u005d")
