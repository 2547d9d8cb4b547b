"""Token features for the CRF entity extractor, and the gazetteer of annotated phrases they draw on.

Each token gets: its lower-cased word, prefix and suffixes, shape; the words (and suffixes) around it and the
word bigrams it is part of; where it stands in the message; a weak bag of the words near it (a cheap stand-in
for what the message is about, which tells `play [tennis](game_name)` from `play [jazz](music_genre)`); and
whether it lies inside a phrase that the training data annotates as an entity, with how often that phrase is
annotated where it occurs.

The gazetteer feature is computed leave-one-out while training: an example's own annotations do not count
for itself, or the model would learn to trust a feature that, on new text, is missing for every phrase not
seen before.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence

__all__ = ["PhraseGazetteer", "TokenSpan", "token_features"]

TokenSpan = tuple[int, int]
"""A run of tokens: [first, end) token indices."""

MAX_PHRASE_TOKENS = 5
CONTEXT_WINDOW = 8
"""Tokens on each side whose words join a token's bag of context words."""
CONTEXT_WEIGHT = 0.3
"""The bag's features weigh less than the token's own: they describe the message, not the token."""
_LENGTH_CAP = 12

_UPPER = re.compile(r"[A-Z]")
_LOWER = re.compile(r"[a-z]")
_DIGIT = re.compile(r"[0-9]")
_REPEAT = re.compile(r"(.)\1{2,}")


def _shape(word: str) -> str:
    """`Xxxx`, `dd:dd`, `xx-xx`: letter case and digits of a word, long runs cut to two."""
    shape = _DIGIT.sub("d", _LOWER.sub("x", _UPPER.sub("X", word)))
    return _REPEAT.sub(r"\1\1", shape)


def _phrases(words: Sequence[str]) -> Iterator[tuple[int, int, str]]:
    for first in range(len(words)):
        for end in range(first + 1, min(len(words), first + MAX_PHRASE_TOKENS) + 1):
            yield first, end, " ".join(words[first:end])


def _rate_bucket(annotated: int, occurrences: int) -> str:
    rate = annotated / max(occurrences, 1)
    return "hi" if rate > 0.5 else "mid" if rate > 0.15 else "lo"


class PhraseGazetteer:
    """Phrases (lower-cased, up to five tokens) annotated as entities in the training data."""

    def __init__(self, buckets: dict[str, str] | None = None) -> None:
        self.buckets: dict[str, str] = buckets or {}
        """phrase -> how often it is annotated where it occurs: `hi` (> 50%), `mid` (> 15%) or `lo`."""
        self._annotated: Counter[str] = Counter()
        self._occurrences: Counter[str] = Counter()

    @classmethod
    def from_examples(cls, examples: Iterable[tuple[Sequence[str], Sequence[TokenSpan]]]) -> PhraseGazetteer:
        """Count, over (token texts, annotated spans) examples, each phrase's annotations and occurrences."""
        listed = [([word.lower() for word in words], spans) for words, spans in examples]
        gazetteer = cls()
        for words, spans in listed:
            gazetteer._annotated.update(" ".join(words[a:b]) for a, b in spans if b - a <= MAX_PHRASE_TOKENS)
        for words, _ in listed:
            gazetteer._occurrences.update(p for _, _, p in _phrases(words) if p in gazetteer._annotated)
        gazetteer.buckets = {
            phrase: _rate_bucket(count, gazetteer._occurrences[phrase])
            for phrase, count in gazetteer._annotated.items()
        }
        return gazetteer

    def marks(self, words: Sequence[str], own: Sequence[TokenSpan] = ()) -> list[list[str]]:
        """Per token of `words` (lower-cased token texts), the gazetteer features it gets. `own` are the
        message's own annotations when it is a training example: they are left out of the counts."""
        marks: list[list[str]] = [[] for _ in words]
        if not self.buckets:
            return marks
        own_annotated = Counter(" ".join(words[a:b]) for a, b in own)
        own_occurrences = Counter(p for _, _, p in _phrases(words)) if own else Counter()
        for first, end, phrase in _phrases(words):
            bucket = self._bucket(phrase, own_annotated[phrase], own_occurrences[phrase])
            if bucket is None:
                continue
            if end - first == 1:
                marks[first].append("gU" + bucket)
                continue
            marks[first].append("gB" + bucket)
            marks[end - 1].append("gL" + bucket)
            for inside in range(first + 1, end - 1):
                marks[inside].append("gI" + bucket)
        return marks

    def _bucket(self, phrase: str, own_annotated: int, own_occurrences: int) -> str | None:
        if phrase not in self.buckets:
            return None
        if not own_annotated and not own_occurrences:
            return self.buckets[phrase]
        annotated = self._annotated[phrase] - own_annotated
        if annotated <= 0:
            return None
        return _rate_bucket(annotated, self._occurrences[phrase] - own_occurrences)


def token_features(
    texts: Sequence[str], gazetteer: PhraseGazetteer, own: Sequence[TokenSpan] = ()
) -> list[dict[str, float]]:
    """The features of each token of one message (`texts`: the tokens' texts)."""
    words = [text.lower() for text in texts]
    count = len(words)
    padded = ["<s>", "<s>", *words, "</s>", "</s>"]
    marks = gazetteer.marks(words, own)
    length = f"n={min(count, _LENGTH_CAP)}"
    features: list[dict[str, float]] = []
    for i, word in enumerate(words):
        previous, following = padded[i + 1], padded[i + 3]
        token: dict[str, float] = {
            "b": 1.0,
            "w=" + word: 1.0,
            "p3=" + word[:3]: 1.0,
            "s3=" + word[-3:]: 1.0,
            "s2=" + word[-2:]: 1.0,
            "sh=" + _shape(texts[i]): 1.0,
            "w-2=" + padded[i]: 1.0,
            "w-1=" + previous: 1.0,
            "w+1=" + following: 1.0,
            "w+2=" + padded[i + 4]: 1.0,
            "s3-1=" + previous[-3:]: 1.0,
            "s3+1=" + following[-3:]: 1.0,
            "b-1=" + previous + "|" + word: 1.0,
            "b+1=" + word + "|" + following: 1.0,
            length: 1.0,
        }
        for nearby in words[max(0, i - CONTEXT_WINDOW) : i + CONTEXT_WINDOW + 1]:
            token["c=" + nearby] = CONTEXT_WEIGHT
        for mark in marks[i]:
            token[mark] = 1.0
        features.append(token)
    if features:
        features[0]["BOS"] = 1.0
        features[-1]["EOS"] = 1.0
    return features
