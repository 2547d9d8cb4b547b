"""Evaluation reports shaped like Rasa 3.x's, written from predictions the test runners already made.

- `write_nlu_reports`: `rasa test nlu` files (intent and per-extractor entity reports, errors, charts);
- `write_story_reports`: `rasa test core` files (story report, failed/successful stories, chart);
- `average_reports`: mean and standard deviation of reports across cross-validation folds;
- `write_html_report`: one `report.html` over whatever reports a results folder holds.

Plain data in, files out: nothing here depends on the NLU pipeline or the dialogue engine.
"""

from bot.evaluation.classification import classification_report
from bot.evaluation.cross_validation import average_reports, cross_validation_lines
from bot.evaluation.html_report import render_html_report, write_html_report
from bot.evaluation.nlu_report import (
    EntityResult,
    IntentResult,
    NluReports,
    entity_errors,
    entity_report,
    entity_successes,
    intent_errors,
    intent_report,
    intent_successes,
    write_nlu_reports,
)
from bot.evaluation.story_report import StoryResult, stories_yaml, story_report, write_story_reports

__all__ = [
    "EntityResult",
    "IntentResult",
    "NluReports",
    "StoryResult",
    "average_reports",
    "classification_report",
    "cross_validation_lines",
    "entity_errors",
    "entity_report",
    "entity_successes",
    "intent_errors",
    "intent_report",
    "intent_successes",
    "render_html_report",
    "stories_yaml",
    "story_report",
    "write_html_report",
    "write_nlu_reports",
    "write_story_reports",
]
