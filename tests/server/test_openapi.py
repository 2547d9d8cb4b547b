"""The OpenAPI description matches the routes the server has, and is served as YAML and JSON."""

from __future__ import annotations

import re

import yaml
from server_helpers import Served

from bot.api.service_routes import OPENAPI_FILE
from bot.dialogue.events import event_names

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
    assert spec["components"]["schemas"]["Event"]["properties"]["event"]["enum"] == event_names()
