from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from bot.evaluation import StoryResult, story_report, write_story_reports

from .helpers import assert_valid_png, read_json

HAPPY = StoryResult(
    "happy path",
    actions=[("utter_greet", "utter_greet"), ("action_listen", "action_listen")],
    yaml="- story: happy path\n  steps:\n  - intent: greet\n  - action: utter_greet\n",
)
SAD = StoryResult(
    "sad path",
    actions=[("utter_cheer_up", "utter_goodbye"), ("action_listen", "action_listen")],
    yaml=(
        "- story: sad path\n  steps:\n  - intent: mood_unhappy\n"
        "  - action: utter_cheer_up  # predicted: utter_goodbye\n  - action: action_listen\n"
    ),
)
WARNED = StoryResult(
    "unlikely path",
    actions=[("utter_greet", "utter_greet")],
    yaml="- story: unlikely path\n  steps:\n  - intent: greet\n  - action: utter_greet\n",
    has_warnings=True,
)


def test_story_report_holds_action_scores_and_conversation_accuracy() -> None:
    report = story_report([HAPPY, SAD, WARNED])

    assert report["utter_greet"] == {
        "precision": 1.0,
        "recall": 1.0,
        "f1-score": 1.0,
        "support": 2,
        "confused_with": {},
    }
    assert report["utter_cheer_up"] == {
        "precision": 0.0,
        "recall": 0.0,
        "f1-score": 0.0,
        "support": 1,
        "confused_with": {"utter_goodbye": 1},
    }
    assert "utter_goodbye" not in report  # predicted only: not a label of the report, as in Rasa
    assert report["accuracy"] == pytest.approx(4 / 5)
    assert report["conversation_accuracy"] == {
        "accuracy": pytest.approx(2 / 3),
        "correct": 2,
        "with_warnings": 1,
        "total": 3,
    }
    assert list(report)[-1] == "conversation_accuracy"


def test_end_to_end_intents_count_in_the_report_and_can_fail_a_story() -> None:
    story = StoryResult(
        "e2e",
        actions=[("utter_greet", "utter_greet")],
        intents=[("greet", "goodbye")],
        yaml="- story: e2e\n  steps:\n  - user: hi\n    intent: greet  # predicted: goodbye: hi\n",
    )
    report = story_report([story])

    assert not story.passed
    assert report["greet"]["confused_with"] == {"goodbye": 1}
    assert report["conversation_accuracy"]["correct"] == 0


def test_writes_rasas_story_files(tmp_path: Path) -> None:
    report = write_story_reports(tmp_path / "results", [HAPPY, SAD, WARNED])
    out_dir = tmp_path / "results"

    assert sorted(path.name for path in out_dir.iterdir()) == [
        "failed_test_stories.yml",
        "stories_with_warnings.yml",
        "story_confusion_matrix.png",
        "story_report.json",
        "successful_test_stories.yml",
    ]
    assert read_json(out_dir / "story_report.json") == report
    assert_valid_png(out_dir / "story_confusion_matrix.png")

    failed = (out_dir / "failed_test_stories.yml").read_text(encoding="utf-8")
    assert failed == 'version: "3.1"\nstories:\n' + SAD.yaml
    assert "  - action: utter_cheer_up  # predicted: utter_goodbye\n" in failed
    assert yaml.safe_load(failed)["stories"][0]["steps"][1] == {"action": "utter_cheer_up"}

    successful = yaml.safe_load((out_dir / "successful_test_stories.yml").read_text(encoding="utf-8"))
    assert [story["story"] for story in successful["stories"]] == ["happy path", "unlikely path"]
    warned = yaml.safe_load((out_dir / "stories_with_warnings.yml").read_text(encoding="utf-8"))
    assert [story["story"] for story in warned["stories"]] == ["unlikely path"]


def test_files_say_so_when_no_story_is_in_them(tmp_path: Path) -> None:
    write_story_reports(tmp_path, [HAPPY], plots=False)

    assert (
        tmp_path / "failed_test_stories.yml"
    ).read_text() == "# None of the test stories failed - all good!"
    assert (tmp_path / "stories_with_warnings.yml").read_text() == "# No warnings for test stories"
    assert not (tmp_path / "story_confusion_matrix.png").exists()


def test_no_stories_writes_an_empty_report(tmp_path: Path) -> None:
    assert write_story_reports(tmp_path, [], successes=False, warnings=False) == {}
    assert (tmp_path / "successful_test_stories.yml").exists() is False


def test_story_yaml_must_be_a_story_list_item(tmp_path: Path) -> None:
    broken = StoryResult("x", actions=[("a", "b")], yaml="stories:\n- story: x\n")

    with pytest.raises(ValueError, match="'- story:'"):
        write_story_reports(tmp_path, [broken], plots=False)
    assert list(tmp_path.iterdir()) == []  # checked before anything is written
