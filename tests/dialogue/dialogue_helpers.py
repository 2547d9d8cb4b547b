"""Small domains, stories and trackers written inline, for the dialogue engine's tests."""

from __future__ import annotations

import textwrap
from typing import Any

from bot.dialogue.events import ACTION_LISTEN_NAME, ActionExecuted, Event, UserUttered
from bot.dialogue.model import DialogueModel, train_policies
from bot.dialogue.tracker import DialogueStateTracker
from bot.project.domain import Domain
from bot.project.stories import StoryBlock, parse_stories
from bot.yamlio import parse_yaml


def domain_from(text: str) -> Domain:
    return Domain.from_dict(parse_yaml(textwrap.dedent(text), "domain.yml"), "domain.yml")


def blocks_from(text: str, source: str = "data/stories.yml", *, test: bool = False) -> list[StoryBlock]:
    return parse_stories(parse_yaml(textwrap.dedent(text), source), source, test=test)


def model_from(
    domain_text: str, data_text: str, policies: list[tuple[str, dict[str, Any]]] | None = None
) -> DialogueModel:
    domain = domain_from(domain_text)
    blocks = blocks_from(data_text)
    return train_policies(
        domain=domain,
        stories=[b for b in blocks if b.kind == "story"],
        rules=[b for b in blocks if b.kind == "rule"],
        policies=policies
        if policies is not None
        else [("MemoizationPolicy", {}), ("RulePolicy", {}), ("TEDPolicy", {"max_history": 5})],
    )


def user(intent: str, entities: list[dict[str, Any]] | None = None, text: str | None = None) -> UserUttered:
    parse_data = {"intent": {"name": intent, "confidence": 1.0}, "entities": entities or [], "text": text}
    return UserUttered(text=text, parse_data=parse_data)


def action(name: str) -> ActionExecuted:
    return ActionExecuted(name=name)


def listen() -> ActionExecuted:
    return ActionExecuted(name=ACTION_LISTEN_NAME)


def conversation(domain: Domain, *events: Event) -> DialogueStateTracker:
    return DialogueStateTracker.for_domain("tester", domain, [listen(), *events])
