"""Plugins, instances and conversations written by the plugin tests into temporary folders."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from bot.dialogue.events import ActionExecuted, BotUttered, Event, SlotSet
from bot.dialogue.model import DialogueModel, train_policies
from bot.dialogue.processor import MessageProcessor
from bot.dialogue.tracker import DialogueStateTracker
from bot.project.loader import Project
from channels.base import UserMessage

LIGHT_CONFIG = """\
recipe: default.v1
language: en
pipeline:
  - name: WhitespaceTokenizer
  - name: CountVectorsFeaturizer
  - name: LogisticRegressionClassifier
policies:
  - name: MemoizationPolicy
  - name: RulePolicy
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def write_plugin(
    folder: Path,
    name: str,
    *,
    domain: str,
    nlu: str = "",
    rules: str = "",
    tests: str = "",
    actions: str | None = None,
    settings: str = "",
    description: str = "A skill for tests.",
    summary: str = "",
    conductor: str = ">=0.0",
) -> Path:
    """A plugin folder `folder/name`: manifest, domain, data and tests (as dedented YAML texts)."""
    plugin = folder / name
    manifest = f'name: {name}\nversion: 0.1.0\ndescription: "{description}"\nconductor: "{conductor}"\n'
    if summary:
        manifest += f"summary: {summary}\n"
    if settings:
        manifest += "settings:\n" + textwrap.indent(textwrap.dedent(settings), "  ")
    write(plugin / "plugin.yml", manifest)
    write(plugin / "__init__.py", f'"""The {name} test plugin."""\n')
    write(plugin / "domain.yml", 'version: "3.1"\n' + textwrap.dedent(domain))
    write(plugin / "data" / "nlu.yml", 'version: "3.1"\n' + (textwrap.dedent(nlu) or "nlu: []\n"))
    write(plugin / "data" / "rules.yml", 'version: "3.1"\n' + (textwrap.dedent(rules) or "rules: []\n"))
    if tests:
        write(plugin / "tests" / "test_stories.yml", 'version: "3.1"\n' + textwrap.dedent(tests))
    if actions is not None:
        write(plugin / "actions.py", actions)
    return plugin


def write_instance(
    root: Path,
    conductor: str,
    *,
    domain: str = "intents: []\n",
    nlu: str = "nlu: []\n",
    config: str | None = LIGHT_CONFIG,
) -> Path:
    """An instance project: conductor.yml, its own domain.yml and data/, and a light config.yml."""
    write(root / "conductor.yml", conductor)
    write(root / "domain.yml", 'version: "3.1"\n' + textwrap.dedent(domain))
    write(root / "data" / "nlu.yml", 'version: "3.1"\n' + textwrap.dedent(nlu))
    if config is not None:
        write(root / "config.yml", config)
    return root


def policies_for(project: Project) -> DialogueModel:
    """The Memoization and Rule policies trained on the project's rules and stories."""
    return train_policies(
        domain=project.domain,
        stories=project.stories,
        rules=project.rules,
        policies=[("MemoizationPolicy", {}), ("RulePolicy", {})],
    )


def processor_for(project: Project, registry: Any) -> MessageProcessor:
    """A processor over the project's rules and stories (Memoization + Rule policies), messages as payloads."""
    return MessageProcessor(project.domain, None, policies_for(project), registry)


def say(text: str, sender: str = "tester") -> UserMessage:
    return UserMessage(text=text, sender_id=sender, input_channel="rest")


def new_tracker(project: Project, sender: str = "tester") -> DialogueStateTracker:
    return DialogueStateTracker.for_domain(sender, project.domain)


def texts(events: list[Event]) -> list[str | None]:
    return [event.text for event in events if isinstance(event, BotUttered)]


def actions_run(events: list[Event]) -> list[str | None]:
    return [event.name for event in events if isinstance(event, ActionExecuted)]


def slots_set(events: list[Event]) -> dict[str, Any]:
    return {event.name: event.value for event in events if isinstance(event, SlotSet)}
