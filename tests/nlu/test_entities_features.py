"""The CRF's token features: the gazetteer of annotated phrases and its leave-one-out counts."""

from __future__ import annotations

from bot.nlu.entity_features import PhraseGazetteer, token_features


def _gazetteer() -> PhraseGazetteer:
    return PhraseGazetteer.from_examples(
        [
            (["Fly", "to", "New", "York"], [(2, 4)]),
            (["new", "york", "is", "big"], [(0, 2)]),
            (["i", "love", "new", "york", "pizza"], []),
            (["play", "Thunderstruck"], [(1, 2)]),
        ]
    )


def test_phrases_are_matched_ignoring_case_with_their_annotation_rate() -> None:
    gazetteer = _gazetteer()
    # "new york" is annotated in 2 of its 3 occurrences: more than half
    assert gazetteer.marks(["to", "new", "york"]) == [[], ["gBhi"], ["gLhi"]]
    assert gazetteer.marks(["thunderstruck"]) == [["gUhi"]]


def test_a_training_example_does_not_count_its_own_annotations() -> None:
    gazetteer = _gazetteer()
    # annotated only here: nothing left once this example's own annotation is taken out
    assert gazetteer.marks(["play", "thunderstruck"], own=[(1, 2)]) == [[], []]
    # 1 annotation in the 2 other occurrences: 50%, not more than half
    assert gazetteer.marks(["fly", "to", "new", "york"], own=[(2, 4)]) == [[], [], ["gBmid"], ["gLmid"]]


def test_token_features_of_an_empty_and_a_one_word_message() -> None:
    assert token_features([], PhraseGazetteer()) == []
    [features] = token_features(["Berlin"], PhraseGazetteer())
    assert {"w=berlin", "sh=Xxx", "w-1=<s>", "w+1=</s>", "BOS", "EOS"} <= set(features)
    assert features["c=berlin"] < features["w=berlin"]
