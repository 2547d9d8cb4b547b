"""What a plugin's `actions.py` is written against.

```python
from bot.plugins.sdk import ActionContext, PluginAction, action
from bot.dialogue.events import Event, SlotSet

@action("action_check_conflicts")
async def check_conflicts(ctx: ActionContext) -> list[Event]:
    ctx.dispatcher.utter_message(response="utter_no_conflict", firm_name=ctx.settings.firm_name)
    return [SlotSet(name="conflict_checked", value=True)]

class ValidateIntakeForm(PluginAction):
    name = "validate_intake_form"
    async def run(self, ctx: ActionContext) -> list[Event]:
        return [SlotSet(name=slot, value=value) for slot, value in ctx.slots_to_validate().items()]
```

An action returns a list of events (or None) and speaks through `ctx.dispatcher`, as a rasa-sdk action does:
`utter_message(response="utter_x", placeholder=value)` sends a domain response with `{placeholder}` filled,
`utter_message(text=..., buttons=[...])` a message of its own. Each action runs with a timeout (10 s unless the
action sets its own); one that raises or times out is logged and the user gets `utter_default`, while the
conversation carries on. Raising `bot.dialogue.actions.ActionExecutionRejection` refuses to run, as in Rasa.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from bot.dialogue.events import Event, SlotSet
from bot.dialogue.tracker import DialogueStateTracker
from bot.project.domain import Domain

if TYPE_CHECKING:
    import aiohttp

__all__ = [
    "ActionContext",
    "DecoratedAction",
    "Dispatcher",
    "PluginAction",
    "PluginActionFunction",
    "PluginInfo",
    "action",
    "slots_to_validate",
]


@dataclass(frozen=True)
class PluginInfo:
    """The plugin an action belongs to."""

    name: str
    version: str


@dataclass
class Dispatcher:
    """Collects what an action says; the messages have rasa-sdk's shape and are rendered after the action."""

    messages: list[dict[str, Any]] = field(default_factory=list)

    def utter_message(
        self,
        text: str | None = None,
        response: str | None = None,
        buttons: list[dict[str, Any]] | None = None,
        image: str | None = None,
        json_message: dict[str, Any] | None = None,
        attachment: Any = None,
        elements: list[dict[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        """Send `text`, or the domain response `response` (the keyword arguments fill its `{placeholders}`),
        with optional buttons, image, custom JSON payload, attachment or elements."""
        self.messages.append(
            {
                "text": text,
                "buttons": buttons or [],
                "elements": elements or [],
                "custom": json_message or {},
                "response": response,
                "image": image,
                "attachment": attachment,
                **kwargs,
            }
        )


def slots_to_validate(tracker: DialogueStateTracker) -> dict[str, Any]:
    """The slot values a form asks its `validate_<form>` action to check: the `slot` events at the end of the
    tracker (rasa-sdk's `Tracker.slots_to_validate`)."""
    trailing: list[SlotSet] = []
    for event in reversed(tracker.events):
        if not isinstance(event, SlotSet):
            break
        trailing.append(event)
    return {event.name: event.value for event in reversed(trailing)}


@dataclass(frozen=True)
class ActionContext:
    """What a plugin action may use while it runs."""

    tracker: DialogueStateTracker
    domain: Domain
    dispatcher: Dispatcher
    settings: Any
    """The plugin's settings, validated and typed (a frozen pydantic model: `ctx.settings.firm_name`)."""
    http: aiohttp.ClientSession
    """One session shared by every action, with the action timeout as its total timeout."""
    plugin: PluginInfo

    def slots_to_validate(self) -> dict[str, Any]:
        """For a `validate_<form>` action: the slots the user just filled, slot -> value."""
        return slots_to_validate(self.tracker)


PluginActionFunction = Callable[[ActionContext], Awaitable[list[Event] | None]]


class PluginAction(ABC):
    """An action written as a class: set `name` (and optionally `timeout` in seconds), implement `run`.
    A class named `validate_<form>` validates that form's slots."""

    name: ClassVar[str]
    timeout: ClassVar[float | None] = None

    @abstractmethod
    async def run(self, ctx: ActionContext) -> list[Event] | None:
        """The events this action causes; speak through `ctx.dispatcher`."""


@dataclass(frozen=True)
class DecoratedAction:
    """An async function registered as an action by `@action(name)`; still callable as the function."""

    name: str
    function: PluginActionFunction
    timeout: float | None = None

    async def __call__(self, ctx: ActionContext) -> list[Event] | None:
        return await self.function(ctx)


def action(name: str, *, timeout: float | None = None) -> Callable[[PluginActionFunction], DecoratedAction]:
    """Register an async function `(ctx) -> list[Event] | None` as the action `name`."""
    if not name or not isinstance(name, str):
        raise ValueError("@action needs the action's name, e.g. @action('action_check_conflicts')")

    def register(function: PluginActionFunction) -> DecoratedAction:
        return DecoratedAction(name, function, timeout)

    return register
