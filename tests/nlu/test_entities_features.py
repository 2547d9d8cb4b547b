"""The CRF's token features: the gazetteer of annotated phrases, the intent guess, and their leave-one-out counts."""

from __future__ import annotations

import json

import pytest

from bot.nlu.entity_features import IntentGuess, PhraseGazetteer, token_features


def _gazetteer() -> PhraseGazetteer:
    return PhraseGazetteer.from_examples(
        [
            (["Fly", "to", "New", "York"], [(2, 4, "city")]),
            (["new", "york", "is", "big"], [(0, 2, "city")]),
            (["i", "love", "new", "york", "pizza"], [(2, 5, "dish")]),
            (["play", "Thunderstruck"], [(1, 2, "song")]),
            (["read", "thunderstruck"], [(1, 2, "book")]),
        ]
    )


def _guess() -> IntentGuess:
    return IntentGuess.from_examples(
        [
            (["play", "some", "jazz"], "play_music"),
            (["play", "the", "radio"], "play_music"),
            (["play", "songs", "by", "adele"], "play_music"),
            (["wake", "me", "up", "at", "six"], "set_alarm"),
            (["set", "an", "alarm", "at", "seven"], "set_alarm"),
            (["what", "is", "the", "weather", "in", "paris"], "weather"),
            (["anything"], None),
        ]
    )


def test_phrases_are_matched_ignoring_case_with_their_annotation_rate_and_entity_names() -> None:
    gazetteer = _gazetteer()
    # "new york" is annotated in 2 of its 3 occurrences (more than half), always as a city
    assert gazetteer.marks(["to", "new", "york"]) == [[], ["gBhi", "ge=city"], ["gLhi", "ge=city"]]
    # annotated as a song once and as a book once: both names, on the one token
    assert gazetteer.marks(["thunderstruck"]) == [["gUhi", "ge=book", "ge=song"]]


def test_a_training_example_does_not_count_its_own_annotations() -> None:
    gazetteer = _gazetteer()
    # the other example still annotates it, as a book: the song is this example's own
    assert gazetteer.marks(["play", "thunderstruck"], own=[(1, 2, "song")]) == [[], ["gUhi", "ge=book"]]
    # 1 annotation in the 2 other occurrences: 50%, not more than half
    assert gazetteer.marks(["fly", "to", "new", "york"], own=[(2, 4, "city")]) == [
        [],
        [],
        ["gBmid", "ge=city"],
        ["gLmid", "ge=city"],
    ]
    # annotated only here: nothing left once this example's own annotation is taken out
    alone = PhraseGazetteer.from_examples([(["play", "thunderstruck"], [(1, 2, "song")])])
    assert alone.marks(["play", "thunderstruck"], own=[(1, 2, "song")]) == [[], []]
    assert alone.marks(["play", "thunderstruck"]) == [[], ["gUhi", "ge=song"]]


def test_gazetteer_state_survives_json_and_bad_state_is_refused() -> None:
    gazetteer = _gazetteer()
    loaded = PhraseGazetteer.from_state(json.loads(json.dumps(gazetteer.state())))
    assert loaded is not None
    for words in (["to", "new", "york"], ["thunderstruck"], ["i", "love", "new", "york", "pizza"]):
        assert loaded.marks(words) == gazetteer.marks(words)
    for bad in ([], {"new york": "hi"}, {"new york": ["often", ["city"]]}, {"new york": ["hi", "city"]}):
        assert PhraseGazetteer.from_state(bad) is None


def test_intent_guess_from_words() -> None:
    guess = _guess()
    assert guess.guess(["play", "me", "some", "jazz"]) == "play_music"
    assert guess.guess(["set", "the", "alarm", "for", "six"]) == "set_alarm"
    # words never seen are left out: the guess falls back on the intent with the most examples
    assert guess.guess(["zzz", "qqq"]) == "play_music"
    assert guess.guess([]) == "play_music"


def test_intent_guess_leaves_a_training_example_out_of_its_own_counts() -> None:
    guess = _guess()
    words = ["what", "is", "the", "weather", "in", "paris"]
    assert guess.guess(words) == "weather"
    # the only weather example: without it there is no weather intent to guess
    assert guess.guess(words, own="weather") != "weather"
    # "alarm" and "seven" are in this example only; "set" and "at" keep it with its intent
    assert guess.guess(["set", "an", "alarm", "at", "seven"], own="set_alarm") == "set_alarm"
    music_only = IntentGuess.from_examples([(["play", "jazz"], "music"), (["radio", "jazz"], "music"),
                                            (["jazz"], "other"), (["jazz"], "other"), (["jazz"], "other")])
    # with its own counts, "play" says music; without them "play" is unknown to music and jazz says other
    assert music_only.guess(["play", "jazz"]) == "music"
    assert music_only.guess(["play", "jazz"], own="music") == "other"


def test_intent_guess_needs_two_intents() -> None:
    assert IntentGuess().guess(["hello"]) is None
    one = IntentGuess.from_examples([(["hello"], "greet"), (["hi"], "greet"), (["hey"], None)])
    assert not one.active
    assert one.guess(["hello"]) is None


def test_intent_guess_state_survives_json_and_bad_state_is_refused() -> None:
    guess = _guess()
    loaded = IntentGuess.from_state(json.loads(json.dumps(guess.state())))
    assert loaded is not None
    for words in (["play", "jazz"], ["wake", "me", "at", "six"], ["weather", "in", "rome"], ["unknown"]):
        assert loaded.guess(words) == guess.guess(words)
    good = guess.state()
    for bad in (
        None,
        {"examples": good["examples"]},
        {**good, "examples": {**good["examples"], "weather": 0}},
        {**good, "words": {**good["words"], "weather": {"rain": -1}}},
        {**good, "words": {**good["words"], "unlisted": {"rain": 1}}},
        {**good, "words": {**good["words"], "weather": {"rain": True}}},
    ):
        assert IntentGuess.from_state(bad) is None


def test_token_features_of_an_empty_and_a_one_word_message() -> None:
    assert token_features([], PhraseGazetteer()) == []
    [features] = token_features(["Berlin"], PhraseGazetteer())
    assert {"w=berlin", "sh=Xxx", "w-1=<s>", "w+1=</s>", "BOS", "EOS"} <= set(features)
    assert not any(name.startswith("in=") for name in features)


@pytest.mark.parametrize("intent", ["book_flight", None])
def test_every_token_gets_the_intent_guess_and_its_gazetteer_marks(intent: str | None) -> None:
    features = token_features(["Fly", "to", "New", "York"], _gazetteer(), intent)
    intent_features = [{name for name in token if name.startswith("in=")} for token in features]
    assert intent_features == [{f"in={intent}"} if intent else set()] * 4
    assert [sorted(name for name in token if name.startswith("g")) for token in features] == [
        [],
        [],
        ["gBhi", "ge=city"],
        ["gLhi", "ge=city"],
    ]
    assert features[1]["w-1=fly"] == features[1]["w+1=new"] == 1.0
