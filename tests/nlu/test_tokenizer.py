"""The spaCy tokenizer wrapper: blank pipelines, words as the featurizers see them, saving."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bot.errors import ConductorError
from bot.nlu.tokenizer import Tokenizer, is_installed


def test_words_leave_out_punctuation_and_spaces_and_are_normalised() -> None:
    message = Tokenizer.create("en", None).tokenize("Hello,  World! I don't know 🙂")
    assert message.cased_words == ("Hello", "World", "I", "do", "n't", "know", "🙂")
    assert message.words == ("hello", "world", "i", "do", "not", "know", "🙂")
    assert [t.text for t in message.doc][:3] == ["Hello", ",", " "]


def test_other_languages_tokenize_by_their_rules() -> None:
    message = Tokenizer.create("fr", None).tokenize("J'aime l'école")
    assert "école" in message.words


def test_unknown_language_is_a_clear_error() -> None:
    with pytest.raises(ConductorError, match="spaCy has no language 'zz-top'") as caught:
        Tokenizer.create("zz-top", None)
    assert "language:" in (caught.value.problems[0].hint or "")


def test_a_language_whose_tokenizer_needs_a_missing_package() -> None:
    with pytest.raises(ConductorError, match="spaCy's tokenizer for 'th' needs a package that is not installed"):
        Tokenizer.create("th", None)


def test_a_pretrained_pipeline_that_is_not_installed_is_an_error() -> None:
    assert not is_installed("xx_no_such_pipeline_sm")
    with pytest.raises(ConductorError, match="'xx_no_such_pipeline_sm' is not installed"):
        Tokenizer.create("en", "xx_no_such_pipeline_sm")


def test_save_and_load(tmp_path: Path) -> None:
    tokenizer = Tokenizer.create("de", None)
    tokenizer.save(tmp_path)
    loaded = Tokenizer.load(tmp_path)
    assert loaded.language == "de"
    text = "Wie geht's dir, z.B. heute?"
    assert loaded.tokenize(text).words == tokenizer.tokenize(text).words


def test_rules_saved_by_another_spacy_version_are_read_back(tmp_path: Path) -> None:
    Tokenizer.create("en", None).save(tmp_path)
    settings = json.loads((tmp_path / "tokenizer.json").read_text())
    (tmp_path / "tokenizer.json").write_text(json.dumps({**settings, "spacy_version": "0.0.1"}))
    assert Tokenizer.load(tmp_path).tokenize("don't stop").words == ("do", "not", "stop")
    (tmp_path / "tokenizer.spacy").write_bytes(b"not msgpack")
    with pytest.raises(ConductorError, match="tokenizer rules cannot be read"):
        Tokenizer.load(tmp_path)


def test_unreadable_settings_are_an_error(tmp_path: Path) -> None:
    (tmp_path / "tokenizer.json").write_text("{")
    with pytest.raises(ConductorError, match="tokenizer settings cannot be read"):
        Tokenizer.load(tmp_path)
