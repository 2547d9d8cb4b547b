"""A short, readable summary of what a project holds (printed by `bot data validate`)."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from bot.project.loader import Project

__all__ = ["project_counts", "render_summary"]


def _names(items: list[str], limit: int = 8) -> str:
    shown = ", ".join(items[:limit])
    return shown + (f", … (+{len(items) - limit})" if len(items) > limit else "")


def project_counts(project: Project) -> list[tuple[str, int, str]]:
    """(what, how many, a few names) for every kind of thing in the project."""
    domain, nlu = project.domain, project.nlu
    entity_details = []
    for entity in domain.entities.values():
        extras = [f"role {r}" for r in entity.roles] + [f"group {g}" for g in entity.groups]
        entity_details.append(entity.name + (f" ({', '.join(extras)})" if extras else ""))
    responses = list(domain.responses) + [r for r in nlu.responses if r not in domain.responses]
    return [
        ("intents", len(domain.intents), _names(list(domain.intents))),
        ("entities", len(domain.entities), _names(entity_details, 5)),
        ("slots", len(domain.slots), _names([f"{s.name}: {s.type}" for s in domain.slots.values()], 5)),
        ("responses", len(responses), _names(responses)),
        ("forms", len(domain.forms), _names(list(domain.forms))),
        ("actions", len(domain.actions), _names(list(domain.actions))),
        ("NLU examples", len(nlu.examples), f"{len(nlu.intents)} intents"),
        ("synonyms", len(nlu.synonyms), _names(sorted(set(nlu.synonyms.values())))),
        ("regexes", len(nlu.regexes), _names([r.name for r in nlu.regexes])),
        ("lookup tables", len(nlu.lookups), _names([f"{t.name} ({len(t.elements)})" for t in nlu.lookups])),
        ("retrieval intents", len(nlu.retrieval_intents), _names(nlu.retrieval_intents)),
        ("stories", len(project.stories), _names([s.name for s in project.stories], 4)),
        ("rules", len(project.rules), _names([r.name for r in project.rules], 4)),
        ("test stories", len(project.test_stories), _names([s.name for s in project.test_stories], 4)),
    ]


def render_summary(project: Project, console: Console) -> None:
    table = Table(title=f"Project {project.paths.root.resolve().name}", title_justify="left")
    table.add_column("what")
    table.add_column("count", justify="right")
    table.add_column("names")
    for what, count, names in project_counts(project):
        table.add_row(what, str(count), names)
    console.print(table)
