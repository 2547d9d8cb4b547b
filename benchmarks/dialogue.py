"""Dialogue engine figures: training time, per-turn prediction latency, and test stories passed.

Run: `.venv/bin/python benchmarks/dialogue.py [project ...]` (default: the three compatibility projects in
../shared/data/rasa-projects). Latency is measured on every action point of every test story (the tracker
as the story has it there), several rounds after one warm-up round; per turn the median of its rounds counts
(p50/p99/max over turns), and the p99 of all single runs is printed beside it.
"""

from __future__ import annotations

import gc
import statistics
import sys
import time
from pathlib import Path

from bot.dialogue.events import ActionExecuted
from bot.dialogue.model import train_policies
from bot.dialogue.story_test import run_test_stories
from bot.dialogue.tracker import DialogueStateTracker
from bot.dialogue.training import tracker_from_block
from bot.project.loader import ProjectPaths, load_project
from bot.project.stories import resolve_checkpoints

PROJECTS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "rasa-projects"
DEFAULT_PROJECTS = ("rasa-init-3.6.21", "rasa-oss-formbot", "financial-demo")
ROUNDS = 5


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def measure(name: str) -> None:
    project = load_project(ProjectPaths.discover(PROJECTS / name))
    started = time.perf_counter()
    model = train_policies(project)
    training = time.perf_counter() - started

    points: list[DialogueStateTracker] = []
    for story in resolve_checkpoints(project.test_stories):
        events = tracker_from_block(story, model.domain).tracker.events
        for index, event in enumerate(events):
            if index and isinstance(event, ActionExecuted):
                points.append(DialogueStateTracker.for_domain(story.name, model.domain, events[:index]))
    per_turn: list[list[float]] = [[] for _ in points]
    gc.disable()  # collections land on random turns; they are the runtime's cost, not the policies'
    try:
        for round_number in range(ROUNDS + 1):
            for position, tracker in enumerate(points):
                begin = time.perf_counter()
                model.predict_next_action(tracker)
                if round_number:
                    per_turn[position].append(time.perf_counter() - begin)
    finally:
        gc.enable()
    timings = [statistics.median(times) for times in per_turn]
    raw = [t for times in per_turn for t in times]

    results = run_test_stories(model, project.test_stories)
    passed = sum(result.passed for result in results)
    print(
        f"{name:20s} train {training:6.2f} s | predict p50 {statistics.median(timings) * 1000:5.2f} ms "
        f"p99 {percentile(timings, 0.99) * 1000:5.2f} ms max {max(timings) * 1000:5.2f} ms "
        f"(all single runs: p99 {percentile(raw, 0.99) * 1000:5.2f} ms; {len(points)} turns) | "
        f"test stories {passed}/{len(results)} passed"
    )


def main(names: list[str]) -> None:
    for name in names or DEFAULT_PROJECTS:
        measure(name)


if __name__ == "__main__":
    main(sys.argv[1:])
