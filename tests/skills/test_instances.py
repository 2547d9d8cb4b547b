"""A client instance with the skills, as the README makes one: `bot init --instance` with one skill or both,
then `bot train && bot test` passes every test story, the NLU in the loop.

The skills' intents meet when both are on (a corrected email address and a ticket's details look alike), so an
NLU change that passes each skill alone can still fail the pair: the pair is tested too.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.process_helpers import run_bot, train_and_test_stories


@pytest.mark.parametrize("plugins", [("legal",), ("tech_support",), ("legal", "tech_support")], ids="+".join)
def test_an_instance_passes_every_test_story_with_the_nlu_in_the_loop(tmp_path: Path, plugins: tuple[str, ...]) -> None:
    instance = tmp_path / "acme"
    options = [option for plugin in plugins for option in ("--plugin", plugin)]
    made = run_bot("init", "--instance", str(instance), "--name", "Acme", *options, cwd=tmp_path)
    assert made.returncode == 0, made.stdout + made.stderr
    report = train_and_test_stories(instance, tmp_path / "results")
    assert report["conversation_accuracy"]["accuracy"] == 1.0
    assert report["conversation_accuracy"]["total"] >= 12  # the base assistant's stories and the skills'
