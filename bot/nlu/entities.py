"""Entity extraction: the extractors config.yml can name, and how their findings are combined.

The pipeline builds each entity component from `ENTITY_EXTRACTORS` (Rasa's names where the behaviour
matches) with its config.yml options as one mapping, trains it, and on every parse:

1. calls `extract(text, doc)` on every extractor, in pipeline order;
2. combines what they found with `merge_entities`;
3. passes the result through each component that is an `EntityProcessor` (EntitySynonymMapper), in order.

Overlap rule of `merge_entities`. Entities of *different* names (or roles or groups) never displace each
other, even on the same characters, as in Rasa: a slot may be filled `from_entity: number` while another
comes from a learned `guests` entity on the same "4". Among entities of the *same* name, role and group whose
spans overlap, one is kept: the longer span; on equal length the higher confidence; on equal confidence the
one from the extractor earlier in the pipeline. The result is ordered by start, then end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol, runtime_checkable

from bot.nlu.components import EntityDict
from bot.nlu.entity_crf import CRFEntityExtractor
from bot.nlu.entity_numbers import NumberEntityExtractor
from bot.nlu.entity_regex import RegexEntityExtractor
from bot.nlu.entity_synonyms import EntitySynonymMapper

__all__ = [
    "ENTITY_EXTRACTORS",
    "CRFEntityExtractor",
    "EntityProcessor",
    "EntitySynonymMapper",
    "NumberEntityExtractor",
    "RegexEntityExtractor",
    "merge_entities",
]

ENTITY_EXTRACTORS: dict[str, type] = {
    "CRFEntityExtractor": CRFEntityExtractor,
    "RegexEntityExtractor": RegexEntityExtractor,
    "EntitySynonymMapper": EntitySynonymMapper,
    "NumberEntityExtractor": NumberEntityExtractor,
}


@runtime_checkable
class EntityProcessor(Protocol):
    """A component that changes the entities the extractors found (it finds none itself)."""

    def process(self, entities: list[EntityDict]) -> list[EntityDict]: ...


def _identity(entity: EntityDict) -> tuple[object, object, object]:
    return entity.get("entity"), entity.get("role"), entity.get("group")


def _overlaps(a: EntityDict, b: EntityDict) -> bool:
    return bool(a["start"] < b["end"] and b["start"] < a["end"])


def merge_entities(found: Iterable[Sequence[EntityDict]]) -> list[EntityDict]:
    """One list of entities from each extractor's list (in pipeline order), overlaps resolved as the module
    docstring says."""
    ranked = [
        (entity, order)
        for order, entities in enumerate(found)
        for entity in entities
    ]
    ranked.sort(
        key=lambda item: (
            -(item[0]["end"] - item[0]["start"]),
            -float(item[0].get("confidence_entity", 1.0)),
            item[1],
        )
    )
    kept: list[EntityDict] = []
    for entity, _ in ranked:
        if not any(_identity(entity) == _identity(k) and _overlaps(entity, k) for k in kept):
            kept.append(entity)
    return sorted(kept, key=lambda e: (e["start"], e["end"]))
