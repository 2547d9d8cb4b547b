"""Reading `responses:` in Rasa's shape: variations with text, buttons, custom payloads and conditions.

`ResponseReader` reads the section of a domain file (`DomainReader` inherits it); `parse_responses` reads
one found elsewhere, such as the response overrides of an instance's persona.
"""

from __future__ import annotations

from typing import Any, cast

from bot.errors import Problem
from bot.project.domain.parts import ResponseCondition, ResponseVariation
from bot.project.domain.shapes import ShapeReader, describe
from bot.yamlio import line_of, plain

_CONTENT_KEYS = ("text", "image", "custom", "buttons", "attachment", "elements", "quick_replies")
_VARIATION_KEYS = (*_CONTENT_KEYS, "button_type", "channel", "metadata", "id", "condition")


def parse_responses(
    value: Any, source: str | None, line: int | None
) -> tuple[dict[str, list[ResponseVariation]], list[Problem]]:
    """Read a `responses:` section (parsed YAML, from `bot.yamlio` for line numbers) outside a domain file.

    Returns the responses, without any that has an error, and every problem found (errors and warnings, in
    the order found, naming `source` and the line); the caller decides what to raise.
    """
    reader = ResponseReader(source)
    return reader.responses(value, line), reader.problems


class ResponseReader(ShapeReader):
    """Reads a `responses:` section; a response with errors in any variation is left out."""

    def responses(self, value: Any, line: int | None) -> dict[str, list[ResponseVariation]]:
        specs = self.mapping(
            value, "`responses`", line, "Write responses as `utter_name:` with variations below."
        )
        result: dict[str, list[ResponseVariation]] = {}
        for name, variations in specs.items():
            at = line_of(specs, name)
            if not isinstance(name, str):
                self.error(f"a response name must be text, not {describe(name)}", at, "Quote the name.")
                continue
            if variations is None:
                self.error(f"the response '{name}' has no variations", at, "Add at least one `- text: ...`.")
                continue
            items = self.sequence(
                variations, f"the response '{name}'", at, "Start each variation with '- text:'."
            )
            if isinstance(variations, list) and not variations:
                self.warn(
                    f"the response '{name}' is an empty list, so it says nothing", at, "Add `- text: ...`."
                )
            parsed = [self.variation(name, spec, line_of(items, i)) for i, spec in enumerate(items)]
            if isinstance(variations, list) and None not in parsed:
                result[name] = cast(list[ResponseVariation], parsed)
        return result

    def variation(self, response: str, spec: Any, at: int | None) -> ResponseVariation | None:
        what = f"a variation of the response '{response}'"
        if not isinstance(spec, dict):
            self.error(f"{what} must be a mapping, not {describe(spec)}", at, "Write it as `- text: ...`.")
            return None
        errors = self._errors
        self.unknown_keys(spec, _VARIATION_KEYS, what, error=True)
        if all(spec.get(key) is None for key in _CONTENT_KEYS):
            self.error(
                f"{what} has no content",
                at,
                f"Give it a `text` (or one of {', '.join(_CONTENT_KEYS[1:])}).",
            )
        elif spec.get("text") is None and not spec.get("custom"):
            self.warn(
                f"{what} has neither `text` nor `custom`; Rasa 3.x's schema refuses that "
                "(Conductor accepts it)",
                at,
                "Add a `text` if the project must still load in Rasa.",
            )
        strings = {
            key: self.string(spec.get(key), f"{key} in {what}", line_of(spec, key))
            for key in ("text", "image", "button_type", "channel", "id")
        }
        objects = {
            key: self.mapping(spec[key], f"{key} in {what}", line_of(spec, key), "Give it keys and values.")
            if spec.get(key) is not None
            else None
            for key in ("custom", "attachment")
        }
        buttons = self.buttons(spec.get("buttons"), f"buttons in {what}", line_of(spec, "buttons"))
        replies = self.buttons(
            spec.get("quick_replies"), f"quick_replies in {what}", line_of(spec, "quick_replies")
        )
        elements = self.sequence(
            spec.get("elements"),
            f"elements in {what}",
            line_of(spec, "elements"),
            "Start each element with '- '.",
        )
        if not all(isinstance(element, dict) for element in elements):
            self.error(
                f"each of the elements in {what} must be a mapping",
                line_of(spec, "elements"),
                "Write each element as keys and values (a mapping).",
            )
        condition = self.response_conditions(what, spec.get("condition"), line_of(spec, "condition"))
        if self._errors > errors:
            return None
        return ResponseVariation(
            text=strings["text"],
            image=strings["image"],
            buttons=buttons,
            button_type=strings["button_type"],
            quick_replies=replies,
            attachment=plain(objects["attachment"]),
            elements=plain(elements),
            custom=plain(objects["custom"]),
            metadata=plain(spec.get("metadata")),
            id=strings["id"],
            condition=condition,
            channel=strings["channel"],
            file=self.source,
            line=at,
        )

    def buttons(self, value: Any, what: str, line: int | None) -> list[dict[str, Any]]:
        items = self.sequence(value, what, line, "Write each button as `- title: ...` with `payload: ...`.")
        result = []
        for index, button in enumerate(items):
            at = line_of(items, index)
            if not isinstance(button, dict):
                self.error(
                    f"a button in {what} must be a mapping with title and payload, not {describe(button)}",
                    at,
                    "Write `- title: Yes` and `payload: /affirm` below it.",
                )
                continue
            if not isinstance(button.get("title"), str):
                self.error(
                    f"a button in {what} needs a `title` text ({describe(button.get('title'))} given)",
                    line_of(button, "title") if "title" in button else at,
                    "Give the button the text to show as `title:` (quote it if it is a number or yes/no).",
                )
            if "payload" in button and not isinstance(button["payload"], str):
                self.error(
                    f"the payload of a button in {what} must be text, not {describe(button['payload'])}",
                    line_of(button, "payload"),
                    "Quote the payload, e.g. payload: '/inform{\"n\": 1}'.",
                )
            result.append(plain(button))
        return result

    def response_conditions(self, what: str, value: Any, line: int | None) -> list[ResponseCondition]:
        hint = "Write `- type: slot`, `name: <slot>`, `value: <value>`."
        items = self.sequence(value, f"the condition of {what}", line, hint)
        result = []
        for index, spec in enumerate(items):
            at = line_of(items, index)
            if not isinstance(spec, dict):
                self.error(f"a condition of {what} must be a mapping, not {describe(spec)}", at, hint)
                continue
            errors = self._errors
            self.unknown_keys(spec, ("type", "name", "value"), f"a condition of {what}", error=True)
            missing = [key for key in ("type", "name", "value") if key not in spec]
            if missing:
                self.error(f"a condition of {what} lacks {', '.join(missing)}", at, hint)
            elif spec["type"] != "slot":
                self.error(
                    f"a condition of {what} has type {describe(spec['type'])}; "
                    "Rasa only has slot conditions",
                    line_of(spec, "type"),
                    hint,
                )
            elif not isinstance(spec["name"], str):
                self.error(
                    f"the slot name in a condition of {what} must be text", line_of(spec, "name"), hint
                )
            if self._errors == errors:
                result.append(ResponseCondition(spec["type"], spec["name"], plain(spec["value"])))
        return result
