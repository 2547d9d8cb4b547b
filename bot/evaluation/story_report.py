"""`rasa test core` report files from story predictions already made.

Per test story the dialogue engine gives the (expected, predicted) action of every step, the (expected,
predicted) intent of every user turn in end-to-end mode, whether the story only passed with warnings (an
`action_unlikely_intent` Rasa does not count as a failure), and the story already dumped as YAML with
`# predicted: ...` comments on its wrong steps. This writes what Rasa 3.x writes:

- `story_report.json`: per label precision, recall, f1-score, support and confused_with, the averages, and
  `conversation_accuracy` {accuracy, correct, with_warnings, total};
- `failed_test_stories.yml`, `successful_test_stories.yml`, `stories_with_warnings.yml`: one YAML document
  each, with Rasa's one-line comment in place of the stories when there are none;
- `story_confusion_matrix.png`: expected against predicted actions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot.evaluation.classification import classification_report, confusion_matrix
from bot.evaluation.report_files import (
    FAILED_STORIES,
    STORIES_WITH_WARNINGS,
    STORY_CONFUSION_MATRIX,
    STORY_REPORT,
    SUCCESSFUL_STORIES,
    write_json,
)
from bot.files import write_text

__all__ = ["StoryResult", "stories_yaml", "story_report", "write_story_reports"]

# The training data format version Rasa 3.x writes at the top of its story files.
STORY_FORMAT_VERSION = "3.1"

# What Rasa writes in a story file that has no story to hold.
_NO_FAILED_STORIES = "None of the test stories failed - all good!"
_NO_SUCCESSFUL_STORIES = "None of the test stories succeeded :("
_NO_WARNINGS = "No warnings for test stories"


@dataclass(frozen=True)
class StoryResult:
    """One test story's predictions.

    `yaml` is the story as one item of a YAML `stories:` list, starting `- story: <name>`, with each wrongly
    predicted step carrying a `# predicted: <what was predicted>` comment.
    """

    name: str
    actions: Sequence[tuple[str, str]]
    yaml: str
    intents: Sequence[tuple[str, str]] = ()
    has_warnings: bool = False

    @property
    def passed(self) -> bool:
        return all(expected == predicted for expected, predicted in (*self.actions, *self.intents))


def _pairs(stories: Sequence[StoryResult]) -> tuple[list[str], list[str]]:
    """Targets and predictions, actions first then intents, as Rasa lines them up."""
    steps = [pair for story in stories for pair in story.actions] + [
        pair for story in stories for pair in story.intents
    ]
    return [expected for expected, _ in steps], [predicted for _, predicted in steps]


def story_report(stories: Sequence[StoryResult]) -> dict[str, Any]:
    """Rasa's `story_report.json` content for these stories."""
    targets, predictions = _pairs(stories)
    report = classification_report(targets, predictions)
    if stories:
        correct = [story for story in stories if story.passed]
        report["conversation_accuracy"] = {
            "accuracy": len(correct) / len(stories),
            "correct": len(correct),
            "with_warnings": sum(1 for story in correct if story.has_warnings),
            "total": len(stories),
        }
    return report


def _story_item(story: StoryResult) -> str:
    content = [line for line in story.yaml.strip("\n").splitlines() if line.strip()]
    first = next((line for line in content if not line.lstrip().startswith("#")), "")
    if not first.startswith("- story:"):
        raise ValueError(
            f"the YAML of story {story.name!r} must be one item of a `stories:` list starting with "
            f"'- story:', got {first!r}"
        )
    return story.yaml.strip("\n") + "\n"


def stories_yaml(stories: Sequence[StoryResult], message_if_none: str) -> str:
    """One story file holding `stories`, or Rasa's `# <message>` line when there are none."""
    if not stories:
        return f"# {message_if_none}"
    items = "".join(_story_item(story) for story in stories)
    return f'version: "{STORY_FORMAT_VERSION}"\nstories:\n{items}'


def write_story_reports(
    out_dir: Path,
    stories: Sequence[StoryResult],
    *,
    successes: bool = True,
    warnings: bool = True,
    plots: bool = True,
) -> dict[str, Any]:
    """Write Rasa's story test report files into `out_dir` (created if missing); returns the report."""
    passed = [story for story in stories if story.passed]
    failed = [story for story in stories if not story.passed]
    story_files = {FAILED_STORIES: stories_yaml(failed, _NO_FAILED_STORIES)}
    if successes:
        story_files[SUCCESSFUL_STORIES] = stories_yaml(passed, _NO_SUCCESSFUL_STORIES)
    if warnings:
        warned = [story for story in passed if story.has_warnings]
        story_files[STORIES_WITH_WARNINGS] = stories_yaml(warned, _NO_WARNINGS)
    report = story_report(stories)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json(out_dir / STORY_REPORT, report)
    for name, text in story_files.items():
        write_text(out_dir / name, text)
    action_targets = [expected for story in stories for expected, _ in story.actions]
    if plots and action_targets:
        from bot.evaluation.plots import plot_confusion_matrix

        labels, matrix = confusion_matrix(
            action_targets, [predicted for story in stories for _, predicted in story.actions]
        )
        plot_confusion_matrix(matrix, labels, "Action Confusion matrix", out_dir / STORY_CONFUSION_MATRIX)
    return report
