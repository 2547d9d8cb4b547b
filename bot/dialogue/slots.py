"""Slot values in a conversation, and how each slot type turns its value into features for the policies.

A `TrackerSlot` is the live value of one domain slot inside a tracker. Its featurisation follows Rasa 3.x:

- `text`: one feature, 1.0 when the slot holds any value;
- `bool`: two features, [is set, is true] (`"true"`, `"1"`, `1` count as true; an unreadable value as unset);
- `categorical`: one-hot over the declared values (compared as lower-case text) plus `__other__`, which
  stands for any value not declared; an unset slot is all zeros;
- `float`: two features, [is set, value scaled into 0..1 between `min_value` and `max_value`];
- `list`: one feature, 1.0 when the list is not empty;
- `any` and custom slot classes (`module.Class`, which cannot run here): no features.

A slot with `influence_conversation: false` has no features whatever its type.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from typing import Any, Final

from bot.project.domain import Domain, Slot

__all__ = [
    "DEFAULT_CATEGORICAL_VALUE",
    "TrackerSlot",
    "bool_from_any",
    "tracker_slots",
]

logger = logging.getLogger(__name__)

DEFAULT_CATEGORICAL_VALUE: Final = "__other__"
"""The category every undeclared value of a categorical slot falls into."""

_NOTIFIED_CUSTOM_TYPES: set[str] = set()


def bool_from_any(value: Any) -> bool:
    """Rasa's reading of a bool slot's value; raises ValueError/TypeError for a value that is no truth value."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return bool(value == 1.0)
    if isinstance(value, str):
        text = value.strip().lower()
        if value.isnumeric():
            return float(value) == 1.0
        if text == "true":
            return True
        if text == "false":
            return False
        raise ValueError(f"cannot read {value!r} as true or false")
    raise TypeError(f"cannot read a {type(value).__name__} as true or false")


class TrackerSlot:
    """One slot's current value. `has_been_set` tells a value set by an event from the initial value."""

    __slots__ = ("_value", "categories", "dimensions", "has_been_set", "spec")

    def __init__(self, spec: Slot) -> None:
        self.spec = spec
        self.categories: list[str] = []
        if spec.type == "categorical":
            self.categories = [str(v).lower() for v in spec.values or []]
            if DEFAULT_CATEGORICAL_VALUE not in self.categories:
                self.categories.append(DEFAULT_CATEGORICAL_VALUE)
        elif spec.has_custom_type and spec.type not in _NOTIFIED_CUSTOM_TYPES:
            _NOTIFIED_CUSTOM_TYPES.add(spec.type)
            logger.warning(
                "slot '%s' has the custom type %s, which cannot run here; it is kept like an `any` slot "
                "and does not influence the policies' predictions",
                spec.name,
                spec.type,
            )
        self._value: Any = spec.initial_value
        self.has_been_set = False
        self.dimensions = self._dimensions()
        """How many features the slot has (0: it does not influence the conversation)."""

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def type_name(self) -> str:
        return self.spec.type

    @property
    def initial_value(self) -> Any:
        return self.spec.initial_value

    @property
    def value(self) -> Any:
        return self._value

    @value.setter
    def value(self, value: Any) -> None:
        self._value = value
        self.has_been_set = True

    def reset(self) -> None:
        """Back to the initial value, as if never set."""
        self._value = self.spec.initial_value
        self.has_been_set = False

    def copy(self) -> TrackerSlot:
        twin = TrackerSlot.__new__(TrackerSlot)
        twin.spec = self.spec
        twin.categories = self.categories
        twin.dimensions = self.dimensions
        twin._value = self._value
        twin.has_been_set = self.has_been_set
        return twin

    @property
    def influences_conversation(self) -> bool:
        return self.feature_dimensionality() > 0

    def feature_dimensionality(self) -> int:
        return self.dimensions

    def _dimensions(self) -> int:
        if not self.spec.influence_conversation:
            return 0
        kind = self.spec.type
        if kind in ("text", "list"):
            return 1
        if kind in ("bool", "float"):
            return 2
        if kind == "categorical":
            return len(self.categories)
        return 0

    def as_feature(self) -> list[float]:
        """The slot's features (empty for a slot that does not influence the conversation)."""
        if not self.dimensions:
            return []
        value = self._value
        kind = self.spec.type
        if kind == "text":
            return [1.0 if value is not None else 0.0]
        if kind == "list":
            try:
                return [1.0 if value is not None and len(value) > 0 else 0.0]
            except TypeError:
                return [0.0]
        if kind == "bool":
            if value is None:
                return [0.0, 0.0]
            try:
                return [1.0, 1.0 if bool_from_any(value) else 0.0]
            except (TypeError, ValueError):
                return [0.0, 0.0]
        if kind == "float":
            return self._float_feature(value)
        return self._categorical_feature(value)

    def _float_feature(self, value: Any) -> list[float]:
        low = self.spec.min_value if self.spec.min_value is not None else 0.0
        high = self.spec.max_value if self.spec.max_value is not None else 1.0
        try:
            number = float(value)
        except (TypeError, ValueError):
            return [0.0, 0.0]
        capped = max(low, min(high, number))
        span = abs(high - low) or 1.0
        return [1.0, (capped - low) / span]

    def _categorical_feature(self, value: Any) -> list[float]:
        features = [0.0] * len(self.categories)
        if value is None:
            return features
        text = str(value).lower()
        index = self.categories.index(text) if text in self.categories else None
        if index is None:
            index = self.categories.index(DEFAULT_CATEGORICAL_VALUE)
        features[index] = 1.0
        return features

    def __repr__(self) -> str:
        return f"TrackerSlot({self.name}={self._value!r})"


def tracker_slots(source: Domain | Iterable[Slot] | Mapping[str, Slot]) -> dict[str, TrackerSlot]:
    """Fresh slots at their initial values: every slot of a domain (with Rasa's added slots), or the given."""
    if isinstance(source, Domain):
        specs: Iterable[Slot] = source.all_slots.values()
    elif isinstance(source, Mapping):
        specs = source.values()
    else:
        specs = source
    return {spec.name: TrackerSlot(spec) for spec in specs}
