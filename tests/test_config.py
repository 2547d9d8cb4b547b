from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from bot.config import (
    MASK,
    Endpoints,
    is_secret_key,
    load_credentials,
    load_endpoints,
    load_model_config,
)
from bot.errors import ConductorError, Severity
from tests.conftest import PROJECT_NAMES, RASA_PROJECTS, REPO_ROOT


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(exc: pytest.ExceptionInfo[ConductorError]) -> list[tuple[int | None, str]]:
    return [(p.line, p.message) for p in exc.value.problems]


# --- the real projects ---------------------------------------------------------------------------------


def test_all_six_projects_are_found() -> None:
    assert len(PROJECT_NAMES) == 6


@pytest.mark.parametrize("name", PROJECT_NAMES)
def test_every_rasa_project_loads_without_problems(name: str) -> None:
    project = RASA_PROJECTS / name
    config = load_model_config(project / "config.yml")
    credentials = load_credentials(project / "credentials.yml")
    endpoints = load_endpoints(project / "endpoints.yml")
    assert config.language == "en"
    assert config.recipe == "default.v1"
    assert config.warnings == ()
    assert endpoints.warnings == ()
    assert isinstance(credentials, dict)


def test_financial_demo_names_components_that_are_not_installed() -> None:
    config = load_model_config(RASA_PROJECTS / "financial-demo" / "config.yml")
    assert config.pipeline is not None and config.policies is not None
    by_name = {component.name: component for component in config.pipeline}
    assert by_name["DucklingEntityExtractor"].params == {
        "url": "http://localhost:8000",
        "dimensions": ["amount-of-money", "time", "number"],
    }
    assert by_name["SpacyNLP"].params == {"model": "en_core_web_md", "case_sensitive": False}
    assert [c.name for c in config.pipeline].count("CountVectorsFeaturizer") == 2
    assert config.version == "3.1"
    assert config.policies[2].name == "RulePolicy"
    assert config.policies[2].params["core_fallback_threshold"] == 0.4


def test_rasa_init_leaves_pipeline_and_policies_to_the_trainer() -> None:
    config = load_model_config(RASA_PROJECTS / "rasa-init-3.6.21" / "config.yml")
    assert config.pipeline is None
    assert config.policies is None
    assert config.assistant_id == "placeholder_default"


def test_real_credentials_and_endpoints_values() -> None:
    credentials = load_credentials(RASA_PROJECTS / "rasa-init-3.6.21" / "credentials.yml")
    assert credentials == {"rest": None, "rasa": {"url": "http://localhost:5002/api"}}
    endpoints = load_endpoints(RASA_PROJECTS / "financial-demo" / "endpoints.yml")
    assert endpoints.action_endpoint is not None
    assert endpoints.action_endpoint.url == "http://localhost:5056/webhook"
    assert endpoints.tracker_store is None
    # a file of comments only is an empty configuration
    assert load_endpoints(RASA_PROJECTS / "rasa-init-3.6.21" / "endpoints.yml") == Endpoints()


def test_the_base_assistant_configuration_loads() -> None:
    domain = REPO_ROOT / "domain"
    config = load_model_config(domain / "config.yml")
    assert config.warnings == ()
    assert config.pipeline is not None and config.policies is not None
    fallback = next(c for c in config.pipeline if c.name == "FallbackClassifier")
    assert fallback.params["threshold"] == pytest.approx(0.6)
    assert {"RulePolicy", "MemoizationPolicy", "TEDPolicy"} <= {p.name for p in config.policies}
    assert set(load_credentials(domain / "credentials.yml")) == {"rest", "websocket", "socketio"}
    store = load_endpoints(domain / "endpoints.yml").tracker_store
    assert store is not None
    assert (store.type, store.dialect, store.db) == ("sql", "sqlite", "conductor.db")


# --- config.yml ------------------------------------------------------------------------------------------


def test_empty_config_takes_rasa_defaults(tmp_path: Path) -> None:
    config = load_model_config(write(tmp_path, "config.yml", "# nothing yet\n"))
    assert (config.recipe, config.language) == ("default.v1", "en")
    assert (config.pipeline, config.policies) == (None, None)
    config = load_model_config(write(tmp_path, "config.yml", "language:\npipeline: []\npolicies:\n"))
    assert (config.language, config.pipeline, config.policies) == ("en", None, None)


def test_numbers_for_version_and_assistant_id_are_read_as_text(tmp_path: Path) -> None:
    config = load_model_config(write(tmp_path, "config.yml", "version: 3.1\nassistant_id: 42\n"))
    assert (config.version, config.assistant_id) == ("3.1", "42")


def test_fingerprint_ignores_layout_but_not_meaning(tmp_path: Path) -> None:
    base = load_model_config(
        write(
            tmp_path,
            "a.yml",
            "language: en\npipeline:\n  - name: WhitespaceTokenizer\n  - name: DIETClassifier\n"
            "    epochs: 50\n    entity_recognition: false\npolicies:\n  - name: RulePolicy\n",
        )
    )
    same = load_model_config(
        write(
            tmp_path,
            "b.yml",
            "# the same, written differently\nrecipe: default.v1\npolicies: [{name: RulePolicy}]\n"
            "pipeline:\n- name: WhitespaceTokenizer\n- entity_recognition: false\n  name: DIETClassifier\n"
            "  epochs: 50\n",
        )
    )
    more_epochs = load_model_config(
        write(
            tmp_path,
            "c.yml",
            "pipeline:\n  - name: WhitespaceTokenizer\n  - name: DIETClassifier\n    epochs: 60\n"
            "    entity_recognition: false\npolicies:\n  - name: RulePolicy\n",
        )
    )
    assert base.fingerprint() == same.fingerprint()
    assert len(base.fingerprint()) == 64
    assert base.fingerprint() != more_epochs.fingerprint()
    reordered = base.model_copy(update={"pipeline": list(reversed(base.pipeline or []))})
    assert reordered.fingerprint() != base.fingerprint()


def test_wrong_types_are_reported_together_at_their_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "config.yml",
        "language: en\n"  # 1
        "pipeline: WhitespaceTokenizer\n"  # 2
        "policies:\n"  # 3
        "  - name: RulePolicy\n"  # 4
        "  - MemoizationPolicy\n"  # 5
        "  - max_history: 5\n"  # 6
        "  - name: [TEDPolicy]\n",  # 7
    )
    with pytest.raises(ConductorError) as exc:
        load_model_config(path)
    assert problems_of(exc) == [
        (2, "'pipeline' should be a list, not the text 'WhitespaceTokenizer'"),
        (5, "'policies[1]' should be a mapping of keys to values, not the text 'MemoizationPolicy'"),
        (6, "'policies[2].name' is required but missing"),
        (7, "'policies[3].name' should be text, not a list"),
    ]
    assert all(p.file == str(path) and p.hint for p in exc.value.problems)
    assert "pydantic" not in str(exc.value).lower()
    assert "validation error" not in str(exc.value).lower()


def test_unknown_keys_are_warnings_with_a_suggestion(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write(tmp_path, "config.yml", "language: en\npolices:\n  - name: RulePolicy\nimporters: []\n")
    with caplog.at_level(logging.WARNING, logger="bot.config"):
        config = load_model_config(path)
    assert config.policies is None
    assert [(w.line, w.severity, w.hint) for w in config.warnings] == [
        (2, Severity.WARNING, "Did you mean 'policies'?"),
        (4, Severity.WARNING, config.warnings[1].hint),
    ]
    assert "Rasa option" in config.warnings[1].message
    assert f"{path}:2: warning: 'polices'" in caplog.text


def test_endpoint_sections_conductor_does_not_use_are_warnings(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`models` (a model server to pull from) and `nlu` (an NLU server) would otherwise be read and ignored."""
    path = write(tmp_path, "endpoints.yml", "models:\n  url: http://models.example.com/latest\n"
                 "nlu:\n  url: http://nlu.example.com\naction_endpoint:\n  url: http://localhost:5055/webhook\n")
    with caplog.at_level(logging.WARNING, logger="bot.config"):
        endpoints = load_endpoints(path)
    assert endpoints.action_endpoint is not None
    assert [(w.line, w.severity) for w in endpoints.warnings] == [(1, Severity.WARNING), (3, Severity.WARNING)]
    assert "'models' is a Rasa option that Conductor does not use" in endpoints.warnings[0].message
    assert "bot run --model" in (endpoints.warnings[0].hint or "")
    assert f"{path}:3: warning: 'nlu'" in caplog.text


def test_warnings_travel_with_errors(tmp_path: Path) -> None:
    path = write(tmp_path, "config.yml", "pipelin: []\nlanguage: [en]\n")
    with pytest.raises(ConductorError) as exc:
        load_model_config(path)
    assert [(p.line, p.severity) for p in exc.value.problems] == [(1, Severity.WARNING), (2, Severity.ERROR)]


def test_graph_recipes_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConductorError) as exc:
        load_model_config(write(tmp_path, "config.yml", "language: en\nrecipe: graph.v1\n"))
    assert problems_of(exc) == [
        (2, "'recipe' names the recipe 'graph.v1', but Conductor knows only 'default.v1'")
    ]


@pytest.mark.parametrize(
    ("text", "line", "what"),
    [("- name: WhitespaceTokenizer\n", 1, "a list"), ("\n\njust words\n", None, "the text 'just words'")],
)
def test_a_config_that_is_not_a_mapping(tmp_path: Path, text: str, line: int | None, what: str) -> None:
    with pytest.raises(ConductorError) as exc:
        load_model_config(write(tmp_path, "config.yml", text))
    assert problems_of(exc) == [
        (line, f"the config file should be a mapping of keys to values, but it is {what}")
    ]


def test_a_missing_config_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConductorError) as exc:
        load_model_config(tmp_path / "config.yml")
    assert "does not exist" in exc.value.problems[0].message


# --- credentials.yml -------------------------------------------------------------------------------------


def test_missing_credentials_file_means_no_channels(tmp_path: Path) -> None:
    assert load_credentials(tmp_path / "credentials.yml") == {}


def test_credentials_substitute_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SLACK_TOKEN", "xoxb-real-token-123")
    path = write(
        tmp_path,
        "credentials.yml",
        "rest:\nslack:\n  slack_token: ${SLACK_TOKEN}\n  slack_channel: '#general'\n"
        "my_package.channels.Custom:\n  verbose: true\n",
    )
    credentials = load_credentials(path)
    assert credentials["rest"] is None
    slack = credentials["slack"]
    assert slack == {"slack_token": "xoxb-real-token-123", "slack_channel": "#general"}
    assert credentials["my_package.channels.Custom"] == {"verbose": True}
    problem = credentials["slack"].problem("the token was refused", "slack_token", "Create a new token.")
    assert (problem.file, problem.line, problem.hint) == (str(path), 3, "Create a new token.")


def test_credentials_never_print_their_secrets() -> None:
    credentials = load_credentials(RASA_PROJECTS / "rasa-oss-moodbot" / "credentials.yml")
    secrets = [
        "xoxb-xxx",
        "123456701ea89032asdebfe5a74518",
        "490161424:AAGlRxinBRtKGb21_rlOEMtDFZMXBl6EC0o",
        "e231c197493a7122d475b4xxxxxxxxxx",
        "EAAbHPa7H9rEBAAuFk4Q3gPKbDedQnx4djJJ1JmQ7CAqO4iJKrQcNT0wtD",
        "you_bot_pass",
    ]
    printed = [repr(credentials), str(credentials), repr(credentials["slack"]), f"{credentials['telegram']}"]
    for text in printed:
        for secret in secrets:
            assert secret not in text
    assert "'slack_channel': '#my_channel'" in repr(credentials)  # settings that are not secret stay readable
    assert credentials["telegram"]["access_token"] == secrets[2]  # the channel still gets the real value


def test_credentials_problems_are_reported_together(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TELEGRAM_TOKEN", raising=False)
    path = write(
        tmp_path,
        "credentials.yml",
        "rest:\n"  # 1
        "slack: xoxb-123\n"  # 2
        "telegram:\n"  # 3
        "  access_token: ${TELEGRAM_TOKEN}\n",  # 4
    )
    with pytest.raises(ConductorError) as exc:
        load_credentials(path)
    assert problems_of(exc) == [
        (2, "the settings of channel 'slack' should be a mapping of keys to values (or nothing), "
            "not the text 'xoxb-123'"),
        (4, "the environment variable 'TELEGRAM_TOKEN' is not set"),
    ]


def test_credentials_file_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConductorError) as exc:
        load_credentials(write(tmp_path, "credentials.yml", "- rest\n- slack\n"))
    assert problems_of(exc) == [
        (1, "the credentials file should be a mapping of keys to values, but it is a list")
    ]


# --- endpoints.yml ---------------------------------------------------------------------------------------


def test_missing_endpoints_file_means_defaults(tmp_path: Path) -> None:
    assert load_endpoints(tmp_path / "endpoints.yml") == Endpoints()


def test_endpoints_are_typed_after_substitution(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DB_PORT", "5432")
    monkeypatch.setenv("DB_PASSWORD", "s3cret-pass")
    monkeypatch.setenv("ACTIONS_TOKEN", "tok-abc-987")
    path = write(
        tmp_path,
        "endpoints.yml",
        "tracker_store:\n  type: SQL\n  dialect: postgresql\n  url: db.internal\n  port: ${DB_PORT}\n"
        "  db: conversations\n  username: conductor\n  password: ${DB_PASSWORD}\n  login_db: postgres\n"
        "  query: {sslmode: require}\n  pool_size: 10\n"
        "lock_store:\n  type: redis\n  url: cache\n  port: 6379\n  db: 1\n  key_prefix: bot1\n"
        "event_broker:\n  url: rabbit\n  username: guest\n  password: guest\n  queues: conductor_events\n"
        "action_endpoint:\n  url: http://actions:5055/webhook\n  token: ${ACTIONS_TOKEN}\n"
        "models:\n  url: http://models/latest\n  wait_time_between_pulls: 10\n",
    )
    endpoints = load_endpoints(path)
    store = endpoints.tracker_store
    assert store is not None
    assert (store.type, store.port, store.db, store.login_db) == ("sql", 5432, "conversations", "postgres")
    assert store.query == {"sslmode": "require"}
    assert store.password == SecretStr("s3cret-pass")
    assert store.extra == {"pool_size": 10}
    lock = endpoints.lock_store
    assert lock is not None
    assert (lock.type, lock.url, lock.db, lock.key_prefix) == ("redis", "cache", 1, "bot1")
    broker = endpoints.event_broker
    assert broker is not None and (broker.type, broker.queues) == ("pika", ["conductor_events"])
    action = endpoints.action_endpoint
    assert action is not None and action.token is not None
    assert action.token.get_secret_value() == "tok-abc-987"
    assert endpoints.models is not None and endpoints.models.wait_time_between_pulls == 10


def test_store_types_default_like_rasa_and_accept_custom_classes(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "endpoints.yml",
        "tracker_store:\n  url: localhost\n"
        "lock_store:\n  type: my_company.stores.EtcdLockStore\n  nodes: 3\n",
    )
    endpoints = load_endpoints(path)
    assert endpoints.tracker_store is not None and endpoints.tracker_store.type == "in_memory"
    assert endpoints.lock_store is not None
    assert endpoints.lock_store.type == "my_company.stores.EtcdLockStore"
    assert endpoints.lock_store.extra == {"nodes": 3}


def test_endpoints_never_print_their_secrets(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_PASSWORD", "redis-pw-5551")
    path = write(
        tmp_path,
        "endpoints.yml",
        "tracker_store:\n  type: redis\n  password: ${REDIS_PASSWORD}\n  api_key: custom-key-2222\n"
        "  key_prefix: visible-prefix\n"
        "action_endpoint:\n  url: http://actions/webhook\n  token: action-token-3333\n"
        "  headers:\n    Authorization: Bearer header-secret-4444\n"
        "  basic_auth:\n    username: me\n    password: basic-pw-6666\n"
        "vector_store:\n  access_token: extra-secret-7777\n",
    )
    endpoints = load_endpoints(path)
    secrets = ["redis-pw-5551", "custom-key-2222", "action-token-3333", "header-secret-4444", "basic-pw-6666",
               "extra-secret-7777"]
    printed = [repr(endpoints), str(endpoints), repr(endpoints.tracker_store), str(endpoints.action_endpoint)]
    for text in printed:
        for secret in secrets:
            assert secret not in text
    assert "visible-prefix" in repr(endpoints)
    assert MASK in repr(endpoints.tracker_store)
    assert endpoints.extra == {"vector_store": {"access_token": "extra-secret-7777"}}
    assert [w.line for w in endpoints.warnings] == [14]


def test_endpoint_errors_are_reported_together_at_their_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "endpoints.yml",
        "tracker_store:\n"  # 1
        "  type: sql\n"  # 2
        "  port: fifty\n"  # 3
        "  db: [a, b]\n"  # 4
        "lock_store:\n"  # 5
        "  type: memcache\n"  # 6
        "action_endpoint:\n"  # 7
        "  token: abc\n"  # 8
        "event_broker: localhost\n",  # 9
    )
    with pytest.raises(ConductorError) as exc:
        load_endpoints(path)
    assert problems_of(exc) == [
        (3, "'tracker_store.port' should be a whole number, not the text 'fifty'"),
        (4, "'tracker_store.db' should be a database name or number, not a list"),
        (6, "'lock_store.type' names the lock store type 'memcache', which is neither built in "
            "(in_memory, redis) nor a module.Class path"),
        (7, "'action_endpoint.url' is required but missing"),
        (9, "'event_broker' should be a mapping of keys to values, not the text 'localhost'"),
    ]
    assert "abc" not in str(exc.value)


def test_missing_environment_variable_names_it_and_its_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("CONDUCTOR_TEST_MISSING", raising=False)
    path = write(
        tmp_path, "endpoints.yml", "tracker_store:\n  type: redis\n  password: ${CONDUCTOR_TEST_MISSING}\n"
    )
    with pytest.raises(ConductorError) as exc:
        load_endpoints(path)
    assert problems_of(exc) == [(3, "the environment variable 'CONDUCTOR_TEST_MISSING' is not set")]
    assert exc.value.problems[0].file == str(path)


def test_endpoints_file_must_be_a_mapping(tmp_path: Path) -> None:
    with pytest.raises(ConductorError) as exc:
        load_endpoints(write(tmp_path, "endpoints.yml", "http://localhost:5055/webhook\n"))
    [problem] = exc.value.problems
    assert problem.line is None  # a lone scalar carries no line; the file is named
    assert problem.file is not None and problem.file.endswith("endpoints.yml")
    assert problem.message.startswith("the endpoints file should be a mapping of keys to values, but it is")


def test_passwords_inside_urls_are_masked_when_printed(tmp_path: Path) -> None:
    url = "postgresql://conductor:pg-pass-8888@db.internal:5432/conversations"
    path = write(tmp_path, "endpoints.yml", f"tracker_store:\n  type: sql\n  url: {url}\n")
    endpoints = load_endpoints(path)
    assert endpoints.tracker_store is not None and endpoints.tracker_store.url == url
    assert "pg-pass-8888" not in repr(endpoints)
    assert f"postgresql://conductor:{MASK}@db.internal:5432/conversations" in repr(endpoints)


def test_errors_do_not_quote_secret_values(tmp_path: Path) -> None:
    text = "lock_store:\n  type: redis\n  password: [hunter2]\n  port: true\n"
    path = write(tmp_path, "endpoints.yml", text)
    with pytest.raises(ConductorError) as exc:
        load_endpoints(path)
    assert problems_of(exc) == [
        (3, "'lock_store.password' should be text"),
        (4, "'lock_store.port' should be a number, not the boolean true"),
    ]
    assert "hunter2" not in str(exc.value)


def test_keys_must_be_text(tmp_path: Path) -> None:
    with pytest.raises(ConductorError) as exc:
        load_endpoints(write(tmp_path, "endpoints.yml", "tracker_store:\n  type: sql\n  5: five\n"))
    assert problems_of(exc) == [(3, "'tracker_store.5' is a key that is not text (quote it, or use a name)")]
    with pytest.raises(ConductorError) as exc:
        load_credentials(write(tmp_path, "credentials.yml", "rest:\n12:\n  a: b\n"))
    assert problems_of(exc) == [(2, "the channel name 12 should be text")]


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("password", True), ("token", True), ("slack_token", True), ("slack_signing_secret", True),
        ("page-access-token", True), ("auth_token", True), ("account_sid", True), ("api_key", True),
        ("Authorization", True), ("key_prefix", False), ("url", False), ("slack_channel", False),
        ("username", False), ("ssl_keyfile", False), (3, False),
    ],
)
def test_which_keys_are_secret(key: object, secret: bool) -> None:
    assert is_secret_key(key) is secret
