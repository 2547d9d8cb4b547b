"""`bot plugins new NAME`: a working plugin folder to start from.

It has one intent with examples, a response, an action (which reads a setting), a rule tying them together
and a test story that passes once the plugin is enabled and the bot trained. Files are written to a hidden
temporary folder first and moved into place, so a failure leaves nothing half-written.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Final

from bot import __version__
from bot.errors import ConductorError
from bot.plugins.discovery import INSTANCE_PLUGINS_DIR
from bot.plugins.manifest import MANIFEST_FILE, PLUGIN_NAME

__all__ = ["create_plugin", "plugin_files"]

_RESERVED: Final = frozenset({"test", "tests", "plugins", "bot", "channels", "domain"})


def _conductor_range() -> str:
    major, minor = (int(part) for part in __version__.split(".")[:2])
    upper = f"{major + 1}.0" if major > 0 else "1.0"
    return f">={major}.{minor},<{upper}"


def plugin_files(name: str, description: str | None = None) -> dict[str, str]:
    """The new plugin's files: relative path -> text."""
    words = name.replace("_", " ")
    title = words.capitalize()
    intent = f"ask_{name}"
    response = f"utter_{name}_intro"
    action = f"action_{name}_hello"
    about = description or f"{title}: a new skill (describe what it does here)."
    return {
        "__init__.py": f'"""The {words} plugin."""\n',
        MANIFEST_FILE: f"""\
name: {name}
version: 0.1.0
description: {json.dumps(about)}
conductor: "{_conductor_range()}"
settings:
  team_name:
    type: str
    default: "the {words} team"
    description: Who the plugin's replies are signed by.
""",
        "domain.yml": f"""\
version: "3.1"

intents:
  - {intent}

responses:
  {response}:
    - text: "This is the {words} skill."

actions:
  - {action}
""",
        "data/nlu.yml": f"""\
version: "3.1"

nlu:
- intent: {intent}
  examples: |
    - {words}
    - tell me about {words}
    - what is {words}
    - I want to use {words}
    - start {words}
    - {words} please
    - can you do {words}
    - open {words}
    - I need {words}
    - let's do {words}
""",
        "data/rules.yml": f"""\
version: "3.1"

rules:
- rule: Introduce the {words} skill
  steps:
  - intent: {intent}
  - action: {response}
  - action: {action}
""",
        "tests/test_stories.yml": f"""\
version: "3.1"

stories:
- story: ask for the {words} skill
  steps:
  - user: |
      could you tell me about {words}?
    intent: {intent}
  - action: {response}
  - action: {action}
""",
        "actions.py": f'''\
"""The {words} plugin's actions."""

from __future__ import annotations

from bot.dialogue.events import Event
from bot.plugins.sdk import ActionContext, action


@action("{action}")
async def say_hello(ctx: ActionContext) -> list[Event]:
    ctx.dispatcher.utter_message(text=f"Hello from {{ctx.settings.team_name}}!")
    return []
''',
    }


def create_plugin(name: str, folder: Path | str = INSTANCE_PLUGINS_DIR, *, description: str | None = None) -> Path:
    """Write a new plugin `name` into `folder/name` (the instance's plugins/ folder by default).

    Raises `ConductorError` for a name that is not lower_snake_case or a folder that already exists.
    """
    if not PLUGIN_NAME.fullmatch(name) or name in _RESERVED:
        raise ConductorError.single(
            f"'{name}' cannot be a plugin name",
            hint="Use lower_snake_case (letters, digits, underscores; starting with a letter) that is not one of "
            f"{', '.join(sorted(_RESERVED))}, e.g. `bot plugins new pet_store`.",
        )
    target = Path(folder) / name
    if target.exists():
        raise ConductorError.single(
            "this folder already exists; `bot plugins new` does not overwrite it",
            target,
            hint="Choose another name, or remove the folder.",
        )
    staging = target.parent / f".{name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        for relative, text in plugin_files(name, description).items():
            path = staging / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        staging.rename(target)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target
