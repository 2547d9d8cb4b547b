"""One project from three layers: Conductor's base assistant, the enabled plugins, and the instance's project.

`load_project_with_plugins(paths)` reads the project's conductor.yml (`bot.plugins.instance`); without one the
project is read as it is (a plain Rasa project). Otherwise the layers are merged in order (base assistant,
the plugins as conductor.yml lists them, the project) with these rules:

- Between plugins, an intent, action or form belongs to one plugin: the same name in two plugins is an error
  naming both (file:line). Entities, slots and responses may be shared when both define them the same way;
  defined differently they are an error naming both.
- A plugin may repeat a part of the base assistant (to use `affirm` in its stories, say) but not change it.
- The project may override any part of the base assistant, and any plugin response (the client's voice). It
  may repeat other plugin parts unchanged; changing them is an error.
- Training data: NLU examples, regexes and lookups are joined (repeats dropped); rules, stories and test
  stories are joined, a project block replacing the base assistant's block of the same name (so a project
  made by `bot init`, a copy of the base assistant, merges cleanly). The project's config.yml is used; the
  base assistant's when the project has none.

The instance's persona (`persona:` in conductor.yml) is applied after the plugins and before the project's own
domain, so responses are chosen in this order, the last one winning: base assistant < plugins < persona <
project domain.yml. The persona's `greeting` becomes `utter_greet`; its `tone` (friendly keeps the base wording)
rewords `utter_greet` (when no greeting is given) and `utter_i_am_a_bot`; its `name` goes into `utter_i_am_a_bot`
("I'm Ava, a virtual assistant, ..."); its `responses` replace any response. The greeting and the introduction
are changed only when the base assistant is merged in (they are its responses).

When plugins are enabled and the base assistant's `enabled_skills` slot is unchanged, its initial value
becomes the plugins' `summary` phrases (or names) joined ("I can help with {enabled_skills}").
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any, Final, Literal

import bot
from bot.errors import ConductorError, Problem, Severity
from bot.plugins.discovery import DiscoveredPlugin, PluginCatalog
from bot.plugins.instance import EnabledPlugin, InstanceConfig, Persona, enable_plugins, load_instance
from bot.project.domain import Domain, ResponseVariation, SessionConfig
from bot.project.loader import Project, ProjectPaths, load_project
from bot.project.nlu_data import TrainingData
from bot.project.stories import StoryBlock

__all__ = [
    "BASE_ASSISTANT_LABEL",
    "Layer",
    "base_assistant_folder",
    "load_base_assistant",
    "load_plugin_project",
    "load_project_with_plugins",
    "merge_layers",
]

BASE_ASSISTANT_LABEL: Final = "the base assistant"
ENABLED_SKILLS_SLOT: Final = "enabled_skills"
GREET_RESPONSE: Final = "utter_greet"
BOT_CHALLENGE_RESPONSE: Final = "utter_i_am_a_bot"
_TONE_GREETINGS: Final = {
    "formal": ("Good day. How may I assist you?", "Welcome. How may I help you today?"),
    "concise": ("Hi! How can I help?",),
}
_TONE_INTRODUCTIONS: Final = {
    "friendly": (
        "I'm {who}, not a person. If you'd like to talk to someone from the team, just ask.",
        "You're chatting with {who}. I can bring in a person whenever you want.",
    ),
    "formal": (
        "I am {who}, not a member of staff. Should you wish to speak with someone from the team, please say so.",
    ),
    "concise": ("I'm {who}. Ask for a person any time.",),
}

LayerKind = Literal["base", "plugin", "project"]
_KINDS: Final = (
    ("intent", "intents"),
    ("entity", "entities"),
    ("slot", "slots"),
    ("response", "responses"),
    ("action", "actions"),
    ("form", "forms"),
)
_OWNED_BY_ONE_PLUGIN: Final = frozenset({"intent", "action", "form"})


@dataclass(frozen=True)
class Layer:
    """One source of the merged project."""

    kind: LayerKind
    label: str
    """How messages name it: "the base assistant", "plugin 'legal'", "the project"."""
    project: Project


def base_assistant_folder() -> Path:
    """Conductor's base assistant: `domain/` beside the `bot` package."""
    return Path(bot.__file__).resolve().parents[1] / "domain"


def _without_config_notice(project: Project) -> Project:
    """A plugin or base layer has no config of its own to speak of: drop the "no config file" notice."""
    config = str(project.paths.config)
    return replace(project, warnings=[w for w in project.warnings if w.file != config])


def _load_layer(paths: ProjectPaths) -> Project:
    """A base or plugin layer: its config is not used, so a missing config.yml is not worth a word."""
    try:
        return _without_config_notice(load_project(paths))
    except ConductorError as exc:
        raise ConductorError([p for p in exc.problems if p.file != str(paths.config)]) from None


def load_base_assistant(folder: Path | None = None) -> Project:
    return _load_layer(ProjectPaths.discover(folder or base_assistant_folder()))


def load_plugin_project(plugin: DiscoveredPlugin) -> Project:
    """A plugin's domain fragment and data (data/, tests/) read as a project of its own."""
    folder = plugin.folder
    if not (folder / "data").is_dir():
        raise ConductorError.single(
            f"plugin '{plugin.name}' has no data/ folder",
            folder,
            hint="Add data/nlu.yml and data/rules.yml (see `bot plugins new`).",
        )
    return _load_layer(ProjectPaths.discover(folder, config=folder / "config.yml"))


# --- the domain ----------------------------------------------------------------------------------------------


def _where(item: Any) -> str:
    if isinstance(item, list):
        item = item[0] if item else None
    file, line = getattr(item, "file", None), getattr(item, "line", None)
    if file is None:
        return "(no file)"
    return f"{file}:{line}" if line is not None else str(file)


def _place(item: Any) -> tuple[str | None, int | None]:
    if isinstance(item, list):
        item = item[0] if item else None
    return getattr(item, "file", None), getattr(item, "line", None)


class _DomainMerger:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def clash(self, kind: str, name: str, first: tuple[Layer, Any], second: tuple[Layer, Any]) -> None:
        (before, old), (layer, new) = first, second
        file, line = _place(new)
        if layer.kind == "plugin" and before.kind == "plugin":
            if kind in _OWNED_BY_ONE_PLUGIN:
                message = f"the {kind} '{name}' is in both {before.label} ({_where(old)}) and {layer.label} (here)"
                hint = f"An {kind} belongs to one plugin: rename it in one of them, or enable only one."
            else:
                message = (
                    f"the {kind} '{name}' is defined differently by {before.label} ({_where(old)}) and "
                    f"{layer.label} (here)"
                )
                hint = "Define it the same way in both plugins, or rename it in one of them."
        elif layer.kind == "plugin":
            message = f"{layer.label} changes the {kind} '{name}' of the base assistant ({_where(old)})"
            hint = (
                f"A plugin may repeat the base assistant's {kind}s but not change them: rename it in the plugin "
                "(an instance changes a response in its own domain.yml)."
            )
        else:
            message = f"the project changes the {kind} '{name}' of {before.label} ({_where(old)})"
            hint = (
                f"The project may override a plugin's responses only. Define '{name}' as the plugin does, or "
                "remove it from the project's domain."
            )
        self.problems.append(Problem(message, file, line, hint))

    def union(self, kind: str, attribute: str, layers: Sequence[Layer]) -> dict[str, Any]:
        merged: dict[str, Any] = {}
        owners: dict[str, Layer] = {}
        for layer in layers:
            for name, item in getattr(layer.project.domain, attribute).items():
                if name not in merged:
                    merged[name], owners[name] = item, layer
                    continue
                before, old = owners[name], merged[name]
                same = old == item
                if layer.kind == "project" and (before.kind == "base" or kind == "response" or same):
                    merged[name], owners[name] = item, layer
                elif not same or (layer.kind == before.kind == "plugin" and kind in _OWNED_BY_ONE_PLUGIN):
                    self.clash(kind, name, (before, old), (layer, item))
        return merged

    def session_config(self, layers: Sequence[Layer]) -> SessionConfig:
        default = SessionConfig()
        chosen = default
        for layer in layers:
            config = layer.project.domain.session_config
            if config == default:
                continue
            if layer.kind == "plugin":
                self.problems.append(
                    Problem(
                        f"{layer.label} sets session_config; it is ignored (the instance decides sessions)",
                        config.file,
                        config.line,
                        "Remove session_config from the plugin's domain.",
                        Severity.WARNING,
                    )
                )
            else:
                chosen = config
        return chosen

    def merge(self, layers: Sequence[Layer]) -> Domain:
        parts = {attribute: self.union(kind, attribute, layers) for kind, attribute in _KINDS}
        return Domain(
            intents=parts["intents"],
            entities=parts["entities"],
            slots=parts["slots"],
            responses=parts["responses"],
            actions=parts["actions"],
            forms=parts["forms"],
            session_config=self.session_config(layers),
            store_entities_as_slots=all(layer.project.domain.store_entities_as_slots for layer in layers),
            action_texts=list(dict.fromkeys(t for layer in layers for t in layer.project.domain.action_texts)),
        )


def _skills_summary(plugins: Sequence[EnabledPlugin]) -> str:
    phrases = [p.manifest.skill_phrase for p in plugins]
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _with_enabled_skills(domain: Domain, base: Project | None, plugins: Sequence[EnabledPlugin]) -> Domain:
    slot = domain.slots.get(ENABLED_SKILLS_SLOT)
    if not plugins or base is None or slot is None or slot != base.domain.slots.get(ENABLED_SKILLS_SLOT):
        return domain
    slots = dict(domain.slots)
    slots[ENABLED_SKILLS_SLOT] = replace(slot, initial_value=_skills_summary(plugins))
    return replace(domain, slots=slots)


def _texts(texts: Iterable[str], persona: Persona) -> list[ResponseVariation]:
    return [ResponseVariation(text=text, file=persona.file, line=persona.line) for text in texts]


def _persona_responses(persona: Persona, has_base: bool) -> dict[str, list[ResponseVariation]]:
    """The responses the persona sets, `responses:` last so that it wins over greeting, name and tone."""
    chosen: dict[str, list[ResponseVariation]] = {}
    if has_base:
        if persona.greeting is not None:
            chosen[GREET_RESPONSE] = _texts([persona.greeting], persona)
        elif persona.tone in _TONE_GREETINGS:
            chosen[GREET_RESPONSE] = _texts(_TONE_GREETINGS[persona.tone], persona)
        if persona.name is not None or persona.tone != "friendly":
            who = f"{persona.name}, a virtual assistant" if persona.name else "a virtual assistant"
            chosen[BOT_CHALLENGE_RESPONSE] = _texts(
                (template.format(who=who) for template in _TONE_INTRODUCTIONS[persona.tone]), persona
            )
    chosen.update(persona.responses)
    return chosen


def _with_persona(
    domain: Domain, persona: Persona | None, layers: Sequence[Layer], problems: list[Problem]
) -> Domain:
    """The persona's responses over the base assistant's and the plugins', under the project's own."""
    if persona is None:
        return domain
    project_responses = {
        name for layer in layers if layer.kind == "project" for name in layer.project.domain.responses
    }
    responses = dict(domain.responses)
    for name, variations in _persona_responses(persona, any(layer.kind == "base" for layer in layers)).items():
        if name not in responses:
            problems.append(
                Problem(
                    f"the persona sets the response '{name}', which no part of the project defines; it is added",
                    variations[0].file if variations else persona.file,
                    variations[0].line if variations else persona.line,
                    "Check the name (`bot data validate` lists the responses), or use it in a rule or story.",
                    Severity.WARNING,
                )
            )
        if name not in project_responses:
            responses[name] = variations
    return replace(domain, responses=responses)


# --- training data -------------------------------------------------------------------------------------------


def _unique(items: Iterable[Any], key: Callable[[Any], Any]) -> list[Any]:
    seen: set[Any] = set()
    kept = []
    for item in items:
        marker = key(item)
        if marker not in seen:
            seen.add(marker)
            kept.append(item)
    return kept


def _merge_nlu(
    layers: Sequence[Layer], pick: Callable[[Project], TrainingData], problems: list[Problem]
) -> TrainingData:
    datas = [(layer, pick(layer.project)) for layer in layers]
    synonyms: dict[str, str] = {}
    synonym_owner: dict[str, Layer] = {}
    responses: dict[str, list[dict[str, Any]]] = {}
    response_owner: dict[str, Layer] = {}
    for layer, data in datas:
        for synonym, value in data.synonyms.items():
            before = synonym_owner.get(synonym)
            if before is not None and before.kind == "plugin" and layer.kind == "plugin" and synonyms[synonym] != value:
                problems.append(
                    Problem(
                        f"the synonym '{synonym}' means '{synonyms[synonym]}' in {before.label} and '{value}' in "
                        f"{layer.label}; '{value}' is used",
                        hint="Map it to the same value in both plugins.",
                        severity=Severity.WARNING,
                    )
                )
            synonyms[synonym], synonym_owner[synonym] = value, layer
        for name, variations in data.responses.items():
            before = response_owner.get(name)
            if before is None or layer.kind == "project" or responses[name] == variations:
                responses[name], response_owner[name] = variations, layer
            else:
                problems.append(
                    Problem(
                        f"the retrieval response '{name}' is defined differently by {before.label} and "
                        f"{layer.label}",
                        hint="Define it the same way in both, or rename it in one of them.",
                    )
                )
    return TrainingData(
        examples=_unique((m for _, d in datas for m in d.examples), lambda m: (m.text, m.intent)),
        synonyms=synonyms,
        regexes=_unique((r for _, d in datas for r in d.regexes), lambda r: (r.name, r.pattern)),
        lookups=_unique((t for _, d in datas for t in d.lookups), lambda t: (t.name, tuple(t.elements))),
        responses=responses,
        warnings=[w for _, d in datas for w in d.warnings],
    )


def _merge_blocks(layers: Sequence[Layer], pick: Callable[[Project], list[StoryBlock]]) -> list[StoryBlock]:
    """The layers' blocks in order; a project block replaces the base assistant's block of the same name and
    kind, and a block repeated exactly is kept once."""
    project_names = {(b.kind, b.name) for layer in layers if layer.kind == "project" for b in pick(layer.project)}
    blocks = [
        block
        for layer in layers
        for block in pick(layer.project)
        if not (layer.kind == "base" and (block.kind, block.name) in project_names)
    ]
    kept: list[StoryBlock] = []
    for block in blocks:
        if block not in kept:
            kept.append(block)
    return kept


# --- the whole project ---------------------------------------------------------------------------------------


def merge_layers(
    layers: Sequence[Layer], plugins: Sequence[EnabledPlugin] = (), persona: Persona | None = None
) -> Project:
    """Merge the layers (base assistant first, then plugins, the project last) into one project, with the
    persona's responses between the plugins and the project; every clash is reported at once in one
    `ConductorError`."""
    project_layer = next(layer for layer in layers if layer.kind == "project")
    base = next((layer.project for layer in layers if layer.kind == "base"), None)
    merger = _DomainMerger()
    domain = _with_enabled_skills(merger.merge(layers), base, plugins)
    problems = merger.problems
    domain = _with_persona(domain, persona, layers, problems)
    nlu = _merge_nlu(layers, lambda p: p.nlu, problems)
    test_nlu = _merge_nlu(layers, lambda p: p.test_nlu, problems)
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors:
        raise ConductorError(errors)
    project = project_layer.project
    config = project.config
    if base is not None and not project.paths.config.exists():
        config = base.config
        project = _without_config_notice(project)
    others = [_without_config_notice(layer.project) for layer in layers if layer.kind != "project"]
    return Project(
        paths=project.paths,
        domain=domain,
        config=config,
        nlu=nlu,
        stories=_merge_blocks(layers, lambda p: p.stories),
        rules=_merge_blocks(layers, lambda p: p.rules),
        test_stories=_merge_blocks(layers, lambda p: p.test_stories),
        test_nlu=test_nlu,
        files=list(dict.fromkeys(f for layer in layers for f in layer.project.files)),
        warnings=[*(w for other in others for w in other.warnings), *project.warnings, *problems],
    )


def load_project_with_plugins(
    paths: ProjectPaths, instance: InstanceConfig | None = None, *, catalog: PluginCatalog | None = None
) -> Project:
    """The project at `paths` with its conductor.yml applied: the base assistant and the enabled plugins
    merged in (see the module docstring). Plugin settings are validated too (file:line in conductor.yml).

    Raises one `ConductorError` with every problem of every layer. Without a conductor.yml this is
    `load_project(paths)`.
    """
    config = instance if instance is not None else load_instance(paths.root)
    if not config.plugins and not config.base_assistant and config.persona is None:
        project = load_project(paths)
        return replace(project, warnings=[*config.warnings, *project.warnings])
    enabled, warnings = enable_plugins(config, catalog, for_training=True)
    problems: list[Problem] = []
    layers: list[Layer] = []

    def read(kind: LayerKind, label: str, load: Callable[[], Project]) -> None:
        try:
            layers.append(Layer(kind, label, load()))
        except ConductorError as exc:
            problems.extend(exc.problems)

    if config.base_assistant:
        read("base", BASE_ASSISTANT_LABEL, load_base_assistant)
    for plugin in enabled:
        read("plugin", plugin.label, partial(load_plugin_project, plugin.plugin))
    read("project", "the project", lambda: load_project(paths))
    if problems:
        raise ConductorError(problems)
    merged = merge_layers(layers, enabled, config.persona)
    return replace(merged, warnings=[*config.warnings, *warnings, *merged.warnings])
