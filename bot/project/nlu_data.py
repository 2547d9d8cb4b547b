"""NLU training data: examples with entity spans, synonyms, regexes, lookup tables, retrieval responses.

The types below are the contract between the project reader and the NLU pipeline (bot/nlu).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EntitySpan",
    "LookupTable",
    "Message",
    "RegexPattern",
    "TrainingData",
]


@dataclass(frozen=True)
class EntitySpan:
    """One annotated entity in an example's plain text; `value` is the synonym-mapped value if one was given."""

    start: int
    end: int
    text: str
    entity: str
    value: Any
    role: str | None = None
    group: str | None = None


@dataclass
class Message:
    """One NLU example (or one parsed user message): plain text without annotation markup.

    `intent` is the full intent name; for a retrieval intent it is `faq/ask_x` and `intent_base` is `faq`.
    """

    text: str
    intent: str | None = None
    entities: list[EntitySpan] = field(default_factory=list)
    metadata: dict[str, Any] = field(default_factory=dict)
    file: str | None = None
    line: int | None = None

    @property
    def intent_base(self) -> str | None:
        return self.intent.split("/", 1)[0] if self.intent else None

    @property
    def response_key(self) -> str | None:
        """`ask_x` for a retrieval intent `faq/ask_x`, else None."""
        if self.intent and "/" in self.intent:
            return self.intent.split("/", 1)[1]
        return None


@dataclass(frozen=True)
class RegexPattern:
    name: str
    pattern: str
    file: str | None = None
    line: int | None = None


@dataclass
class LookupTable:
    name: str
    elements: list[str]
    file: str | None = None
    line: int | None = None


@dataclass
class TrainingData:
    """Everything the NLU files of a project hold, merged."""

    examples: list[Message] = field(default_factory=list)
    synonyms: dict[str, str] = field(default_factory=dict)
    """Lower-cased synonym text -> canonical value (from `synonym:` blocks and `[t]{"value": v}` annotations)."""
    regexes: list[RegexPattern] = field(default_factory=list)
    lookups: list[LookupTable] = field(default_factory=list)
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Retrieval responses found in NLU files (`utter_faq/ask_x` -> variations)."""

    @property
    def intents(self) -> list[str]:
        """The distinct (full) intent names of the examples, in first-seen order."""
        return list(dict.fromkeys(m.intent for m in self.examples if m.intent))

    @property
    def entities(self) -> list[str]:
        return list(dict.fromkeys(e.entity for m in self.examples for e in m.entities))

    @property
    def retrieval_intents(self) -> list[str]:
        return list(dict.fromkeys(m.intent_base for m in self.examples if m.response_key and m.intent_base))

    def merge(self, other: TrainingData) -> TrainingData:
        return TrainingData(
            examples=self.examples + other.examples,
            synonyms={**self.synonyms, **other.synonyms},
            regexes=self.regexes + other.regexes,
            lookups=self.lookups + other.lookups,
            responses={**self.responses, **other.responses},
        )
