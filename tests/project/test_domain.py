from __future__ import annotations

import json
from pathlib import Path
from textwrap import dedent

import pytest

from bot.errors import ConductorError, Problem, Severity
from bot.project.domain import (
    DEFAULT_ACTIONS,
    DEFAULT_INTENTS,
    REQUESTED_SLOT,
    SESSION_STARTED_METADATA_SLOT,
    Domain,
    Form,
    Intent,
    MappingCondition,
    ResponseVariation,
    SessionConfig,
    Slot,
    SlotMapping,
    load_domain,
)
from tests.conftest import PROJECT_NAMES, RASA_PROJECTS

FINANCIAL_DEMO = RASA_PROJECTS / "financial-demo" / "domain.yml"


def write(folder: Path, text: str, name: str = "domain.yml") -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text), encoding="utf-8")
    return path


def problems_of(tmp_path: Path, text: str) -> list[Problem]:
    with pytest.raises(ConductorError) as exc:
        load_domain(write(tmp_path, text))
    return exc.value.problems


def errors_of(tmp_path: Path, text: str) -> list[Problem]:
    return [p for p in problems_of(tmp_path, text) if p.severity is Severity.ERROR]


def the_error(tmp_path: Path, text: str) -> Problem:
    errors = errors_of(tmp_path, text)
    assert len(errors) == 1, [str(e) for e in errors]
    assert errors[0].hint, "every error tells the user what to do"
    return errors[0]


def warnings_of(tmp_path: Path, text: str) -> list[Problem]:
    domain = load_domain(write(tmp_path, text))
    assert all(w.severity is Severity.WARNING for w in domain.warnings)
    return domain.warnings


@pytest.fixture(scope="module")
def financial_demo() -> Domain:
    return load_domain(FINANCIAL_DEMO)


# --- the real projects ----------------------------------------------------------------------------------


def test_all_six_projects_are_there() -> None:
    assert set(PROJECT_NAMES) == {
        "financial-demo",
        "rasa-init-3.6.21",
        "rasa-oss-formbot",
        "rasa-oss-moodbot",
        "rasa-oss-responseselectorbot",
        "rasa-oss-rules",
    }


@pytest.mark.parametrize("project", PROJECT_NAMES)
def test_every_project_domain_loads_clean(project: str) -> None:
    domain = load_domain(RASA_PROJECTS / project / "domain.yml")
    assert domain.warnings == []
    assert domain.intents and domain.responses
    assert domain.action_names[: len(DEFAULT_ACTIONS)] == list(DEFAULT_ACTIONS)
    assert len(domain.action_names) == len(set(domain.action_names))


@pytest.mark.parametrize("project", PROJECT_NAMES)
def test_as_dict_from_dict_round_trip_through_json(project: str) -> None:
    domain = load_domain(RASA_PROJECTS / project / "domain.yml")
    data = json.loads(json.dumps(domain.as_dict()))
    again = Domain.from_dict(data)
    assert again == domain
    assert again.as_dict() == data
    assert again.action_names == domain.action_names


def test_financial_demo_intents_and_entities(financial_demo: Domain) -> None:
    assert financial_demo.intents["transfer_money"] == Intent("transfer_money", use_entities=[])
    assert financial_demo.intents["transfer_money"].line == 7
    assert financial_demo.used_entities("transfer_money") == set()
    assert financial_demo.used_entities("check_balance") == {"credit_card", "account_type"}
    assert financial_demo.used_entities("greet") == set(financial_demo.entity_names)
    assert len(financial_demo.entity_names) == 10
    assert "back" in financial_demo.intent_names  # a default intent the domain does not list
    assert financial_demo.intent_names == sorted(financial_demo.intent_names)
    assert set(DEFAULT_INTENTS) <= set(financial_demo.intent_names)


def test_financial_demo_slot_mappings_with_conditions(financial_demo: Domain) -> None:
    slot = financial_demo.slots["AA_CONTINUE_FORM"]
    assert (slot.type, slot.influence_conversation, slot.file, slot.line) == (
        "any",
        False,
        str(FINANCIAL_DEMO),
        47,
    )
    affirm = slot.mappings[0]
    assert affirm == SlotMapping(
        "from_intent",
        intent=["affirm"],
        value="yes",  # YAML 1.2 as in Rasa: `yes` is text, not true
        conditions=[
            MappingCondition("cc_payment_form", "AA_CONTINUE_FORM"),
            MappingCondition("transfer_money_form", "AA_CONTINUE_FORM"),
            MappingCondition("transaction_search_form", "AA_CONTINUE_FORM"),
        ],
    )
    assert slot.mappings[2].type == "from_text"
    assert slot.mappings[2].intent == ["inform", "cc_payment_form"]

    amount = financial_demo.slots["amount-of-money"].mappings[0]
    assert (amount.entity, amount.not_intent) == ("amount-of-money", ["check_balance", "check_earnings"])
    search_type = financial_demo.slots["search_type"].mappings
    assert (search_type[0].type, search_type[0].intent, search_type[0].value) == (
        "from_trigger_intent",
        ["search_transactions"],
        "spend",
    )
    assert search_type[2].conditions == [MappingCondition("transaction_search_form", None)]
    assert financial_demo.slots["amount_transferred"].initial_value == 0
    assert financial_demo.slots["currency"].initial_value == "$"


def test_financial_demo_session_forms_and_actions(financial_demo: Domain) -> None:
    assert financial_demo.session_config == SessionConfig(0, True)
    assert not financial_demo.session_config.sessions_expire
    assert financial_demo.store_entities_as_slots
    form = financial_demo.forms["cc_payment_form"]
    assert form == Form(
        "cc_payment_form",
        ["AA_CONTINUE_FORM", "credit_card", "amount-of-money", "time", "zz_confirm_form"],
        [],
    )
    assert form.line == 501
    names = financial_demo.action_names
    assert names.count("action_session_start") == 1 and names.index("action_session_start") == 2
    assert names[len(DEFAULT_ACTIONS)] == "action_show_balance"  # declared actions follow the defaults
    assert names[-3:] == ["cc_payment_form", "transfer_money_form", "transaction_search_form"]
    assert "utter_greet" in names and "utter_greet" in financial_demo.user_actions
    assert financial_demo.sends_domain("validate_cc_payment_form")
    assert not financial_demo.sends_domain("action_pay_cc")
    buttons = financial_demo.responses["utter_ask_cc_payment_form_AA_CONTINUE_FORM"][0].buttons
    assert buttons == [
        {"payload": "/affirm", "title": "Yes"},
        {"payload": "/deny", "title": "No, cancel the transaction"},
    ]


def test_financial_demo_slots_with_rasa_defaults(financial_demo: Domain) -> None:
    slots = financial_demo.all_slots
    assert slots[REQUESTED_SLOT].type == "any"  # the domain declares its own requested_slot; it is kept
    assert slots[SESSION_STARTED_METADATA_SLOT].type == "any"
    assert list(slots)[-1] == SESSION_STARTED_METADATA_SLOT
    assert SESSION_STARTED_METADATA_SLOT not in financial_demo.slots


def test_formbot_values_keep_their_yaml_types() -> None:
    domain = load_domain(RASA_PROJECTS / "rasa-oss-formbot" / "domain.yml")
    seating = domain.slots["outdoor_seating"].mappings
    assert [m.value for m in seating[1:]] == [True, False]
    assert domain.slots["preferences"].mappings[1].not_intent == ["deny"]  # one name counts as a list of one
    assert domain.slots["num_people"].mappings[0].intent == ["inform", "request_restaurant"]
    assert (domain.slots["num_people"].min_value, domain.slots["num_people"].max_value) == (0.0, 1.0)
    assert domain.forms["restaurant_form"].ignored_intents == ["chitchat"]
    assert domain.all_slots[REQUESTED_SLOT] == Slot(REQUESTED_SLOT, "text", influence_conversation=False)
    assert "restaurant_form" in domain.action_names


def test_response_declared_as_action_is_listed_once() -> None:
    domain = load_domain(RASA_PROJECTS / "rasa-oss-rules" / "domain.yml")
    assert domain.action_names.count("utter_faq") == 1
    declared = list(domain.actions)
    assert domain.user_actions[: len(declared)] == declared
    undeclared = domain.user_actions[len(declared) :]
    assert undeclared == sorted(undeclared) and "utter_default" in undeclared


def test_as_dict_has_rasas_shape(financial_demo: Domain) -> None:
    data = financial_demo.as_dict()
    assert data["version"] == "3.1"
    assert {"transfer_money": {"use_entities": []}} in data["intents"]
    names = [next(iter(i)) if isinstance(i, dict) else i for i in data["intents"]]
    assert names == sorted(names)
    assert data["forms"]["transfer_money_form"]["required_slots"][0] == "AA_CONTINUE_FORM"
    assert data["slots"]["amount_transferred"] == {
        "type": "any",
        "initial_value": 0,
        "influence_conversation": False,
        "mappings": [{"type": "custom"}],
    }
    assert data["responses"]["utter_greet"] == [{"text": "Hi! I'm your Financial Assistant!"}]
    assert data["session_config"] == {"session_expiration_time": 0, "carry_over_slots_to_new_session": True}
    assert data["config"] == {"store_entities_as_slots": True}
    assert "validate_cc_payment_form" in data["actions"]


# --- Rasa's semantics -----------------------------------------------------------------------------------


def test_used_entities_with_roles_groups_and_silenced_entities(tmp_path: Path) -> None:
    domain = load_domain(
        write(
            tmp_path,
            """\
            intents:
            - book
            - only_city:
                use_entities: [city]
            - not_city:
                ignore_entities: [city]
            - explicit_secret:
                use_entities: [secret, city]
                ignore_entities: [city]
            entities:
            - city:
                roles: [from, to]
                groups: [trip]
            - secret:
                influence_conversation: false
            - plain
            """,
        )
    )
    assert domain.entity_labels == ["city", "secret", "plain", "city#from", "city#to", "city#trip"]
    assert domain.used_entities("book") == {"city", "city#from", "city#to", "city#trip", "plain"}
    assert domain.used_entities("only_city") == {"city", "city#from", "city#to", "city#trip"}
    assert domain.used_entities("not_city") == {"plain"}  # `secret` does not influence the conversation
    assert domain.used_entities("explicit_secret") == {"secret"}
    assert domain.used_entities("restart") == domain.used_entities("book")  # default intents use all
    assert [str(w) for w in domain.warnings] and "both uses and ignores" in domain.warnings[0].message


def test_send_domain_per_action(tmp_path: Path) -> None:
    domain = load_domain(
        write(
            tmp_path,
            """\
            actions:
            - action_plain
            - action_needs_domain:
                send_domain: true
            - validate_some_form
            - validate_quiet_form:
                send_domain: false
            """,
        )
    )
    assert [domain.sends_domain(a) for a in domain.actions] == [False, True, True, False]
    assert domain.as_dict()["actions"] == [
        "action_plain",
        {"action_needs_domain": {"send_domain": True}},
        "validate_some_form",
        {"validate_quiet_form": {"send_domain": False}},
    ]
    assert Domain.from_dict(domain.as_dict()) == domain


def test_retrieval_intents_come_from_response_names(tmp_path: Path) -> None:
    domain = load_domain(
        write(
            tmp_path,
            """\
            intents: [chitchat, greet]
            responses:
              utter_greet:
              - text: hi
              utter_chitchat/ask_name:
              - text: I am a bot.
                image: https://example.org/bot.png
              utter_chitchat/ask_weather:
              - text: Sunny.
            """,
        )
    )
    assert domain.retrieval_intents == ["chitchat"]
    assert domain.is_retrieval_intent("chitchat") and not domain.is_retrieval_intent("greet")
    assert list(domain.retrieval_responses("chitchat")) == [
        "utter_chitchat/ask_name",
        "utter_chitchat/ask_weather",
    ]
    assert domain.responses["utter_chitchat/ask_name"][0] == ResponseVariation(
        text="I am a bot.", image="https://example.org/bot.png"
    )


def test_empty_file_is_an_empty_domain(tmp_path: Path) -> None:
    domain = load_domain(write(tmp_path, "# nothing yet\n"))
    assert domain.is_empty and domain.warnings == []
    assert domain.session_config == SessionConfig(60, True)
    assert domain.intent_names == sorted(DEFAULT_INTENTS)
    assert domain.action_names == list(DEFAULT_ACTIONS)
    assert Domain.from_dict(None).is_empty


# --- folders and merging --------------------------------------------------------------------------------


def test_folder_is_merged_and_non_domain_files_are_passed_over(tmp_path: Path) -> None:
    write(
        tmp_path, "version: '3.1'\nintents: [greet]\nresponses:\n  utter_greet:\n  - text: hi\n", "base.yml"
    )
    write(
        tmp_path,
        """\
        intents: [greet, order]
        entities: [dish]
        slots:
          dish:
            type: text
            mappings:
            - type: from_entity
              entity: dish
        forms:
          order_form:
            required_slots: [dish]
        session_config:
          session_expiration_time: 5
        """,
        "food/order.yaml",
    )
    write(tmp_path, "nlu:\n- intent: greet\n  examples: |\n    - hi\n", "nlu.yml")
    domain = load_domain(tmp_path)
    assert list(domain.intents) == ["greet", "order"]
    assert domain.slots["dish"].file == str(tmp_path / "food" / "order.yaml")
    assert domain.forms["order_form"].required_slots == ["dish"]
    assert domain.session_config.session_expiration_time == 5  # a non-default session_config wins
    assert [w.message for w in domain.warnings] == [
        f"the intent 'greet' is defined in {tmp_path / 'base.yml'}:2 and again here"
    ]
    assert domain.warnings[0].file == str(tmp_path / "food" / "order.yaml")


def test_response_defined_twice_differently_names_both_places(tmp_path: Path) -> None:
    write(tmp_path, "responses:\n  utter_greet:\n  - text: hi\n", "a.yml")
    write(tmp_path, "intents: [greet]\nresponses:\n  utter_greet:\n  - text: hello\n", "b.yml")
    with pytest.raises(ConductorError) as exc:
        load_domain(tmp_path)
    (problem,) = exc.value.problems
    assert (problem.file, problem.line) == (str(tmp_path / "b.yml"), 4)
    assert f"{tmp_path / 'a.yml'}:3" in problem.message and "utter_greet" in problem.message


def test_slot_defined_twice_differently_across_paths(tmp_path: Path) -> None:
    first = write(tmp_path, "slots:\n  n:\n    type: text\n    mappings: [{type: custom}]\n", "one.yml")
    second = write(tmp_path, "slots:\n  n:\n    type: float\n    mappings: [{type: custom}]\n", "two.yml")
    with pytest.raises(ConductorError) as exc:
        load_domain([first, second])
    assert [(p.file, p.line) for p in exc.value.problems] == [(str(second), 2)]
    assert f"{first}:2" in exc.value.problems[0].message


def test_merge_method(tmp_path: Path) -> None:
    base = load_domain(
        write(tmp_path, "intents: [greet]\nresponses:\n  utter_greet:\n  - text: hi\n", "a.yml")
    )
    extra = Domain.from_dict({"intents": ["bye"], "responses": {"utter_bye": [{"text": "bye"}]}})
    merged = base.merge(extra)
    assert list(merged.intents) == ["greet", "bye"]
    assert list(merged.responses) == ["utter_greet", "utter_bye"]
    assert merged.merge(extra).warnings  # the same definitions again: a warning per duplicate
    clash = Domain.from_dict({"responses": {"utter_greet": [{"text": "hello"}]}})
    with pytest.raises(ConductorError, match="utter_greet"):
        base.merge(clash)


# --- mistakes: each gives a problem at the right line ---------------------------------------------------


def test_unknown_top_level_key(tmp_path: Path) -> None:
    error = the_error(tmp_path, "intents: [greet]\nrespones:\n  utter_greet:\n  - text: hi\n")
    assert error.line == 2 and "respones" in error.message
    assert error.hint is not None and "Did you mean 'responses'?" in error.hint


def test_version_that_is_not_3x_is_a_warning(tmp_path: Path) -> None:
    (warning,) = warnings_of(tmp_path, "intents: [a]\nversion: '2.0'\n")
    assert warning.line == 2 and "2.0" in warning.message
    (warning,) = warnings_of(tmp_path, "version: 3.1\nintents: [a]\n")
    assert warning.line == 1 and "number" in warning.message


def test_slots_as_a_list(tmp_path: Path) -> None:
    error = the_error(tmp_path, "intents: [a]\nslots:\n- name: x\n  type: text\n")
    assert error.line == 2 and "`slots` must be a mapping, not a list" in error.message


@pytest.mark.parametrize(
    ("yaml", "line", "words"),
    [
        ("slots:\n  x:\n    mappings:\n    - type: custom\n", 2, "has no `type`"),
        ("slots:\n  x:\n    type: text\n", 2, "has no `mappings`"),
        ("slots:\n  x:\n    type: txt\n    mappings: []\n", 3, "unknown type"),
        ("slots:\n  x:\n    type: unfeaturized\n    mappings: []\n", 3, "Rasa 3 removed"),
        ("slots:\n  x:\n    type: categorical\n    mappings: []\n", 2, "has no `values`"),
        ("slots:\n  x:\n    type: categorical\n    values: []\n    mappings: []\n", 4, "has no `values`"),
        (
            "slots:\n  x:\n    type: any\n    influence_conversation: true\n    mappings: []\n",
            4,
            "cannot influence",
        ),
        (
            "slots:\n  x:\n    type: float\n    min_value: 5\n    max_value: 1\n    mappings: []\n",
            4,
            "min_value",
        ),
        ("slots:\n  x:\n    type: text\n    auto_fill: false\n    mappings: []\n", 4, "auto_fill"),
        ("slots:\n  x:\n    type: text\n    values: [a]\n    mappings: []\n", 4, "'values'"),
        ("slots:\n  x:\n    type: text\n    mappings: {type: custom}\n", 4, "must be a list"),
        ("slots:\n  x:\n    type: text\n    mappings:\n    - type: from_entities\n", 5, "unknown type"),
        ("slots:\n  x:\n    type: text\n    mappings:\n    - custom\n", 5, "must be a mapping"),
        ("slots:\n  x:\n    type: text\n    mappings:\n    - type: from_entity\n", 5, "names no `entity`"),
        (
            "slots:\n  x:\n    type: text\n    mappings:\n    - type: from_intent\n      intent: a\n",
            5,
            "no `value`",
        ),
        (
            "slots:\n  x:\n    type: text\n    mappings:\n    - type: from_text\n      conditions:\n"
            "      - active_loop: f\n        requested: x\n",
            8,
            "'requested'",
        ),
        (
            "slots:\n  x:\n    type: text\n    mappings:\n    - type: from_text\n      intent: 3\n",
            6,
            "intent",
        ),
    ],
)
def test_slot_mistakes(tmp_path: Path, yaml: str, line: int, words: str) -> None:
    error = the_error(tmp_path, yaml)
    assert error.line == line and words in error.message
    assert error.file == str(tmp_path / "domain.yml")


@pytest.mark.parametrize(
    ("yaml", "line", "words"),
    [
        ("responses:\n  utter_a:\n  - Hello there\n", 3, "must be a mapping, not the text"),
        ("responses:\n  utter_a:\n  - button_type: vertical\n", 3, "has no content"),
        ("responses:\n  utter_a:\n  - text: hi\n    txt: typo\n", 4, "'txt'"),
        ("responses:\n  utter_a:\n", 2, "has no variations"),
        ("responses:\n  utter_a:\n    text: hi\n", 2, "must be a list"),
        ("responses:\n  utter_a:\n  - text: 12\n", 3, "text in a variation"),
        (
            "responses:\n  utter_a:\n  - text: hi\n    buttons:\n    - /affirm\n",
            5,
            "must be a mapping with title",
        ),
        (
            "responses:\n  utter_a:\n  - text: hi\n    buttons:\n    - payload: /affirm\n",
            5,
            "needs a `title`",
        ),
        (
            "responses:\n  utter_a:\n  - text: hi\n    buttons:\n    - title: Yes\n      payload: 1\n",
            6,
            "payload",
        ),
        ("responses:\n  utter_a:\n  - text: hi\n    buttons: /affirm\n", 4, "must be a list"),
        (
            "responses:\n  utter_a:\n  - text: hi\n    condition:\n"
            "    - type: intent\n      name: a\n      value: 1\n",
            5,
            "slot conditions",
        ),
        (
            "responses:\n  utter_a:\n  - text: hi\n    condition:\n    - type: slot\n      name: a\n",
            5,
            "lacks value",
        ),
        (
            "responses:\n  utter_a:\n  - text: hi\n    id: x\n  utter_b:\n  - text: ho\n    id: x\n",
            6,
            "id 'x'",
        ),
    ],
)
def test_response_mistakes(tmp_path: Path, yaml: str, line: int, words: str) -> None:
    error = the_error(tmp_path, yaml)
    assert error.line == line and words in error.message


@pytest.mark.parametrize(
    ("yaml", "line", "words"),
    [
        ("forms:\n  f:\n    required_slots: a\n", 3, "must be a list"),
        ("forms:\n  f:\n    required_slots:\n      a:\n      - type: from_text\n", 3, "Rasa 2 format"),
        ("forms:\n  f:\n    ignored_intents: [a]\n", 2, "no required_slots"),
        ("forms:\n  f:\n    required_slot: [a]\n", 3, "'required_slot'"),
        ("forms:\n- f\n", 1, "`forms` must be a mapping"),
        ("session_config:\n  session_expiration_time: -5\n", 2, "negative"),
        ("session_config:\n  session_expiration_time: soon\n", 2, "number of minutes"),
        ("session_config:\n  carry_over_slots_to_new_session: yes\n", 2, "true or false"),
        ("config:\n  store_entities_as_slots: 1\n", 2, "true or false"),
        ("intents:\n- greet\n- bye\n- greet\n", 4, "listed twice"),
        ("intents:\n- greet:\n- bye\n", 2, "no properties"),
        ("intents:\n- greet:\n    use_entities: city\n", 3, "list of names"),
        ("intents:\n- greet:\n    use_entities: []\n  bye:\n", 2, "several names"),
        ("intents: greet\n", 1, "must be a list"),
        ("entities:\n- city\n- 7\n", 3, "must be a name"),
        ("entities:\n- city:\n    roles: from\n", 3, "list of names"),
        ("actions:\n- a\n- a\n", 3, "listed twice"),
        ("actions:\n- a:\n    send_domain: sometimes\n", 3, "true or false"),
        ("- greet\n", 1, "mapping of sections"),
    ],
)
def test_other_mistakes(tmp_path: Path, yaml: str, line: int, words: str) -> None:
    error = the_error(tmp_path, yaml)
    assert error.line == line and words in error.message


def test_every_problem_comes_in_one_error(tmp_path: Path) -> None:
    problems = problems_of(
        tmp_path,
        """\
        version: "2.0"
        intents:
        - greet
        slots:
          a:
            type: text
          b:
            type: nope
            mappings: []
        responses:
          utter_greet:
          - image: https://example.org/hi.png
          utter_bad:
          - {}
        forms:
          f:
            required_slots: x
        session_config:
          session_expiration_time: -1
        """,
    )
    errors = [(p.line, p.severity) for p in problems if p.severity is Severity.ERROR]
    warnings = [p.line for p in problems if p.severity is Severity.WARNING]
    assert [line for line, _ in errors] == [5, 8, 14, 17, 19]
    assert warnings == [1, 12]  # the old version; an image-only variation Rasa's schema would refuse


def test_lenient_where_rasa_is(tmp_path: Path) -> None:
    (warning,) = warnings_of(
        tmp_path,
        """\
        slots:
          x:
            type: text
            mappings:
            - type: from_text
              entty: typo
        """,
    )
    assert warning.line == 6 and "ignored" in warning.message
    domain = load_domain(
        write(
            tmp_path,
            """\
            slots:
              level:
                type: my_slots.LevelSlot
                levels: 3
                mappings: [{type: custom, action: action_level}]
            forms:
              empty_form:
            responses:
              utter_custom:
              - custom: {blocks: [1, 2]}
            """,
        )
    )
    level = domain.slots["level"]
    assert level.has_custom_type and level.properties == {"levels": 3} and level.influence_conversation
    assert level.mappings[0].action == "action_level"
    assert domain.forms["empty_form"] == Form("empty_form")
    assert domain.responses["utter_custom"][0].custom == {"blocks": [1, 2]}
    assert Domain.from_dict(json.loads(json.dumps(domain.as_dict()))) == domain


def test_from_dict_reports_problems_without_a_file() -> None:
    with pytest.raises(ConductorError) as exc:
        Domain.from_dict({"slots": {"x": {"type": "text"}}})
    (problem,) = exc.value.problems
    assert problem.file is None and "has no `mappings`" in problem.message


def test_missing_file_and_bad_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConductorError, match="does not exist"):
        load_domain(tmp_path / "nowhere.yml")
    with pytest.raises(ConductorError) as exc:
        load_domain(write(tmp_path, "intents:\n  - greet\n responses: [\n"))
    assert exc.value.problems[0].line is not None


def test_unreadable_file_in_a_folder_is_skipped_with_a_warning(tmp_path: Path) -> None:
    write(tmp_path, "intents: [greet]\n", "domain.yml")
    write(tmp_path, "intents: [\n", "broken.yml")
    domain = load_domain(tmp_path)
    assert list(domain.intents) == ["greet"]
    (warning,) = domain.warnings
    assert warning.file == str(tmp_path / "broken.yml") and "skipped" in warning.message


def test_two_different_session_configs_are_an_error(tmp_path: Path) -> None:
    first = write(tmp_path, "session_config:\n  session_expiration_time: 5\n", "a.yml")
    second = write(tmp_path, "intents: [a]\nsession_config:\n  session_expiration_time: 10\n", "b.yml")
    with pytest.raises(ConductorError) as exc:
        load_domain([first, second])
    (problem,) = exc.value.problems
    assert (problem.file, problem.line) == (str(second), 2) and f"{first}:1" in problem.message
