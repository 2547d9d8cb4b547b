from __future__ import annotations

import json
from html.parser import HTMLParser
from pathlib import Path

import pytest

from bot.errors import ConductorError
from bot.evaluation import (
    EntityResult,
    IntentResult,
    StoryResult,
    render_html_report,
    write_html_report,
    write_nlu_reports,
    write_story_reports,
)

INTENTS = [
    IntentResult("hi", "greet", "greet", 0.95),
    IntentResult("<script>alert('owned')</script>", "greet", "goodbye", 0.6),
    IntentResult("bye", "goodbye", "goodbye", 0.8),
    IntentResult("see you", "goodbye", "affirm", 0.55),
    IntentResult("yes", "affirm", "affirm", 0.99),
    IntentResult("sure", "affirm", "affirm", 0.97),
]
ENTITIES = [
    EntityResult(
        "table for <b>4</b>",
        targets=[{"entity": "number", "start": 13, "end": 14, "value": "4"}],
        predictions=[],
    )
]
STORIES = [
    StoryResult(
        "fine", [("utter_greet", "utter_greet")], "- story: fine\n  steps:\n  - action: utter_greet\n"
    ),
    StoryResult(
        "broken <story>",
        [("utter_cheer_up", "utter_goodbye")],
        "- story: broken <story>\n  steps:\n  - action: utter_cheer_up  # predicted: utter_goodbye\n",
    ),
]

VOID_ELEMENTS = {"meta", "img", "br", "hr", "link", "input"}


class _TagBalance(HTMLParser):
    """Fails on a closing tag that does not match the open one; collects script bodies."""

    def __init__(self) -> None:
        super().__init__()
        self.open: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in VOID_ELEMENTS:
            self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        assert self.open and self.open[-1] == tag, f"</{tag}> closes <{self.open[-1] if self.open else None}>"
        self.open.pop()

    def handle_data(self, data: str) -> None:
        if self.open and self.open[-1] == "script":
            self.scripts.append(data)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out_dir = tmp_path_factory.mktemp("results")
    write_nlu_reports(out_dir, INTENTS, {"DIETClassifier": ENTITIES})
    write_story_reports(out_dir, STORIES)
    return out_dir


@pytest.fixture(scope="module")
def page(results: Path) -> str:
    path = write_html_report(results)
    assert path == results / "report.html"
    return path.read_text(encoding="utf-8")


def test_page_is_well_formed_with_only_its_own_script(page: str) -> None:
    parser = _TagBalance()
    parser.feed(page)
    parser.close()

    assert parser.open == []
    assert len(parser.scripts) == 1 and "querySelectorAll" in parser.scripts[0]
    assert page.count("<script") == 1


def test_user_text_is_escaped(page: str) -> None:
    assert "&lt;script&gt;alert(&#x27;owned&#x27;)&lt;/script&gt;" in page
    assert "alert('owned')" not in page
    assert "table for &lt;b&gt;" in page and "<b>4</b>" not in page
    assert "broken &lt;story&gt;" in page and "<story>" not in page


def test_summary_tells_the_main_figures(page: str) -> None:
    summary = page.split('<section id="summary">', 1)[1].split("</section>", 1)[0]

    assert "Intent accuracy" in summary and "66.7%" in summary and "2 wrong" in summary
    assert "Entities · DIETClassifier" in summary
    assert "Stories passed" in summary and "1 / 2" in summary
    assert "intent <b>greet</b>: f1 0.667, confused with goodbye (1)" in summary
    assert "1 failed test story" in summary


def test_sections_present_errors_and_failed_stories(page: str) -> None:
    intents = page.split('<section id="intents">', 1)[1].split("</section>", 1)[0]
    stories = page.split('<section id="stories">', 1)[1].split("</section>", 1)[0]

    assert "<td>see you</td><td>goodbye</td><td>affirm</td>" in intents
    assert "<mark>  - action: utter_cheer_up  # predicted: utter_goodbye</mark>" in stories
    assert '<section id="entities">' in page and '<mark class="entity">4<sub>number</sub></mark>' in page


def test_charts_are_embedded(results: Path, page: str) -> None:
    pngs = sorted(path.name for path in results.glob("*.png"))

    assert len(pngs) == 4
    assert page.count('src="data:image/png;base64,') == len(pngs)
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and ' src="http' not in page


def test_one_run_alone_still_makes_a_page(tmp_path: Path) -> None:
    write_story_reports(tmp_path, STORIES[:1], plots=False)
    page = render_html_report(tmp_path)

    assert '<section id="stories">' in page and '<section id="intents">' not in page
    assert "None of the test stories failed - all good!" in page


def test_empty_folder_says_what_to_do(tmp_path: Path) -> None:
    assert "run the NLU or story tests first" in render_html_report(tmp_path)


def test_broken_report_file_is_reported_with_its_place(tmp_path: Path) -> None:
    (tmp_path / "intent_report.json").write_text('{\n  "greet": {\n', encoding="utf-8")

    with pytest.raises(ConductorError) as error:
        write_html_report(tmp_path)
    problem = error.value.problems[0]
    assert problem.file == str(tmp_path / "intent_report.json") and problem.line == 3
    assert problem.hint and "run the tests again" in problem.hint
    assert not (tmp_path / "report.html").exists()


def test_report_of_the_wrong_shape_is_reported(tmp_path: Path) -> None:
    (tmp_path / "story_report.json").write_text(json.dumps([1, 2]), encoding="utf-8")

    with pytest.raises(ConductorError, match="should hold an object"):
        write_html_report(tmp_path)


def test_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(ConductorError, match="does not exist"):
        write_html_report(tmp_path / "nowhere")
