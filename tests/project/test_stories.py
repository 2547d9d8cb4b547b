from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from bot.errors import ConductorError, Problem, Severity
from bot.project.stories import (
    ANY_VALUE,
    ActionStep,
    ActiveLoopStep,
    BotStep,
    CheckpointStep,
    OrStep,
    SlotWasSetStep,
    StoryBlock,
    StoryEntity,
    UserStep,
    dump_stories,
    expand_or,
    is_story_file,
    load_stories,
    load_story_file,
    parse_stories,
    resolve_checkpoints,
)
from bot.yamlio import parse_yaml

PROJECTS = "rasa-projects"

# (file under rasa-projects/, is a test file, number of stories (or test stories), number of rules)
REAL_FILES = [
    ("financial-demo/data/rules/rules.yml", False, 0, 16),
    ("financial-demo/data/rules/rules_handoff.yml", False, 0, 4),
    ("financial-demo/data/stories/stories.yml", False, 4, 0),
    ("financial-demo/data/stories/stories_switch_from_pay_credit_card.yml", False, 5, 0),
    ("financial-demo/data/stories/stories_switch_from_search_transactions.yml", False, 5, 0),
    ("financial-demo/data/stories/stories_switch_from_transfer_money.yml", False, 5, 0),
    ("financial-demo/tests/test_stories.yml", True, 48, 0),
    ("rasa-init-3.6.21/data/rules.yml", False, 0, 2),
    ("rasa-init-3.6.21/data/stories.yml", False, 3, 0),
    ("rasa-init-3.6.21/tests/test_stories.yml", True, 7, 0),
    ("rasa-oss-formbot/data/rules.yml", False, 0, 6),
    ("rasa-oss-formbot/data/stories.yml", False, 2, 0),
    ("rasa-oss-formbot/tests/test_stories.yml", True, 3, 0),
    ("rasa-oss-moodbot/data/rules.yml", False, 0, 2),
    ("rasa-oss-moodbot/data/stories.yml", False, 3, 0),
    ("rasa-oss-responseselectorbot/data/rules.yml", False, 0, 3),
    ("rasa-oss-responseselectorbot/data/stories.yml", False, 3, 0),
    ("rasa-oss-rules/data/rules.yml", False, 0, 13),
]


def parse(text: str, *, test: bool = False, warnings: list[Problem] | None = None) -> list[StoryBlock]:
    return parse_stories(parse_yaml(text, "s.yml"), "s.yml", test=test, warnings=warnings)


def by_name(blocks: list[StoryBlock], name: str) -> StoryBlock:
    return next(block for block in blocks if block.name == name)


# --- the real projects ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("relative", "test", "stories", "rules"), REAL_FILES)
def test_every_real_file_loads_with_its_count(
    shared_data: Path, relative: str, test: bool, stories: int, rules: int
) -> None:
    warnings: list[Problem] = []
    blocks = load_story_file(shared_data / PROJECTS / relative, test=test, warnings=warnings)
    kinds = Counter(block.kind for block in blocks)
    assert kinds["test" if test else "story"] == stories
    assert kinds["rule"] == rules
    assert kinds["story" if test else "test"] == 0
    assert warnings == []
    assert all(block.file == str(shared_data / PROJECTS / relative) and block.line for block in blocks)


@pytest.mark.parametrize(("relative", "test"), [(f, t) for f, t, _, _ in REAL_FILES])
def test_every_real_file_round_trips_through_the_writer(shared_data: Path, relative: str, test: bool) -> None:
    blocks = load_story_file(shared_data / PROJECTS / relative, test=test)
    assert parse(dump_stories(blocks), test=test) == blocks


def test_financial_demo_test_story_with_annotated_user_text(shared_data: Path) -> None:
    blocks = load_story_file(shared_data / PROJECTS / "financial-demo/tests/test_stories.yml", test=True)
    assert len(blocks) == 48
    story = by_name(blocks, "Show specific credit card account balance")
    assert story.kind == "test"
    user = story.steps[0]
    assert isinstance(user, UserStep)
    assert user.intent == "check_balance"
    assert user.user_text == "What's my emblem card balance"
    assert [(e.text, e.entity, e.value) for e in user.text_entities] == [
        ("emblem", "credit_card", "emblem"),
        ("card", "account_type", "credit"),
        ("balance", "amount-of-money", "current balance"),
    ]
    assert story.line is not None and user.line == story.line + 2
    assert story.steps[1] == ActionStep("action_show_balance")

    recipient = by_name(blocks, "transfer money happy path w/ recipient")
    assert recipient.steps[1] == SlotWasSetStep({"PERSON": "Latisha"})
    assert ActiveLoopStep(None) in recipient.steps


def test_rule_options_conditions_and_null_loops(shared_data: Path) -> None:
    rules = load_story_file(shared_data / PROJECTS / "rasa-oss-rules/data/rules.yml")
    greet = by_name(rules, "Greet")
    assert greet.conversation_start and greet.wait_for_user_input
    assert not by_name(rules, "FAQ detailed").wait_for_user_input
    unhappy = by_name(rules, "Example of an unhappy path for the 'loop_q_form'")
    assert unhappy.condition == [
        ActiveLoopStep("loop_q_form"), SlotWasSetStep({"requested_slot": "some_slot"})
    ]
    assert by_name(rules, "FAQ simple").condition == [SlotWasSetStep({"detailed_faq": False})]
    submit = by_name(rules, "Submit form")
    assert submit.steps[1] == ActiveLoopStep(None)
    assert submit.steps[2] == SlotWasSetStep({"requested_slot": None})


def test_or_in_a_rule_expands_into_one_rule_per_intent(shared_data: Path) -> None:
    rules = load_story_file(shared_data / PROJECTS / "financial-demo/data/rules/rules.yml")
    rule = by_name(rules, "Activate transaction_search_form when no other form is active")
    or_step = rule.steps[0]
    assert isinstance(or_step, OrStep)
    assert or_step.alternatives == [UserStep("search_transactions"), UserStep("check_earnings")]
    expanded = expand_or(rule)
    assert [block.steps[0] for block in expanded] == or_step.alternatives
    assert all(block.condition == [ActiveLoopStep(None)] and block.kind == "rule" for block in expanded)
    assert all(block.steps[1:] == rule.steps[1:] for block in expanded)


def test_load_stories_reads_a_project_folder_and_passes_over_nlu_files(shared_data: Path) -> None:
    blocks = load_stories([shared_data / PROJECTS / "financial-demo" / "data"])
    kinds = Counter(block.kind for block in blocks)
    assert kinds == {"rule": 20, "story": 19}
    resolved = resolve_checkpoints(blocks)
    assert Counter(block.kind for block in resolved) == {"rule": 21, "story": 34}
    assert not any(isinstance(step, OrStep | CheckpointStep) for block in resolved for step in block.steps)


def test_is_story_file() -> None:
    assert is_story_file({"stories": []})
    assert is_story_file({"version": "3.1", "rules": None})
    assert not is_story_file({"nlu": []})
    assert not is_story_file(["stories"])
    assert not is_story_file(None)


# --- step forms -----------------------------------------------------------------------------------------


def test_entity_forms_as_rasa_reads_them() -> None:
    [story] = parse(
        """
stories:
- story: entities
  steps:
  - intent: inform
    entities:
    - city
    - city: Berlin
    - city: Paris
      role: destination
    - {entity: city, value: Rome, group: g1}
    - entity: country
    - count: 3
"""
    )
    step = story.steps[0]
    assert isinstance(step, UserStep)
    assert step.entities == [
        StoryEntity("city", ANY_VALUE),
        StoryEntity("city", "Berlin"),
        StoryEntity("city", "Paris", role="destination"),
        StoryEntity("city", "Rome", group="g1"),
        StoryEntity("country", ANY_VALUE),
        StoryEntity("count", 3),
    ]
    assert step.user_text is None and step.text_entities == []


def test_slot_forms_and_bot_and_end_to_end_user_steps() -> None:
    [story] = parse(
        """
stories:
- story: forms
  metadata: {author: me}
  steps:
  - user: I live in [Berlin](city)
  - bot: Nice city!
  - slot_was_set:
    - city
    - confirmed: true
    - amount: 1.5
    - tags: [a, b]
    - nothing: null
"""
    )
    user, bot, slots = story.steps
    assert isinstance(user, UserStep) and user.intent is None
    assert user.user_text == "I live in Berlin"
    assert [(e.start, e.end, e.entity) for e in user.text_entities] == [(10, 16, "city")]
    assert bot == BotStep("Nice city!")
    assert slots == SlotWasSetStep(
        {"city": ANY_VALUE, "confirmed": True, "amount": 1.5, "tags": ["a", "b"], "nothing": None}
    )
    assert story.metadata == {"author": "me"}


def test_or_with_slots_gives_one_alternative_per_slot() -> None:
    [story] = parse(
        """
stories:
- story: s
  steps:
  - intent: greet
  - or:
    - slot_was_set:
      - a: 1
      - b
    - intent: affirm
  - action: utter_x
"""
    )
    or_step = story.steps[1]
    assert isinstance(or_step, OrStep)
    assert or_step.alternatives == [
        SlotWasSetStep({"a": 1}), SlotWasSetStep({"b": ANY_VALUE}), UserStep("affirm")
    ]
    assert [block.steps[1] for block in expand_or(story)] == or_step.alternatives


def test_warnings_are_collected_not_raised() -> None:
    warnings: list[Problem] = []
    blocks = parse(
        """
stories:
- story: empty
- story: slash
  steps:
  - intent: /greet
  - user: hello
    intent: greet
    entities:
    - x
""",
        warnings=warnings,
    )
    assert [block.name for block in blocks] == ["slash"]
    assert blocks[0].steps[0] == UserStep("greet")
    assert [(w.line, w.severity) for w in warnings] == [
        (3, Severity.WARNING), (6, Severity.WARNING), (9, Severity.WARNING)
    ]
    assert "no steps" in warnings[0].message
    assert "starts with '/'" in warnings[1].message
    assert "ignored" in warnings[2].message


def test_an_empty_slot_was_set_does_nothing_as_in_rasa() -> None:
    warnings: list[Problem] = []
    [story] = parse("stories:\n- story: s\n  steps:\n  - slot_was_set: []\n  - action: a\n", warnings=warnings)
    assert story.steps == [ActionStep("a")]
    assert [(w.line, w.severity) for w in warnings] == [(4, Severity.WARNING)]


def test_empty_and_keyless_documents() -> None:
    assert parse("") == []
    assert parse("version: '3.1'\nnlu: []\n") == []
    assert parse("stories:\nrules:\n") == []


# --- errors ---------------------------------------------------------------------------------------------

ERRORS = [
    ("stories: a story\n", 1, "must be a list"),
    ("stories:\n- just text\n", 2, "must be a mapping"),
    ("stories:\n- story: s\n  steps:\n  - utter_greet\n", 4, "must be a mapping"),
    ("stories:\n- story: s\n  steps:\n  - acton: utter_greet\n", 4, "unknown key `acton`"),
    ("stories:\n- story: s\n  steps:\n  - intent: greet\n    action: utter_greet\n", 4, "mixes"),
    ("stories:\n- story: ''\n  steps:\n  - action: a\n", 2, "has no name"),
    ("stories:\n- steps:\n  - action: a\n", 2, "has no name"),
    ("stories:\n- story: s\n  steps:\n  - or: []\n", 4, "`or` in 's' needs alternatives"),
    ("stories:\n- story: s\n  steps:\n  - or:\n    - action: a\n", 5, "`or` alternative"),
    ("stories:\n- story: s\n  steps:\n  - slot_was_set: city\n", 4, "`slot_was_set` must be a list"),
    ("stories:\n- story: s\n  steps:\n  - slot_was_set:\n    - 12\n", 5, "`slot_was_set` item"),
    ("stories:\n- story: s\n  steps:\n  - slot_was_set:\n", 4, "`slot_was_set` must be a list"),
    ("rules:\n- rule: r\n  condition:\n  - intent: greet\n  steps:\n  - action: a\n", 4, "condition"),
    ("rules:\n- rule: r\n  condition: active\n  steps:\n  - action: a\n", 3, "condition of rule 'r'"),
    ("stories:\n- story: s\n  condition:\n  - active_loop: f\n  steps:\n  - action: a\n", 3, "`condition`"),
    ("stories:\n- story: s\n  stepz:\n  - action: a\n", 3, "unknown key `stepz`"),
    ("stories:\n- rule: r\n  steps:\n  - action: a\n", 2, "a rule under `stories`"),
    ("rules:\n- rule: r\n  steps:\n  - checkpoint: c\n", 4, "cannot have `checkpoint`"),
    ("rules:\n- rule: r\n  steps:\n  - bot: hi\n", 4, "cannot have `bot`"),
    ("rules:\n- rule: r\n  conversation_start: yes\n  steps:\n  - action: a\n", 3, "true or false"),
    ("stories:\n- story: s\n  steps:\n  - intent: i\n    entities:\n    - a: 1\n      b: 2\n", 6, "entity"),
    ("stories:\n- story: s\n  steps:\n  - intent: ''\n", 4, "needs an intent name"),
    ("stories:\n- story: s\n  steps:\n  - action:\n", 4, "needs an action name"),
    ("stories:\n- story: s\n  steps:\n  - entities: [a]\n", 4, "needs an `intent`"),
    ("stories:\n- story: s\n  steps:\n  - checkpoint: c\n    slot_was_set:\n    - s\n", 6, "item must be"),
    ("stories:\n- story: s\n  steps:\n  - user: see [this](\n    intent: i\n", 4, "missing its closing"),
    ("version: 3.1\nstories: []\n", 1, "`version` must be text"),
    ("- story: s\n", 1, "must be a mapping with `stories:`"),
]


@pytest.mark.parametrize(("text", "line", "message"), ERRORS)
def test_each_error_names_its_line_and_gives_a_hint(text: str, line: int, message: str) -> None:
    with pytest.raises(ConductorError) as caught:
        parse(text)
    first = caught.value.problems[0]
    assert message in first.message
    assert (first.file, first.line) == ("s.yml", line)
    assert first.hint
    assert first.severity is Severity.ERROR


def test_unknown_key_suggests_the_close_one() -> None:
    with pytest.raises(ConductorError) as caught:
        parse("stories:\n- story: s\n  steps:\n  - acton: utter_greet\n")
    assert "Did you mean 'action'?" in (caught.value.problems[0].hint or "")


def test_all_errors_of_a_file_are_reported_together() -> None:
    with pytest.raises(ConductorError) as caught:
        parse("stories:\n- story: a\n  steps:\n  - acton: x\n- story: b\n  steps:\n  - or: []\n  - 5\n")
    assert [p.line for p in caught.value.problems] == [4, 7, 8]


def test_load_stories_reports_every_bad_file(tmp_path: Path) -> None:
    (tmp_path / "a.yml").write_text("stories:\n- story: a\n  steps:\n  - acton: x\n")
    (tmp_path / "b.yml").write_text("rules:\n- rule: b\n  steps:\n  - bot: hi\n")
    (tmp_path / "nlu.yml").write_text("nlu:\n- intent: greet\n  examples: |\n    - hi\n")
    with pytest.raises(ConductorError) as caught:
        load_stories([tmp_path, tmp_path / "missing"])
    assert [(Path(p.file or "").name, p.line) for p in caught.value.problems] == [
        ("a.yml", 4), ("b.yml", 4), ("missing", None)
    ]


# --- checkpoints ----------------------------------------------------------------------------------------

CHECKPOINTS = """
stories:
- story: start
  steps:
  - intent: greet
  - action: utter_greet
  - checkpoint: greeted
- story: happy
  steps:
  - checkpoint: greeted
  - intent: mood_great
  - action: utter_happy
- story: sad
  steps:
  - checkpoint: greeted
  - or:
    - intent: mood_unhappy
    - intent: deny
  - action: utter_cheer_up
"""


def steps_of(block: StoryBlock) -> list[str]:
    names = []
    for step in block.steps:
        if isinstance(step, UserStep):
            names.append(f"*{step.intent}")
        elif isinstance(step, ActionStep):
            names.append(step.name)
        elif isinstance(step, SlotWasSetStep):
            names.append(f"slot {step.slots}")
    return names


def test_stories_ending_in_a_checkpoint_continue_with_every_story_starting_with_it() -> None:
    resolved = resolve_checkpoints(parse(CHECKPOINTS))
    assert [(block.name, steps_of(block)) for block in resolved] == [
        ("start > happy", ["*greet", "utter_greet", "*mood_great", "utter_happy"]),
        ("start > sad", ["*greet", "utter_greet", "*mood_unhappy", "utter_cheer_up"]),
        ("start > sad", ["*greet", "utter_greet", "*deny", "utter_cheer_up"]),
    ]
    assert all(block.line == 3 and block.kind == "story" for block in resolved)


def test_a_checkpoint_in_the_middle_joins_both_ways() -> None:
    blocks = parse(
        """
stories:
- story: first
  steps:
  - intent: a
  - checkpoint: middle
  - action: after_a
- story: second
  steps:
  - intent: b
  - checkpoint: middle
"""
    )
    resolved = resolve_checkpoints(blocks)
    assert [(block.name, steps_of(block)) for block in resolved] == [
        ("first", ["*a", "after_a"]),
        ("second > first", ["*b", "after_a"]),
    ]


def test_start_conditions_filter_on_the_slots_set_so_far() -> None:
    blocks = parse(
        """
stories:
- story: ask
  steps:
  - intent: ask
  - slot_was_set:
    - vip: true
  - checkpoint: asked
- story: vip
  steps:
  - checkpoint: asked
    slot_was_set:
    - vip: true
  - action: utter_vip
- story: normal
  steps:
  - checkpoint: asked
    slot_was_set:
    - vip: false
  - action: utter_normal
"""
    )
    resolved = resolve_checkpoints(blocks)
    assert [block.name for block in resolved] == ["ask > vip"]


def test_one_sided_checkpoints_are_warnings_with_their_line() -> None:
    warnings: list[Problem] = []
    blocks = parse(
        """
stories:
- story: a
  steps:
  - intent: a
  - checkpoint: nowhere
- story: b
  steps:
  - checkpoint: from_nowhere
  - action: b
""",
        warnings=warnings,
    )
    resolved = resolve_checkpoints(blocks, warnings=warnings)
    assert [block.name for block in resolved] == ["a"]
    assert [(w.line, w.severity) for w in warnings] == [(6, Severity.WARNING), (9, Severity.WARNING)]
    assert "'nowhere' ends story 'a'" in warnings[0].message
    assert "'from_nowhere' starts story 'b'" in warnings[1].message


def test_a_cycle_of_checkpoints_ends_instead_of_looping() -> None:
    blocks = parse(
        """
stories:
- story: a
  steps:
  - intent: a
  - checkpoint: loop
- story: b
  steps:
  - checkpoint: loop
  - action: b
  - checkpoint: loop
"""
    )
    resolved = resolve_checkpoints(blocks)
    assert [(block.name, steps_of(block)) for block in resolved] == [("a > b", ["*a", "b"])]


def test_kinds_are_joined_only_with_their_own_kind() -> None:
    stories = parse("stories:\n- story: s\n  steps:\n  - intent: a\n  - checkpoint: c\n")
    tests = parse("stories:\n- story: t\n  steps:\n  - checkpoint: c\n  - action: b\n", test=True)
    warnings: list[Problem] = []
    resolved = resolve_checkpoints(stories + tests, warnings=warnings)
    assert [(block.name, block.kind) for block in resolved] == [("s", "story")]
    assert len(warnings) == 2


def test_expansion_that_explodes_is_a_clear_error() -> None:
    alternatives = "\n".join(f"    - intent: i{n}" for n in range(10))
    text = "stories:\n- story: big\n  steps:\n" + "".join(f"  - or:\n{alternatives}\n" for _ in range(4))
    blocks = parse(text)
    with pytest.raises(ConductorError) as caught:
        resolve_checkpoints(blocks, limit=1000)
    problem = caught.value.problems[0]
    assert "more than 1,000 stories" in problem.message
    assert (problem.file, problem.line) == ("s.yml", 2)
    with pytest.raises(ConductorError):
        expand_or(blocks[0], limit=1000)
    assert len(expand_or(blocks[0], limit=10_000)) == 10_000


# --- writing --------------------------------------------------------------------------------------------

TRICKY = """
version: "3.1"
stories:
- story: "tricky: names, 'quotes' and # signs"
  metadata: {owner: "team a", tags: [x, "y, z"], level: 2}
  steps:
  - checkpoint: begin
    slot_was_set:
    - mode: "yes"
  - intent: faq/ask_name
    entities:
    - city
    - entity: value
      value: "null"
    - place: "1e3"
      role: from
      group: g
    - nested: {a: [1, 2.5, true, null]}
  - user: |-
      Größe [Berlin]{"entity": "city", "value": "BER"} and
        an indented second line: #1
  - bot: "tab\\there"
  - slot_was_set:
    - flag
    - count: 0o17
    - text: "on"
    - empty: ""
  - or:
    - intent: a
    - slot_was_set:
      - b: false
  - active_loop: null
  - action: utter_done
  - checkpoint: end
rules:
- rule: r
  condition:
  - active_loop: f
  - slot_was_set:
    - s: -.inf
  conversation_start: true
  steps:
  - intent: greet
  - action: utter_greet
  wait_for_user_input: false
"""


def test_writer_round_trips_every_step_kind_and_tricky_value() -> None:
    blocks = parse(TRICKY, test=True)
    text = dump_stories(blocks)
    again = parse(text, test=True)
    assert again == blocks
    assert dump_stories(again) == text
    story = blocks[0]
    user = story.steps[2]
    assert isinstance(user, UserStep)
    assert user.user_text == "Größe Berlin and\n  an indented second line: #1"
    assert story.steps[4] == SlotWasSetStep({"flag": ANY_VALUE, "count": 15, "text": "on", "empty": ""})


def test_predicted_comments_mark_wrong_steps_as_rasa_writes_them() -> None:
    text = "stories:\n- story: s\n  steps:\n  - intent: greet\n    user: hi\n  - action: utter_greet\n"
    blocks = parse(text, test=True)
    text = dump_stories(blocks, {(0, 1): "action_default_fallback", (0, 0): "mood_great: hi"})
    assert text.splitlines() == [
        'version: "3.1"',
        "stories:",
        "- story: s",
        "  steps:",
        "  - intent: greet  # predicted: mood_great: hi",
        "    user: |-",
        "      hi",
        "  - action: utter_greet  # predicted: action_default_fallback",
    ]
    assert parse(text, test=True) == blocks


def test_a_story_without_steps_is_written_as_an_empty_list() -> None:
    """`steps:` with nothing after it is null in YAML (a story with no steps, e.g. an exported session that only
    started); the writer writes `steps: []`, as Rasa does, and the reader skips it with its usual warning."""
    text = dump_stories([StoryBlock("nothing yet", "test", [])])
    assert "- story: nothing yet\n  steps: []\n" in text
    assert parse_yaml(text, "s.yml")["stories"][0]["steps"] == []
    warnings: list[Problem] = []
    assert parse(text, test=True, warnings=warnings) == []
    assert ["has no steps and is skipped" in problem.message for problem in warnings] == [True]
