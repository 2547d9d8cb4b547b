"""Contracts between the NLU pipeline (bot/nlu/pipeline.py) and its pluggable parts.

An entity extractor is written against `EntityExtractor`; the pipeline builds one per config entry from the
registry `bot.nlu.entities.ENTITY_EXTRACTORS` (name -> class), trains it after the tokenizer is ready, asks it
for entities on every parse, and saves/loads it in its own sub-folder of the model artefact (JSON and numpy
files only: loading a model must not run code).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from bot.project.nlu_data import TrainingData

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

__all__ = ["EntityDict", "EntityExtractor"]

EntityDict = dict[str, Any]
"""One entity in Rasa's parse shape: entity, value, start, end, confidence_entity, role?, group?, extractor,
processors?"""


@runtime_checkable
class EntityExtractor(Protocol):
    """A trainable entity extractor the pipeline can run, save and load."""

    name: str
    """Reported in each entity's `extractor` field."""

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        """`config`: the component's options from its config.yml pipeline item."""
        ...

    def train(self, data: TrainingData, tokenizer: Language) -> None:
        """Learn from the examples; `tokenizer` is the pipeline's spaCy Language (blank or pretrained)."""
        ...

    def extract(self, text: str, doc: Doc) -> list[EntityDict]:
        """Entities of one message; `doc` is the tokenized `text` (tokenizer only, no other pipes run)."""
        ...

    def save(self, directory: Path) -> None:
        """Write the trained state into `directory` (which exists and is empty) as JSON/numpy files."""
        ...

    @classmethod
    def load(cls, directory: Path) -> EntityExtractor:
        """Rebuild from what `save` wrote; raise ConductorError for missing or malformed files."""
        ...
