"""`bot init --instance PATH`: a folder for one client's bot, built on the base assistant and plugins.

The folder holds the client's conductor.yml (enabled plugins with every required setting, a persona),
channels (credentials.yml), stores (endpoints.yml), an empty project domain and data for the client's own
additions, a test story and a README. Several instances live side by side, each with its own files, store
and port. Files are written only when none of them exists yet (or with `force`).
"""

from __future__ import annotations

import json
import re
import textwrap
from collections.abc import Iterable
from pathlib import Path
from typing import Final

from bot.errors import ConductorError, Problem
from bot.plugins.discovery import INSTANCE_PLUGINS_DIR, PluginCatalog, discover_plugins
from bot.plugins.instance import INSTANCE_FILE, PERSONA_TONES
from bot.plugins.manifest import Manifest, SettingSpec, load_manifest

__all__ = ["DEFAULT_INSTANCE_PLUGINS", "create_instance", "instance_files"]

DEFAULT_INSTANCE_PLUGINS: Final = ("legal", "tech_support")
_PLACEHOLDER_TYPES: Final = frozenset({"url", "path"})


def _display_name(folder: Path, name: str | None) -> str:
    if name:
        return name
    words = re.sub(r"[-_]+", " ", folder.resolve().name).strip()
    return words.title() or "Our Company"


def _env_var(plugin: str, setting: str) -> str:
    return f"{plugin}_{setting}".upper()


def _example_value(spec: SettingSpec, client: str) -> str:
    """A value for a required setting without a default, for the client to change."""
    if spec.type == "list[str]":
        return json.dumps([spec.choices[0] if spec.choices else f"{client} product"])
    if spec.type == "int":
        return "0"
    if spec.type == "float":
        return "0.0"
    if spec.type == "bool":
        return "false"
    if spec.type == "path":
        return "."
    return json.dumps(spec.choices[0] if spec.choices else client)


def _comment(text: str | None) -> list[str]:
    return [f"    # {line}" for line in textwrap.wrap(" ".join((text or "").split()), 104)]


def _plugin_block(manifest: Manifest, client: str) -> list[str]:
    """The plugin's settings: required ones set (URLs as `${VAR}`), the others commented out with their
    default, optional URLs and paths as `${VAR}` placeholders to uncomment."""
    lines = [f"  {manifest.name}:"]
    for spec in manifest.settings.values():
        lines.extend(_comment(spec.description))
        if spec.type in _PLACEHOLDER_TYPES and spec.default is None:
            variable = _env_var(manifest.name, spec.name)
            prefix = "    " if spec.required else "    # "
            lines.append(f"{prefix}{spec.name}: ${{{variable}}}   # set {variable} in the environment")
        elif spec.required and spec.default is None:
            lines.append(f"    {spec.name}: {_example_value(spec, client)}   # required: change it")
        else:
            lines.append(f"    # {spec.name}: {json.dumps(spec.default)}   # the default")
    if len(lines) == 1:
        lines[0] += " {}"
    return lines


def _conductor_yml(manifests: Iterable[Manifest], client: str) -> str:
    plugin_lines = [line for manifest in manifests for line in _plugin_block(manifest, client)]
    plugins = "\n".join(["plugins:", *plugin_lines]) if plugin_lines else "plugins: {}"
    return f"""\
# {client}'s assistant: Conductor's base assistant (greetings, help, fallback, a person on request) plus the
# plugins below. `${{VAR}}` values are read from the environment when the bot starts; never write secrets here.

{plugins}

# The client's voice. Responses are chosen in this order, the last one winning:
#   base assistant < plugins < persona < this folder's domain.yml
persona:
  name: {json.dumps(f"{client} Assistant")}   # says who the bot is when asked "are you a bot?"
  greeting: {json.dumps(f"Hi, welcome to {client}! How can I help you today?")}   # the text of utter_greet
  tone: friendly   # one of: {" | ".join(PERSONA_TONES)} (friendly keeps the base assistant's wording)
  responses:   # any response by name, with its variations as in a Rasa domain
    utter_goodbye:
      - text: {json.dumps(f"Thanks for contacting {client}. Goodbye!")}
"""


_CREDENTIALS: Final = """\
# The channels this instance listens on. Secrets never go in this file: write ${VARIABLE} and set the
# variable in the environment.

# Plain HTTP: POST {"sender": "<conversation id>", "message": "<text>"} to /webhooks/rest/webhook.
rest:

# The web chat at / streams replies over this WebSocket.
websocket:

# The web chat widget, over Socket.IO.
socketio:
  user_message_evt: user_uttered
  bot_message_evt: bot_uttered
  session_persistence: true

# Slack: create an app for this client, then set these variables.
#slack:
#  slack_token: ${SLACK_TOKEN}
#  slack_signing_secret: ${SLACK_SIGNING_SECRET}

# Telegram: talk to @BotFather for a token.
#telegram:
#  access_token: ${TELEGRAM_TOKEN}
#  verify: ${TELEGRAM_BOT_NAME}
#  webhook_url: https://bot.example.com/webhooks/telegram/webhook
"""

_ENDPOINTS: Final = """\
# The services this instance uses. ${VARIABLE} values are read from the environment at start-up.

# Conversations are kept in a SQLite file in this folder. Each instance needs its own store: two instances
# must not share conductor.db (or the same PostgreSQL database).
tracker_store:
  type: sql
  dialect: sqlite
  db: conductor.db

# PostgreSQL, for production:
#tracker_store:
#  type: sql
#  dialect: postgresql
#  url: ${DB_HOST}
#  port: 5432
#  db: conductor_acme
#  username: ${DB_USER}
#  password: ${DB_PASSWORD}

# Several servers of one instance must share a Redis lock store:
#lock_store:
#  type: redis
#  url: ${REDIS_HOST}
#  port: 6379
#  password: ${REDIS_PASSWORD}
"""

_DOMAIN: Final = """\
version: "3.1"

# This client's own additions to the base assistant and the enabled plugins: intents, slots, responses, ...
# A response defined here replaces the one of the same name (base assistant, plugin or persona).
"""

_NLU: Final = 'version: "3.1"\n\n# This client\'s own training examples.\nnlu: []\n'
_RULES: Final = 'version: "3.1"\n\n# This client\'s own rules.\nrules: []\n'
_STORIES: Final = 'version: "3.1"\n\n# This client\'s own stories.\nstories: []\n'

_TEST_STORIES: Final = """\
version: "3.1"

# Conversations this instance must get right; `bot test` runs them with the base assistant's and plugins' own.
stories:
- story: the client's greeting
  steps:
  - user: |
      hello, is anyone there?
    intent: greet
  - action: utter_greet
"""


def _readme(client: str, folder: str, plugins: Iterable[str]) -> str:
    enabled = ", ".join(plugins) or "none"
    return f"""\
# {client}'s assistant

A Conductor instance: the base assistant plus the plugins enabled in `conductor.yml` ({enabled}).

| File | What it is |
| --- | --- |
| `conductor.yml` | enabled plugins and their settings; the persona (name, greeting, tone, response overrides) |
| `domain.yml`, `data/` | this client's own intents, responses, rules and stories (empty to start) |
| `tests/` | test stories for this client |
| `credentials.yml` | channels (REST, WebSocket and Socket.IO on; Slack and Telegram to uncomment) |
| `endpoints.yml` | the tracker store (`conductor.db` here) and lock store |

## Train, test, run

Run these from this folder (`cd {folder}`); set the `${{VAR}}` variables of conductor.yml and
credentials.yml in the environment first.

```sh
bot data validate          # check the merged project (base assistant + plugins + this folder)
bot train                  # writes models/
bot test                   # this folder's test stories and every enabled plugin's
bot run --port 5005        # serve the REST, WebSocket and Socket.IO channels
```

## Several instances side by side

Each instance is its own folder with its own `models/`, its own tracker store and its own port: give each
`bot run` a different `--port` (5005, 5006, ...), keep a separate `conductor.db` (or PostgreSQL database) per
instance in `endpoints.yml`, and give each its own Slack app or Telegram token.

Responses are chosen in this order, the last one winning: base assistant < plugins < persona (conductor.yml)
< `domain.yml` here.
"""


def instance_files(
    folder: Path, manifests: Iterable[Manifest], *, name: str | None = None
) -> dict[str, str]:
    """The new instance's files: relative path -> text."""
    chosen = list(manifests)
    client = _display_name(folder, name)
    return {
        INSTANCE_FILE: _conductor_yml(chosen, client),
        "credentials.yml": _CREDENTIALS,
        "endpoints.yml": _ENDPOINTS,
        "domain.yml": _DOMAIN,
        "data/nlu.yml": _NLU,
        "data/rules.yml": _RULES,
        "data/stories.yml": _STORIES,
        "tests/test_stories.yml": _TEST_STORIES,
        "README.md": _readme(client, str(folder), (m.name for m in chosen)),
    }


def _manifests(folder: Path, plugins: Iterable[str], catalog: PluginCatalog | None) -> list[Manifest]:
    found = catalog if catalog is not None else discover_plugins(folder / INSTANCE_PLUGINS_DIR)
    manifests: list[Manifest] = []
    problems: list[Problem] = []
    for plugin in dict.fromkeys(plugins):
        try:
            manifests.append(load_manifest(found.get(plugin).manifest_path))
        except KeyError:
            available = ", ".join(sorted(found.plugins)) or "none"
            problems.append(
                Problem(
                    f"there is no plugin '{plugin}'",
                    hint=f"Available plugins: {available} (`bot plugins list`).",
                )
            )
        except ConductorError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConductorError(problems)
    return manifests


def create_instance(
    path: Path | str,
    *,
    name: str | None = None,
    plugins: Iterable[str] = DEFAULT_INSTANCE_PLUGINS,
    force: bool = False,
    catalog: PluginCatalog | None = None,
) -> Path:
    """Write a new instance into `path` (created if missing) and return the folder.

    `name` is the client's name as the bot says it (default: the folder's name, title-cased); `plugins` the
    plugins to enable. Raises `ConductorError` for an unknown plugin, or, without `force`, listing every file
    that already exists (nothing is written then).
    """
    folder = Path(path)
    files = instance_files(folder, _manifests(folder, plugins, catalog), name=name)
    existing = [folder / relative for relative in files if (folder / relative).exists()]
    if existing and not force:
        raise ConductorError(
            [
                Problem(
                    "this file already exists; `bot init --instance` does not overwrite it",
                    str(target),
                    hint="Choose a new folder (`bot init --instance clients/<name>`) or pass --force.",
                )
                for target in existing
            ]
        )
    for relative, text in files.items():
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
    return folder
