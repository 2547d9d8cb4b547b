"""The metrics a turn records, read back from the Prometheus exposition."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from bot.api.metrics import ServerMetrics
from bot.dialogue.events import ActionExecuted, BotUttered, UserUttered
from channels.base import RefusalKind


def _samples(metrics: ServerMetrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(metrics.exposition().decode()):
        for sample in family.samples:
            found[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return found


def _user(intent: str, confidence: float, text: str) -> UserUttered:
    return UserUttered(text=text, parse_data={"intent": {"name": intent, "confidence": confidence}, "entities": []})


def test_a_turn_counts_per_channel() -> None:
    metrics = ServerMetrics()
    slack = metrics.channel("slack")
    slack.turn_started()
    slack.turn_finished(
        [_user("nlu_fallback", 0.25, "blorp"), ActionExecuted(name="action_default_fallback"), BotUttered(text="?")],
        0.004,
    )
    slack.turn_started()
    slack.turn_finished([_user("greet", 1.0, "/greet")], 0.002)
    metrics.channel("rest").turn_started()
    metrics.channel("rest").turn_failed()
    samples = _samples(metrics)
    assert samples[("conductor_messages_received_total", (("channel", "slack"),))] == 2
    assert samples[("conductor_messages_received_total", (("channel", "rest"),))] == 1
    assert samples[("conductor_turn_errors_total", (("channel", "rest"),))] == 1
    assert samples[("conductor_turn_duration_seconds_count", (("channel", "slack"),))] == 2
    assert samples[("conductor_turn_duration_seconds_bucket", (("channel", "slack"), ("le", "0.005")))] == 2
    fallbacks = "conductor_fallbacks_total"
    assert samples[(fallbacks, (("channel", "slack"), ("kind", "nlu_fallback")))] == 1
    assert samples[(fallbacks, (("channel", "slack"), ("kind", "action_default_fallback")))] == 1
    # typed /intent payloads are not NLU decisions: only the NLU's 0.25 is in the histogram
    assert samples[("conductor_nlu_confidence_count", (("channel", "slack"),))] == 1
    assert samples[("conductor_nlu_confidence_bucket", (("channel", "slack"), ("le", "0.3")))] == 1
    assert samples[("conductor_turns_in_flight", ())] == 0


def test_a_refused_message_is_counted_by_reason_and_not_as_an_error() -> None:
    metrics = ServerMetrics()
    telegram = metrics.channel("telegram")
    reasons: tuple[RefusalKind, ...] = ("too_long", "too_long", "not_text")
    for reason in reasons:
        telegram.turn_started()
        telegram.turn_refused(reason)
    samples = _samples(metrics)
    refused = "conductor_messages_refused_total"
    assert samples[(refused, (("channel", "telegram"), ("reason", "too_long")))] == 2
    assert samples[(refused, (("channel", "telegram"), ("reason", "not_text")))] == 1
    assert samples[("conductor_messages_received_total", (("channel", "telegram"),))] == 3
    assert samples[("conductor_turn_errors_total", (("channel", "telegram"),))] == 0
    assert samples[("conductor_turns_in_flight", ())] == 0


def test_servers_do_not_share_counts() -> None:
    first, second = ServerMetrics(), ServerMetrics()
    first.channel("rest").turn_started()
    assert ("conductor_messages_received_total", (("channel", "rest"),)) not in _samples(second)
