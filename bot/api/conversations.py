"""The HTTP API's conversation routes, with Rasa 3.x's paths, bodies and answers.

    GET  /conversations/{id}/tracker           ?include_events=ALL|AFTER_RESTART|APPLIED|NONE&until=<time>
    GET  /conversations/{id}/story             ?until=<time>&all_sessions=true|false: Rasa YAML test stories
    POST /conversations/{id}/tracker/events    one event or a list: appended
    PUT  /conversations/{id}/tracker/events    a list of events: the conversation's history replaced
    POST /conversations/{id}/messages          {"text", "sender": "user", "parse_data"}: logged, not answered
    POST /conversations/{id}/trigger_intent    {"name", "entities"}  ?output_channel=<channel>|latest
    POST /conversations/{id}/predict           the next action's scores, nothing run
    POST /conversations/{id}/execute           {"name", "policy", "confidence"}  ?output_channel=

As in Rasa, reading the tracker of an unknown conversation gives an empty tracker (and stores nothing), while
`story`, `predict` and `execute` on an unknown conversation are a 404. The id may contain `/`.
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from typing import Any, Final

from aiohttp import web

from bot.api.errors import (
    ApiError,
    bool_query,
    check_text_length,
    json_response,
    number_field,
    object_field,
    read_json_body,
    read_json_object,
    string_field,
)
from bot.api.state import LATEST_INPUT_CHANNEL, SERVER_STATE, ServerState
from bot.dialogue.events import Event, UserUttered, events_from_dicts
from bot.dialogue.story_events import conversation_stories
from bot.dialogue.tracker import DialogueStateTracker, EventVerbosity
from bot.errors import ConductorError
from bot.project.stories import dump_stories
from channels.base import CollectingOutputChannel, OutputChannel, new_message_id

__all__ = ["conversation_routes"]

_ID: Final = r"{conversation_id:[\s\S]+}"
"""Any conversation id, `/` and line breaks included (a REST sender id may hold either)."""

Handler = Callable[[web.Request, ServerState, str], Awaitable[web.StreamResponse]]


def _guarded(handler: Handler) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    """The handler behind the access check, given the server state and the conversation id."""

    async def checked(request: web.Request) -> web.StreamResponse:
        state = request.app[SERVER_STATE]
        conversation_id = request.match_info["conversation_id"]
        state.auth.check(request, conversation_id)
        return await handler(request, state, conversation_id)

    return checked


def _verbosity(request: web.Request, default: EventVerbosity = EventVerbosity.AFTER_RESTART) -> EventVerbosity:
    written = request.query.get("include_events")
    if written is None:
        return default
    try:
        return EventVerbosity[written.strip().upper()]
    except KeyError:
        names = ", ".join(v.name for v in EventVerbosity)
        raise ApiError(
            400,
            f"Invalid parameter value for 'include_events'. Should be one of {names}",
            details={"parameter": "include_events", "in": "query"},
        ) from None


def _until(request: web.Request) -> float | None:
    written = request.query.get("until")
    if written is None:
        return None
    try:
        value = float(written)
    except ValueError:
        value = math.nan
    if not math.isfinite(value):
        raise ApiError(
            400,
            f"Invalid parameter value for 'until': {written!r} is not a timestamp (seconds since 1970).",
            details={"parameter": "until", "in": "query"},
        )
    return value


def _events_from_body(body: Any) -> list[Event]:
    items = body if isinstance(body, list) else [body]
    try:
        events = events_from_dicts(items, source="request body")
    except ConductorError as error:
        raise ApiError(
            400,
            "Couldn't extract a proper event from the request body: "
            + "; ".join(problem.message for problem in error.problems),
            details={"parameter": "", "in": "body", "problems": [str(p) for p in error.problems]},
        ) from None
    if not events:
        raise ApiError(
            400, "Couldn't extract a proper event from the request body.", details={"parameter": "", "in": "body"}
        )
    return events


async def _require_conversation(state: ServerState, conversation_id: str) -> None:
    if not await state.runtime.tracker_store.exists(conversation_id):
        raise ApiError(
            404, "Conversation ID not found.", reason="Not found", details={"conversation_id": conversation_id}
        )


async def _output_channel(request: web.Request, state: ServerState, conversation_id: str) -> OutputChannel:
    requested = request.query.get("output_channel")
    if requested is None:
        return CollectingOutputChannel()
    latest = None
    if requested == LATEST_INPUT_CHANNEL:
        latest = (await state.runtime.tracker(conversation_id)).get_latest_input_channel()
    return state.output_channel(requested, latest)


async def _tracker_and_messages(
    state: ServerState, conversation_id: str, channel: OutputChannel, verbosity: EventVerbosity
) -> web.Response:
    tracker = await state.runtime.tracker(conversation_id)
    body: dict[str, Any] = {"tracker": tracker.current_state(verbosity)}
    if isinstance(channel, CollectingOutputChannel):
        body["messages"] = channel.messages
    return json_response(body)


# --- handlers ---------------------------------------------------------------------------------------------


async def get_tracker(request: web.Request, state: ServerState, conversation_id: str) -> web.StreamResponse:
    verbosity = _verbosity(request)
    until = _until(request)
    tracker = await state.runtime.tracker(conversation_id)
    if until is not None:
        tracker = tracker.travel_back_in_time(until)
    return json_response(tracker.current_state(verbosity))


async def get_story(request: web.Request, state: ServerState, conversation_id: str) -> web.StreamResponse:
    """The conversation as Rasa 3.x YAML test stories, sent as text as Rasa sends it: the latest session's
    (`all_sessions=true`: one story per session), of the events up to `until` when given.

    `until` cuts the conversation before it is split into sessions, so the latest session is the one that
    was current then (Rasa cuts its latest session, which leaves no story when that session began later).
    """
    until = _until(request)
    all_sessions = bool_query(request, "all_sessions")
    await _require_conversation(state, conversation_id)
    tracker = await state.runtime.tracker(conversation_id)
    if until is not None:
        tracker = tracker.travel_back_in_time(until)
    stories = conversation_stories(tracker, all_sessions=all_sessions)
    return web.Response(text=dump_stories(stories), content_type="text/plain")


async def append_events(request: web.Request, state: ServerState, conversation_id: str) -> web.StreamResponse:
    verbosity = _verbosity(request)
    events = _events_from_body(
        await read_json_body(request, "You must provide events in the request body in order to append them.")
    )
    tracker = await state.runtime.append_events(conversation_id, events)
    return json_response(tracker.current_state(verbosity))


async def replace_events(request: web.Request, state: ServerState, conversation_id: str) -> web.StreamResponse:
    verbosity = _verbosity(request)
    body = await read_json_body(
        request, "You must provide events in the request body to set the state of the conversation tracker."
    )
    if not isinstance(body, list):
        raise ApiError(400, "The request body must be a list of events.", details={"parameter": "", "in": "body"})
    events = _events_from_body(body) if body else []
    tracker = await state.runtime.replace_events(conversation_id, events)
    return json_response(tracker.current_state(verbosity))


async def add_message(request: web.Request, state: ServerState, conversation_id: str) -> web.StreamResponse:
    """Log a user message without answering it (Rasa's `/messages`).

    Until the runtime offers Rasa's `log_message` (session start, parse, `action_extract_slots`), the message is
    parsed and appended as a `user` event.
    """
    verbosity = _verbosity(request)
    body = await read_json_object(
        request, "No message defined in request body. Add a message to the request body in order to add it to "
        "the tracker."
    )
    text = string_field(body, "text")
    if text is not None:
        check_text_length(text, "text")
    sender = body.get("sender")
    if sender != "user":
        raise ApiError(
            400,
            "Currently, only user messages can be passed to this endpoint. "
            f"Messages of sender '{sender}' cannot be handled.",
            details={"parameter": "sender", "in": "body"},
        )
    given_parse = object_field(body, "parse_data")
    if text is None and given_parse is None:
        raise ApiError(400, "'text' is missing from the request body.", details={"parameter": "text", "in": "body"})
    parse_data = dict(given_parse) if given_parse is not None else await state.runtime.processor.parse(text)
    message_id = new_message_id()
    parse_data.setdefault("text", text)
    parse_data.setdefault("message_id", message_id)
    parse_data.setdefault("metadata", {})
    event = UserUttered(text=text, parse_data=parse_data, message_id=message_id)
    tracker = await state.runtime.append_events(conversation_id, [event])
    return json_response(tracker.current_state(verbosity))


async def trigger_intent(request: web.Request, state: ServerState, conversation_id: str) -> web.StreamResponse:
    verbosity = _verbosity(request)
    body = await read_json_object(request, "Name of the intent not provided in request body.")
    intent = string_field(body, "name", required=True)
    assert intent is not None
    entities = body.get("entities")
    if not (entities is None or isinstance(entities, dict) or _is_entity_list(entities)):
        raise ApiError(
            400,
            "'entities' must be a list of entity objects or an object of entity names to values.",
            details={"parameter": "entities", "in": "body"},
        )
    if intent not in state.runtime.domain.intent_names:
        raise ApiError(
            404,
            f"The intent {intent} does not exist in the domain.",
            details={"parameter": "name", "in": "body"},
        )
    channel = await _output_channel(request, state, conversation_id)
    await state.runtime.trigger_intent(conversation_id, intent, entities, output_channel=channel)
    return await _tracker_and_messages(state, conversation_id, channel, verbosity)


def _is_entity_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, dict) for item in value)


async def predict(request: web.Request, state: ServerState, conversation_id: str) -> web.StreamResponse:
    await _require_conversation(state, conversation_id)
    tracker: DialogueStateTracker = await state.runtime.tracker(conversation_id)
    processor = state.runtime.processor
    prediction = await processor.predict_next(tracker)
    names = processor.domain.action_names_or_texts
    ranked = sorted(zip(names, prediction.probabilities, strict=False), key=lambda pair: (-pair[1], pair[0]))
    scores = [{"action": name, "score": score} for name, score in ranked]
    return json_response(
        {
            "scores": scores,
            "policy": prediction.policy_name,
            "confidence": prediction.confidence,
            "tracker": tracker.current_state(EventVerbosity.AFTER_RESTART),
        }
    )


async def execute(request: web.Request, state: ServerState, conversation_id: str) -> web.StreamResponse:
    verbosity = _verbosity(request)
    body = await read_json_object(request, "Name of the action not provided in request body.")
    action = string_field(body, "name", required=True)
    assert action is not None
    policy = string_field(body, "policy")
    confidence = number_field(body, "confidence")
    await _require_conversation(state, conversation_id)
    runtime = state.runtime
    if action not in runtime.domain.action_names_or_texts and action not in runtime.actions:
        raise ApiError(
            404,
            f"The action {action} does not exist in the domain.",
            details={"parameter": "name", "in": "body"},
        )
    channel = await _output_channel(request, state, conversation_id)
    await runtime.execute_action(conversation_id, action, policy=policy, confidence=confidence, output_channel=channel)
    return await _tracker_and_messages(state, conversation_id, channel, verbosity)


def conversation_routes() -> list[web.RouteDef]:
    base = f"/conversations/{_ID}"
    return [
        web.get(f"{base}/tracker", _guarded(get_tracker)),
        web.get(f"{base}/story", _guarded(get_story)),
        web.post(f"{base}/tracker/events", _guarded(append_events)),
        web.put(f"{base}/tracker/events", _guarded(replace_events)),
        web.post(f"{base}/messages", _guarded(add_message)),
        web.post(f"{base}/trigger_intent", _guarded(trigger_intent)),
        web.post(f"{base}/predict", _guarded(predict)),
        web.post(f"{base}/execute", _guarded(execute)),
    ]
