"""`bot run` with one slow custom action, `action_slow`, for the subprocess test of graceful shutdown.

    python slow_action_server.py <model> <endpoints.yml> <credentials.yml> <port>
"""

from __future__ import annotations

import asyncio
import logging
import sys

from bot.dialogue.actions import ActionContext, ActionRegistry
from bot.dialogue.events import BotUttered, Event
from bot.dialogue.tracker import DialogueStateTracker
from bot.errors import ConductorError
from bot.project.domain import Domain
from bot.server import run


async def slow(tracker: DialogueStateTracker, domain: Domain, context: ActionContext) -> list[Event]:
    await asyncio.sleep(1.0)
    return [BotUttered(text="done slowly")]


def main() -> int:
    logging.basicConfig(level=logging.INFO)
    model, endpoints, credentials, port = sys.argv[1:5]
    actions = ActionRegistry()
    actions.register_function("action_slow", slow)
    try:
        run(model, endpoints, credentials, int(port), "127.0.0.1", enable_api=True, actions=actions)
    except ConductorError as error:
        print(error, file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
