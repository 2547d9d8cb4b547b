"""EntitySynonymMapper: replace an extracted value by its canonical value from the project's synonyms.

It finds no entities itself; the pipeline runs it after the extractors through `process`, as Rasa runs its
EntitySynonymMapper after them. Matching is on the lower-cased text value, as Rasa does; non-text values
(numbers) are left alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.nlu.components import EntityDict
from bot.nlu.entity_common import ComponentOptions, malformed, read_json, write_json
from bot.project.nlu_data import TrainingData

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

__all__ = ["EntitySynonymMapper"]

_FILE = "synonyms.json"


class EntitySynonymMapper:
    name = "EntitySynonymMapper"

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        ComponentOptions(self.name, config, {})
        self.synonyms: dict[str, str] = {}
        """Lower-cased synonym text -> canonical value."""

    def train(self, data: TrainingData, tokenizer: Language) -> None:
        self.synonyms = {text.lower(): value for text, value in data.synonyms.items()}

    def extract(self, text: str, doc: Doc) -> list[EntityDict]:
        return []

    def process(self, entities: list[EntityDict]) -> list[EntityDict]:
        """The entities with synonym values replaced, each replaced one noting this mapper in `processors`."""
        mapped: list[EntityDict] = []
        for entity in entities:
            value = entity.get("value")
            canonical = self.synonyms.get(value.lower()) if isinstance(value, str) else None
            if canonical is None or canonical == value:
                mapped.append(entity)
                continue
            processors = [*entity.get("processors", []), self.name]
            mapped.append({**entity, "value": canonical, "processors": processors})
        return mapped

    def save(self, directory: Path) -> None:
        write_json(directory / _FILE, self.synonyms)

    @classmethod
    def load(cls, directory: Path) -> EntitySynonymMapper:
        path = directory / _FILE
        content = read_json(path, cls.name)
        if not isinstance(content, dict) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in content.items()
        ):
            raise malformed(path, cls.name, "expected an object of text -> text")
        mapper = cls()
        mapper.synonyms = content
        return mapper
