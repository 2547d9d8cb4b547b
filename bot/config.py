"""Typed models of a project's configuration files: config.yml, credentials.yml and endpoints.yml.

Each file is read with `bot.yamlio` (so every key knows its line) and validated with pydantic. A pydantic
`ValidationError` never reaches the user: `problems_from_validation_error` turns each of its entries into a
`Problem` at the line of the offending key, and the loader raises one `ConductorError` with all of them.

The formats are Rasa 3.x's. config.yml names NLU components and policies with arbitrary parameters; whether a
named component exists is the trainer's question, not this reader's. credentials.yml and endpoints.yml may use
`${VAR}` for values taken from the environment. Secrets never show in `repr()`/`str()`: typed secret fields
are `pydantic.SecretStr`, and any other value under a secret-looking key (`token`, `password`,
`slack_signing_secret`, ...) is masked when the object is printed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Annotated, Any, Final, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
)

from bot.errors import ConductorError, Problem, Severity, did_you_mean
from bot.yamlio import YamlList, YamlMap, line_of, read_yaml, substitute_env

__all__ = [
    "MASK",
    "ActionEndpoint",
    "ChannelCredentials",
    "ComponentConfig",
    "Credentials",
    "EndpointSettings",
    "Endpoints",
    "EventBrokerSettings",
    "LockStoreSettings",
    "ModelConfig",
    "ModelsEndpoint",
    "NlgEndpoint",
    "TrackerStoreSettings",
    "is_secret_key",
    "load_credentials",
    "load_endpoints",
    "load_model_config",
    "problems_from_validation_error",
]

logger = logging.getLogger(__name__)

_M = TypeVar("_M", bound=BaseModel)

MASK = "**********"
"""What a secret value looks like when printed (the same mask pydantic's `SecretStr` uses)."""

_SECRET_WORDS = frozenset(
    {
        "token", "secret", "password", "passwd", "pwd", "credential", "credentials", "signature", "auth",
        "authorization", "sid", "apikey", "verify", "cookie",
    }
)


def is_secret_key(key: object) -> bool:
    """Whether a settings key names a secret: `auth_token`, `page-access-token`, `api_key`, `password`, ...

    A key is split into words at `_`, `-`, `.` and spaces; it is secret when one word is a secret word, or
    when its last word is `key` (`api_key`, `private_key`, but not `key_prefix`).
    """
    if not isinstance(key, str):
        return False
    words = [w for w in re.split(r"[_\-. ]+", key.lower()) if w]
    return bool(words) and (words[-1] == "key" or any(w in _SECRET_WORDS for w in words))


_URL_PASSWORD = re.compile(r"(://[^:/@\s]*:)[^@/\s]+@")
"""The password in a URL such as `postgresql://user:password@host/db`."""


def _masked(key: object, value: Any) -> Any:
    """`value` ready for printing: secrets under secret-looking keys replaced by the mask, at any depth."""
    if value is None or isinstance(value, SecretStr):
        return value
    if is_secret_key(key):
        return MASK
    if isinstance(value, str):
        return _URL_PASSWORD.sub(rf"\1{MASK}@", value)
    if isinstance(value, Mapping):
        return {k: _masked(k, v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(None, v) for v in value]
    return value


# --- pydantic errors as problems ---------------------------------------------------------------------------


def _describe_value(value: Any) -> str:
    if value is None:
        return "nothing (an empty value)"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if isinstance(value, int | float):
        return f"the number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the text {shown!r}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    return type(value).__name__


_TYPE_MESSAGES = {
    "list_type": "should be a list",
    "dict_type": "should be a mapping of keys to values",
    "model_type": "should be a mapping of keys to values",
    "model_attributes_type": "should be a mapping of keys to values",
    "string_type": "should be text",
    "int_type": "should be a whole number",
    "int_parsing": "should be a whole number",
    "int_from_float": "should be a whole number",
    "float_type": "should be a number",
    "float_parsing": "should be a number",
    "bool_type": "should be true or false",
    "bool_parsing": "should be true or false",
}


def _describe_error(error: Mapping[str, Any], secret: bool) -> str:
    """Pydantic's error in the reader's words; the offending value is left out when it may be a secret."""
    kind = error["type"]
    if kind == "missing":
        return "is required but missing"
    if kind == "invalid_key":
        return "is a key that is not text (quote it, or use a name)"
    if kind in _TYPE_MESSAGES:
        expected = _TYPE_MESSAGES[kind]
        return expected if secret else f"{expected}, not {_describe_value(error.get('input'))}"
    message = str(error["msg"])
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
    message = message.removeprefix("Input ")
    return message[:1].lower() + message[1:]


def _locate(data: Any, loc: Sequence[int | str]) -> tuple[str, int | None]:
    """The readable path (`pipeline[2].name`) and line of an error location within the YAML data.

    Steps of `loc` that are not in the data (pydantic's names for union members) are skipped; a last key
    that is missing from the data (a required key) still joins the path, at the line of its mapping.
    """
    path = ""
    line = line_of(data)
    current = data
    for position, step in enumerate(loc):
        if isinstance(current, YamlMap) and step in current:
            line = current.line_of(step)
            path = f"{path}.{step}" if path else str(step)
            current = current[step]
        elif isinstance(current, YamlList) and isinstance(step, int) and 0 <= step < len(current):
            line = current.line_of(step)
            path = f"{path}[{step}]"
            current = current[step]
        elif position == len(loc) - 1 and isinstance(step, str) and isinstance(current, Mapping):
            path = f"{path}.{step}" if path else step
    return path, line


def problems_from_validation_error(
    error: ValidationError,
    data: Any,
    source: str | Path,
    hints: Mapping[str, str] | None = None,
) -> list[Problem]:
    """One `Problem` per place in `data` that pydantic rejected, at the line of the offending key.

    `hints` maps a top-level key to advice shown with every problem under that key. Several errors at one
    place (pydantic tries each member of a union) are joined into one problem.
    """
    messages: dict[tuple[str, int | None], list[str]] = {}
    for entry in error.errors(include_url=False):
        path, line = _locate(data, entry["loc"])
        described = _describe_error(entry, secret=any(is_secret_key(step) for step in entry["loc"]))
        found = messages.setdefault((path, line), [])
        if described not in found:
            found.append(described)
    problems = []
    for (path, line), described_all in messages.items():
        text = " or ".join(described_all)
        top = re.split(r"[.\[]", path, maxsplit=1)[0]
        hint = (hints or {}).get(top)
        problems.append(Problem(f"'{path}' {text}" if path else text, str(source), line, hint))
    return problems


def _validate(
    model: type[_M], data: Any, source: str | Path, hints: Mapping[str, str], warnings: Sequence[Problem]
) -> _M:
    """`data` as a `model`. Errors are raised with the `warnings`, in line order; else warnings are logged."""
    try:
        validated = model.model_validate(data)
    except ValidationError as exc:
        problems = [*warnings, *problems_from_validation_error(exc, data, source, hints)]
        raise ConductorError(sorted(problems, key=lambda p: p.line or 0)) from None
    for warning in warnings:
        logger.warning("%s", warning)
    return validated


def _require_mapping(data: Any, source: str | Path, what: str, example: str) -> YamlMap:
    """The document as a mapping; an empty document is an empty mapping; anything else is an error."""
    if data is None:
        return YamlMap()
    if not isinstance(data, YamlMap):
        raise ConductorError.single(
            f"the {what} should be a mapping of keys to values, but it is {_describe_value(data)}",
            source,
            line_of(data),
            f"Write it as keys and values, for example:\n{example}",
        )
    return data


def _unknown_key_warnings(
    data: YamlMap, known: Sequence[str], source: str | Path, what: str, rasa_only: Mapping[str, str]
) -> list[Problem]:
    warnings = []
    for key in data:
        if key in known:
            continue
        if key in rasa_only:
            message = f"'{key}' is a Rasa option that Conductor does not use; it is ignored"
            hint = rasa_only[key]
        else:
            message = f"'{key}' is not a known key of the {what}"
            hint = did_you_mean(key, known, otherwise=f"The known keys are: {', '.join(known)}.", cutoff=0.8)
        warnings.append(Problem(message, str(source), data.line_of(key), hint, Severity.WARNING))
    return warnings


class _Settings(BaseModel):
    """Settings that keep unknown keys (`extra`) and print secrets masked."""

    model_config = ConfigDict(extra="allow", frozen=True, coerce_numbers_to_str=True)

    def __repr_args__(self) -> Iterator[tuple[str | None, Any]]:
        for name, value in super().__repr_args__():
            yield name, _masked(name, value)

    @property
    def extra(self) -> dict[str, Any]:
        """The keys this model does not type, as written in the file (after `${VAR}` substitution)."""
        return dict(self.model_extra or {})


def _not_a_boolean(value: Any) -> Any:
    """Refuse `true`/`false` where a number belongs (pydantic would read them as 1 and 0)."""
    if isinstance(value, bool):
        raise ValueError(f"should be a number, not {_describe_value(value)}")
    return value


_Text = Annotated[str, Field(min_length=1)]
_Port = Annotated[int, BeforeValidator(_not_a_boolean), Field(ge=1, le=65535)]
_Index = Annotated[int, BeforeValidator(_not_a_boolean), Field(ge=0)]
_Seconds = Annotated[float, BeforeValidator(_not_a_boolean), Field(gt=0)]


# --- config.yml ------------------------------------------------------------------------------------------


class ComponentConfig(BaseModel):
    """One NLU component or policy: its `name` and whatever parameters the file gives it."""

    model_config = ConfigDict(extra="allow", frozen=True)

    name: _Text

    @property
    def params(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


_CONFIG_HINTS = {
    "pipeline": "Write one component per list item:\n  pipeline:\n    - name: WhitespaceTokenizer",
    "policies": "Write one policy per list item:\n  policies:\n    - name: RulePolicy",
    "recipe": "Use 'recipe: default.v1', or leave the key out.",
    "language": "Use a language code such as 'en'.",
}

_RASA_ONLY_CONFIG_KEYS = {
    "importers": "Conductor reads the project folder and its enabled plugins; remove 'importers'.",
    "spaces": "Spaces are not supported; remove 'spaces'.",
    "train_schema": "Graph recipes are not supported; use 'recipe: default.v1' with pipeline and policies.",
    "predict_schema": "Graph recipes are not supported; use 'recipe: default.v1' with pipeline and policies.",
}


class ModelConfig(BaseModel):
    """config.yml: how to train. A missing `pipeline` or `policies` is None: the trainer picks defaults."""

    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)

    recipe: str = "default.v1"
    language: _Text = "en"
    pipeline: list[ComponentConfig] | None = None
    policies: list[ComponentConfig] | None = None
    assistant_id: str | None = None
    version: str | None = None

    _warnings: list[Problem] = PrivateAttr(default_factory=list)

    @field_validator("recipe", "language", mode="before")
    @classmethod
    def _empty_means_default(cls, value: Any, info: ValidationInfo) -> Any:
        if value is None and info.field_name is not None:
            return cls.model_fields[info.field_name].default
        return value

    @field_validator("recipe")
    @classmethod
    def _known_recipe(cls, value: str) -> str:
        if value != "default.v1":
            raise ValueError(f"names the recipe {value!r}, but Conductor knows only 'default.v1'")
        return value

    @field_validator("pipeline", "policies", mode="before")
    @classmethod
    def _empty_list_means_defaults(cls, value: Any) -> Any:
        """Rasa fills in its default components for a missing or empty list; so does Conductor."""
        return None if isinstance(value, list) and not value else value

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Problems that do not stop training (unknown keys), found when the file was read."""
        return tuple(self._warnings)

    def fingerprint(self) -> str:
        """A hash of the normalised content: equal for files that mean the same, whatever their layout.

        Comments, key order and spelled-out defaults do not change it; the order of components does.
        """
        normalised = json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def load_model_config(path: str | Path) -> ModelConfig:
    """Read and check config.yml; every problem in it is reported at once as one `ConductorError`."""
    example = "  language: en\n  pipeline:\n    - name: WhitespaceTokenizer"
    data = _require_mapping(read_yaml(path, "config file"), path, "config file", example)
    known = list(ModelConfig.model_fields)
    warnings = _unknown_key_warnings(data, known, path, "config file", _RASA_ONLY_CONFIG_KEYS)
    config = _validate(ModelConfig, data, path, _CONFIG_HINTS, warnings)
    config._warnings.extend(warnings)
    return config


# --- credentials.yml -------------------------------------------------------------------------------------


class ChannelCredentials(YamlMap):
    """One channel's settings from credentials.yml, as written there (after `${VAR}` substitution).

    Channels check their own settings; `problem` places what they find at the file and line of a key.
    Printing masks the values of secret-looking keys.
    """

    file: str | None = None

    def __repr__(self) -> str:
        return repr({key: _masked(key, value) for key, value in self.items()})

    def problem(self, message: str, key: str | None = None, hint: str | None = None) -> Problem:
        line = self.line_of(key) if key is not None else self.line
        return Problem(message, self.file, line, hint)


class Credentials(YamlMap):
    """credentials.yml: channel name (`rest`, `slack`, or a `module.Class` path) -> its settings or None."""

    file: str | None = None


def _channel_credentials(settings: YamlMap, file: str) -> ChannelCredentials:
    channel = ChannelCredentials(settings)
    channel.line = settings.line
    channel.key_lines = dict(settings.key_lines)
    channel.file = file
    return channel


def load_credentials(path: str | Path) -> Credentials:
    """Read credentials.yml; a missing file means no channel credentials, as in Rasa."""
    credentials = Credentials()
    credentials.file = str(path)
    if not Path(path).exists():
        return credentials
    example = "  rest:\n  slack:\n    slack_token: ${SLACK_TOKEN}"
    data = _require_mapping(read_yaml(path, "credentials file"), path, "credentials file", example)
    problems = []
    for channel, settings in data.items():
        if not isinstance(channel, str) or not channel:
            problems.append(
                Problem(f"the channel name {channel!r} should be text", str(path), data.line_of(channel),
                        "Use the channel's name (rest, socketio, slack, telegram) or a module.Class path.")
            )
        elif settings is not None and not isinstance(settings, YamlMap):
            problems.append(
                Problem(
                    f"the settings of channel '{channel}' should be a mapping of keys to values "
                    f"(or nothing), not {_describe_value(settings)}",
                    str(path),
                    data.line_of(channel),
                    f"Indent the channel's settings under its name, for example:\n{example}",
                )
            )
    try:
        substitute_env(data, path)
    except ConductorError as exc:
        problems.extend(exc.problems)
    if problems:
        raise ConductorError(sorted(problems, key=lambda p: p.line or 0))
    credentials.line = data.line
    for channel, settings in data.items():
        credentials[channel] = _channel_credentials(settings, str(path)) if settings is not None else None
        credentials.key_lines[channel] = data.line_of(channel) or 1
    return credentials


# --- endpoints.yml ---------------------------------------------------------------------------------------

_Secret = Annotated[SecretStr, Field(min_length=1)]


class EndpointSettings(_Settings):
    """An HTTP endpoint: a URL and an optional token sent with each request."""

    url: _Text | None = None
    token: _Secret | None = None


class ActionEndpoint(EndpointSettings):
    """`action_endpoint`: the rasa-sdk action server. Other keys (headers, basic_auth, ...) are kept."""

    url: _Text


class ModelsEndpoint(EndpointSettings):
    """`models`: where to fetch trained models from, and how often to look for a new one."""

    wait_time_between_pulls: _Seconds | None = None


class NlgEndpoint(EndpointSettings):
    """`nlg`: an external response generator (`type: callback` with a `url`, or a module.Class)."""

    type: _Text | None = None


_BUILTIN_TRACKER_STORES = ("in_memory", "sql", "redis", "mongod", "dynamo")
_BUILTIN_LOCK_STORES = ("in_memory", "redis")
_BUILTIN_EVENT_BROKERS = ("pika", "kafka", "sql", "file")


def _store_type(value: Any, builtin: Sequence[str], default: str, what: str) -> Any:
    """A store `type`: a built-in name (any case) or a `module.Class` path; a missing one means `default`."""
    if value is None:
        return default
    if not isinstance(value, str):
        return value  # pydantic reports the wrong type
    if value.lower() in builtin:
        return value.lower()
    if re.fullmatch(r"[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)+", value):
        return value
    raise ValueError(
        f"names the {what} type {value!r}, which is neither built in ({', '.join(builtin)}) "
        "nor a module.Class path"
    )


class TrackerStoreSettings(_Settings):
    """`tracker_store`: where conversations are kept. No `type` means in memory, as in Rasa.

    `url` is the host (or, for `sql`, a whole database URL); `db` a file or database name for `sql`, a
    number for `redis`. Unset values are None: each store applies its own defaults.
    """

    type: _Text = "in_memory"
    url: _Text | None = None
    port: _Port | None = None
    db: str | int | None = None
    dialect: _Text | None = None
    username: str | None = None
    password: _Secret | None = None
    login_db: str | None = None
    query: dict[str, Any] | None = None
    record_exp: _Seconds | None = None
    key_prefix: str | None = None
    use_ssl: bool | None = None

    @field_validator("type", mode="before")
    @classmethod
    def _known_type(cls, value: Any) -> Any:
        return _store_type(value, _BUILTIN_TRACKER_STORES, "in_memory", "tracker store")

    @field_validator("db", mode="before")
    @classmethod
    def _name_or_number(cls, value: Any) -> Any:
        if value is not None and (isinstance(value, bool) or not isinstance(value, str | int)):
            raise ValueError(f"should be a database name or number, not {_describe_value(value)}")
        return value


class LockStoreSettings(_Settings):
    """`lock_store`: the per-conversation locks. No `type` means in memory, as in Rasa.

    Rasa takes the lock lifetime from the TICKET_LOCK_LIFETIME environment variable, not from this file.
    """

    type: _Text = "in_memory"
    url: _Text | None = None
    port: _Port | None = None
    db: _Index | None = None
    username: str | None = None
    password: _Secret | None = None
    use_ssl: bool | None = None
    key_prefix: str | None = None
    socket_timeout: _Seconds | None = None

    @field_validator("type", mode="before")
    @classmethod
    def _known_type(cls, value: Any) -> Any:
        return _store_type(value, _BUILTIN_LOCK_STORES, "in_memory", "lock store")


class EventBrokerSettings(_Settings):
    """`event_broker`: where every conversation event is also published. No `type` means pika, as in Rasa.

    For pika (RabbitMQ), `url` is a host name or an `amqp://`/`amqps://` URL; `exchange_name` the fanout
    exchange the `queues` are bound to; `raise_on_failure` makes a broker that cannot be reached at start-up
    stop the server; `retry_delay_in_seconds` is the longest wait between two reconnection attempts.
    """

    type: _Text = "pika"
    url: _Text | None = None
    port: _Port | None = None
    username: str | None = None
    password: _Secret | None = None
    queues: list[_Text] | None = None
    exchange_name: _Text | None = None
    raise_on_failure: bool | None = None
    retry_delay_in_seconds: _Seconds | None = None

    @field_validator("type", mode="before")
    @classmethod
    def _known_type(cls, value: Any) -> Any:
        return _store_type(value, _BUILTIN_EVENT_BROKERS, "pika", "event broker")

    @field_validator("queues", mode="before")
    @classmethod
    def _one_queue_is_a_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value


class Endpoints(_Settings):
    """endpoints.yml. Every section is optional; keys Conductor does not type are kept in `extra`."""

    version: str | None = None
    action_endpoint: ActionEndpoint | None = None
    tracker_store: TrackerStoreSettings | None = None
    lock_store: LockStoreSettings | None = None
    event_broker: EventBrokerSettings | None = None
    models: ModelsEndpoint | None = None
    nlg: NlgEndpoint | None = None
    nlu: EndpointSettings | None = None

    _warnings: list[Problem] = PrivateAttr(default_factory=list)

    @property
    def warnings(self) -> tuple[Problem, ...]:
        """Problems that do not stop the server (unknown keys), found when the file was read."""
        return tuple(self._warnings)


_ENDPOINT_EXAMPLES = {
    "action_endpoint": ["url: http://localhost:5055/webhook"],
    "tracker_store": ["type: sql", "dialect: sqlite", "db: conductor.db"],
    "lock_store": ["type: redis", "url: localhost", "port: 6379"],
    "event_broker": ["type: pika", "url: localhost", "queues: [conductor_events]"],
    "models": ["url: http://models.example.com/latest", "wait_time_between_pulls: 100"],
    "nlg": ["url: http://localhost:5056/nlg"],
    "nlu": ["url: http://localhost:5005"],
}
_ENDPOINT_HINTS = {
    key: "For example:\n  " + "\n    ".join([f"{key}:", *lines]) for key, lines in _ENDPOINT_EXAMPLES.items()
}


_UNUSED_ENDPOINTS: Final = {
    "models": "Conductor does not pull models from a model server. Put a model trained with `bot train` in the "
    "folder `bot run --model` serves (moved in with `mv`): the server picks it up within seconds.",
    "nlu": "Conductor parses messages with the model's own NLU, not with an NLU server.",
}
"""endpoints.yml sections Rasa reads and Conductor does not: each is named in a warning."""


def load_endpoints(path: str | Path) -> Endpoints:
    """Read endpoints.yml, with `${VAR}` substituted; a missing file means all defaults, as in Rasa."""
    if not Path(path).exists():
        return Endpoints()
    example = "  action_endpoint:\n    url: http://localhost:5055/webhook"
    data = _require_mapping(read_yaml(path, "endpoints file"), path, "endpoints file", example)
    used = [key for key in Endpoints.model_fields if key not in _UNUSED_ENDPOINTS]
    warnings = _unknown_key_warnings(data, used, path, "endpoints file", _UNUSED_ENDPOINTS)
    substitute_env(data, path)
    endpoints = _validate(Endpoints, data, path, _ENDPOINT_HINTS, warnings)
    endpoints._warnings.extend(warnings)
    return endpoints
