"""An instance's `conductor.yml` (beside its domain.yml): which plugins it enables, with their settings.

```yaml
plugins:
  legal:
    firm_name: "Smith & Jones LLP"
    booking_url: ${BOOKING_URL}
  tech_support:
    product_names: [RouterX, CloudDrive]
base_assistant: true     # optional: merge Conductor's base assistant (domain/) under the project (default)
action_modules: [actions]  # optional: modules whose actions run in-process (rasa-sdk classes, @action functions)
persona:                 # optional: the client's voice (see `Persona`)
  name: Ava
  greeting: "Welcome to Acme! How can I help?"
  tone: formal           # friendly (default) | formal | concise
  responses:             # any response, in Rasa's shape (name -> list of variations)
    utter_goodbye:
      - text: "Thank you for contacting Acme."
```

Without a conductor.yml a project is a plain Rasa project: no plugins and no base assistant, trained as it is.
`enable_plugins` finds each enabled plugin, reads its manifest, checks that it supports this Conductor and
validates its settings; every mistake is reported at once with file:line (in conductor.yml for values, in the
plugin's plugin.yml for the manifest). `${VAR}` in settings is read from the environment; while training, a
variable that is not set yet only warns (settings are used at run time, where it must be set).
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from bot import __version__
from bot.errors import ConductorError, Problem, Severity, did_you_mean
from bot.plugins.discovery import INSTANCE_PLUGINS_DIR, DiscoveredPlugin, PluginCatalog, discover_plugins
from bot.plugins.manifest import Manifest, PluginSettings, load_manifest, validate_settings
from bot.project.domain import ResponseVariation, parse_responses
from bot.yamlio import YamlList, YamlMap, line_of, read_yaml, substitute_env

__all__ = [
    "INSTANCE_FILE",
    "PERSONA_TONES",
    "EnabledPlugin",
    "InstanceConfig",
    "Persona",
    "PluginEntry",
    "enable_plugins",
    "load_instance",
]

INSTANCE_FILE: Final = "conductor.yml"
_KEYS = ("plugins", "base_assistant", "action_modules", "persona")
PERSONA_TONES: Final = ("friendly", "formal", "concise")
_PERSONA_KEYS: Final = ("name", "greeting", "tone", "responses")
_MODULE_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_EXAMPLE = "plugins:\n  legal:\n    firm_name: \"Smith & Jones LLP\""


@dataclass(frozen=True)
class PluginEntry:
    """One plugin enabled in conductor.yml, with its settings as written."""

    name: str
    settings: YamlMap
    line: int | None


@dataclass(frozen=True)
class Persona:
    """The client's voice, from `persona:` in conductor.yml; `bot.plugins.merge` applies it to the domain.

    - `greeting`: the text of `utter_greet` (the base assistant's greeting);
    - `name`: the bot's name, used in `utter_i_am_a_bot` (the answer to "are you a bot?");
    - `tone`: friendly (the base assistant's wording), formal or concise: the wording of `utter_greet` (when
      no greeting is given) and of `utter_i_am_a_bot`;
    - `responses`: any response (base assistant or plugin) replaced, in Rasa's response shape.
    """

    name: str | None = None
    greeting: str | None = None
    tone: str = "friendly"
    responses: dict[str, list[ResponseVariation]] = field(default_factory=dict)
    file: str | None = None
    line: int | None = None


@dataclass(frozen=True)
class InstanceConfig:
    """What conductor.yml says (the defaults of a plain Rasa project when there is none)."""

    root: Path
    path: Path | None = None
    plugins: list[PluginEntry] = field(default_factory=list)
    base_assistant: bool = False
    action_modules: list[str] = field(default_factory=list)
    """Python modules (importable from the instance's folder) whose actions run in-process."""
    warnings: list[Problem] = field(default_factory=list)
    persona: Persona | None = None

    @property
    def plugins_dir(self) -> Path:
        """Where the instance's own plugin folders are dropped."""
        return self.root / INSTANCE_PLUGINS_DIR

    @property
    def enabled(self) -> list[str]:
        return [entry.name for entry in self.plugins]


@dataclass(frozen=True)
class EnabledPlugin:
    """A plugin switched on for this instance: where it is, its manifest and its validated settings."""

    plugin: DiscoveredPlugin
    manifest: Manifest
    settings: PluginSettings

    @property
    def name(self) -> str:
        return self.manifest.name

    @property
    def version(self) -> str:
        return self.manifest.version

    @property
    def label(self) -> str:
        """How messages name it: `plugin 'legal'`."""
        return f"plugin '{self.name}'"


def load_instance(root: Path | str = ".") -> InstanceConfig:
    """Read `<root>/conductor.yml`; a missing file gives a plain Rasa project's configuration."""
    folder = Path(root)
    path = folder / INSTANCE_FILE
    if not path.exists():
        return InstanceConfig(folder)
    data = read_yaml(path, "instance configuration")
    if data is None:
        data = YamlMap()
    if not isinstance(data, YamlMap):
        raise ConductorError.single(
            "conductor.yml should be a mapping of keys to values", path, line_of(data) or 1, f"For example:\n{_EXAMPLE}"
        )
    problems: list[Problem] = []
    warnings: list[Problem] = []
    for key in data:
        if key not in _KEYS:
            warnings.append(
                Problem(
                    f"'{key}' is not a key of conductor.yml; it is ignored",
                    str(path),
                    data.line_of(key),
                    did_you_mean(key, _KEYS, otherwise=f"The keys are: {', '.join(_KEYS)}.", cutoff=0.7),
                    Severity.WARNING,
                )
            )
    base = data.get("base_assistant", True)
    if not isinstance(base, bool):
        problems.append(
            Problem("'base_assistant' should be true or false", str(path), data.line_of("base_assistant"))
        )
    entries = _plugin_entries(data.get("plugins"), path, data.line_of("plugins"), problems)
    modules = data.get("action_modules") or []
    if not isinstance(modules, list) or not all(isinstance(m, str) and _MODULE_NAME.fullmatch(m) for m in modules):
        problems.append(
            Problem(
                "'action_modules' should be a list of Python module names",
                str(path),
                data.line_of("action_modules"),
                "For example: `action_modules: [actions]` for a Rasa project's actions/ package.",
            )
        )
        modules = []
    persona = _persona(data.get("persona"), path, data.line_of("persona"), problems, warnings)
    if problems:
        raise ConductorError(problems)
    return InstanceConfig(folder, path, entries, base is True, list(modules), warnings, persona)


def _persona(
    value: Any, path: Path, line: int | None, problems: list[Problem], warnings: list[Problem]
) -> Persona | None:
    """`persona:` checked: a mapping of known keys, text values, a known tone, responses in Rasa's shape."""
    if value is None:
        return None
    source = str(path)
    if not isinstance(value, YamlMap):
        problems.append(
            Problem(
                "'persona' should be a mapping (name, greeting, tone, responses)",
                source,
                line,
                'For example:\npersona:\n  name: Ava\n  greeting: "Welcome! How can I help?"\n  tone: friendly',
            )
        )
        return None
    for key in value:
        if key not in _PERSONA_KEYS:
            problems.append(
                Problem(
                    f"'{key}' is not a key of persona",
                    source,
                    value.line_of(key),
                    did_you_mean(key, _PERSONA_KEYS, then=f"The keys are: {', '.join(_PERSONA_KEYS)}.", cutoff=0.7),
                )
            )
    texts: dict[str, str | None] = {}
    for key in ("name", "greeting"):
        text = value.get(key)
        if text is not None and (not isinstance(text, str) or not text.strip()):
            problems.append(
                Problem(f"persona '{key}' should be text", source, value.line_of(key), "Quote it if needed.")
            )
            text = None
        texts[key] = text
    tone = value.get("tone", "friendly")
    if tone not in PERSONA_TONES:
        problems.append(
            Problem(
                f"persona 'tone' is {tone!r}, not one of {', '.join(PERSONA_TONES)}",
                source,
                value.line_of("tone"),
                "friendly keeps the base assistant's wording; formal and concise reword the greeting and the "
                "bot's introduction.",
            )
        )
        tone = "friendly"
    responses, found = parse_responses(value.get("responses"), source, value.line_of("responses"))
    for problem in found:
        (problems if problem.severity is Severity.ERROR else warnings).append(problem)
    return Persona(texts["name"], texts["greeting"], str(tone), responses, source, line)


def _plugin_entries(value: Any, path: Path, line: int | None, problems: list[Problem]) -> list[PluginEntry]:
    """`plugins:` as a mapping of name to settings (a list of names is accepted for plugins without any)."""
    if value is None:
        return []
    if isinstance(value, YamlList) and all(isinstance(item, str) for item in value):
        return [PluginEntry(name, _empty_at(value.line_of(i)), value.line_of(i)) for i, name in enumerate(value)]
    if not isinstance(value, YamlMap):
        problems.append(
            Problem(
                "'plugins' should map each enabled plugin's name to its settings",
                str(path),
                line,
                f"For example:\n{_EXAMPLE}",
            )
        )
        return []
    entries: list[PluginEntry] = []
    for name, settings in value.items():
        at = value.line_of(name)
        if settings is None:
            settings = _empty_at(at)
        if not isinstance(name, str) or not isinstance(settings, YamlMap):
            problems.append(
                Problem(
                    f"the settings of the plugin {name!r} should be a mapping of setting names to values",
                    str(path),
                    at,
                    "Write `name:` alone for a plugin without settings, or its settings indented below it.",
                )
            )
            continue
        entries.append(PluginEntry(name, settings, at))
    return entries


def _empty_at(line: int | None) -> YamlMap:
    empty = YamlMap()
    empty.line = line
    return empty


def enable_plugins(
    instance: InstanceConfig, catalog: PluginCatalog | None = None, *, for_training: bool = False
) -> tuple[list[EnabledPlugin], list[Problem]]:
    """The instance's enabled plugins, in the order conductor.yml lists them, with warnings.

    Raises one `ConductorError` with every problem: an unknown or clashing plugin name, a broken manifest, a
    plugin that does not support this Conductor, a setting that is missing, unknown or of the wrong type.
    """
    if not instance.plugins:
        return [], []
    found = catalog if catalog is not None else discover_plugins(instance.plugins_dir)
    source = instance.path or instance.root / INSTANCE_FILE
    problems: list[Problem] = []
    warnings: list[Problem] = []
    enabled: list[EnabledPlugin] = []
    for entry in instance.plugins:
        try:
            enabled.append(_enable(entry, found, source, instance.root, for_training, warnings))
        except ConductorError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConductorError(problems)
    return enabled, warnings


def _enable(
    entry: PluginEntry,
    catalog: PluginCatalog,
    source: Path,
    root: Path,
    for_training: bool,
    warnings: list[Problem],
) -> EnabledPlugin:
    try:
        plugin = catalog.get(entry.name)
    except KeyError:
        available = ", ".join(sorted(catalog.plugins)) or "none"
        raise ConductorError.single(
            f"there is no plugin '{entry.name}'",
            source,
            entry.line,
            did_you_mean(
                entry.name, catalog.plugins, otherwise=f"Available plugins: {available} (`bot plugins list`)."
            ),
        ) from None
    manifest = load_manifest(plugin.manifest_path)
    if manifest.name != plugin.name:
        raise ConductorError.single(
            f"the manifest names the plugin '{manifest.name}', but it was found as '{plugin.name}' "
            f"({plugin.origin})",
            plugin.manifest_path,
            1,
            "Make `name:` in plugin.yml the same as the plugin's folder (or entry point) name.",
        )
    if not manifest.supports(__version__):
        raise ConductorError.single(
            f"the plugin '{manifest.name}' {manifest.version} supports Conductor {manifest.conductor}, "
            f"not this version ({__version__})",
            source,
            entry.line,
            f"Use a version of the plugin made for Conductor {__version__}, or disable it here.",
        )
    values, deferred = _substituted(entry, source, for_training, warnings)
    settings = validate_settings(manifest, values, source, entry.line, base_dir=root, deferred=deferred)
    return EnabledPlugin(plugin, manifest, settings)


def _substituted(
    entry: PluginEntry, source: Path, for_training: bool, warnings: list[Problem]
) -> tuple[YamlMap, frozenset[str]]:
    """The settings with `${VAR}` replaced. While training, settings whose variables are not set are kept
    out of validation (deferred) with a warning; at run time they are errors."""
    values = copy.deepcopy(entry.settings)
    problems: list[Problem] = []
    deferred: set[str] = set()
    for key in list(values):
        one = YamlMap({key: values[key]})
        one.line = values.line
        one.key_lines = {key: at} if (at := values.line_of(key)) is not None else {}
        try:
            substitute_env(one, source)
        except ConductorError as exc:
            if not for_training:
                problems.extend(exc.problems)
                continue
            deferred.add(str(key))
            warnings.extend(
                Problem(
                    f"plugin '{entry.name}': {p.message}; the setting '{key}' is checked when the bot starts",
                    p.file,
                    p.line,
                    p.hint,
                    Severity.WARNING,
                )
                for p in exc.problems
            )
        values[key] = one[key]
    if problems:
        raise ConductorError(problems)
    return values, frozenset(deferred)
