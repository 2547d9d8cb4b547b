"""RegexEntityExtractor: entities from the project's `regex:` patterns and `lookup:` tables.

As Rasa's component of that name: only regexes and lookup tables whose name is also an entity annotated in
the examples are used; a lookup table matches any of its elements (longest first), only as whole words
unless `use_word_boundaries` is false (for languages written without spaces); regexes are used as written;
matching ignores case unless `case_sensitive` is true. Every match becomes an entity named after its pattern,
with confidence 1.

"Whole words" means no letter, digit or underscore right before or after the match. Rasa writes `\b` there,
which is the same for elements that begin and end with a letter or digit; for one like `st. louis (mo)` a
`\b` after `)` would need a letter to follow, so Rasa never matches it between spaces, and this does.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bot.errors import ConductorError, Problem
from bot.nlu.components import EntityDict
from bot.nlu.entity_common import ComponentOptions, make_entity, malformed, read_json, write_json
from bot.project.nlu_data import LookupTable, TrainingData

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc

__all__ = ["RegexEntityExtractor"]

_FILE = "patterns.json"
_DEFAULTS = {
    "case_sensitive": False,
    "use_lookup_tables": True,
    "use_regexes": True,
    "use_word_boundaries": True,
}


@dataclass(frozen=True)
class _EntityPattern:
    entity: str
    pattern: str


def _trie_pattern(elements: list[str]) -> str:
    """One regex matching any of `elements`, longest first, built as a trie (`new york|new delhi` ->
    `new\\ (?:york|delhi)`): matching then costs the length of a match at each position, not the number of
    elements, which matters for lookup tables of thousands of names."""
    trie: _Trie = {}
    for element in elements:
        node = trie
        for char in element:
            node = node.setdefault(char, {})
        node[_END] = {}
    return "(?:" + _node_pattern(trie) + ")"


_Trie = dict[str, "_Trie"]
_END = ""
"""The key that marks the end of an element in a trie node."""


def _node_pattern(node: _Trie) -> str:
    branches = []
    for char in sorted(key for key in node if key != _END):
        text, child = char, node[char]
        while len(child) == 1 and _END not in child:  # a chain without choices becomes one literal
            [(following, child)] = child.items()
            text += following
        branches.append(re.escape(text) + _node_pattern(child))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    # an element may end here: the rest is optional, and tried first (greedy) so the longest match wins
    return f"(?:{body})?" if _END in node else body


class RegexEntityExtractor:
    name = "RegexEntityExtractor"

    def __init__(self, config: Mapping[str, Any] | None = None) -> None:
        options = ComponentOptions(self.name, config, _DEFAULTS)
        self.case_sensitive = options.flag("case_sensitive")
        self.use_lookup_tables = options.flag("use_lookup_tables")
        self.use_regexes = options.flag("use_regexes")
        self.use_word_boundaries = options.flag("use_word_boundaries")
        self._patterns: list[_EntityPattern] = []
        self._compiled: list[tuple[str, re.Pattern[str]]] = []

    def train(self, data: TrainingData, tokenizer: Language) -> None:
        entity_names = set(data.entities)
        patterns: list[_EntityPattern] = []
        problems: list[Problem] = []
        if self.use_regexes:
            for regex in data.regexes:
                if regex.name not in entity_names:
                    continue
                try:
                    re.compile(regex.pattern)
                except re.error as exc:
                    problems.append(
                        Problem(
                            f"the regex for {regex.name!r} is not a valid regular expression: {exc}",
                            regex.file,
                            regex.line,
                            "Fix the pattern (Python `re` syntax) or remove it.",
                        )
                    )
                    continue
                patterns.append(_EntityPattern(regex.name, regex.pattern))
        if self.use_lookup_tables:
            patterns.extend(
                _EntityPattern(table.name, self._lookup_pattern(table))
                for table in data.lookups
                if table.name in entity_names and any(element.strip() for element in table.elements)
            )
        if problems:
            raise ConductorError(problems)
        self._set_patterns(patterns)

    def _lookup_pattern(self, table: LookupTable) -> str:
        elements = {e.strip() if self.case_sensitive else e.strip().lower() for e in table.elements}
        pattern = _trie_pattern(sorted(elements - {""}))
        return rf"(?<!\w){pattern}(?!\w)" if self.use_word_boundaries else pattern

    def _set_patterns(self, patterns: list[_EntityPattern]) -> None:
        flags = 0 if self.case_sensitive else re.IGNORECASE
        self._patterns = patterns
        self._compiled = [(p.entity, re.compile(p.pattern, flags)) for p in patterns]

    def extract(self, text: str, doc: Doc) -> list[EntityDict]:
        found = [
            make_entity(entity, match.group(), match.start(), match.end(), self.name)
            for entity, pattern in self._compiled
            for match in pattern.finditer(text)
            if match.end() > match.start()
        ]
        return sorted(found, key=lambda e: (e["start"], e["end"]))

    def save(self, directory: Path) -> None:
        write_json(
            directory / _FILE,
            {
                "case_sensitive": self.case_sensitive,
                "use_lookup_tables": self.use_lookup_tables,
                "use_regexes": self.use_regexes,
                "use_word_boundaries": self.use_word_boundaries,
                "patterns": [{"entity": p.entity, "pattern": p.pattern} for p in self._patterns],
            },
        )

    @classmethod
    def load(cls, directory: Path) -> RegexEntityExtractor:
        path = directory / _FILE
        content = read_json(path, cls.name)
        try:
            extractor = cls({key: content[key] for key in _DEFAULTS})
            patterns = [_EntityPattern(str(p["entity"]), str(p["pattern"])) for p in content["patterns"]]
            extractor._set_patterns(patterns)
        except (KeyError, TypeError, re.error, ConductorError) as exc:
            raise malformed(path, cls.name, str(exc)) from None
        return extractor
