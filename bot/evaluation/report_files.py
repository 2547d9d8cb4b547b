"""The names of the report files Rasa 3.x writes, and how they are written.

Writers and the HTML page share these names so that a folder written by `bot test` reads like one written by
`rasa test`. Every file is written to a temporary sibling first and renamed into place (`bot.files`), so an interrupted
run never leaves a half-written report behind.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from bot.files import write_text

__all__ = [
    "FAILED_STORIES",
    "HTML_REPORT",
    "INTENT_CONFUSION_MATRIX",
    "INTENT_ERRORS",
    "INTENT_HISTOGRAM",
    "INTENT_REPORT",
    "INTENT_SUCCESSES",
    "NON_EXTRACTOR_REPORTS",
    "STORIES_WITH_WARNINGS",
    "STORY_CONFUSION_MATRIX",
    "STORY_REPORT",
    "SUCCESSFUL_STORIES",
    "extractor_confusion_matrix_file",
    "extractor_errors_file",
    "extractor_report_file",
    "extractor_successes_file",
    "write_json",
]

INTENT_REPORT = "intent_report.json"
INTENT_ERRORS = "intent_errors.json"
INTENT_SUCCESSES = "intent_successes.json"
INTENT_CONFUSION_MATRIX = "intent_confusion_matrix.png"
INTENT_HISTOGRAM = "intent_histogram.png"

STORY_REPORT = "story_report.json"
FAILED_STORIES = "failed_test_stories.yml"
SUCCESSFUL_STORIES = "successful_test_stories.yml"
STORIES_WITH_WARNINGS = "stories_with_warnings.yml"
STORY_CONFUSION_MATRIX = "story_confusion_matrix.png"

HTML_REPORT = "report.html"

# `*_report.json` files in a results folder that are not an entity extractor's report.
NON_EXTRACTOR_REPORTS = frozenset({INTENT_REPORT, STORY_REPORT, "response_selection_report.json"})


def _checked_extractor(extractor: str) -> str:
    if not extractor or "/" in extractor or "\\" in extractor or extractor in {".", ".."}:
        raise ValueError(f"an entity extractor name must be usable as a file name, got {extractor!r}")
    return extractor


def extractor_report_file(extractor: str) -> str:
    return f"{_checked_extractor(extractor)}_report.json"


def extractor_errors_file(extractor: str) -> str:
    return f"{_checked_extractor(extractor)}_errors.json"


def extractor_successes_file(extractor: str) -> str:
    return f"{_checked_extractor(extractor)}_successes.json"


def extractor_confusion_matrix_file(extractor: str) -> str:
    return f"{_checked_extractor(extractor)}_confusion_matrix.png"


def write_json(path: Path, data: Any) -> None:
    """JSON as Rasa dumps it: indented by two, non-ASCII characters kept as they are."""
    write_text(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")
