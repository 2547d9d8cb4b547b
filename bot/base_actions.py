"""The base assistant's own actions (domain/ declares them), provided when nothing else does."""

from __future__ import annotations

import logging

from bot.dialogue.events import ACTION_LISTEN_NAME, ActionExecuted, ConversationPaused, Event
from bot.plugins.sdk import ActionContext, action

__all__ = ["handoff"]

logger = logging.getLogger(__name__)


@action("action_handoff")
async def handoff(ctx: ActionContext) -> list[Event]:
    """Hand the conversation to a person: the bot stops answering it (Rasa's `pause`) until someone resumes it
    with a `resume` event through the HTTP API (`POST /conversations/{id}/tracker/events`).

    The turn ends listening, as every turn does: the processor predicts nothing for a paused conversation, and
    without this `action_listen` the messages after a resume would be judged from an unfinished turn."""
    logger.info("conversation %s handed over to a person; the bot is paused for it", ctx.tracker.sender_id)
    return [ConversationPaused(), ActionExecuted(name=ACTION_LISTEN_NAME)]
