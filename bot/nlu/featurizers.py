"""Sparse sentence features: word n-grams, character n-grams, regex/lookup matches and lexical traits.

Every block turns a tokenized message into feature *names* (strings); training builds one vocabulary per
block (with document frequencies) and the same code turns a message into a sparse row at training and at
parse time, so the two can never drift apart. Weights are TF-IDF with sublinear term frequency
(1 + log count), each block L2-normalised and scaled by its weight, then the whole row L2-normalised:
blocks of very different sizes (30,000 character n-grams, 3 regexes) each get a fair say.

Tried and left out (`benchmarks/nlu.py`: CLINC150 in scope / out-of-scope recall with the val-chosen
threshold; HWU64 fold 1 without fallback; full IDF gives 92.56 / 46.70 and 89.13):
- IDF to a power below 1, so rare n-grams (typos, one-off names) weigh less against the common words that
  carry the intent: the square root 92.84 / 51.00 and 88.85, the power 3/4 92.53 / 52.60 and 88.94. Better
  out-of-scope detection on CLINC150, but HWU64 under 89 % and the tech-support skill's 5-fold accuracy half
  a point lower.
- Counting the names the vocabulary does not know in the norms (as if each had a column no intent weighs), so
  that a message of mostly unseen words gets a short row and a low confidence: with the square root,
  92.87 / 51.80 and 89.13. But the answers a form collects are unseen words too: with both skills on,
  "sorry, my email is actually oskar.lindqvist@example.org" fell from legal_correct_info at 0.79 to a
  fallback and a legal intake test story failed; counting the word block alone still fell back.

Word n-grams are padded with `<s>`/`</s>` so "how ..." at the start of a message is a feature of its own;
on CLINC150 this was worth +0.3 points of accuracy over plain n-grams. Character n-grams (`char_wb`) are
taken inside each word padded with spaces, as scikit-learn's analyzer of that name does; they carry
morphology and spelling variants the word n-grams miss.

A row is computed with plain dict look-ups and a few numpy calls, because parsing one message must take well
under a millisecond and scikit-learn's vectorizers cost more than that per call.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import numpy.typing as npt

from bot.errors import ConductorError
from bot.nlu.tokenizer import TokenizedText
from bot.project.nlu_data import TrainingData

if TYPE_CHECKING:
    import scipy.sparse as sp

__all__ = [
    "CharNgrams",
    "FeatureBlock",
    "LexicalTraits",
    "RegexMatches",
    "SparseFeaturizer",
    "SparseRow",
    "VocabularyLimits",
    "WordNgrams",
    "block_from_settings",
]

SparseRow = tuple[npt.NDArray[np.int32], npt.NDArray[np.float32]]
"""The non-zero feature indices of one message and their values."""

_WORD_CACHE_SIZE = 200_000
_NO_INDICES: npt.NDArray[np.int32] = np.zeros(0, dtype=np.int32)
_NO_VALUES: npt.NDArray[np.float32] = np.zeros(0, dtype=np.float32)


class FeatureBlock:
    """Turns a message into feature names; subclasses say how. `settings()` is all a block needs to be
    rebuilt when a model is loaded."""

    kind: str = ""
    weight: float = 1.0

    def names(self, message: TokenizedText) -> list[str]:
        raise NotImplementedError

    def settings(self) -> dict[str, Any]:
        raise NotImplementedError


class WordNgrams(FeatureBlock):
    kind = "word"

    def __init__(self, min_ngram: int, max_ngram: int, lowercase: bool = True, weight: float = 1.0) -> None:
        self.min_ngram = min_ngram
        self.max_ngram = max_ngram
        self.lowercase = lowercase
        self.weight = weight

    def names(self, message: TokenizedText) -> list[str]:
        words = list(message.words if self.lowercase else message.cased_words)
        found = list(words) if self.min_ngram <= 1 else []
        padded = ["<s>", *words, "</s>"]
        for n in range(max(2, self.min_ngram), self.max_ngram + 1):
            found.extend(" ".join(padded[i : i + n]) for i in range(len(padded) - n + 1))
        return found

    def settings(self) -> dict[str, Any]:
        return {"min_ngram": self.min_ngram, "max_ngram": self.max_ngram, "lowercase": self.lowercase}


class CharNgrams(FeatureBlock):
    """`char_wb`: n-grams inside each space-padded word; `char`: n-grams over the words joined by spaces."""

    def __init__(
        self, kind: str, min_ngram: int, max_ngram: int, lowercase: bool = True, weight: float = 1.0
    ) -> None:
        self.kind = kind
        self.min_ngram = min_ngram
        self.max_ngram = max_ngram
        self.lowercase = lowercase
        self.weight = weight

    @property
    def per_word(self) -> bool:
        """Whether a message's names are the union of its words' names (so they can be cached per word)."""
        return self.kind == "char_wb"

    def message_words(self, message: TokenizedText) -> tuple[str, ...]:
        return message.words if self.lowercase else message.cased_words

    def names(self, message: TokenizedText) -> list[str]:
        words = self.message_words(message)
        if self.per_word:
            return [name for word in words for name in self.word_names(word)]
        return self._ngrams(" " + " ".join(words) + " ")

    def word_names(self, word: str) -> list[str]:
        return self._ngrams(f" {word} ")

    def _ngrams(self, piece: str) -> list[str]:
        return [piece[i : i + n] for n in range(self.min_ngram, self.max_ngram + 1) for i in range(len(piece) - n + 1)]

    def settings(self) -> dict[str, Any]:
        return {"min_ngram": self.min_ngram, "max_ngram": self.max_ngram, "lowercase": self.lowercase}


class RegexMatches(FeatureBlock):
    """One feature per regex or lookup table of the training data that matches the message."""

    kind = "regex"

    def __init__(
        self, patterns: Sequence[tuple[str, str]], case_sensitive: bool = True, weight: float = 0.5
    ) -> None:
        self.patterns = list(patterns)
        self.case_sensitive = case_sensitive
        self.weight = weight
        flags = 0 if case_sensitive else re.IGNORECASE
        self._compiled = [(name, re.compile(pattern, flags)) for name, pattern in self.patterns]

    @classmethod
    def from_data(
        cls,
        data: TrainingData,
        case_sensitive: bool,
        use_word_boundaries: bool,
        use_regexes: bool,
        use_lookup_tables: bool,
    ) -> RegexMatches:
        patterns: list[tuple[str, str]] = []
        if use_regexes:
            for regex in data.regexes:
                try:
                    re.compile(regex.pattern)
                except re.error as exc:
                    raise ConductorError.single(
                        f"the regex {regex.name!r} is not a valid regular expression ({exc})",
                        regex.file,
                        regex.line,
                        hint="Fix the pattern; Python's `re` syntax is expected.",
                    ) from None
                patterns.append((f"regex:{regex.name}", regex.pattern))
        if use_lookup_tables:
            for table in data.lookups:
                elements = sorted({e.strip() for e in table.elements if e.strip()}, key=len, reverse=True)
                if not elements:
                    continue
                alternation = "|".join(re.escape(e) for e in elements)
                pattern = rf"(?<!\w)(?:{alternation})(?!\w)" if use_word_boundaries else f"(?:{alternation})"
                patterns.append((f"lookup:{table.name}", pattern))
        return cls(patterns, case_sensitive)

    def names(self, message: TokenizedText) -> list[str]:
        return [name for name, compiled in self._compiled if compiled.search(message.text)]

    def settings(self) -> dict[str, Any]:
        return {"patterns": [list(p) for p in self.patterns], "case_sensitive": self.case_sensitive}


class LexicalTraits(FeatureBlock):
    """Sentence-level traits: first and last word, length, digits, capitals, a closing question mark.

    Rasa's LexicalSyntacticFeaturizer describes each token for its neural model; for a linear sentence
    classifier the same traits are summarised over the message.
    """

    kind = "lexical"

    def __init__(self, weight: float = 0.3) -> None:
        self.weight = weight

    def names(self, message: TokenizedText) -> list[str]:
        words = message.words
        if not words:
            return ["empty"]
        traits = [f"first:{words[0]}", f"last:{words[-1]}", f"length:{_length_bucket(len(words))}"]
        if any(map(str.isdigit, message.text)):  # a C loop over the characters, not a generator's frames
            traits.append("has_digit")
        if any(w[:1].isupper() for w in message.cased_words[1:]):
            traits.append("has_title_word")
        if any(len(w) > 1 and w.isupper() for w in message.cased_words):
            traits.append("has_upper_word")
        if message.text.rstrip().endswith("?"):
            traits.append("ends_with_question_mark")
        return traits

    def settings(self) -> dict[str, Any]:
        return {}


def _length_bucket(count: int) -> str:
    for limit in (1, 2, 3, 5, 8, 12, 20):
        if count <= limit:
            return f"<={limit}"
    return ">20"


def block_from_settings(kind: str, settings: dict[str, Any], weight: float) -> FeatureBlock:
    """Rebuild a block from what `FeatureBlock.settings` returned (raises KeyError/TypeError if malformed)."""
    if kind == "word":
        return WordNgrams(int(settings["min_ngram"]), int(settings["max_ngram"]), bool(settings["lowercase"]), weight)
    if kind in ("char", "char_wb"):
        return CharNgrams(
            kind, int(settings["min_ngram"]), int(settings["max_ngram"]), bool(settings["lowercase"]), weight
        )
    if kind == "regex":
        patterns = [(str(name), str(pattern)) for name, pattern in settings["patterns"]]
        return RegexMatches(patterns, bool(settings["case_sensitive"]), weight)
    if kind == "lexical":
        return LexicalTraits(weight)
    raise KeyError(kind)


@dataclass
class VocabularyLimits:
    """CountVectorsFeaturizer's pruning options: document frequency bounds (count or fraction) and a cap."""

    min_df: float = 1
    max_df: float = 1.0
    max_features: int | None = None


class SparseFeaturizer:
    """The blocks, their vocabularies and IDF weights; turns messages into L2-normalised sparse rows."""

    def __init__(
        self,
        blocks: Sequence[FeatureBlock],
        vocabularies: Sequence[Sequence[str]],
        idf: npt.NDArray[np.float32],
    ) -> None:
        self.blocks = list(blocks)
        self.vocabularies = [list(v) for v in vocabularies]
        self.idf = idf.astype(np.float32, copy=False)
        offsets = np.cumsum([0] + [len(v) for v in self.vocabularies])
        self.offsets: npt.NDArray[np.int64] = offsets.astype(np.int64)
        self._lookups = [
            {name: int(start) + i for i, name in enumerate(vocab)}
            for vocab, start in zip(self.vocabularies, self.offsets, strict=False)
        ]
        self._weights = np.array([b.weight for b in self.blocks], dtype=np.float32)
        self._block_of_feature: npt.NDArray[np.intp] = np.repeat(
            np.arange(len(self.blocks), dtype=np.intp), np.diff(self.offsets)
        )
        """Each feature's block (what `np.searchsorted(offsets, indices, side="right") - 1` gives), in one look-up."""
        self._word_caches: list[dict[str, tuple[int, ...]]] = [{} for _ in self.blocks]
        """Per block: a word's feature indices, for blocks whose features are per word (char_wb). Tuples, which
        the garbage collector stops tracking, so a big cache adds no pause to collections."""

    @property
    def size(self) -> int:
        return int(self.offsets[-1])

    @classmethod
    def fit(
        cls,
        blocks: Sequence[FeatureBlock],
        limits: Sequence[VocabularyLimits],
        messages: Sequence[TokenizedText],
    ) -> SparseFeaturizer:
        """Build each block's vocabulary from the messages (pruned by its limits) and the IDF weights."""
        count = len(messages)
        vocabularies: list[list[str]] = []
        idf_parts: list[npt.NDArray[np.float32]] = []
        for block, limit in zip(blocks, limits, strict=True):
            frequency: Counter[str] = Counter()
            if isinstance(block, CharNgrams) and block.per_word:
                word_names: dict[str, list[str]] = {}
                for message in messages:
                    names: set[str] = set()
                    for word in block.message_words(message):
                        if word not in word_names:
                            word_names[word] = block.word_names(word)
                        names.update(word_names[word])
                    frequency.update(names)
            else:
                for message in messages:
                    frequency.update(set(block.names(message)))
            kept = _prune(frequency, limit, count)
            vocabularies.append(kept)
            df = np.array([frequency[name] for name in kept], dtype=np.float64)
            idf_parts.append((np.log((1 + count) / (1 + df)) + 1).astype(np.float32))
        idf = np.concatenate(idf_parts) if idf_parts else np.zeros(0, dtype=np.float32)
        return cls(blocks, vocabularies, idf)

    def row(self, message: TokenizedText) -> SparseRow:
        found: list[int] = []
        for block, lookup, cache in zip(self.blocks, self._lookups, self._word_caches, strict=True):
            if isinstance(block, CharNgrams) and block.per_word:
                for word in block.message_words(message):
                    hit = cache.get(word)
                    if hit is None:
                        hit = tuple(i for i in map(lookup.get, block.word_names(word)) if i is not None)
                        if len(cache) < _WORD_CACHE_SIZE:
                            cache[word] = hit
                    found.extend(hit)
            else:
                found.extend([i for i in map(lookup.get, block.names(message)) if i is not None])
        if not found:
            return _NO_INDICES, _NO_VALUES
        counts = Counter(found)
        indices = np.fromiter(counts.keys(), dtype=np.int32, count=len(counts))
        tfidf: npt.NDArray[np.floating[Any]]  # float32: a Python float operand does not widen it
        if len(counts) == len(found):
            tfidf = self.idf[indices]  # every feature once: its sublinear tf, 1 + log(1), is exactly 1
        else:
            tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
            tfidf = (1.0 + np.log(tf)) * self.idf[indices]
        block_of = self._block_of_feature[indices]
        norms = np.sqrt(np.bincount(block_of, weights=tfidf * tfidf, minlength=len(self.blocks)))
        values = tfidf * (self._weights[block_of] / norms[block_of])
        values /= np.float32(math.sqrt(float(np.dot(values, values))))
        return indices, values.astype(np.float32, copy=False)

    def matrix(self, messages: Iterable[TokenizedText]) -> sp.csr_matrix:
        """The rows of many messages as one CSR matrix (float64, as scikit-learn's solvers want)."""
        import scipy.sparse as sp  # training and evaluation only: parsing one message does without (22 MB)

        indptr = [0]
        all_indices: list[npt.NDArray[np.int32]] = []
        all_values: list[npt.NDArray[np.float32]] = []
        for message in messages:
            indices, values = self.row(message)
            all_indices.append(indices)
            all_values.append(values)
            indptr.append(indptr[-1] + len(indices))
        indices_all = np.concatenate(all_indices) if all_indices else _NO_INDICES
        values_all = np.concatenate(all_values).astype(np.float64) if all_values else _NO_VALUES
        return sp.csr_matrix(
            (values_all, indices_all, np.array(indptr, dtype=np.int64)), shape=(len(indptr) - 1, self.size)
        )

    def block_descriptions(self) -> list[dict[str, Any]]:
        """What `save` keeps of each block (the vocabularies and IDF are stored apart, as arrays)."""
        return [{"kind": b.kind, "weight": b.weight, "settings": b.settings()} for b in self.blocks]


def _prune(frequency: Counter[str], limit: VocabularyLimits, count: int) -> list[str]:
    low = limit.min_df if limit.min_df >= 1 else math.ceil(limit.min_df * count)
    high = limit.max_df * count if limit.max_df <= 1 else limit.max_df
    kept = [name for name, df in frequency.items() if low <= df <= high]
    if limit.max_features is not None and len(kept) > limit.max_features:
        kept.sort(key=lambda name: (-frequency[name], name))
        kept = kept[: limit.max_features]
    return sorted(kept)
