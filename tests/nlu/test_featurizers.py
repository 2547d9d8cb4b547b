"""Sparse features: the n-grams each block names, vocabularies, and the rows they make."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from bot.errors import ConductorError
from bot.nlu.featurizers import (
    CharNgrams,
    LexicalTraits,
    RegexMatches,
    SparseFeaturizer,
    VocabularyLimits,
    WordNgrams,
    block_from_settings,
)
from bot.nlu.tokenizer import Tokenizer
from bot.project.nlu_data import LookupTable, RegexPattern, TrainingData

TOKENIZER = Tokenizer.create("en", None)


def test_word_ngrams_are_padded_at_the_edges() -> None:
    message = TOKENIZER.tokenize("Book a flight!")
    assert WordNgrams(1, 2).names(message) == [
        "book", "a", "flight", "<s> book", "book a", "a flight", "flight </s>",
    ]
    assert WordNgrams(2, 2, lowercase=False).names(message)[0] == "<s> Book"


@pytest.mark.parametrize("kind", ["char_wb", "char"])
def test_char_ngrams_match_scikit_learns_analyzers(kind: str) -> None:
    text = "how can i up my credit score"
    ours = set(CharNgrams(kind, 2, 5).names(TOKENIZER.tokenize(text)))
    analyzer = CountVectorizer(analyzer=kind, ngram_range=(2, 5)).build_analyzer()
    reference = set(analyzer(text)) if kind == "char_wb" else set(analyzer(f" {text} "))
    assert ours == reference


def test_regex_and_lookup_matches() -> None:
    data = TrainingData(
        regexes=[RegexPattern("zipcode", r"\b\d{5}\b")],
        lookups=[LookupTable("city", ["Berlin", "New York", "  "])],
    )
    block = RegexMatches.from_data(data, case_sensitive=False, use_word_boundaries=True,
                                   use_regexes=True, use_lookup_tables=True)
    assert block.names(TOKENIZER.tokenize("ship to 10115 berlin")) == ["regex:zipcode", "lookup:city"]
    assert block.names(TOKENIZER.tokenize("Berliner in new york")) == ["lookup:city"]
    no_bounds = RegexMatches.from_data(data, True, False, False, True)
    assert no_bounds.names(TOKENIZER.tokenize("Berliner")) == ["lookup:city"]
    assert no_bounds.names(TOKENIZER.tokenize("berliner")) == []


def test_an_invalid_regex_names_its_file_and_line() -> None:
    data = TrainingData(regexes=[RegexPattern("broken", "([a-z", "data/nlu.yml", 12)])
    with pytest.raises(ConductorError, match="'broken' is not a valid regular expression") as caught:
        RegexMatches.from_data(data, True, True, True, True)
    assert caught.value.problems[0].location == "data/nlu.yml:12"


def test_lexical_traits() -> None:
    traits = LexicalTraits().names(TOKENIZER.tokenize("Is the NASA office in Berlin open at 9?"))
    assert {"first:is", "last:9", "has_digit", "has_title_word", "has_upper_word",
            "ends_with_question_mark"} <= set(traits)
    assert LexicalTraits().names(TOKENIZER.tokenize("!!")) == ["empty"]


def _fit(texts: list[str], limits: VocabularyLimits | None = None) -> SparseFeaturizer:
    blocks = [WordNgrams(1, 1), CharNgrams("char_wb", 2, 3)]
    return SparseFeaturizer.fit(blocks, [limits or VocabularyLimits()] * 2, [TOKENIZER.tokenize(t) for t in texts])


def test_rows_are_normalised_and_blocks_weigh_alike() -> None:
    featurizer = _fit(["hello there", "good morning", "hello again"])
    indices, values = featurizer.row(TOKENIZER.tokenize("hello hello there"))
    assert indices.dtype == np.int32 and values.dtype == np.float32
    assert float(np.dot(values, values)) == pytest.approx(1.0, abs=1e-6)
    word_block = indices < featurizer.offsets[1]
    assert float(np.sum(values[word_block] ** 2)) == pytest.approx(0.5, abs=1e-6)


def test_unseen_text_gives_an_empty_row() -> None:
    indices, values = _fit(["hello there"]).row(TOKENIZER.tokenize("zzz qqq"))
    assert len(indices) == len(values) == 0


def test_term_weights_are_the_smoothed_idf() -> None:
    featurizer = _fit(["hello there", "hello again", "good morning"])
    words = featurizer.vocabularies[0]
    weights = dict(zip(words, featurizer.idf[: len(words)].tolist(), strict=True))
    assert weights["hello"] == pytest.approx(np.log(4 / 3) + 1, rel=1e-6)
    assert weights["there"] == pytest.approx(np.log(4 / 2) + 1, rel=1e-6)


def test_unknown_names_leave_no_trace_in_a_row() -> None:
    """A message's row is made of the names the model knows; words it never saw (a client's name, an email
    address) neither add features nor shorten the row, so they do not lower the message's confidence."""
    featurizer = _fit(["hello there", "good morning", "hello again"])
    known = featurizer.row(TOKENIZER.tokenize("hello"))
    mixed = featurizer.row(TOKENIZER.tokenize("hello xqzv"))
    assert np.array_equal(known[0], mixed[0]) and np.allclose(known[1], mixed[1])
    assert float(np.dot(mixed[1], mixed[1])) == pytest.approx(1.0, abs=1e-6)


def test_matrix_rows_equal_single_rows() -> None:
    texts = ["hello there", "good morning to you", "", "hello"]
    featurizer = _fit(texts)
    matrix = featurizer.matrix([TOKENIZER.tokenize(t) for t in texts])
    for number, text in enumerate(texts):
        indices, values = featurizer.row(TOKENIZER.tokenize(text))
        dense = np.zeros(featurizer.size)
        dense[indices] = values
        assert np.allclose(matrix[number].toarray().ravel(), dense)


def test_vocabulary_limits() -> None:
    texts = ["red apple", "red pear", "red plum", "green apple"]
    words = [v for v in _fit(texts, VocabularyLimits(min_df=2)).vocabularies[0]]
    assert words == ["apple", "red"]
    assert _fit(texts, VocabularyLimits(max_df=0.5)).vocabularies[0] == ["apple", "green", "pear", "plum"]
    assert _fit(texts, VocabularyLimits(max_features=1)).vocabularies[0] == ["red"]


def test_blocks_rebuild_from_their_settings() -> None:
    data = TrainingData(regexes=[RegexPattern("digits", r"\d+")])
    blocks = [WordNgrams(1, 3, False), CharNgrams("char", 1, 4), RegexMatches.from_data(data, False, True, True, True),
              LexicalTraits()]
    message = TOKENIZER.tokenize("Order 12 pizzas")
    for block in blocks:
        rebuilt = block_from_settings(block.kind, block.settings(), block.weight)
        assert rebuilt.names(message) == block.names(message)
