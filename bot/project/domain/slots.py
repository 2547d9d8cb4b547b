"""Reading the `slots:` section of a domain: slot types, values, ranges and mappings (with conditions)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, cast

from bot.errors import did_you_mean
from bot.project.domain.parts import (
    BUILTIN_SLOT_TYPES,
    MAPPING_TYPES,
    SESSION_STARTED_METADATA_SLOT,
    MappingCondition,
    MappingType,
    Slot,
    SlotMapping,
)
from bot.project.domain.shapes import ShapeReader, describe, is_number
from bot.yamlio import line_of, plain

_CUSTOM_SLOT_TYPE = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")


class SlotReader(ShapeReader):
    """Reads the `slots:` section; a slot with errors is left out."""

    def slots(self, value: Any, line: int | None) -> dict[str, Slot]:
        specs = self.mapping(
            value,
            "`slots`",
            line,
            "Write slots as a mapping: `slot_name:` with `type:` and `mappings:` below.",
        )
        result: dict[str, Slot] = {}
        for name, spec in specs.items():
            slot = self.slot(name, spec, line_of(specs, name))
            if slot is not None:
                result[slot.name] = slot
        return result

    def slot(self, name: Any, spec: Any, at: int | None) -> Slot | None:
        example = "e.g.\n    my_slot:\n      type: text\n      mappings:\n      - type: from_text"
        if not isinstance(name, str):
            self.error(f"a slot name must be text, not {describe(name)}", at, "Quote the slot's name.")
            return None
        if name == SESSION_STARTED_METADATA_SLOT:
            self.error(f"the slot name '{name}' is reserved by Rasa", at, "Rename the slot.")
            return None
        if not isinstance(spec, dict):
            self.error(f"the slot '{name}' must be a mapping with `type` and `mappings`", at, example)
            return None
        errors = self._errors
        slot_type = self.slot_type(name, spec, at)
        keys = ["type", "mappings", "initial_value", "influence_conversation", "value_reset_delay"]
        if slot_type == "categorical" or slot_type not in BUILTIN_SLOT_TYPES:
            keys.append("values")
        if slot_type == "float" or slot_type not in BUILTIN_SLOT_TYPES:
            keys += ["min_value", "max_value"]
        if slot_type in BUILTIN_SLOT_TYPES:
            if "auto_fill" in spec:
                self.error(
                    f"the slot '{name}' has `auto_fill`, which Rasa 3 removed",
                    line_of(spec, "auto_fill"),
                    "Remove it: in Rasa 3 a slot is filled only through its `mappings`.",
                )
            why = f" A '{slot_type}' slot takes no other keys (Rasa stops with an error on them)."
            self.unknown_keys(spec, [*keys, "auto_fill"], f"the slot '{name}'", error=True, why=why)
        if spec.get("mappings") is None:
            self.error(
                f"the slot '{name}' has no `mappings`",
                at,
                "Rasa 3 requires mappings on every slot; for a slot set only by custom actions write "
                "`mappings: [{type: custom}]`.",
            )
        mappings = self.slot_mappings(name, spec.get("mappings"), line_of(spec, "mappings"))
        influence = self.boolean(
            spec.get("influence_conversation"),
            f"influence_conversation of the slot '{name}'",
            line_of(spec, "influence_conversation"),
            slot_type != "any",
        )
        if influence and slot_type == "any":
            self.error(
                f"the slot '{name}' has type `any`, which cannot influence the conversation",
                line_of(spec, "influence_conversation"),
                "Set influence_conversation: false, or use another slot type.",
            )
        values = self.slot_values(name, slot_type, spec, at)
        min_value, max_value = self.slot_range(name, slot_type, spec)
        if self._errors > errors or slot_type is None:
            return None
        return Slot(
            name,
            slot_type,
            mappings,
            values,
            min_value,
            max_value,
            plain(spec.get("initial_value")),
            influence,
            {k: plain(v) for k, v in spec.items() if k not in keys}
            if slot_type not in BUILTIN_SLOT_TYPES
            else {},
            file=self.source,
            line=at,
        )

    def slot_type(self, name: str, spec: Mapping[Any, Any], at: int | None) -> str | None:
        slot_type = spec.get("type")
        known = ", ".join(BUILTIN_SLOT_TYPES)
        if slot_type is None:
            self.error(
                f"the slot '{name}' has no `type`",
                at,
                f"Add `type:` with one of {known}, or a custom slot class as `module.Class`.",
            )
            return None
        if slot_type == "unfeaturized":
            self.error(
                f"the slot '{name}' has type `unfeaturized`, which Rasa 3 removed",
                line_of(spec, "type"),
                "Use another type with `influence_conversation: false` (e.g. type: any).",
            )
            return None
        if not isinstance(slot_type, str) or not (
            slot_type in BUILTIN_SLOT_TYPES or _CUSTOM_SLOT_TYPE.fullmatch(slot_type)
        ):
            self.error(
                f"the slot '{name}' has the unknown type {describe(slot_type)}",
                line_of(spec, "type"),
                did_you_mean(
                    slot_type, BUILTIN_SLOT_TYPES,
                    then=f"Slot types are {known}, or a custom slot class as `module.Class`.",
                ),
            )
            return None
        return slot_type

    def slot_values(
        self, name: str, slot_type: str | None, spec: Mapping[Any, Any], at: int | None
    ) -> list[Any] | None:
        raw = spec.get("values")
        at_values = line_of(spec, "values")
        if slot_type == "categorical" and not raw:
            self.error(
                f"the categorical slot '{name}' has no `values`",
                at_values if "values" in spec else at,
                "List the values the slot can take under `values:`.",
            )
            return None
        if raw is None:
            return None
        items = self.sequence(raw, f"values of the slot '{name}'", at_values, "List the values: [low, high].")
        if any(isinstance(item, dict | list) for item in items):
            self.error(
                f"values of the slot '{name}' must be plain values", at_values, "List texts or numbers."
            )
            return None
        if None in items:
            self.warn(
                f"the slot '{name}' lists null as a value; null means 'not set', so the value is ignored",
                at_values,
                'Remove it, or write "null" in quotes if you mean the text.',
            )
        return [item for item in items if item is not None]

    def slot_range(
        self, name: str, slot_type: str | None, spec: Mapping[Any, Any]
    ) -> tuple[float | None, float | None]:
        bounds: dict[str, float | None] = {}
        for key in ("min_value", "max_value"):
            value = spec.get(key)
            if value is not None and not is_number(value):
                self.error(
                    f"{key} of the slot '{name}' must be a number, not {describe(value)}",
                    line_of(spec, key),
                    "Write a plain number, e.g. 0 or 1.5.",
                )
                value = None
            bounds[key] = value
        if slot_type != "float":
            return bounds["min_value"], bounds["max_value"]
        low = bounds["min_value"] if bounds["min_value"] is not None else 0.0
        high = bounds["max_value"] if bounds["max_value"] is not None else 1.0
        if low >= high:
            self.error(
                f"the float slot '{name}' has min_value {low} not below max_value {high}",
                line_of(spec, "min_value"),
                "Make min_value smaller than max_value (the defaults are 0.0 and 1.0).",
            )
        initial = spec.get("initial_value")
        if is_number(initial) and not low <= initial <= high:
            self.warn(
                f"the float slot '{name}' starts at {initial}, outside its range {low}..{high}",
                line_of(spec, "initial_value"),
                "Widen min_value / max_value or change initial_value.",
            )
        return low, high

    def slot_mappings(self, slot: str, value: Any, line: int | None) -> list[SlotMapping]:
        if value is None:
            return []
        items = self.sequence(
            value, f"mappings of the slot '{slot}'", line, "Start each mapping with '- type:'."
        )
        result = []
        for index, spec in enumerate(items):
            mapping = self.slot_mapping(slot, spec, line_of(items, index))
            if mapping is not None:
                result.append(mapping)
        return result

    def slot_mapping(self, slot: str, spec: Any, at: int | None) -> SlotMapping | None:
        what = f"a mapping of the slot '{slot}'"
        if not isinstance(spec, dict):
            self.error(
                f"{what} must be a mapping, not {describe(spec)}", at, "Write it as `- type: from_entity`."
            )
            return None
        errors = self._errors
        keys = ("type", "entity", "intent", "not_intent", "role", "group", "value", "action", "conditions")
        self.unknown_keys(spec, keys, what, error=False)
        mapping_type = spec.get("type")
        if mapping_type is None:
            self.error(f"{what} has no `type`", at, f"Add `type:` with one of {', '.join(MAPPING_TYPES)}.")
        elif mapping_type not in MAPPING_TYPES:
            self.error(
                f"{what} has the unknown type {describe(mapping_type)}",
                line_of(spec, "type"),
                did_you_mean(mapping_type, MAPPING_TYPES, then=f"Mapping types are {', '.join(MAPPING_TYPES)}."),
            )
        if mapping_type == "from_entity" and spec.get("entity") is None:
            self.error(
                f"{what} is of type from_entity but names no `entity`", at, "Add `entity: <entity name>`."
            )
        if mapping_type in ("from_intent", "from_trigger_intent") and spec.get("value") is None:
            self.error(
                f"{what} is of type {mapping_type} but has no `value`",
                at,
                "Add `value:` with the value to set when the intent is recognised.",
            )
        text = {
            key: self.string(spec.get(key), f"{key} in {what}", line_of(spec, key))
            for key in ("role", "group", "action")
        }
        entity = self.string(spec.get("entity"), f"entity in {what}", line_of(spec, "entity"))
        intent = self.names(spec.get("intent"), f"intent in {what}", line_of(spec, "intent"))
        not_intent = self.names(spec.get("not_intent"), f"not_intent in {what}", line_of(spec, "not_intent"))
        conditions = self.conditions(what, spec.get("conditions"), line_of(spec, "conditions"))
        if self._errors > errors:
            return None
        return SlotMapping(
            cast(MappingType, mapping_type),
            entity,
            intent,
            not_intent,
            text["role"],
            text["group"],
            plain(spec.get("value")),
            text["action"],
            conditions,
            file=self.source,
            line=at,
        )

    def conditions(self, what: str, value: Any, line: int | None) -> list[MappingCondition]:
        items = self.sequence(value, f"conditions of {what}", line, "Write `- active_loop: <form name>`.")
        result = []
        for index, spec in enumerate(items):
            at = line_of(items, index)
            if not isinstance(spec, dict):
                self.error(
                    f"a condition of {what} must be a mapping, not {describe(spec)}",
                    at,
                    "Write `- active_loop: <form name>` with `requested_slot: <slot>` below it.",
                )
                continue
            self.unknown_keys(spec, ("active_loop", "requested_slot"), f"a condition of {what}", error=True)
            loop = self.string(spec.get("active_loop"), "active_loop", line_of(spec, "active_loop"))
            requested = self.string(
                spec.get("requested_slot"), "requested_slot", line_of(spec, "requested_slot")
            )
            result.append(MappingCondition(loop, requested))
        return result
