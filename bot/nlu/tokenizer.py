"""The pipeline's tokenizer: spaCy's rule-based tokenizer for the project's language.

A blank pipeline (`spacy.blank(language)`) is the default: it needs no download and tokenizes a message in a
few microseconds. A pretrained pipeline is used only when the config names one (`SpacyNLP: model: ...`) and it
is installed; parsing still runs only its tokenizer (`make_doc`), never the full pipeline, to stay fast.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, cast

from bot.errors import ConductorError
from bot.nlu.spacy_import import import_spacy, spacy_version

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokenizer import Tokenizer as SpacyTokenizer

import_spacy()  # first, so that spaCy comes without its command line
# Doc at run time: compiled (mypyc), TokenizedText's field types are looked up when the module is imported
from spacy.tokens import Doc  # noqa: E402

__all__ = ["TokenizedText", "Tokenizer", "blank_language", "is_installed"]

_SETTINGS_FILE = "tokenizer.json"
_RULES_FILE = "tokenizer.spacy"


@dataclass(frozen=True)
class TokenizedText:
    """A message as the featurizers see it: the spaCy Doc and its words (no spaces or punctuation), both
    normalised (lower case, spaCy's norms such as n't -> not) and as written."""

    text: str
    doc: Doc
    words: tuple[str, ...]
    cased_words: tuple[str, ...]


class Tokenizer:
    """Wraps a spaCy `Language`; only its tokenizer runs on each message."""

    def __init__(self, nlp: Language, language: str, model: str | None) -> None:
        self.nlp = nlp
        self.language = language
        self.model = model

    @classmethod
    def create(cls, language: str, model: str | None) -> Tokenizer:
        """A blank pipeline for `language`, or the installed pretrained pipeline `model`."""
        if model is not None:
            return cls(_load_pretrained(model), language, model)
        return cls(blank_language(language), language, None)

    def tokenize(self, text: str) -> TokenizedText:
        doc = self.nlp.make_doc(text)
        kept = [t for t in doc if not (t.is_space or t.is_punct)]
        return TokenizedText(text, doc, tuple(t.norm_ for t in kept), tuple(t.text for t in kept))

    def save(self, directory: Path) -> None:
        """The language, model name and spaCy version as JSON; a blank tokenizer's rules in spaCy's own
        serialisation, read back only by another spaCy version (whose own rules may tokenize differently)."""
        settings = {"language": self.language, "model": self.model, "spacy_version": spacy_version()}
        (directory / _SETTINGS_FILE).write_text(json.dumps(settings), encoding="utf-8")
        if self.model is None:
            cast("SpacyTokenizer", self.nlp.tokenizer).to_disk(directory / _RULES_FILE)

    @classmethod
    def load(cls, directory: Path) -> Tokenizer:
        path = directory / _SETTINGS_FILE
        try:
            settings = json.loads(path.read_text(encoding="utf-8"))
            language, model, saved_with = str(settings["language"]), settings["model"], settings["spacy_version"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ConductorError.single(
                f"the model's tokenizer settings cannot be read ({exc})", path, hint="Train the model again."
            ) from None
        if model is not None:
            return cls(_load_pretrained(str(model)), language, str(model))
        if saved_with == spacy_version():
            return cls(blank_language(language), language, None)
        nlp = _new_blank(language)
        try:
            cast("SpacyTokenizer", nlp.tokenizer).from_disk(directory / _RULES_FILE)
        except (OSError, ValueError) as exc:
            raise ConductorError.single(
                f"the model's tokenizer rules cannot be read ({exc})",
                directory / _RULES_FILE,
                hint="Train the model again.",
            ) from None
        return cls(nlp, language, None)


_BLANK_PIPELINES: dict[str, Language] = {}


def blank_language(language: str) -> Language:
    """spaCy's blank pipeline for `language`, built once per process (building one takes ~0.2 s)."""
    nlp = _BLANK_PIPELINES.get(language)
    if nlp is None:
        nlp = _BLANK_PIPELINES[language] = _new_blank(language)
    return nlp


def _new_blank(language: str) -> Language:
    import_spacy()  # first, so that spaCy comes without its command line
    import spacy

    try:
        return spacy.blank(language)
    except ImportError as exc:
        if "E048" in str(exc):  # spaCy's "Can't import language": the code itself is unknown
            raise ConductorError.single(
                f"spaCy has no language {language!r}",
                hint="Set `language:` in config.yml to a code spaCy knows, such as en, de, fr, es, it, nl, pt, "
                "or xx for a multi-language tokenizer.",
            ) from None
        raise ConductorError.single(
            f"spaCy's tokenizer for {language!r} needs a package that is not installed: {exc}",
            hint="Install the package the message names, or use the multi-language tokenizer (`language: xx`).",
        ) from None


def _load_pretrained(model: str) -> Language:
    import_spacy()  # first, so that spaCy comes without its command line
    import spacy

    if not spacy.util.is_package(model):
        raise ConductorError.single(
            f"the spaCy pipeline {model!r} is not installed",
            hint=f"Install it (`python -m spacy download {model}`) or remove `model:` from SpacyNLP.",
        )
    try:
        return spacy.load(model)
    except (OSError, ValueError, ImportError) as exc:
        raise ConductorError.single(
            f"the spaCy pipeline {model!r} cannot be loaded ({exc})",
            hint="Reinstall it with `python -m spacy download`.",
        ) from None


def is_installed(model: str) -> bool:
    """Whether a pretrained spaCy pipeline of this name can be loaded."""
    import_spacy()  # first, so that spaCy comes without its command line
    import spacy

    return bool(spacy.util.is_package(model))
