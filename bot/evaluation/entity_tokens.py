"""Token-level entity labels: how Rasa turns entity spans into labels it can score.

Rasa scores entity extraction per token, not per span: every token of the message gets the label of the entity
that covers most of its characters (`no_entity` when none touches it), once from the annotated entities and
once from an extractor's predictions, and the two label sequences are compared like intents. The label joins
the entity type with its group and role when they are set: `city`, `city.destination`, `city.1.destination`
(type, group, role). No BILOU tags are involved.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = ["NO_ENTITY", "TokenSpan", "entity_label", "token_labels", "word_tokens"]

NO_ENTITY = "no_entity"

TokenSpan = tuple[int, int]

# Runs of word characters, joined by single inner punctuation marks ("don't", "10.5", "e-mail"), the way a
# whitespace tokenizer that drops stand-alone punctuation splits a sentence.
_WORD = re.compile(r"\w+(?:[^\w\s]\w+)*")


def word_tokens(text: str) -> list[TokenSpan]:
    """Character spans of the words of `text`, for results that come without the pipeline's own tokens."""
    return [match.span() for match in _WORD.finditer(text)]


def entity_label(entity: Mapping[str, Any]) -> str:
    """`type`, `type.group`, `type.role` or `type.group.role`: one label per combination Rasa scores."""
    parts = [entity.get("entity"), entity.get("group"), entity.get("role")]
    label = ".".join(str(part) for part in parts if part not in (None, ""))
    return label or NO_ENTITY


def _overlap(token: TokenSpan, entity: Mapping[str, Any]) -> int:
    start, end = token
    return max(0, min(end, int(entity["end"])) - max(start, int(entity["start"])))


def _token_label(token: TokenSpan, entities: Sequence[Mapping[str, Any]]) -> str:
    """The label of the entity sharing most characters with the token; the first one listed on a tie."""
    best: Mapping[str, Any] | None = None
    best_overlap = 0
    for entity in entities:
        overlap = _overlap(token, entity)
        if overlap > best_overlap:
            best, best_overlap = entity, overlap
    return NO_ENTITY if best is None else entity_label(best)


def token_labels(tokens: Sequence[TokenSpan], entities: Sequence[Mapping[str, Any]]) -> list[str]:
    """One label per token. Overlapping entities do not raise: the best-covering entity wins."""
    return [_token_label(token, entities) for token in tokens]
