"""A plugin's manifest, `plugin.yml`: its name, version, description, the Conductor versions it supports and
the typed schema of its settings.

```yaml
name: legal
version: 0.1.0
description: Client intake, common questions and consultation booking for a law firm.
summary: legal questions and booking a consultation     # optional: "I can help with <summaries>"
conductor: ">=0.1,<1.0"
settings:
  firm_name: {type: str, required: true, description: "The firm's name, used in replies."}
  practice_areas: {type: list[str], default: [family, employment], choices: [family, employment, tax]}
```

Setting types: `str`, `int`, `float`, `bool`, `url`, `path`, `list[str]`. `Manifest.settings_model()` turns the
schema into a frozen pydantic model; `validate_settings` checks an instance's values against it and reports
every mistake at its line in the instance's config file. Values are checked strictly, as YAML gives them:
`yes` is text, not a boolean, and `"3"` is text, not a number.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Final

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version
from pydantic import (
    AfterValidator,
    AnyHttpUrl,
    BaseModel,
    ConfigDict,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    TypeAdapter,
    ValidationError,
    create_model,
)

from bot import __version__
from bot.config import MASK, is_secret_key, problems_from_validation_error
from bot.errors import ConductorError, Problem, did_you_mean
from bot.yamlio import YamlMap, line_of, plain, read_yaml

__all__ = [
    "MANIFEST_FILE",
    "PLUGIN_NAME",
    "SETTING_TYPES",
    "Manifest",
    "PluginSettings",
    "SettingSpec",
    "load_manifest",
    "validate_settings",
]

MANIFEST_FILE: Final = "plugin.yml"
PLUGIN_NAME: Final = re.compile(r"[a-z][a-z0-9_]*")
"""A plugin's name: lower_snake_case, usable as a Python package name."""

_MANIFEST_KEYS = ("name", "version", "description", "summary", "conductor", "settings")
_SETTING_KEYS = ("type", "required", "default", "description", "choices")
_SETTING_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_URL_ADAPTER: TypeAdapter[AnyHttpUrl] = TypeAdapter(AnyHttpUrl)


def _is_url(value: str) -> str:
    """An http(s) URL, kept as the text written (aiohttp and friends take text)."""
    try:
        _URL_ADAPTER.validate_python(value)
    except ValidationError:
        raise ValueError(f"should be an http:// or https:// URL, not {value!r}") from None
    return value


def _one_of(choices: tuple[str, ...]) -> AfterValidator:
    def check(value: Any) -> Any:
        items = value if isinstance(value, list) else [value]
        wrong = [item for item in items if item not in choices]
        if wrong:
            raise ValueError(f"has {', '.join(map(repr, wrong))}, but the choices are: {', '.join(choices)}")
        return value

    return AfterValidator(check)


_BASE_TYPES: Final[dict[str, Any]] = {
    "str": StrictStr,
    "int": StrictInt,
    "float": StrictFloat | StrictInt,
    "bool": StrictBool,
    "url": Annotated[StrictStr, AfterValidator(_is_url)],
    "path": Path,
    "list[str]": list[StrictStr],
}
SETTING_TYPES: Final = tuple(_BASE_TYPES)


class PluginSettings(BaseModel):
    """The base of every plugin's settings model: frozen, attribute access, secrets masked when printed."""

    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=True)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, MASK if is_secret_key(name) and value is not None else value


@dataclass(frozen=True)
class SettingSpec:
    """One setting of a plugin's schema."""

    name: str
    type: str
    required: bool = False
    default: Any = None
    description: str | None = None
    choices: tuple[str, ...] = ()
    line: int | None = None

    def annotation(self) -> Any:
        """The pydantic type of the setting's value."""
        base = _BASE_TYPES[self.type]
        return Annotated[base, _one_of(self.choices)] if self.choices else base


@dataclass(frozen=True)
class Manifest:
    """A plugin's `plugin.yml`, read and checked."""

    name: str
    version: str
    description: str
    conductor: str
    """The PEP 440 specifier of the Conductor versions the plugin supports ("" for any)."""
    settings: dict[str, SettingSpec] = field(default_factory=dict)
    path: Path | None = None
    summary: str = ""
    """What the skill does as a short phrase for "I can help with ..." (optional; the name in words if unset)."""

    @property
    def skill_phrase(self) -> str:
        return self.summary or self.name.replace("_", " ")

    @property
    def folder(self) -> Path | None:
        return self.path.parent if self.path is not None else None

    def supports(self, conductor_version: str = __version__) -> bool:
        """Whether this Conductor version is one the plugin supports."""
        return not self.conductor or SpecifierSet(self.conductor).contains(conductor_version, prereleases=True)

    def settings_model(self, deferred: frozenset[str] = frozenset()) -> type[PluginSettings]:
        """The settings as a pydantic model. `deferred` settings accept anything (their values come from
        environment variables that are not set yet, e.g. while training)."""
        fields: dict[str, Any] = {}
        for spec in self.settings.values():
            annotation = Any if spec.name in deferred else spec.annotation()
            if spec.required and spec.name not in deferred:
                fields[spec.name] = (annotation, ...)
            else:
                fields[spec.name] = (annotation | None if spec.default is None else annotation, spec.default)
        model_name = "".join(part.title() for part in self.name.split("_")) + "Settings"
        return create_model(model_name, __base__=PluginSettings, **fields)


# --- reading plugin.yml ------------------------------------------------------------------------------------


class _ManifestReader:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[Problem] = []

    def error(self, message: str, line: int | None, hint: str | None = None) -> None:
        self.problems.append(Problem(message, str(self.path), line, hint))

    def text(self, data: YamlMap, key: str, example: str, *, required: bool = True) -> str:
        value = data.get(key)
        if value is None and not required:
            return ""
        if not isinstance(value, str) or not value.strip():
            where = data.line_of(key) if key in data else data.line
            self.error(f"'{key}' should be text", where, f"For example: `{key}: {example}`.")
            return ""
        return value.strip()

    def read(self, data: Any) -> Manifest | None:
        if not isinstance(data, YamlMap):
            self.error(
                "the plugin manifest should be a mapping of keys to values",
                line_of(data) or 1,
                "Start it with `name: my_plugin`, `version: 0.1.0` and `description: ...`.",
            )
            return None
        for key in data:
            if key not in _MANIFEST_KEYS:
                keys = f"The keys are: {', '.join(_MANIFEST_KEYS)}."
                hint = did_you_mean(key, _MANIFEST_KEYS, otherwise=keys, cutoff=0.7)
                self.error(f"'{key}' is not a key of plugin.yml", data.line_of(key), hint)
        name = self.text(data, "name", "my_plugin")
        if name and not PLUGIN_NAME.fullmatch(name):
            self.error(
                f"the plugin name {name!r} is not lower_snake_case",
                data.line_of("name"),
                "Use lower-case letters, digits and underscores, starting with a letter, e.g. `tech_support`.",
            )
        version = self.text(data, "version", "0.1.0")
        if version:
            try:
                Version(version)
            except InvalidVersion:
                self.error(
                    f"the version {version!r} is not a PEP 440 version", data.line_of("version"), "E.g. `0.1.0`."
                )
        description = self.text(data, "description", "What the skill does, in one sentence.")
        summary = self.text(data, "summary", "legal questions and booking a consultation", required=False)
        conductor = self.conductor_specifier(data)
        settings = self.settings(data.get("settings"), data.line_of("settings") if "settings" in data else None)
        if self.problems:
            return None
        return Manifest(name, version, description, conductor, settings, self.path, summary)

    def conductor_specifier(self, data: YamlMap) -> str:
        specifier = self.text(data, "conductor", '">=0.1,<1.0"', required=False)
        if not specifier:
            return ""
        try:
            SpecifierSet(specifier)
        except InvalidSpecifier:
            self.error(
                f"'conductor' {specifier!r} is not a version specifier",
                data.line_of("conductor"),
                'Write the Conductor versions the plugin supports, e.g. `conductor: ">=0.1,<1.0"`.',
            )
            return ""
        return specifier

    def settings(self, value: Any, line: int | None) -> dict[str, SettingSpec]:
        if value is None:
            return {}
        if not isinstance(value, YamlMap):
            self.error(
                "'settings' should map each setting's name to its schema",
                line,
                "For example:\n  settings:\n    firm_name: {type: str, required: true}",
            )
            return {}
        specs: dict[str, SettingSpec] = {}
        for name, spec in value.items():
            read = self.setting(name, spec, value.line_of(name))
            if read is not None:
                specs[read.name] = read
        return specs

    def setting(self, name: Any, spec: Any, line: int | None) -> SettingSpec | None:
        if not isinstance(name, str) or not _SETTING_NAME.fullmatch(name) or name.startswith("model_"):
            self.error(
                f"the setting name {name!r} cannot be used",
                line,
                "Use a Python identifier that does not start with `model_`, e.g. `firm_name`.",
            )
            return None
        if not isinstance(spec, YamlMap):
            self.error(
                f"the setting '{name}' should be a mapping with at least `type`",
                line,
                f"For example: `{name}: {{type: str, required: true, description: ...}}`.",
            )
            return None
        before = len(self.problems)
        for key in spec:
            if key not in _SETTING_KEYS:
                keys = f"The keys are: {', '.join(_SETTING_KEYS)}."
                hint = did_you_mean(key, _SETTING_KEYS, otherwise=keys, cutoff=0.7)
                self.error(f"'{key}' is not a key of the setting '{name}'", spec.line_of(key), hint)
        kind = spec.get("type")
        if kind not in _BASE_TYPES:
            self.error(
                f"the setting '{name}' has the type {kind!r}, which is not a setting type",
                spec.line_of("type") if "type" in spec else line,
                f"Use one of: {', '.join(SETTING_TYPES)}.",
            )
            return None
        required = spec.get("required", False)
        if not isinstance(required, bool):
            self.error(f"'required' of the setting '{name}' should be true or false", spec.line_of("required"))
        description = spec.get("description")
        if description is not None and not isinstance(description, str):
            self.error(f"'description' of the setting '{name}' should be text", spec.line_of("description"))
        choices = self.choices(name, kind, spec)
        default = spec.get("default")
        if required is True and default is not None:
            self.error(
                f"the setting '{name}' is required and has a default",
                spec.line_of("default"),
                "Drop `required: true` (the default applies when the instance sets nothing) or the default.",
            )
        if len(self.problems) > before:
            return None
        read = SettingSpec(
            name, kind, required is True, plain(default), description, choices, line
        )
        if default is not None:
            self.check_default(read, spec.line_of("default"))
        return read

    def choices(self, name: str, kind: str, spec: YamlMap) -> tuple[str, ...]:
        value = spec.get("choices")
        if value is None:
            return ()
        if kind not in ("str", "list[str]"):
            self.error(
                f"the setting '{name}' has choices, but only `str` and `list[str]` settings may have them",
                spec.line_of("choices"),
            )
            return ()
        if not isinstance(value, list) or not value or not all(isinstance(c, str) for c in value):
            self.error(
                f"'choices' of the setting '{name}' should be a list of texts",
                spec.line_of("choices"),
                "For example: `choices: [family, employment]`.",
            )
            return ()
        return tuple(value)

    def check_default(self, spec: SettingSpec, line: int | None) -> None:
        try:
            TypeAdapter(spec.annotation()).validate_python(spec.default)
        except ValidationError as exc:
            reason = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
            self.error(
                f"the default of the setting '{spec.name}' does not fit its type `{spec.type}`: {reason}",
                line,
                "Change the default or the type.",
            )


def load_manifest(path: Path) -> Manifest:
    """Read and check a `plugin.yml`; every mistake is reported at once, each at its line."""
    reader = _ManifestReader(path)
    manifest = reader.read(read_yaml(path, "plugin manifest"))
    if manifest is None:
        raise ConductorError(reader.problems)
    return manifest


# --- an instance's values ------------------------------------------------------------------------------------


def validate_settings(
    manifest: Manifest,
    values: Mapping[str, Any] | None,
    source: Path,
    line: int | None,
    *,
    base_dir: Path | None = None,
    deferred: frozenset[str] = frozenset(),
) -> PluginSettings:
    """The instance's settings for a plugin, checked against its schema.

    `values` is the plugin's mapping in the instance config `source` (at `line`); problems point at the
    offending key there. A relative `path` setting is taken relative to `base_dir` (the instance's folder).
    """
    data = values if values is not None else YamlMap()
    problems: list[Problem] = []
    for key in data:
        if key not in manifest.settings:
            known = ", ".join(manifest.settings) or "none"
            problems.append(
                Problem(
                    f"plugin '{manifest.name}' has no setting '{key}'",
                    str(source),
                    line_of(data, key) or line,
                    did_you_mean(key, manifest.settings, otherwise=f"Its settings are: {known}.", cutoff=0.7),
                )
            )
    located = YamlMap({key: value for key, value in data.items() if key in manifest.settings})
    located.line = line or line_of(data)
    if isinstance(data, YamlMap):
        located.key_lines = {key: at for key, at in data.key_lines.items() if key in located}
    model = manifest.settings_model(deferred)
    try:
        settings = model.model_validate(located)
    except ValidationError as exc:
        for problem in problems_from_validation_error(exc, located, source):
            problems.append(
                Problem(
                    f"plugin '{manifest.name}': setting {problem.message}",
                    problem.file,
                    problem.line or line,
                    _setting_hint(manifest, problem.message),
                )
            )
    if problems:
        raise ConductorError(sorted(problems, key=lambda p: p.line or 0))
    return _resolve_paths(manifest, settings, base_dir)


def _setting_hint(manifest: Manifest, message: str) -> str | None:
    match = re.match(r"'(\w+)", message)
    spec = manifest.settings.get(match.group(1)) if match else None
    if spec is None:
        return None
    about = f" ({spec.description})" if spec.description else ""
    return f"'{spec.name}' is a `{spec.type}`{about}, set under the plugin in the instance's conductor.yml."


def _resolve_paths(manifest: Manifest, settings: PluginSettings, base_dir: Path | None) -> PluginSettings:
    if base_dir is None:
        return settings
    changes = {
        name: base_dir / value
        for name, spec in manifest.settings.items()
        if spec.type == "path" and isinstance(value := getattr(settings, name), Path) and not value.is_absolute()
    }
    return settings.model_copy(update=changes) if changes else settings
