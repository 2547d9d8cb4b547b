"""The HTTP API's model routes, as Rasa 3.x has them.

    GET  /status        {"model_file", "model_id", "fingerprint", "num_active_training_jobs"}
    POST /model/parse   {"text", "message_id"} -> the NLU's parse (an `/intent{...}` payload is read as such)
    GET  /domain        the domain as JSON, or YAML with `Accept: application/x-yaml`
    PUT  /model         {"model_file": "<path>"} -> 204: later turns use that model and actions built for it
                        (turns in flight finish with the model and actions they started with)
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

import yaml
from aiohttp import web

from bot.api.errors import ApiError, check_text_length, json_response, read_json_object, string_field
from bot.api.state import SERVER_STATE, ServerState
from bot.errors import ConductorError

__all__ = ["model_routes"]

logger = logging.getLogger(__name__)

YAML_CONTENT_TYPE: Final = "application/x-yaml"

Handler = Callable[[web.Request, ServerState], Awaitable[web.StreamResponse]]


def _guarded(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def checked(request: web.Request) -> web.StreamResponse:
        state = request.app[SERVER_STATE]
        state.auth.check(request)
        return await handler(request, state)

    return checked


async def status(request: web.Request, state: ServerState) -> web.StreamResponse:
    model = state.runtime.model
    return json_response(
        {
            "model_file": str(model.path),
            "model_id": model.path.name,
            "fingerprint": model.metadata.get("fingerprint"),
            "num_active_training_jobs": 0,
        }
    )


async def parse(request: web.Request, state: ServerState) -> web.StreamResponse:
    body = await read_json_object(
        request,
        "No text message defined in request_body. Add text message to request body in order to obtain the "
        "intent and extracted entities.",
    )
    text = string_field(body, "text", required=True, empty_ok=True)  # as Rasa: an empty text, no intent
    assert text is not None
    check_text_length(text, "text")
    message_id = string_field(body, "message_id")
    if request.query.get("emulation_mode") not in (None, "", "rasa"):
        raise ApiError(
            400,
            "Conductor answers /model/parse in Rasa's format only; leave out 'emulation_mode'.",
            details={"parameter": "emulation_mode", "in": "query"},
        )
    parsed = await state.runtime.processor.parse(text)
    parsed.setdefault("text", text)
    if message_id is not None:
        parsed["message_id"] = message_id
    return json_response(parsed)


async def get_domain(request: web.Request, state: ServerState) -> web.StreamResponse:
    accept = request.headers.get("Accept", "application/json").lower()
    domain = state.runtime.domain.as_dict()
    if "yml" in accept or "yaml" in accept:
        text = yaml.safe_dump(domain, sort_keys=False, allow_unicode=True)
        return web.Response(text=text, content_type=YAML_CONTENT_TYPE)
    if "json" in accept or "*/*" in accept or not accept.strip():
        return json_response(domain)
    raise ApiError(
        406,
        'Invalid Accept header. Domain can be provided as json ("Accept: application/json") or yml '
        f'("Accept: {YAML_CONTENT_TYPE}"). Make sure you\'ve set the appropriate Accept header.',
    )


async def replace_model(request: web.Request, state: ServerState) -> web.StreamResponse:
    body = await read_json_object(request, "No path to model file defined in request_body.")
    for unsupported in ("model_server", "remote_storage"):
        if body.get(unsupported) is not None:
            raise ApiError(
                400,
                f"'{unsupported}' is not supported by Conductor; give the path of a trained model as 'model_file'.",
                details={"parameter": unsupported, "in": "body"},
            )
    path = string_field(body, "model_file", required=True)
    assert path is not None
    try:
        # reading the model's files and arrays takes long enough to stall other requests: off the loop
        model = await state.runtime.serve_model_from(path)
    except ConductorError as error:
        raise ApiError(
            400,
            f"Model '{path}' could not be loaded: " + "; ".join(problem.message for problem in error.problems),
            reason="LoadingError",
            details={"parameter": "model_file", "in": "body", "problems": [str(p) for p in error.problems]},
        ) from None
    logger.info("now serving the model %s", model.path)
    return web.Response(status=204)


def model_routes() -> list[web.RouteDef]:
    return [
        web.get("/status", _guarded(status)),
        web.post("/model/parse", _guarded(parse)),
        web.get("/domain", _guarded(get_domain)),
        web.put("/model", _guarded(replace_model)),
    ]
