"""`report.html`: one self-contained page over the report files in a results folder, made for a trainer.

The page is built from whatever the NLU and story test runs left in the folder (intent, entity and story
reports, errors, failed stories, charts), so both runs contribute to one page. It needs nothing from the
network: styles and the small table-sorting script are inline, the charts are embedded as data URIs. Every
piece of text that comes from the reports (example texts, intent and action names, story YAML) is escaped.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from html import escape
from pathlib import Path
from typing import Any

from bot.errors import ConductorError
from bot.evaluation.html_assets import PAGE_SCRIPT, PAGE_STYLE
from bot.evaluation.report_files import (
    FAILED_STORIES,
    HTML_REPORT,
    INTENT_CONFUSION_MATRIX,
    INTENT_ERRORS,
    INTENT_HISTOGRAM,
    INTENT_REPORT,
    NON_EXTRACTOR_REPORTS,
    STORIES_WITH_WARNINGS,
    STORY_CONFUSION_MATRIX,
    STORY_REPORT,
    extractor_confusion_matrix_file,
    extractor_errors_file,
)
from bot.files import write_text

__all__ = ["render_html_report", "write_html_report"]

_SUMMARY_KEYS = ("accuracy", "micro avg", "macro avg", "weighted avg", "conversation_accuracy")
_WEAK_INTENTS_SHOWN = 8
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"

_REWRITE_HINT = "run the tests again to rewrite the results folder, or delete the broken file"


def _read_json(path: Path, kind: type[dict[str, Any]] | type[list[Any]]) -> Any:
    """The file's JSON value, None when the file is absent; a report of the wrong shape is an error."""
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ConductorError.single(
            f"cannot read the report file: {error}",
            file=path,
            line=getattr(error, "lineno", None),
            hint=_REWRITE_HINT,
        ) from error
    if not isinstance(data, kind):
        expected = "an object" if kind is dict else "a list"
        raise ConductorError.single(
            f"the report file should hold {expected}, not {type(data).__name__}",
            file=path,
            hint=_REWRITE_HINT,
        )
    return data


def _read_text(path: Path) -> str | None:
    return path.read_text(encoding="utf-8") if path.is_file() else None


def _number(value: Any, digits: int = 3) -> str:
    return f"{value:.{digits}f}" if isinstance(value, int | float) else "–"


def _attr(value: Any) -> str:
    """A sort key for a `data-value` attribute: numbers as they are, anything else empty."""
    return repr(float(value)) if isinstance(value, int | float) else ""


def _percent(value: Any) -> str:
    return f"{100 * value:.1f}%" if isinstance(value, int | float) else "–"


def _grade(value: Any) -> str:
    if not isinstance(value, int | float):
        return ""
    return "good" if value >= 0.9 else "warn" if value >= 0.7 else "bad"


def _card(label: str, value: str, detail: str = "", grade: str = "") -> str:
    detail_html = f'<div class="detail">{detail}</div>' if detail else ""
    return (
        f'<div class="card"><div class="label">{escape(label)}</div>'
        f'<div class="value {grade}">{escape(value)}</div>{detail_html}</div>'
    )


def _f1_bar(value: Any) -> str:
    if not isinstance(value, int | float):
        return ""
    kind = "" if value >= 0.9 else " mid" if value >= 0.7 else " low"
    return f'<span class="bar{kind}" style="width:{round(60 * value)}px"></span>'


def _confused_with(scores: Mapping[str, Any]) -> str:
    confused = scores.get("confused_with") or {}
    return ", ".join(f"{escape(label or '(none)')} ({int(count)})" for label, count in confused.items())


def _label_rows(report: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    return [
        (label, scores)
        for label, scores in report.items()
        if label not in _SUMMARY_KEYS and isinstance(scores, Mapping)
    ]


def _report_table(report: Mapping[str, Any], label_header: str) -> str:
    """Per label scores, worst f1 first, then the averages."""
    if not report:
        return '<p class="empty">No labels to report.</p>'
    rows = sorted(_label_rows(report), key=lambda item: (item[1].get("f1-score", 0.0), item[0]))
    body = []
    for label, scores in rows:
        f1 = scores.get("f1-score")
        support = scores.get("support", "–")
        body.append(
            "<tr>"
            f"<td>{escape(label)}</td>"
            + "".join(
                f'<td class="num" data-value="{_attr(scores.get(metric))}">{_number(scores.get(metric))}</td>'
                for metric in ("precision", "recall")
            )
            + f'<td class="num" data-value="{_attr(f1)}">{_number(f1)}{_f1_bar(f1)}</td>'
            f'<td class="num" data-value="{_attr(support)}">{escape(str(support))}</td>'
            f'<td class="confused">{_confused_with(scores)}</td>'
            "</tr>"
        )
    averages = []
    for key in ("micro avg", "macro avg", "weighted avg"):
        average = report.get(key)
        if isinstance(average, Mapping):
            averages.append(
                f'<tr class="average"><td>{key}</td>'
                + "".join(
                    f'<td class="num">{_number(average.get(metric))}</td>'
                    for metric in ("precision", "recall", "f1-score")
                )
                + f'<td class="num">{escape(str(average.get("support", "–")))}</td><td></td></tr>'
            )
    return (
        f'<table class="sortable"><thead><tr><th>{escape(label_header)}</th><th class="num">precision</th>'
        '<th class="num">recall</th><th class="num">f1-score</th><th class="num">support</th>'
        "<th>confused with</th></tr></thead>"
        f"<tbody>{''.join(body)}</tbody><tfoot>{''.join(averages)}</tfoot></table>"
    )


def _figure(path: Path, caption: str) -> str:
    if not path.is_file():
        return ""
    data = path.read_bytes()
    if not data.startswith(_PNG_SIGNATURE) or len(data) < 24:
        return ""
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    encoded = base64.b64encode(data).decode("ascii")
    return (
        f'<figure><div class="frame"><img src="data:image/png;base64,{encoded}" width="{width}" '
        f'height="{height}" alt="{escape(caption)}"></div>'
        f"<figcaption>{escape(caption)} ({escape(path.name)}; click to zoom)</figcaption></figure>"
    )


def _annotated(text: str, entities: Iterable[Mapping[str, Any]]) -> str:
    """The text with its entities marked, like Rasa's `[value](entity)` training format."""
    spans = []
    for entity in entities:
        try:
            spans.append((int(entity["start"]), int(entity["end"]), entity))
        except (KeyError, TypeError, ValueError):
            continue
    parts = []
    position = 0
    for start, end, entity in sorted(spans, key=lambda span: (span[0], span[1])):
        if start < position or end > len(text) or start >= end:
            continue
        label = ".".join(str(entity[key]) for key in ("entity", "group", "role") if entity.get(key))
        parts.append(escape(text[position:start]))
        parts.append(f'<mark class="entity">{escape(text[start:end])}<sub>{escape(label)}</sub></mark>')
        position = end
    parts.append(escape(text[position:]))
    return "".join(parts)


def _intent_errors_table(errors: Sequence[Mapping[str, Any]]) -> str:
    if not errors:
        return '<p class="empty">Every test example got its intent right.</p>'

    def confidence(error: Mapping[str, Any]) -> float:
        value = (error.get("intent_prediction") or {}).get("confidence")
        return float(value) if isinstance(value, int | float) else -1.0

    rows = []
    for error in sorted(errors, key=lambda error: -confidence(error)):
        prediction = error.get("intent_prediction") or {}
        value = confidence(error)
        rows.append(
            f"<tr><td>{escape(str(error.get('text', '')))}</td>"
            f"<td>{escape(str(error.get('intent', '')))}</td>"
            f"<td>{escape(str(prediction.get('name') or '(none)'))}</td>"
            f'<td class="num" data-value="{_attr(value)}">{_number(value if value >= 0 else None)}</td></tr>'
        )
    return (
        f"<p>{len(errors)} examples, the most confident mistakes first: those are the likeliest to be "
        "mislabelled or to need examples that tell the intents apart.</p>"
        '<table class="sortable"><thead><tr><th>text</th><th>expected intent</th><th>predicted intent</th>'
        f'<th class="num">confidence</th></tr></thead><tbody>{"".join(rows)}</tbody></table>'
    )


def _entity_errors_table(errors: Sequence[Mapping[str, Any]]) -> str:
    if not errors:
        return '<p class="empty">Every entity token was labelled right.</p>'
    rows = [
        f"<tr><td>{_annotated(str(error.get('text', '')), error.get('entities') or [])}</td>"
        f"<td>{_annotated(str(error.get('text', '')), error.get('predicted_entities') or [])}</td></tr>"
        for error in errors
    ]
    return (
        f"<p>{len(errors)} examples with at least one token labelled wrong.</p>"
        "<table><thead><tr><th>expected entities</th><th>predicted entities</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _story_yaml(text: str) -> str:
    lines = []
    for line in text.splitlines():
        escaped = escape(line)
        lines.append(f"<mark>{escaped}</mark>" if "# predicted:" in line else escaped)
    return '<pre class="story">' + "\n".join(lines) + "</pre>"


def _extractors(out_dir: Path) -> list[str]:
    suffix = "_report.json"
    return sorted(
        path.name[: -len(suffix)]
        for path in out_dir.glob(f"*{suffix}")
        if path.name not in NON_EXTRACTOR_REPORTS and path.is_file()
    )


class _Page:
    """Collects the summary cards, the navigation and the sections of the page as they are found."""

    def __init__(self) -> None:
        self.cards: list[str] = []
        self.look_first: list[str] = []
        self.sections: list[tuple[str, str, str]] = []

    def section(self, anchor: str, title: str, body: str) -> None:
        self.sections.append((anchor, title, body))


def _add_intents(page: _Page, out_dir: Path) -> None:
    report = _read_json(out_dir / INTENT_REPORT, dict)
    if report is None:
        return
    errors = _read_json(out_dir / INTENT_ERRORS, list)
    total = (report.get("macro avg") or {}).get("support")
    accuracy = report.get("accuracy")
    page.cards.append(
        _card(
            "Intent accuracy",
            _percent(accuracy),
            f"{total if total is not None else '–'} examples"
            + (f", {len(errors)} wrong" if isinstance(errors, list) else "")
            + f" · weighted F1 {_number((report.get('weighted avg') or {}).get('f1-score'))}",
            _grade(accuracy),
        )
    )
    weak = [
        (label, scores)
        for label, scores in sorted(
            _label_rows(report), key=lambda item: (item[1].get("f1-score", 0), item[0])
        )
        if scores.get("f1-score", 1.0) < 1.0
    ][:_WEAK_INTENTS_SHOWN]
    for label, scores in weak:
        confused = _confused_with(scores)
        page.look_first.append(
            f"<li>intent <b>{escape(label)}</b>: f1 {_number(scores.get('f1-score'))}"
            + (f", confused with {confused}" if confused else "")
            + "</li>"
        )
    body = (
        _report_table(report, "intent")
        + _figure(out_dir / INTENT_CONFUSION_MATRIX, "Intent confusion matrix")
        + _figure(out_dir / INTENT_HISTOGRAM, "Intent prediction confidence")
        + "<h3>Wrongly classified examples</h3>"
        + (
            _intent_errors_table(errors)
            if isinstance(errors, list)
            else '<p class="empty">No errors file.</p>'
        )
    )
    page.section("intents", "Intents", body)


def _add_entities(page: _Page, out_dir: Path) -> None:
    extractors = _extractors(out_dir)
    if not extractors:
        return
    parts = []
    for extractor in extractors:
        report = _read_json(out_dir / f"{extractor}_report.json", dict) or {}
        errors = _read_json(out_dir / extractor_errors_file(extractor), list)
        f1 = (report.get("weighted avg") or {}).get("f1-score")
        page.cards.append(
            _card(
                f"Entities · {extractor}",
                _number(f1),
                "weighted F1 over entity tokens"
                + (f", {len(errors)} examples wrong" if isinstance(errors, list) else ""),
                _grade(f1),
            )
        )
        parts.append(
            f'<h3 id="entities-{escape(extractor)}">{escape(extractor)}</h3>'
            + _report_table(report, "entity")
            + _figure(out_dir / extractor_confusion_matrix_file(extractor), f"{extractor} confusion matrix")
            + (_entity_errors_table(errors) if isinstance(errors, list) else "")
        )
    page.section("entities", "Entities", "".join(parts))


def _add_stories(page: _Page, out_dir: Path) -> None:
    report = _read_json(out_dir / STORY_REPORT, dict)
    failed = _read_text(out_dir / FAILED_STORIES)
    if report is None and failed is None:
        return
    report = report or {}
    conversations = report.get("conversation_accuracy") or {}
    if conversations:
        warnings = conversations.get("with_warnings", 0)
        page.cards.append(
            _card(
                "Stories passed",
                f"{conversations.get('correct', 0)} / {conversations.get('total', 0)}",
                f"conversation accuracy {_percent(conversations.get('accuracy'))}"
                + (f", {warnings} with warnings" if warnings else ""),
                _grade(conversations.get("accuracy")),
            )
        )
    if "accuracy" in report:
        page.cards.append(
            _card("Action accuracy", _percent(report["accuracy"]), grade=_grade(report["accuracy"]))
        )
    failed_count = (conversations.get("total", 0) or 0) - (conversations.get("correct", 0) or 0)
    if failed_count:
        stories = "story" if failed_count == 1 else "stories"
        page.look_first.append(f'<li><a href="#failed-stories">{failed_count} failed test {stories}</a></li>')
    body = _report_table(report, "action") if report else ""
    body += _figure(out_dir / STORY_CONFUSION_MATRIX, "Action confusion matrix")
    body += '<h3 id="failed-stories">Failed stories</h3>'
    if failed is None:
        body += '<p class="empty">No failed stories file.</p>'
    elif failed.lstrip().startswith("#"):
        body += f'<p class="empty">{escape(failed.lstrip("# ").strip())}</p>'
    else:
        body += "<p>Wrong steps are marked with the prediction that was made instead.</p>" + _story_yaml(
            failed
        )
    warned = _read_text(out_dir / STORIES_WITH_WARNINGS)
    if warned is not None and not warned.lstrip().startswith("#"):
        body += "<h3>Stories with warnings</h3>" + _story_yaml(warned)
    page.section("stories", "Stories", body)


def _files_list(out_dir: Path) -> str:
    names = sorted(
        path.name
        for path in out_dir.iterdir()
        if path.is_file() and path.name != HTML_REPORT and not path.name.startswith(".")
    )
    links = ", ".join(f'<a href="{escape(name)}">{escape(name)}</a>' for name in names)
    return f"<footer><p>Files in this folder: {links or 'none'}.</p></footer>"


_SECTION_BUILDERS: tuple[Callable[[_Page, Path], None], ...] = (_add_intents, _add_entities, _add_stories)


def render_html_report(out_dir: Path, *, generated_at: datetime | None = None) -> str:
    """The HTML page for the report files in `out_dir`."""
    page = _Page()
    for add in _SECTION_BUILDERS:
        add(page, out_dir)
    moment = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M %Z").strip()
    navigation = "".join(f'<a href="#{anchor}">{escape(title)}</a>' for anchor, title, _ in page.sections)
    sections = "".join(
        f'<section id="{anchor}"><h2>{escape(title)}</h2>{body}</section>'
        for anchor, title, body in page.sections
    )
    summary = f'<div class="cards">{"".join(page.cards)}</div>' if page.cards else ""
    if page.look_first:
        summary += "<h3>Where to look first</h3><ul>" + "".join(page.look_first) + "</ul>"
    if not page.sections:
        summary = '<p class="empty">No test reports in this folder yet: run the NLU or story tests first.</p>'
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Test report · {escape(out_dir.resolve().name)}</title><style>{PAGE_STYLE}</style></head><body>"
        f"<header><h1>Test report</h1><p>{escape(str(out_dir.resolve()))} · {escape(moment)}</p></header>"
        f'<nav><a href="#summary">Summary</a>{navigation}</nav>'
        f'<main><section id="summary"><h2>Summary</h2>{summary}</section>{sections}'
        f"{_files_list(out_dir)}</main><script>{PAGE_SCRIPT}</script></body></html>\n"
    )


def write_html_report(out_dir: Path) -> Path:
    """Write `report.html` into `out_dir` from the report files found there; returns its path."""
    if not out_dir.is_dir():
        raise ConductorError.single(
            "the results folder does not exist",
            file=out_dir,
            hint="run the NLU or story tests first, or pass the folder they wrote their reports to",
        )
    path = out_dir / HTML_REPORT
    write_text(path, render_html_report(out_dir))
    return path
