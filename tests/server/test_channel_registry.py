"""Channels by name: built-ins, entry points, module.Class paths, and credentials.yml as Rasa reads it."""

from __future__ import annotations

import logging
import textwrap
from pathlib import Path

import pytest

from bot.config import load_credentials
from bot.errors import ConductorError
from channels.base import InputChannel
from channels.registry import BUILTIN_CHANNELS, available_channels, channel_class, channels_from_credentials
from channels.rest import RestInput


@pytest.mark.parametrize("name", sorted(BUILTIN_CHANNELS))
def test_every_builtin_channel_names_its_class(name: str) -> None:
    found = channel_class(name)
    assert found is not None and issubclass(found, InputChannel)
    assert found.name == name


def test_a_module_class_path_works_as_in_rasa() -> None:
    assert channel_class("channels.rest.RestInput") is RestInput


def test_rasa_channels_conductor_lacks_are_skipped_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING, logger="channels.registry"):
        assert channel_class("facebook", "credentials.yml", 7) is None
    assert "credentials.yml:7: the channel 'facebook' (Facebook Messenger) is not available" in caplog.text


@pytest.mark.parametrize(
    ("name", "message", "hint"),
    [
        ("slak", "there is no channel named 'slak'", "Did you mean 'slack'?"),
        ("nowhere.at.all.Input", "cannot be loaded", "Install the package"),
        ("channels.rest.NoSuchInput", "has no class named 'NoSuchInput'", "spelling"),
        ("bot.errors.Problem", "is not an input channel", "CHANNEL attribute"),
    ],
)
def test_unknown_channels_are_errors_at_their_line(name: str, message: str, hint: str) -> None:
    with pytest.raises(ConductorError) as caught:
        channel_class(name, "credentials.yml", 3)
    (problem,) = caught.value.problems
    assert message in problem.message
    assert hint in (problem.hint or "")
    assert (problem.file, problem.line) == ("credentials.yml", 3)


def test_a_package_adds_a_channel_through_its_entry_point(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "fancy_channel.py").write_text(
        textwrap.dedent(
            """
            from channels.base import InputChannel

            class FancyInput(InputChannel):
                name = "fancy"

                def routes(self, on_new_message):
                    return []
            """
        )
    )
    dist = tmp_path / "fancy_channel-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: fancy-channel\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[bot.channels]\nfancy = fancy_channel:FancyInput\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert available_channels()["fancy"] == "fancy-channel"
    found = channel_class("fancy")
    assert found is not None and found.__name__ == "FancyInput"


def test_without_credentials_the_rest_channel_runs(tmp_path: Path) -> None:
    channels = channels_from_credentials(load_credentials(tmp_path / "missing.yml"))
    assert [type(channel) for channel in channels] == [RestInput]


def test_the_rasa_init_credentials_run_unchanged(shared_data: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = shared_data / "rasa-projects" / "rasa-init-3.6.21" / "credentials.yml"
    with caplog.at_level(logging.WARNING, logger="channels.registry"):
        channels = channels_from_credentials(load_credentials(path))
    assert [channel.name for channel in channels] == ["rest"]
    assert "the channel 'rasa' (the Rasa X / Rasa Enterprise login, not a chat channel)" in caplog.text


def test_every_problem_in_credentials_is_reported_at_once(tmp_path: Path) -> None:
    path = tmp_path / "credentials.yml"
    path.write_text("rest:\nslak:\n  token: x\nchannels.rest.RestInput:\ntelegram:\n")
    with pytest.raises(ConductorError) as caught:
        channels_from_credentials(load_credentials(path))
    problems = caught.value.problems
    by_line = {problem.line: problem for problem in problems}
    assert "no channel named 'slak'" in by_line[2].message
    assert "both serve /webhooks/rest/" in by_line[4].message
    assert any(problem.line == 5 and problem.file == str(path) for problem in problems)  # telegram's settings
