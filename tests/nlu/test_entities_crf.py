"""CRFEntityExtractor: learning entities with roles and groups from a tiny data set, persistence, edge cases."""

from __future__ import annotations

import itertools
import json
import logging
from pathlib import Path

import pytest
import spacy
from spacy.language import Language

from bot.errors import ConductorError
from bot.nlu.components import EntityDict
from bot.nlu.entities import CRFEntityExtractor
from bot.project.annotations import parse_annotated
from bot.project.nlu_data import EntitySpan, Message, TrainingData

CITIES = ["berlin", "paris", "london", "madrid", "rome", "vienna", "oslo", "lisbon"]
SIZES = ["small", "large", "medium"]
TOPPINGS = ["cheese", "pepperoni", "mushroom", "ham"]


def _city(name: str, role: str) -> str:
    return f'[{name}]{{"entity": "city", "role": "{role}"}}'


def _pizza(size: str, topping: str, group: str) -> str:
    return (
        f'[{size}]{{"entity": "size", "group": "{group}"}} '
        f'[{topping}]{{"entity": "topping", "group": "{group}"}}'
    )


def _examples(lines: list[str], intent: str) -> list[Message]:
    examples = []
    for line in lines:
        text, entities = parse_annotated(line)
        examples.append(Message(text, intent, entities))
    return examples


def _tiny_data() -> TrainingData:
    pairs = list(itertools.permutations(CITIES[:6], 2))[::3]
    flights = [f"fly from {_city(a, 'departure')} to {_city(b, 'destination')}" for a, b in pairs]
    flights += [f"i want to go to {_city(b, 'destination')} from {_city(a, 'departure')}" for a, b in pairs[::2]]
    combos = list(itertools.product(SIZES, TOPPINGS))
    pizzas = [
        f"a {_pizza(s1, t1, '1')} and a {_pizza(s2, t2, '2')}"
        for (s1, t1), (s2, t2) in zip(combos, combos[3:] + combos[:3], strict=True)
    ]
    chat = ["hello there", "thanks a lot", "what can you do", "good morning", "bye for now"]
    once = ["play [thunderstruck](song) now"]
    return TrainingData(
        examples=_examples(flights, "book_flight")
        + _examples(pizzas, "order_pizza")
        + _examples(chat, "chitchat")
        + _examples(once, "play_music")
    )


@pytest.fixture(scope="module")
def nlp() -> Language:
    return spacy.blank("en")


@pytest.fixture(scope="module")
def trained(nlp: Language) -> CRFEntityExtractor:
    extractor = CRFEntityExtractor()
    extractor.train(_tiny_data(), nlp)
    return extractor


def _extract(extractor: CRFEntityExtractor, nlp: Language, text: str) -> list[EntityDict]:
    return extractor.extract(text, nlp.make_doc(text))


def _brief(entities: list[EntityDict]) -> list[tuple[str, str, str | None, str | None]]:
    return [(e["entity"], e["value"], e.get("role"), e.get("group")) for e in entities]


def test_learns_entities_with_roles(trained: CRFEntityExtractor, nlp: Language) -> None:
    # a city pair the training data never shows together
    found = _extract(trained, nlp, "fly from lisbon to vienna")
    assert _brief(found) == [("city", "lisbon", "departure", None), ("city", "vienna", "destination", None)]
    found = _extract(trained, nlp, "i want to go to oslo from rome")
    assert _brief(found) == [("city", "oslo", "destination", None), ("city", "rome", "departure", None)]


def test_learns_entities_with_groups(trained: CRFEntityExtractor, nlp: Language) -> None:
    found = _extract(trained, nlp, "a medium ham and a small mushroom")
    assert _brief(found) == [
        ("size", "medium", None, "1"),
        ("topping", "ham", None, "1"),
        ("size", "small", None, "2"),
        ("topping", "mushroom", None, "2"),
    ]


def test_entity_shape_offsets_and_confidence(trained: CRFEntityExtractor, nlp: Language) -> None:
    text = "fly from paris to berlin"
    found = _extract(trained, nlp, text)
    assert found[0] == {
        "entity": "city",
        "start": 9,
        "end": 14,
        "value": "paris",
        "confidence_entity": found[0]["confidence_entity"],
        "role": "departure",
        "extractor": "CRFEntityExtractor",
    }
    for entity in found:
        assert text[entity["start"] : entity["end"]] == entity["value"]
        assert 0.5 < entity["confidence_entity"] <= 1.0


def test_entity_annotated_only_once_is_learned(trained: CRFEntityExtractor, nlp: Language) -> None:
    assert _brief(_extract(trained, nlp, "play thunderstruck now")) == [("song", "thunderstruck", None, None)]


def test_text_without_entities_gives_none(trained: CRFEntityExtractor, nlp: Language) -> None:
    assert _extract(trained, nlp, "hello there") == []


def test_empty_and_blank_text(trained: CRFEntityExtractor, nlp: Language) -> None:
    assert _extract(trained, nlp, "") == []
    assert _extract(trained, nlp, "   \n ") == []


def test_unicode_and_emoji_keep_character_offsets(trained: CRFEntityExtractor, nlp: Language) -> None:
    text = "🛫 fly   from  paris 🇫🇷 to berlin, danke schön ✨"
    found = _extract(trained, nlp, text)
    assert {"paris", "berlin"} <= {e["value"] for e in found if e["entity"] == "city"}
    for entity in found:
        assert text[entity["start"] : entity["end"]] == entity["value"]


def test_ten_thousand_character_text(trained: CRFEntityExtractor, nlp: Language) -> None:
    sentence = "fly from paris to berlin. "
    text = sentence * (10_000 // len(sentence))
    found = _extract(trained, nlp, text)
    cities = [e for e in found if e["entity"] == "city"]
    assert len(cities) == 2 * (10_000 // len(sentence))
    assert all(text[e["start"] : e["end"]] == e["value"] for e in found)


def test_save_and_load_round_trip(trained: CRFEntityExtractor, nlp: Language, tmp_path: Path) -> None:
    trained.save(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crf.crfsuite", "crf.json"]
    state = json.loads((tmp_path / "crf.json").read_text(encoding="utf-8"))
    assert state["trained"] is True and state["options"]["BILOU_flag"] is False
    loaded = CRFEntityExtractor.load(tmp_path)
    for text in ("fly from lisbon to vienna", "a medium ham and a small mushroom", "hello there"):
        assert _extract(loaded, nlp, text) == _extract(trained, nlp, text)


def test_data_without_entities_trains_nothing(nlp: Language, tmp_path: Path) -> None:
    extractor = CRFEntityExtractor()
    extractor.train(TrainingData(examples=_examples(["hello", "bye now"], "chitchat")), nlp)
    assert _extract(extractor, nlp, "hello") == []
    extractor.save(tmp_path)
    assert [p.name for p in tmp_path.iterdir()] == ["crf.json"]
    assert _extract(CRFEntityExtractor.load(tmp_path), nlp, "hello") == []


def test_bilou_tags_keep_adjacent_entities_of_one_label_apart(nlp: Language) -> None:
    lines = [f"[{a}](setting) [{b}](setting) please" for a, b in itertools.permutations(
        ["pause", "resume", "stop", "skip"], 2
    )]
    data = TrainingData(examples=_examples([*lines, "play it please", "hello there"], "player"))
    bilou = CRFEntityExtractor({"BILOU_flag": True})
    bilou.train(data, nlp)
    assert _brief(_extract(bilou, nlp, "stop pause please")) == [
        ("setting", "stop", None, None),
        ("setting", "pause", None, None),
    ]


@pytest.mark.parametrize(("split", "values"), [(True, ["red", "white"]), (False, ["red, white"])])
def test_split_entities_by_comma(nlp: Language, split: bool, values: list[str]) -> None:
    lines = [f"paint it [{a}, {b}](colour)" for a, b in itertools.permutations(["red", "white", "blue"], 2)]
    extractor = CRFEntityExtractor({"split_entities_by_comma": {"colour": split}})
    extractor.train(TrainingData(examples=_examples([*lines, "paint it now"], "paint")), nlp)
    assert [e["value"] for e in _extract(extractor, nlp, "paint it red, white")] == values


def test_lbfgs_training_as_rasa(nlp: Language) -> None:
    extractor = CRFEntityExtractor({"algorithm": "lbfgs", "max_iterations": 60, "L1_c": 0.01, "L2_c": 0.01})
    extractor.train(_tiny_data(), nlp)
    assert _brief(_extract(extractor, nlp, "fly from paris to rome")) == [
        ("city", "paris", "departure", None),
        ("city", "rome", "destination", None),
    ]


def test_badly_placed_annotations_are_reported_and_skipped(
    nlp: Language, caplog: pytest.LogCaptureFixture
) -> None:
    text, entities = parse_annotated("fly from [paris](city) to berlin")
    overlapping = [*entities, EntitySpan(9, 18, "paris to", "trip", "paris to")]
    data = TrainingData(examples=[Message(text, "fly", overlapping, file="nlu.yml", line=7)])
    with caplog.at_level(logging.WARNING):
        CRFEntityExtractor().train(data, nlp)
    assert "nlu.yml:7" in caplog.text and "'trip'" in caplog.text and "overlaps" in caplog.text


def test_annotation_inside_a_token_is_widened_to_the_token(nlp: Language) -> None:
    lines = [f"i had a [{meat}](meat)burger today" for meat in ("ham", "cheese", "fish", "veggie")]
    extractor = CRFEntityExtractor()
    extractor.train(TrainingData(examples=_examples([*lines, "i had lunch today"], "food")), nlp)
    assert [e["value"] for e in _extract(extractor, nlp, "i had a fishburger today")] == ["fishburger"]


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"algorithm": "sgd"}, "option 'algorithm' is 'sgd'"),
        ({"epochs": 0}, "option 'epochs' is 0"),
        ({"BILOU_flag": "yes"}, "option 'BILOU_flag' is 'yes'"),
        ({"L2_c": -1}, "option 'L2_c' is -1"),
        ({"split_entities_by_comma": ["city"]}, "option 'split_entities_by_comma'"),
        ({"max_iter": 5}, "unknown option(s) 'max_iter'"),
    ],
)
def test_bad_options_are_reported(options: dict[str, object], message: str) -> None:
    with pytest.raises(ConductorError) as caught:
        CRFEntityExtractor(options)
    assert message in str(caught.value)
    assert "config.yml" in str(caught.value) or "Options of CRFEntityExtractor" in str(caught.value)


def test_rasa_options_are_accepted() -> None:
    rasa_features = [["low", "title"], ["bias", "low", "suffix3"], ["low", "title"]]
    extractor = CRFEntityExtractor({"name": "CRFEntityExtractor", "features": rasa_features, "BILOU_flag": True})
    assert extractor.bilou


def test_damaged_model_files_are_reported(trained: CRFEntityExtractor, tmp_path: Path) -> None:
    with pytest.raises(ConductorError, match="model file is missing"):
        CRFEntityExtractor.load(tmp_path)
    trained.save(tmp_path)
    (tmp_path / "crf.crfsuite").write_bytes(b"not a model")
    with pytest.raises(ConductorError, match="cannot open the CRF model"):
        CRFEntityExtractor.load(tmp_path)
    (tmp_path / "crf.json").write_text("{", encoding="utf-8")
    with pytest.raises(ConductorError, match="cannot be read"):
        CRFEntityExtractor.load(tmp_path)


def test_training_does_not_depend_on_what_else_used_the_c_random_generator(
    nlp: Language, tmp_path: Path
) -> None:
    import ctypes

    models = []
    for index, burn in enumerate((0, 7)):
        for _ in range(burn):
            ctypes.CDLL(None).rand()  # as any other library in the process might
        extractor = CRFEntityExtractor()
        extractor.train(_tiny_data(), nlp)
        (tmp_path / str(index)).mkdir()
        extractor.save(tmp_path / str(index))
        models.append((tmp_path / str(index) / "crf.crfsuite").read_bytes())
    assert models[0] == models[1]


def test_what_the_message_is_about_decides_an_unseen_entity(nlp: Language) -> None:
    # The word that tells the two intents apart is beyond the neighbouring-word window of the entity, so only
    # the intent guess can tell. L-BFGS: on a dozen examples the perceptron leans on the words themselves.
    games = ["chess", "tetris", "sudoku", "minecraft", "checkers", "pong"]
    genres = ["jazz", "blues", "techno", "reggae", "opera", "salsa"]
    lines = [f"i want to play [{game}](game_name) now on the console" for game in games]
    lines += [f"i want to play [{genre}](music_genre) now on the speaker" for genre in genres]
    chat = ["turn the console off", "turn the speaker off", "hello there"]
    examples = _examples(lines[:6], "play_game") + _examples(lines[6:], "play_music")
    examples += _examples(chat[:1], "play_game") + _examples(chat[1:2], "play_music") + _examples(chat[2:], "greet")
    extractor = CRFEntityExtractor({"algorithm": "lbfgs"})
    extractor.train(TrainingData(examples=examples), nlp)
    assert _brief(_extract(extractor, nlp, "i want to play poker now on the console")) == [
        ("game_name", "poker", None, None)
    ]
    assert _brief(_extract(extractor, nlp, "i want to play polka now on the speaker")) == [
        ("music_genre", "polka", None, None)
    ]


def test_a_model_saved_with_another_feature_format_asks_for_retraining(
    trained: CRFEntityExtractor, tmp_path: Path
) -> None:
    trained.save(tmp_path)
    state = json.loads((tmp_path / "crf.json").read_text(encoding="utf-8"))
    (tmp_path / "crf.json").write_text(json.dumps({**state, "format": 1}), encoding="utf-8")
    with pytest.raises(ConductorError) as caught:
        CRFEntityExtractor.load(tmp_path)
    message = str(caught.value)
    assert "another version of Conductor" in message and "format 1" in message and "bot train" in message


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("gazetteer", {"paris": "hi"}, "`gazetteer` must map phrases"),
        ("intents", {"examples": {"fly": "many"}, "words": {}}, "`intents` must hold"),
        ("intents", None, "`intents` must hold"),
    ],
)
def test_a_damaged_saved_state_is_reported(
    trained: CRFEntityExtractor, tmp_path: Path, key: str, value: object, message: str
) -> None:
    trained.save(tmp_path)
    state = json.loads((tmp_path / "crf.json").read_text(encoding="utf-8"))
    (tmp_path / "crf.json").write_text(json.dumps({**state, key: value}), encoding="utf-8")
    with pytest.raises(ConductorError, match="malformed model file") as caught:
        CRFEntityExtractor.load(tmp_path)
    assert message in str(caught.value) and "bot train" in str(caught.value)
