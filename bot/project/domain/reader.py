"""Reading domain files: `load_domain`, and `DomainReader`, which turns one parsed document into a `Domain`.

`load_domain` reads files and folders (a YAML file in a folder is a domain file when it has a domain
section, as Rasa decides), merges the fragments and raises one `ConductorError` with every problem found.
`DomainReader` checks the top level (known sections, the format version) and reads intents, entities,
actions, forms and the settings itself; the `slots:` and `responses:` sections it inherits from
`SlotReader` and `ResponseReader`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from bot.errors import ConductorError, Problem, Severity, did_you_mean
from bot.project.domain.model import Domain, merge_domains, whole_domain_problems
from bot.project.domain.parts import DOMAIN_FORMAT_VERSION, Action, Entity, Form, Intent, SessionConfig
from bot.project.domain.responses import ResponseReader
from bot.project.domain.shapes import describe, is_number
from bot.project.domain.slots import SlotReader
from bot.yamlio import iter_yaml_files, line_of, read_yaml

_SECTIONS = (
    "intents",
    "entities",
    "slots",
    "responses",
    "actions",
    "forms",
    "config",
    "session_config",
    "e2e_actions",
)
_DOMAIN_KEYS = frozenset(_SECTIONS) - {"config"}
"""A YAML file in a domain folder is a domain file when it has one of these keys (as Rasa decides it)."""
_TRAINING_DATA_KEYS = frozenset({"nlu", "stories", "rules"})

_VERSION_3X = re.compile(r"3\.\d+")


# --- loading --------------------------------------------------------------------------------------------


def load_domain(path: str | Path | Sequence[str | Path]) -> Domain:
    """Read the domain from a file, from every domain file below a folder, or from several of those, merged.

    In a folder, a YAML file counts as a domain file when it has a domain section (as in Rasa); other YAML
    files (NLU data, stories) are passed over. Raises one `ConductorError` carrying every problem found.
    """
    paths = [Path(path)] if isinstance(path, str | Path) else [Path(p) for p in path]
    problems: list[Problem] = []
    if not paths:
        raise ConductorError.single(
            "no domain file was given", hint="Pass domain.yml or a folder of domain files."
        )
    domain = Domain()
    for one in paths:
        fragments = _read_folder(one, problems) if one.is_dir() else _read_file(one, problems)
        for fragment in fragments:
            domain, merge_problems = merge_domains(domain, fragment)
            problems += merge_problems
    problems += whole_domain_problems(domain)
    if any(p.severity is Severity.ERROR for p in problems):
        raise ConductorError(problems)
    return replace(domain, warnings=problems)


def _read_file(path: Path, problems: list[Problem]) -> list[Domain]:
    if not path.exists():
        problems.append(
            Problem("the domain file does not exist", str(path), hint="Check the path, or create domain.yml.")
        )
        return []
    try:
        data = read_yaml(path, "domain file")
    except ConductorError as exc:
        problems += exc.problems
        return []
    reader = DomainReader(str(path))
    domain = reader.domain(data)
    problems += reader.problems
    return [domain]


def _read_folder(folder: Path, problems: list[Problem]) -> list[Domain]:
    fragments: list[Domain] = []
    for path in iter_yaml_files(folder):
        try:
            data = read_yaml(path, "domain file")
        except ConductorError as exc:
            first = exc.problems[0]
            problems.append(
                Problem(
                    f"skipped: this file in the domain folder cannot be read ({first.message})",
                    first.file,
                    first.line,
                    "Fix it if it is meant to be a domain file; Rasa skips it the same way.",
                    Severity.WARNING,
                )
            )
            continue
        if not isinstance(data, dict) or not _DOMAIN_KEYS & set(data):
            continue
        reader = DomainReader(str(path))
        fragments.append(reader.domain(data))
        problems += reader.problems
    if not fragments:
        problems.append(
            Problem(
                "the domain folder holds no domain file, so the domain is empty",
                str(folder),
                hint="A domain file has at least one of: " + ", ".join(sorted(_DOMAIN_KEYS)) + ".",
                severity=Severity.WARNING,
            )
        )
    return fragments


# --- reading one document -------------------------------------------------------------------------------


def _first(item: Intent | Entity | Action) -> str:
    return f" (first on line {item.line})" if item.line is not None else ""


class DomainReader(SlotReader, ResponseReader):
    """Turns one parsed domain document into a `Domain`, collecting every problem on the way.

    Parts with errors are left out of the result; the caller raises when any error was found.
    """

    # the document

    def domain(self, data: Any) -> Domain:
        if data is None:
            return Domain()
        if not isinstance(data, dict):
            self.error(
                f"a domain must be a mapping of sections (intents:, responses:, ...), not {describe(data)}",
                line_of(data),
                "Start the file with keys such as `intents:` and `responses:` at the left margin.",
            )
            return Domain()
        self.check_top_level_keys(data)
        section = {key: (data.get(key), line_of(data, key)) for key in _SECTIONS}
        return Domain(
            intents=self.intents(*section["intents"]),
            entities=self.entities(*section["entities"]),
            slots=self.slots(*section["slots"]),
            responses=self.responses(*section["responses"]),
            actions=self.actions(*section["actions"]),
            forms=self.forms(*section["forms"]),
            session_config=self.session_config(*section["session_config"]),
            store_entities_as_slots=self.store_entities_as_slots(*section["config"]),
            action_texts=self.action_texts(*section["e2e_actions"]),
        )

    def check_top_level_keys(self, data: Mapping[Any, Any]) -> None:
        for key in data:
            line = line_of(data, key)
            if key == "version":
                self.check_version(data[key], line)
            elif key in _TRAINING_DATA_KEYS:
                self.warn(
                    f"`{key}` is training data, not part of the domain; the domain reader ignores it",
                    line,
                    "Move it to a file under data/.",
                )
            elif key not in _SECTIONS:
                self.error(
                    f"unknown top-level key '{key}' in the domain",
                    line,
                    did_you_mean(
                        key, _SECTIONS,
                        then=f"A domain has: version, {', '.join(_SECTIONS)}. (Rasa would ignore this key silently.)",
                    ),
                )

    def check_version(self, version: Any, line: int | None) -> None:
        if not isinstance(version, str):
            self.warn(
                f'`version` should be text like "{DOMAIN_FORMAT_VERSION}", not {describe(version)}',
                line,
                f'Write version: "{DOMAIN_FORMAT_VERSION}" (with the quotes).',
            )
        elif not _VERSION_3X.fullmatch(version.strip()):
            self.warn(
                f"the domain has version '{version}', but it is read as a Rasa 3.x domain",
                line,
                f'Update the file to the Rasa 3.x format and write version: "{DOMAIN_FORMAT_VERSION}".',
            )

    # intents and entities

    def intents(self, value: Any, line: int | None) -> dict[str, Intent]:
        items = self.sequence(value, "`intents`", line, "List the intents, one per line: `- greet`.")
        result: dict[str, Intent] = {}
        for index, entry in enumerate(items):
            at = line_of(items, index)
            intent = self.intent(entry, at)
            if intent is None:
                continue
            if intent.name in result:
                self.error(
                    f"the intent '{intent.name}' is listed twice{_first(result[intent.name])}",
                    at,
                    "Remove one of them; Rasa refuses duplicate intents.",
                )
            else:
                result[intent.name] = intent
        return result

    def single_entry(self, entry: Any, what: str, at: int | None) -> tuple[str, Any] | None:
        """The name and properties of a list item written `- name` or `- name: {properties}`."""
        if isinstance(entry, str):
            return entry, None
        if isinstance(entry, dict) and len(entry) == 1:
            name, properties = next(iter(entry.items()))
            if isinstance(name, str):
                return name, properties
        if isinstance(entry, dict) and len(entry) > 1:
            self.error(
                f"one {what} entry holds several names ({', '.join(map(str, entry))})",
                at,
                f"Start each {what} with its own '- '; indent its properties below its name.",
            )
            return None
        self.error(f"an {what} must be a name, not {describe(entry)}", at, "Write `- name` (quote numbers).")
        return None

    def intent(self, entry: Any, at: int | None) -> Intent | None:
        parsed = self.single_entry(entry, "intent", at)
        if parsed is None:
            return None
        name, properties = parsed
        if isinstance(entry, str):
            return Intent(name, file=self.source, line=at)
        if not isinstance(properties, dict) or not properties:
            self.error(
                f"the intent '{name}' is followed by ':' but has no properties ({describe(properties)})",
                at,
                "Remove the ':' after the intent's name, or give it use_entities / ignore_entities.",
            )
            return None
        errors = self._errors
        self.unknown_keys(
            properties, ("use_entities", "ignore_entities"), f"the intent '{name}'", error=False
        )
        use = properties.get("use_entities", True)
        use_entities: list[str] | None = None
        if use is True:
            use_entities = None
        elif use is None or use is False or use == []:
            use_entities = []
        else:
            use_entities = self.names(
                use, f"use_entities of the intent '{name}'", line_of(properties, "use_entities"), False
            )
        ignore_entities = self.names(
            properties.get("ignore_entities"),
            f"ignore_entities of the intent '{name}'",
            line_of(properties, "ignore_entities"),
            False,
        )
        if self._errors > errors:
            return None
        ignored = ignore_entities or []
        both = sorted(set(use_entities or []) & set(ignored))
        if both:
            self.warn(
                f"the intent '{name}' both uses and ignores the entities {', '.join(both)}; ignoring wins",
                at,
                "List each entity under use_entities or ignore_entities, not both.",
            )
        return Intent(name, use_entities, ignored, file=self.source, line=at)

    def entities(self, value: Any, line: int | None) -> dict[str, Entity]:
        items = self.sequence(value, "`entities`", line, "List the entities, one per line: `- city`.")
        result: dict[str, Entity] = {}
        for index, entry in enumerate(items):
            at = line_of(items, index)
            entity = self.entity(entry, at)
            if entity is None:
                continue
            if entity.name in result:
                self.error(
                    f"the entity '{entity.name}' is listed twice{_first(result[entity.name])}",
                    at,
                    "Remove one of them; Rasa refuses duplicate entities.",
                )
            else:
                result[entity.name] = entity
        return result

    def entity(self, entry: Any, at: int | None) -> Entity | None:
        parsed = self.single_entry(entry, "entity", at)
        if parsed is None:
            return None
        name, properties = parsed
        if isinstance(entry, str):
            return Entity(name, file=self.source, line=at)
        if not isinstance(properties, dict) or not properties:
            self.error(
                f"the entity '{name}' is followed by ':' but has no properties ({describe(properties)})",
                at,
                "Remove the ':' after the entity's name, or give it roles / groups / influence_conversation.",
            )
            return None
        errors = self._errors
        allowed = ("roles", "groups", "influence_conversation")
        self.unknown_keys(properties, allowed, f"the entity '{name}'", error=False)
        roles = self.names(properties.get("roles"), f"roles of '{name}'", line_of(properties, "roles"), False)
        groups = self.names(
            properties.get("groups"), f"groups of '{name}'", line_of(properties, "groups"), False
        )
        influence = self.boolean(
            properties.get("influence_conversation"),
            f"influence_conversation of the entity '{name}'",
            line_of(properties, "influence_conversation"),
            True,
        )
        if self._errors > errors:
            return None
        return Entity(name, roles or [], groups or [], influence, file=self.source, line=at)

    # actions, forms, settings

    def actions(self, value: Any, line: int | None) -> dict[str, Action]:
        items = self.sequence(
            value, "`actions`", line, "List the custom actions, one per line: `- action_x`."
        )
        result: dict[str, Action] = {}
        for index, entry in enumerate(items):
            at = line_of(items, index)
            for action in self.action_entry(entry, at):
                if action.name in result:
                    self.error(
                        f"the action '{action.name}' is listed twice{_first(result[action.name])}",
                        at,
                        "Remove one of them; Rasa refuses duplicate actions.",
                    )
                else:
                    result[action.name] = action
        return result

    def action_entry(self, entry: Any, at: int | None) -> list[Action]:
        if isinstance(entry, str):
            return [Action(entry, entry.startswith("validate_"), file=self.source, line=at)]
        if not isinstance(entry, dict):
            self.error(f"an action must be a name, not {describe(entry)}", at, "Write `- action_name`.")
            return []
        result = []
        for name, config in entry.items():
            if not isinstance(name, str):
                self.error(f"an action name must be text, not {describe(name)}", at, "Quote the name.")
                continue
            settings = self.mapping(
                config, f"the settings of the action '{name}'", at, "Write `send_domain: true`."
            )
            self.unknown_keys(settings, ("send_domain",), f"the action '{name}'", error=True)
            send = self.boolean(
                settings.get("send_domain"),
                f"send_domain of the action '{name}'",
                line_of(settings, "send_domain"),
                name.startswith("validate_") and config is None,
            )
            result.append(Action(name, send, file=self.source, line=at))
        return result

    def forms(self, value: Any, line: int | None) -> dict[str, Form]:
        specs = self.mapping(
            value,
            "`forms`",
            line,
            "Rasa 3 writes forms as a mapping: `form_name:` with `required_slots:` below.",
        )
        result: dict[str, Form] = {}
        for name, spec in specs.items():
            at = line_of(specs, name)
            if not isinstance(name, str):
                self.error(f"a form name must be text, not {describe(name)}", at, "Quote the name.")
                continue
            form = self.form(name, spec, at)
            if form is not None:
                result[name] = form
        return result

    def form(self, name: str, spec: Any, at: int | None) -> Form | None:
        if spec is None:
            return Form(name, file=self.source, line=at)
        if not isinstance(spec, dict):
            self.error(
                f"the form '{name}' must be a mapping, not {describe(spec)}", at, "Add `required_slots:`."
            )
            return None
        errors = self._errors
        self.unknown_keys(spec, ("required_slots", "ignored_intents"), f"the form '{name}'", error=True)
        required = spec.get("required_slots")
        if isinstance(required, dict):
            self.error(
                f"required_slots of the form '{name}' is a mapping (the Rasa 2 format)",
                line_of(spec, "required_slots"),
                "In Rasa 3, list the slot names under required_slots and move their mappings to the slots.",
            )
        elif "ignored_intents" in spec and "required_slots" not in spec:
            self.error(
                f"the form '{name}' has ignored_intents but no required_slots",
                at,
                "Add `required_slots:`; Rasa requires it alongside ignored_intents.",
            )
        required_slots = self.names(
            required if not isinstance(required, dict) else None,
            f"required_slots of the form '{name}'",
            line_of(spec, "required_slots"),
            single_allowed=False,
        )
        ignored = self.names(
            spec.get("ignored_intents"),
            f"ignored_intents of the form '{name}'",
            line_of(spec, "ignored_intents"),
        )
        if self._errors > errors:
            return None
        return Form(name, required_slots or [], ignored or [], file=self.source, line=at)

    def session_config(self, value: Any, line: int | None) -> SessionConfig:
        spec = self.mapping(
            value,
            "`session_config`",
            line,
            "Write session_expiration_time and carry_over_slots_to_new_session below it.",
        )
        allowed = ("session_expiration_time", "carry_over_slots_to_new_session")
        self.unknown_keys(spec, allowed, "`session_config`", error=False)
        minutes = spec.get("session_expiration_time")
        result = SessionConfig(file=self.source, line=line)
        if minutes is not None:
            if not is_number(minutes):
                self.error(
                    f"session_expiration_time must be a number of minutes, not {describe(minutes)}",
                    line_of(spec, "session_expiration_time"),
                    "Write a number of minutes; 0 keeps one session forever.",
                )
            elif minutes < 0:
                self.error(
                    f"session_expiration_time is negative ({minutes})",
                    line_of(spec, "session_expiration_time"),
                    "Use a number of minutes, or 0 to keep one session forever.",
                )
            else:
                result = replace(result, session_expiration_time=minutes)
        carry = self.boolean(
            spec.get("carry_over_slots_to_new_session"),
            "carry_over_slots_to_new_session",
            line_of(spec, "carry_over_slots_to_new_session"),
            True,
        )
        return replace(result, carry_over_slots_to_new_session=carry)

    def store_entities_as_slots(self, value: Any, line: int | None) -> bool:
        spec = self.mapping(value, "`config`", line, "Write `store_entities_as_slots: true` below it.")
        self.unknown_keys(spec, ("store_entities_as_slots",), "`config`", error=False)
        return self.boolean(
            spec.get("store_entities_as_slots"),
            "store_entities_as_slots",
            line_of(spec, "store_entities_as_slots"),
            True,
        )

    def action_texts(self, value: Any, line: int | None) -> list[str]:
        texts = self.names(value, "`e2e_actions`", line, single_allowed=False)
        return texts or []
