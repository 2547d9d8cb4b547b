"""The OpenAPI description matches the routes the server has, and is served as YAML and JSON."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator
from server_helpers import Served

from bot.api.service_routes import OPENAPI_FILE
from bot.dialogue.events import Event, event_names
from bot.errors import ConductorError

METHODS = {"get", "post", "put", "delete", "patch", "options", "head"}


def _spec_routes(spec: dict[str, object]) -> set[tuple[str, str]]:
    paths = spec["paths"]
    assert isinstance(paths, dict)
    return {(method.upper(), path) for path, item in paths.items() for method in item if method in METHODS}


def _app_routes(served: Served) -> set[tuple[str, str]]:
    found = set()
    for route in served.client.app.router.routes():
        info = route.resource.get_info() if route.resource is not None else {}
        path = info.get("path") or info.get("formatter")
        if path is None or route.method == "HEAD" or path.startswith(("/webchat", "/{asset")):
            continue  # the widget's files are not part of the API
        path = re.sub(r"\{(\w+):[^}]*\}", r"{\1}", path)  # `{conversation_id:.+}` -> `{conversation_id}`
        found.add((route.method, path))
    return found


async def test_every_route_is_described_and_every_description_is_a_route(api: Served) -> None:
    spec = yaml.safe_load(OPENAPI_FILE.read_text())
    assert spec["openapi"].startswith("3.")
    assert _spec_routes(spec) == _app_routes(api)


async def test_the_description_is_served(api: Served) -> None:
    as_json = await (await api.client.get("/openapi.json")).json()
    assert as_json == yaml.safe_load(OPENAPI_FILE.read_text())
    response = await api.client.get("/openapi.yml")
    assert response.headers["Content-Type"].startswith("application/x-yaml")
    assert yaml.safe_load(await response.text()) == as_json


def test_every_reference_resolves() -> None:
    spec = yaml.safe_load(OPENAPI_FILE.read_text())
    text = OPENAPI_FILE.read_text()
    for reference in set(re.findall(r'\$ref: "#/([^"]+)"', text)):
        node = spec
        for part in reference.split("/"):
            assert part in node, reference
            node = node[part]


def test_the_event_names_are_those_the_server_reads() -> None:
    spec = yaml.safe_load(OPENAPI_FILE.read_text())
    assert sorted(spec["components"]["schemas"]["Event"]["discriminator"]["mapping"]) == event_names()


# --- each kind of event: what the description accepts, the server reads, and what it refuses, the server
# refuses (a 400 naming the field, as the HTTP API's own tests show) ---------------------------------------

SAMPLES: dict[str, Any] = {
    "string": "2026-11-26T10:00:00",  # an ISO 8601 date and time is text where any text goes
    "number": 1.5,
    "boolean": True,
    "object": {},
    "array": [{}],
    "null": None,
}


def _schemas() -> tuple[dict[str, Any], Draft202012Validator]:
    spec = yaml.safe_load(OPENAPI_FILE.read_text())
    schemas: dict[str, Any] = spec["components"]["schemas"]
    mapping = schemas["Event"]["discriminator"]["mapping"]
    kinds = {kind: schemas[reference.rsplit("/", 1)[1]] for kind, reference in mapping.items()}
    validator = Draft202012Validator({"$ref": "#/components/schemas/Event", "components": spec["components"]})
    return kinds, validator


def _types(property_schema: dict[str, Any]) -> list[str]:
    declared = property_schema.get("type", [])
    return [declared] if isinstance(declared, str) else list(declared)


def _reads(data: dict[str, Any]) -> bool:
    try:
        Event.from_dict(data)
    except ConductorError:
        return False
    return True


def _minimal(kind: str, schema: dict[str, Any]) -> dict[str, Any]:
    event: dict[str, Any] = {"event": kind}
    for key in schema["required"]:
        if key != "event":
            event[key] = SAMPLES[_types(schema["properties"][key])[0]]
    if "anyOf" in schema:  # `action`: a name or an action_text (both here, so that either may be null)
        event.update(name="utter_greet", action_text="Hi!")
    return event


@pytest.mark.parametrize("kind", event_names())
def test_each_event_kind_is_described_as_the_server_reads_it(kind: str) -> None:
    kinds, validator = _schemas()
    schema = kinds[kind]
    properties = {key: value for key, value in schema["properties"].items() if key != "event"}
    minimal = _minimal(kind, schema)
    read = Event.from_dict(minimal)
    stored_keys = {spec.name for spec in dataclasses.fields(read) if "check" in spec.metadata}
    assert set(properties) == stored_keys, "the described fields are those the server reads"
    assert validator.is_valid(minimal)
    for key in schema["required"]:
        if key != "event":
            incomplete = {name: value for name, value in minimal.items() if name != key}
            assert not validator.is_valid(incomplete) and not _reads(incomplete), key
    for key, described in {"timestamp": {"type": ["number", "null"]}, "metadata": {"type": ["object", "null"]},
                           **properties}.items():
        allowed = _types(described)
        for json_type, value in SAMPLES.items():
            if not allowed:  # any value
                assert validator.is_valid({**minimal, key: value}) and _reads({**minimal, key: value}), key
            elif json_type in allowed:
                assert validator.is_valid({**minimal, key: value}), (key, json_type)
                assert _reads({**minimal, key: value}), (key, json_type)
            else:
                assert not validator.is_valid({**minimal, key: value}), (key, json_type)
                assert not _reads({**minimal, key: value}), (key, json_type)


def test_an_action_event_needs_a_name_or_an_action_text() -> None:
    _, validator = _schemas()
    for event in ({"event": "action"}, {"event": "action", "name": None, "action_text": None}):
        assert not validator.is_valid(event) and not _reads(event)
    for event in ({"event": "action", "name": "utter_greet"}, {"event": "action", "action_text": "Hi!"}):
        assert validator.is_valid(event) and _reads(event)


def test_a_reminder_is_due_at_an_iso_date_and_time() -> None:
    _, validator = _schemas()
    for when in ("2026-11-26", "2026-11-26T10:00", "2026-11-26T10:00:00Z", "2026-11-26T10:00:00.123456+01:00"):
        event = {"event": "reminder", "intent": "remind", "date_time": when}
        assert validator.is_valid(event) and _reads(event), when
    for when in ("", "tomorrow", "2026-13-01", "2026-11-26T25:00", "2026-11-26 garbage", "٢٠٢٦-11-26"):
        event = {"event": "reminder", "intent": "remind", "date_time": when}
        assert not validator.is_valid(event) and not _reads(event), when


def test_an_unknown_kind_or_a_kind_without_its_name_is_refused() -> None:
    _, validator = _schemas()
    for event in ({"event": "telepathy"}, {"text": "hi"}, {"event": 3}):
        assert not validator.is_valid(event) and not _reads(event)
