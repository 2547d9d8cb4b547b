"""Slot values and their featurisation, type by type, as Rasa 3.x featurises them."""

from __future__ import annotations

from typing import Any

import pytest

from bot.dialogue.slots import DEFAULT_CATEGORICAL_VALUE, TrackerSlot, bool_from_any, tracker_slots
from bot.project.domain import Slot


def featurised(slot: Slot, value: Any) -> list[float]:
    live = TrackerSlot(slot)
    live.value = value
    return live.as_feature()


@pytest.mark.parametrize(("value", "expected"), [(None, [0.0]), ("anything", [1.0]), ("", [1.0])])
def test_text_slot_is_set_or_not(value: Any, expected: list[float]) -> None:
    assert featurised(Slot("s", "text"), value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [(None, [0.0, 0.0]), (True, [1.0, 1.0]), (False, [1.0, 0.0]), ("true", [1.0, 1.0]), ("1", [1.0, 1.0]),
     (0, [1.0, 0.0]), ("maybe", [0.0, 0.0])],
)
def test_bool_slot(value: Any, expected: list[float]) -> None:
    assert featurised(Slot("s", "bool"), value) == expected


def test_categorical_slot_is_one_hot_case_insensitive_with_other() -> None:
    slot = Slot("size", "categorical", values=["Small", "large"])
    live = TrackerSlot(slot)
    assert live.categories == ["small", "large", DEFAULT_CATEGORICAL_VALUE]
    assert featurised(slot, None) == [0.0, 0.0, 0.0]
    assert featurised(slot, "SMALL") == [1.0, 0.0, 0.0]
    assert featurised(slot, "huge") == [0.0, 0.0, 1.0]


@pytest.mark.parametrize(
    ("value", "expected"), [(None, [0.0, 0.0]), (5, [1.0, 0.5]), (-3, [1.0, 0.0]), (99, [1.0, 1.0]), ("x", [0.0, 0.0])]
)
def test_float_slot_is_scaled_into_its_range(value: Any, expected: list[float]) -> None:
    assert featurised(Slot("s", "float", min_value=0.0, max_value=10.0), value) == expected


@pytest.mark.parametrize(("value", "expected"), [(None, [0.0]), ([], [0.0]), (["a"], [1.0])])
def test_list_slot_is_non_empty_or_not(value: Any, expected: list[float]) -> None:
    assert featurised(Slot("s", "list"), value) == expected


def test_slots_that_do_not_influence_the_conversation_have_no_features() -> None:
    assert featurised(Slot("s", "text", influence_conversation=False), "x") == []
    assert featurised(Slot("s", "any", influence_conversation=False), "x") == []
    custom = TrackerSlot(Slot("s", "addons.MySlot", influence_conversation=True))
    assert custom.feature_dimensionality() == 0 and custom.as_feature() == []


def test_reset_returns_to_the_initial_value() -> None:
    live = tracker_slots([Slot("s", "float", initial_value=0.3)])["s"]
    assert live.value == 0.3 and not live.has_been_set
    live.value = 1.0
    assert live.has_been_set
    live.reset()
    assert live.value == 0.3 and not live.has_been_set


def test_bool_from_any_refuses_what_is_no_truth_value() -> None:
    with pytest.raises(ValueError):
        bool_from_any("perhaps")
    with pytest.raises(TypeError):
        bool_from_any([True])
