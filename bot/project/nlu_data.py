"""NLU training data: examples with entity spans, synonyms, regexes, lookup tables, retrieval responses.

The types below are the contract between the project reader and the NLU pipeline (bot/nlu). The functions
read and write Rasa 3.x NLU YAML (the `nlu:` and `responses:` keys, as Rasa's nlu.yml and responses.yml
schemas define them); mistakes a person can make come back as `ConductorError` with file:line, all of a
file's errors at once, and softer issues as warnings in `TrainingData.warnings`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.errors import ConductorError, Problem, Severity
from bot.yamlio import describe_value, line_of, parse_yaml, read_text

__all__ = [
    "NLU_FORMAT_VERSION",
    "EntitySpan",
    "LookupTable",
    "Message",
    "RegexPattern",
    "TrainingData",
    "dump_nlu",
    "is_nlu_file",
    "load_nlu",
    "load_nlu_file",
    "parse_nlu",
]


@dataclass(frozen=True)
class EntitySpan:
    """One annotated entity in an example's plain text.

    `value` is the synonym-mapped value if one was given, else the entity's text.
    """

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
    Read from a file, `metadata` is shaped as Rasa shapes it: `{"intent": <the intent's metadata>,
    "example": <the example's metadata>}`, each key present only when the file gives it.
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
    """Lower-cased synonym text -> canonical value.

    From `synonym:` blocks and from annotations whose value differs from their text (`[t]{"value": v}`).
    """
    regexes: list[RegexPattern] = field(default_factory=list)
    lookups: list[LookupTable] = field(default_factory=list)
    responses: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    """Retrieval responses found in NLU files (`utter_faq/ask_x` -> variations)."""
    warnings: list[Problem] = field(default_factory=list)
    """Issues found while reading that do not stop training (unknown keys, skipped lines, ...)."""

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
            warnings=self.warnings + other.warnings,
        )


# --- reading -------------------------------------------------------------------------------------------

NLU_FORMAT_VERSION = "3.1"
"""The `version:` Rasa 3.x writes at the top of its training data files."""
_ITEM_KEYS = {
    "intent": ("intent", "examples", "metadata"),
    "synonym": ("synonym", "examples"),
    "regex": ("regex", "examples"),
    "lookup": ("lookup", "examples"),
}
_RESPONSE_KEYS = frozenset(
    ("id", "text", "image", "custom", "buttons", "button_type", "quick_replies", "attachment", "elements",
     "channel", "metadata", "condition")
)
_LITERAL_BLOCK_HEADER = re.compile(r":[ \t]+\|[-+0-9]*[ \t]*(?:#.*)?$")
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
"""What the YAML parser counts as a line break when it numbers lines."""
_BLOCK_HINT = "Write the examples as a block: 'examples: |' and then one '- example' per line."


def is_nlu_file(data: Any) -> bool:
    """Whether parsed YAML is NLU data; Rasa sorts data files by their top-level `nlu:`/`responses:` keys."""
    return isinstance(data, dict) and ("nlu" in data or "responses" in data)


def load_nlu_file(path: str | Path) -> TrainingData:
    """Read one Rasa NLU YAML file. A file without `nlu:` or `responses:` gives empty training data."""
    text = read_text(path, "NLU file")
    return parse_nlu(parse_yaml(text, path), path, text=text)


def load_nlu(paths: Iterable[str | Path]) -> TrainingData:
    """Read and merge several NLU files, reporting the errors of all of them together."""
    merged = TrainingData()
    problems: list[Problem] = []
    for path in paths:
        try:
            data = load_nlu_file(path)
        except ConductorError as exc:
            problems.extend(exc.problems)
            continue
        for synonym, value in data.synonyms.items():
            earlier = merged.synonyms.get(synonym)
            if earlier is not None and earlier != value:
                merged.warnings.append(_synonym_clash(synonym, earlier, value, str(path), None))
        for name in data.responses.keys() & merged.responses.keys():
            merged.warnings.append(
                Problem(
                    f"the response {name!r} is defined in more than one NLU file; this one is used",
                    str(path),
                    line_of(data.responses, name),
                    "Keep one definition of each response.",
                    Severity.WARNING,
                )
            )
        merged = merged.merge(data)
    if problems:
        raise ConductorError(problems)
    return merged


def parse_nlu(data: Any, source: str | Path, *, text: str | None = None) -> TrainingData:
    """Read parsed NLU YAML (from `bot.yamlio`, so that problems carry line numbers).

    `text`, the file's source, lets each example of an `examples: |` block carry its exact line; without it
    the block is assumed to start on the line after its `examples:` key.
    """
    reader = _NluReader(str(source), text)
    reader.read(data)
    if reader.errors:
        raise ConductorError(reader.errors)
    return reader.result


def _synonym_clash(synonym: str, earlier: str, value: str, file: str, line: int | None) -> Problem:
    return Problem(
        f"{synonym!r} is a synonym of both {earlier!r} and {value!r}; {value!r} is used",
        file,
        line,
        "Map each synonym to one value.",
        Severity.WARNING,
    )


class _NluReader:
    """Reads one file's parsed YAML into `result`, collecting every error instead of stopping at the first."""

    def __init__(self, source: str, text: str | None) -> None:
        self.source = source
        self.lines = _LINE_BREAK.split(text) if text is not None else None
        self.errors: list[Problem] = []
        self.result = TrainingData()

    def error(self, message: str, line: int | None, hint: str) -> None:
        self.errors.append(Problem(message, self.source, line, hint))

    def warn(self, message: str, line: int | None, hint: str) -> None:
        self.result.warnings.append(Problem(message, self.source, line, hint, Severity.WARNING))

    def read(self, data: Any) -> None:
        if data is None:
            return
        if not isinstance(data, dict):
            self.error(
                f"an NLU file must be a mapping with an 'nlu:' key, but this one is {describe_value(data)}",
                line_of(data),
                "Start the file with 'version: \"3.1\"' and 'nlu:' followed by '- intent: <name>' items.",
            )
            return
        if "version" in data and not isinstance(data["version"], str):
            self.warn(
                f"'version' should be a quoted string, found {data['version']!r}",
                line_of(data, "version"),
                f'Write version: "{NLU_FORMAT_VERSION}".',
            )
        if "nlu" in data:
            self.read_items(data["nlu"], line_of(data, "nlu"))
        if "responses" in data:
            self.read_responses(data["responses"], line_of(data, "responses"))

    def read_items(self, items: Any, line: int | None) -> None:
        if items is None:
            return
        if not isinstance(items, list):
            self.error(
                f"'nlu:' must be a list of items, but it is {describe_value(items)}",
                line,
                "Write each item on its own '- ' line: '- intent: greet' followed by 'examples: |'.",
            )
            return
        for index, item in enumerate(items):
            self.read_item(item, line_of(items, index))

    def read_item(self, item: Any, line: int | None) -> None:
        if not isinstance(item, dict):
            self.error(
                f"an item under 'nlu:' must be a mapping like '- intent: greet', but it is {describe_value(item)}",
                line,
                "Start each item with '- intent: <name>', '- synonym: <value>', '- regex: <name>' or "
                "'- lookup: <name>', and put its 'examples:' under it.",
            )
            return
        line = line_of(item) or line
        kinds = [kind for kind in _ITEM_KEYS if kind in item]
        if not kinds:
            self.error(
                f"this item under 'nlu:' has none of the keys intent, synonym, regex, lookup "
                f"(its keys: {', '.join(map(str, item)) or 'none'})",
                line,
                "Start the item with '- intent: <name>' (or synonym:, regex:, lookup:).",
            )
            return
        if len(kinds) > 1:
            self.error(
                f"this item has both {kinds[0]!r} and {kinds[1]!r}",
                line,
                "Split it into one item per key, each with its own 'examples:'.",
            )
            return
        kind = kinds[0]
        name = self.read_name(item, kind)
        unknown = [str(key) for key in item if key not in _ITEM_KEYS[kind]]
        if unknown:
            label = f"the {kind} {name!r}" if name else f"this {kind} item"
            self.warn(
                f"{label} has keys that are not read: {', '.join(unknown)}",
                line_of(item, unknown[0]),
                f"A {kind} item has only the keys {', '.join(_ITEM_KEYS[kind])}; check the spelling "
                "and the indentation.",
            )
        if name is None:
            return
        if kind == "intent":
            self.read_intent(name, item)
        elif kind == "synonym":
            for example, example_line, _ in self.read_examples(item, kind, name):
                self.add_synonym(example, name, example_line)
        elif kind == "regex":
            self.read_regex(name, item)
        else:
            elements = [example for example, _, _ in self.read_examples(item, kind, name)]
            self.result.lookups.append(LookupTable(name, elements, self.source, line_of(item, "lookup")))

    def read_name(self, item: dict[Any, Any], kind: str) -> str | None:
        name = item[kind]
        line = line_of(item, kind)
        if name is None or (isinstance(name, str) and not name.strip()):
            self.error(f"the {kind} name is empty", line, f"Write the name after '{kind}:'.")
            return None
        if not isinstance(name, str):
            self.error(
                f"the {kind} name must be text, found {describe_value(name)}",
                line,
                f'Put the name in quotes: {kind}: "{name}".',
            )
            return None
        if kind == "intent" and "/" in name and not all(name.split("/", 1)):
            self.error(
                f"the retrieval intent {name!r} needs a name on both sides of '/'",
                line,
                "Write a retrieval intent as <intent>/<response key>, e.g. faq/ask_hours.",
            )
            return None
        return name

    def read_intent(self, intent: str, item: dict[Any, Any]) -> None:
        # imported here: annotations imports EntitySpan from this module
        from bot.project.annotations import parse_annotated

        intent_metadata = item.get("metadata")
        for example, line, example_metadata in self.read_examples(item, "intent", intent):
            try:
                text, entities = parse_annotated(example, self.source, line, warnings=self.result.warnings)
            except ConductorError as exc:
                self.errors.extend(exc.problems)
                continue
            for entity in entities:
                if isinstance(entity.value, str) and entity.text != entity.value:
                    self.add_synonym(entity.text, entity.value, line)
            metadata: dict[str, Any] = {}
            if intent_metadata is not None:
                metadata["intent"] = intent_metadata
            if example_metadata is not None:
                metadata["example"] = example_metadata
            self.result.examples.append(Message(text, intent, entities, metadata, self.source, line))

    def read_regex(self, name: str, item: dict[Any, Any]) -> None:
        for pattern, line, _ in self.read_examples(item, "regex", name):
            try:
                re.compile(pattern)
            except re.error as exc:
                self.error(
                    f"the pattern {pattern!r} of the regex {name!r} is not a valid regular expression: "
                    f"{exc.msg} at position {exc.pos}",
                    line,
                    "Fix the pattern (Python's re syntax); escape a literal ( [ . * + ? with a backslash.",
                )
                continue
            except (OverflowError, RecursionError):
                self.error(
                    f"the pattern {pattern!r} of the regex {name!r} is too large or too deeply nested",
                    line,
                    "Simplify the pattern.",
                )
                continue
            self.result.regexes.append(RegexPattern(name, pattern, self.source, line))

    def add_synonym(self, synonym: str, value: str, line: int | None) -> None:
        key = synonym.lower()
        earlier = self.result.synonyms.get(key)
        if earlier is not None and earlier != value:
            self.result.warnings.append(_synonym_clash(synonym, earlier, value, self.source, line))
        self.result.synonyms[key] = value

    def read_examples(self, item: dict[Any, Any], kind: str, name: str) -> list[tuple[str, int | None, Any]]:
        """The item's examples as (text, line, example metadata), stripped like Rasa strips them."""
        examples = item.get("examples")
        key_line = line_of(item, "examples") if "examples" in item else line_of(item, kind)
        if examples is None:
            self.warn(
                f"the {kind} {name!r} has no examples",
                key_line,
                _BLOCK_HINT,
            )
            return []
        if isinstance(examples, str):
            found = self.read_block(examples, key_line, kind, name)
        elif isinstance(examples, list) and kind == "intent":
            found = self.read_example_list(examples, name)
        else:
            allowed = "a block of '- ' lines or a list of 'text:' entries" if kind == "intent" else "a block"
            self.error(
                f"the examples of the {kind} {name!r} must be {allowed}, but they are {describe_value(examples)}",
                key_line,
                _BLOCK_HINT,
            )
            return []
        if not found:
            self.warn(f"the {kind} {name!r} has no examples", key_line, _BLOCK_HINT)
        return found

    def read_block(
        self, block: str, key_line: int | None, kind: str, name: str
    ) -> list[tuple[str, int | None, Any]]:
        first_line = self.block_start(key_line)
        found: list[tuple[str, int | None, Any]] = []
        for offset, raw in enumerate(block.split("\n")):
            line = first_line + offset if first_line is not None else key_line
            if not raw.strip():
                continue
            if not raw.startswith("-"):
                self.warn(
                    f"the line {raw.strip()!r} in the examples of the {kind} {name!r} does not start "
                    "with '- ' and is skipped",
                    line,
                    "Start each example with '- ' at the block's indentation; comments ('#') belong "
                    "outside the 'examples: |' block.",
                )
                continue
            example = raw[1:].strip()
            if not example:
                self.error(
                    f"an example of the {kind} {name!r} is empty",
                    line,
                    "Write the example after the '- ', or remove the line.",
                )
                continue
            found.append((example, line, None))
        return found

    def block_start(self, key_line: int | None) -> int | None:
        """The file line of a block's first line, when the block is a literal (`|`) block after its key."""
        if key_line is None:
            return None
        if self.lines is None:
            return key_line + 1
        if key_line <= len(self.lines) and _LITERAL_BLOCK_HEADER.search(self.lines[key_line - 1]):
            return key_line + 1
        return None

    def read_example_list(self, examples: list[Any], intent: str) -> list[tuple[str, int | None, Any]]:
        found: list[tuple[str, int | None, Any]] = []
        for index, entry in enumerate(examples):
            line = line_of(examples, index)
            if entry is None:
                continue
            if not isinstance(entry, dict):
                self.error(
                    f"an example of the intent {intent!r} in list form must be a mapping with 'text:', "
                    f"but it is {describe_value(entry)}",
                    line,
                    "Write '- text: <example>' (with an optional 'metadata:'), or use 'examples: |' "
                    "with one '- example' per line.",
                )
                continue
            unknown = [str(key) for key in entry if key not in ("text", "metadata")]
            if unknown:
                self.warn(
                    f"an example of the intent {intent!r} has keys that are not read: {', '.join(unknown)}",
                    line,
                    "An example in list form has only 'text' and 'metadata'.",
                )
            text = entry.get("text")
            if text is not None and not isinstance(text, str):
                self.error(
                    f"the text of an example of the intent {intent!r} must be a string, found {text!r}",
                    line_of(entry, "text"),
                    f'Put it in quotes: text: "{text}".',
                )
                continue
            if text is None or not text.strip():
                self.error(
                    f"an example of the intent {intent!r} is empty",
                    line,
                    "Give every '- text:' entry the example's words, or remove the entry.",
                )
                continue
            found.append((text.strip(), line, entry.get("metadata")))
        return found

    def read_responses(self, responses: Any, line: int | None) -> None:
        if responses is None:
            return
        if not isinstance(responses, dict):
            self.error(
                "'responses:' must map response names to lists of variations, "
                f"but it is {describe_value(responses)}",
                line,
                "Write 'responses:', then 'utter_faq/ask_x:' and under it '- text: ...' lines.",
            )
            return
        for name, variations in responses.items():
            name_line = line_of(responses, name)
            if not isinstance(name, str) or not name.strip():
                self.error(f"a response name must be text, found {name!r}", name_line, "Name it utter_...")
                continue
            if not isinstance(variations, list):
                self.error(
                    f"the response {name!r} must be a list of variations, but it is {describe_value(variations)}",
                    name_line,
                    f"Write each variation under {name}: as '- text: ...'.",
                )
                continue
            checks = [
                self.check_variation(name, variation, line_of(variations, index) or name_line)
                for index, variation in enumerate(variations)
            ]
            if not variations:
                self.warn(f"the response {name!r} has no variations", name_line, "Add '- text: ...'.")
            if all(checks):
                self.result.responses[name] = variations

    def check_variation(self, name: str, variation: Any, line: int | None) -> bool:
        if not isinstance(variation, dict) or not variation:
            self.error(
                f"a variation of the response {name!r} must be a mapping such as '- text: Hello', "
                f"but it is {describe_value(variation)}",
                line,
                "Write each variation as '- text: ...' (with image:, buttons:, custom: ... as needed).",
            )
            return False
        if variation.get("text") is None and not variation.get("custom"):
            self.error(
                f"a variation of the response {name!r} has neither 'text' nor 'custom'",
                line,
                "Give every variation a 'text:' (or a 'custom:' payload).",
            )
            return False
        if "text" in variation and not isinstance(variation["text"], str):
            self.error(
                f"the text of a variation of the response {name!r} must be a string, "
                f"found {describe_value(variation['text'])}",
                line_of(variation, "text"),
                "Put the text in quotes.",
            )
            return False
        unknown = [str(key) for key in variation if key not in _RESPONSE_KEYS]
        if unknown:
            self.warn(
                f"a variation of the response {name!r} has keys that are not read: {', '.join(unknown)}",
                line_of(variation, unknown[0]),
                f"A variation has only the keys {', '.join(sorted(_RESPONSE_KEYS))}.",
            )
        return True


# --- writing -------------------------------------------------------------------------------------------

_PLAIN_SAFE = re.compile(r"[A-Za-z_][\w./@-]*(?: [\w./@-]+)*")
_YAML_WORDS = frozenset(("true", "false", "null", "yes", "no", "on", "off", "y", "n"))
_NOT_IN_BLOCK = re.compile("[^\t\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|\ufeff")
"""Characters a literal block cannot carry as they are: line breaks and what YAML counts as non-printable."""


class _Block(str):
    """A string written as a YAML literal block (`|`)."""


class _Quoted(str):
    """A string written double-quoted, with escapes."""


try:  # libyaml's emitter is several times faster; both write the same YAML
    _BaseDumper: type[yaml.SafeDumper] = yaml.CSafeDumper  # type: ignore[assignment]
except AttributeError:  # pragma: no cover - libyaml missing
    _BaseDumper = yaml.SafeDumper


class _NluDumper(_BaseDumper):  # type: ignore[valid-type,misc]
    """Writes strings plain only when every YAML 1.1 and 1.2 reader reads them back as the same string."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    plain = _PLAIN_SAFE.fullmatch(value) is not None and value.lower() not in _YAML_WORDS
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=None if plain else '"')


def _represent_block(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style="|")  # libyaml wants exact str


def _represent_quoted(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    return dumper.represent_scalar("tag:yaml.org,2002:str", str(value), style='"')


_NluDumper.add_representer(str, _represent_str)
_NluDumper.add_representer(_Block, _represent_block)
_NluDumper.add_representer(_Quoted, _represent_quoted)
_NluDumper.add_multi_representer(dict, yaml.SafeDumper.represent_dict)  # YamlMap read from a file
_NluDumper.add_multi_representer(list, yaml.SafeDumper.represent_list)  # YamlList read from a file


def dump_nlu(data: TrainingData) -> str:
    """Write training data as Rasa 3.x NLU YAML that `parse_nlu` reads back to the same data.

    Examples are grouped by intent (and intent metadata) in first-seen order; an intent whose examples carry
    metadata or characters a block cannot hold is written as a list of `text:` entries. Only the "intent"
    and "example" keys of `Message.metadata` are written. What cannot survive: leading or trailing spaces
    of a text (Rasa strips them), and plain text that itself looks like annotation markup.
    """
    from bot.project.annotations import format_annotated  # here: annotations imports this module

    items: list[dict[str, Any]] = []
    groups: dict[str, tuple[Any, list[Message]]] = {}
    for message in data.examples:
        if message.intent is None:
            raise ValueError(f"the example {message.text!r} has no intent and cannot be written")
        intent_metadata = message.metadata.get("intent")
        key = json.dumps([message.intent, intent_metadata], sort_keys=True, default=repr)
        groups.setdefault(key, (intent_metadata, []))[1].append(message)
    for intent_metadata, messages in groups.values():
        item: dict[str, Any] = {"intent": messages[0].intent}
        if intent_metadata is not None:
            item["metadata"] = intent_metadata
        annotated = [format_annotated(m.text, m.entities) for m in messages]
        pairs = list(zip(messages, annotated, strict=True))
        if any("example" in m.metadata or _NOT_IN_BLOCK.search(t) for m, t in pairs):
            item["examples"] = [_example_entry(t, m) for m, t in pairs]
        else:
            item["examples"] = _block(annotated)
        items.append(item)
    implied = {  # the synonyms the annotations add when read back
        entity.text.lower(): entity.value
        for message in data.examples
        for entity in message.entities
        if isinstance(entity.value, str) and entity.text != entity.value
    }
    synonyms: dict[str, list[str]] = {}
    for synonym, value in data.synonyms.items():
        if implied.get(synonym) != value:
            synonyms.setdefault(value, []).append(synonym)
    items.extend({"synonym": value, "examples": _block(texts)} for value, texts in synonyms.items())
    regexes: dict[str, list[str]] = {}
    for regex in data.regexes:
        regexes.setdefault(regex.name, []).append(regex.pattern)
    items.extend({"regex": name, "examples": _block(patterns)} for name, patterns in regexes.items())
    items.extend({"lookup": table.name, "examples": _block(table.elements)} for table in data.lookups)
    document: dict[str, Any] = {"version": NLU_FORMAT_VERSION}
    if items:
        document["nlu"] = items
    if data.responses:
        document["responses"] = data.responses
    return yaml.dump(document, Dumper=_NluDumper, sort_keys=False, allow_unicode=True, width=1_000_000)


def _block(texts: list[str]) -> str:
    content = "".join(f"- {text}\n" for text in texts)
    return _Quoted(content) if any(_NOT_IN_BLOCK.search(text) for text in texts) else _Block(content)


def _example_entry(text: str, message: Message) -> dict[str, Any]:
    entry: dict[str, Any] = {"text": _Quoted(text) if _NOT_IN_BLOCK.search(text) else text}
    if "example" in message.metadata:
        entry["metadata"] = message.metadata["example"]
    return entry
