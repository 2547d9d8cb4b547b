"""rasa-sdk actions, unchanged: in-process, and on an action server over Rasa's webhook protocol.

In-process (when the `rasa-sdk` extra is installed): the concrete `rasa_sdk.Action` subclasses of a module
(`Action`, `FormValidationAction`, `ValidationAction`) run inside Conductor. Each call gets what an action
server would give it: a `rasa_sdk.Tracker` made from the tracker's JSON (`current_state` with every event),
a `CollectingDispatcher`, and the domain as Rasa's dict. A plain (not async) `run` runs in a worker thread,
so its blocking calls do not hold up other conversations.

Remote (`action_endpoint` in endpoints.yml), as Rasa 3.6 calls an action server:

    POST <url>  {"next_action", "sender_id", "tracker", "domain" (when the action gets it), "version"}
    200 {"events": [...], "responses": [...]}   the events and the messages to send
    400 {"action_name", "error"}                the action refused to run: ActionExecutionRejection
    404                                         the server has no such action
    449                                         the server wants the domain: sent again with it

The domain goes with actions declared with `send_domain: true` and with `validate_*` actions (Rasa's rule),
and, once the server has asked for it (449, as rasa-sdk 3.7+ servers do), with every call. `token` is sent
as the `token` query parameter (`token_name` renames it); `headers` and `basic_auth: {username, password}`
are sent too; `timeout` (seconds) bounds each call.
A server that is down, slow or answers an error is logged and answered with the fallback (see
`bot.plugins.actions.GuardedAction`).
"""

from __future__ import annotations

import asyncio
import base64
import importlib.util
import inspect
import logging
from collections.abc import Mapping, Sequence
from types import ModuleType
from typing import Any, Final

from bot.config import ActionEndpoint
from bot.dialogue.actions import ActionContext, ActionExecutionRejection
from bot.dialogue.events import Event, events_from_dicts
from bot.dialogue.tracker import DialogueStateTracker, EventVerbosity
from bot.errors import ConductorError
from bot.plugins.actions import (
    DEFAULT_ACTION_TIMEOUT,
    ActionFailed,
    GuardedAction,
    SharedHttp,
    bot_events_from_messages,
)
from bot.project.domain import Domain

__all__ = [
    "RASA_VERSION",
    "ActionServerClient",
    "RasaSdkAction",
    "RemoteAction",
    "rasa_sdk_actions_in",
    "rasa_sdk_installed",
    "remote_actions",
]

logger = logging.getLogger(__name__)

RASA_VERSION: Final = "3.6.21"
"""The Rasa version Conductor speaks for (sent as `version`; rasa-sdk compares it with its own)."""
_MISSING_DOMAIN_STATUS: Final = 449


def rasa_sdk_installed() -> bool:
    return importlib.util.find_spec("rasa_sdk") is not None


class _DomainJson:
    """`Domain.as_dict()` of the latest domain, computed once per domain."""

    def __init__(self) -> None:
        self._domain: Domain | None = None
        self._json: dict[str, Any] = {}

    def of(self, domain: Domain) -> dict[str, Any]:
        if domain is not self._domain:
            self._domain, self._json = domain, domain.as_dict()
        return self._json


def _event_dicts(items: object, source: str) -> list[Event]:
    """Events in Rasa's JSON shape, as rasa-sdk's executor takes them: items without an `event` are dropped
    (logged); a malformed event is an error."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise ActionFailed(f"{source} returned {items!r} as its events; expected a list of events")
    kept = []
    for item in items:
        if isinstance(item, Mapping) and item.get("event"):
            kept.append(item)
        else:
            logger.error("%s returned %r, which is not an event; it is ignored", source, item)
    try:
        return events_from_dicts(kept, source)
    except ConductorError as error:
        raise ActionFailed(str(error)) from None


def _messages(items: object, source: str) -> list[dict[str, Any]]:
    if items is None:
        return []
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        raise ActionFailed(f"{source} returned {items!r} as its responses; expected a list of messages")
    return [dict(item) for item in items]


# --- in-process --------------------------------------------------------------------------------------------


def rasa_sdk_actions_in(module: ModuleType) -> list[Any]:
    """One instance of each concrete `rasa_sdk.Action` subclass defined in `module` (or its submodules),
    with a name; none when rasa-sdk is not installed."""
    if not rasa_sdk_installed():
        return []
    from rasa_sdk import Action as SdkAction

    found = []
    for attribute, value in vars(module).items():
        defined = getattr(value, "__module__", "") or ""
        if not (
            isinstance(value, type)
            and issubclass(value, SdkAction)
            and (defined == module.__name__ or defined.startswith(module.__name__ + "."))
            and not inspect.isabstract(value)
        ):
            continue
        instance = value()
        try:
            name = instance.name()
        except NotImplementedError:
            logger.debug("%s.%s has no name(); it is not registered", module.__name__, attribute)
            continue
        if not isinstance(name, str) or not name:
            raise ConductorError.single(
                f"the rasa-sdk action {module.__name__}.{attribute} returns {name!r} from name()",
                getattr(module, "__file__", None),
                hint="name() must return the action's name, e.g. 'action_check_order'.",
            )
        found.append(instance)
    return found


class RasaSdkAction(GuardedAction):
    """A `rasa_sdk.Action` subclass run in-process."""

    def __init__(self, sdk_action: Any, provider: str, timeout: float = DEFAULT_ACTION_TIMEOUT) -> None:
        super().__init__(str(sdk_action.name()), provider, timeout)
        self.sdk_action = sdk_action
        self._domain_json = _DomainJson()

    async def execute(
        self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext
    ) -> list[Event]:
        from rasa_sdk import Tracker
        from rasa_sdk.executor import CollectingDispatcher
        from rasa_sdk.interfaces import ActionExecutionRejection as SdkRejection

        sdk_tracker = Tracker.from_dict(tracker.current_state(EventVerbosity.ALL))
        dispatcher = CollectingDispatcher()
        run = self.sdk_action.run
        arguments = (dispatcher, sdk_tracker, self._domain_json.of(domain))
        try:
            if inspect.iscoroutinefunction(run):
                events = await run(*arguments)
            else:  # a plain `def run` may block (requests, a database): keep it off the event loop
                events = await asyncio.to_thread(run, *arguments)
        except SdkRejection as rejection:
            raise ActionExecutionRejection(rejection.action_name, rejection.message) from None
        source = f"the rasa-sdk action '{self.name}'"
        parsed = _event_dicts(list(events) if isinstance(events, tuple) else events, source)
        return [*await bot_events_from_messages(dispatcher.messages, tracker, context), *parsed]


# --- remote ------------------------------------------------------------------------------------------------


class ActionServerClient:
    """Calls one action server (the `action_endpoint` of endpoints.yml)."""

    def __init__(self, endpoint: ActionEndpoint, http: SharedHttp) -> None:
        self.url = endpoint.url
        self.http = http
        extra = endpoint.extra
        self.params: dict[str, str] = {}
        if endpoint.token is not None:
            self.params[str(extra.get("token_name") or "token")] = endpoint.token.get_secret_value()
        headers = extra.get("headers") or {}
        self.headers = {str(k): str(v) for k, v in headers.items()} if isinstance(headers, Mapping) else {}
        auth = extra.get("basic_auth")
        if isinstance(auth, Mapping):
            credentials = f"{auth.get('username', '')}:{auth.get('password', '')}".encode()
            self.headers["Authorization"] = "Basic " + base64.b64encode(credentials).decode("ascii")
        timeout = extra.get("timeout")
        self.timeout = float(timeout) if isinstance(timeout, int | float) and timeout > 0 else DEFAULT_ACTION_TIMEOUT
        self._domain_json = _DomainJson()
        self._server_wants_domain = False
        """Set once the server answered 449: newer rasa-sdk servers want the domain with every call."""

    def __repr__(self) -> str:
        return f"ActionServerClient({self.url!r})"

    async def run(
        self, name: str, tracker: DialogueStateTracker, domain: Domain
    ) -> tuple[list[Event], list[dict[str, Any]]]:
        """The events and messages of the action `name`; `ActionExecutionRejection` when it refuses to run,
        `ActionFailed` when the server cannot run it."""
        payload: dict[str, Any] = {
            "next_action": name,
            "sender_id": tracker.sender_id,
            "tracker": tracker.current_state(EventVerbosity.ALL),
            "version": RASA_VERSION,
        }
        if self._server_wants_domain or domain.sends_domain(name):
            payload["domain"] = self._domain_json.of(domain)
        status, body = await self._post(payload)
        if status == _MISSING_DOMAIN_STATUS and "domain" not in payload:
            self._server_wants_domain = True
            payload["domain"] = self._domain_json.of(domain)
            status, body = await self._post(payload)
        error = body.get("error") if isinstance(body, Mapping) else None
        if status == 400:
            action = body.get("action_name") if isinstance(body, Mapping) else None
            raise ActionExecutionRejection(str(action or name), str(error) if error else None)
        if status == 404:
            raise ActionFailed(f"the action server at {self.url} has no action '{name}' ({error or 'not found'})")
        if status != 200:
            raise ActionFailed(f"the action server at {self.url} answered {status}: {error or body!r}")
        if body is None:
            return [], []
        if not isinstance(body, Mapping):
            raise ActionFailed(f"the action server at {self.url} answered {body!r}, not a JSON object")
        source = f"the action server's '{name}'"
        return _event_dicts(body.get("events"), source), _messages(body.get("responses"), source)

    async def _post(self, payload: dict[str, Any]) -> tuple[int, Any]:
        import aiohttp  # here, not at the top: `bot train` imports this module and never calls a server

        session = await self.http.session()
        try:
            async with session.post(
                self.url,
                json=payload,
                params=self.params,
                headers=self.headers,
                timeout=aiohttp.ClientTimeout(total=self.timeout),
            ) as response:
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = {"error": (await response.text())[:200]}
                return response.status, body
        except aiohttp.ClientError as exc:
            raise ActionFailed(f"the action server at {self.url} cannot be reached ({exc})") from None


class RemoteAction(GuardedAction):
    """An action the action server runs."""

    def __init__(self, name: str, client: ActionServerClient) -> None:
        super().__init__(name, f"the action server at {client.url}", client.timeout)
        self.client = client

    async def execute(
        self, tracker: DialogueStateTracker, domain: Domain, context: ActionContext
    ) -> list[Event]:
        events, messages = await self.client.run(self.name, tracker, domain)
        return [*await bot_events_from_messages(messages, tracker, context), *events]


def remote_actions(
    names: Sequence[str], endpoint: ActionEndpoint, http: SharedHttp
) -> list[RemoteAction]:
    """One `RemoteAction` per name, sharing one client."""
    client = ActionServerClient(endpoint, http)
    return [RemoteAction(name, client) for name in names]
