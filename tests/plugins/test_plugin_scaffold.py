"""`bot plugins new`: the plugin it writes is found, trains with the base assistant, passes its own test story
and runs its action."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.dialogue.story_test import run_test_stories
from bot.errors import ConductorError
from bot.model import load_model, train_model
from bot.plugins.discovery import discover_plugins
from bot.plugins.instance import load_instance
from bot.plugins.listing import list_plugins
from bot.plugins.manifest import load_manifest
from bot.plugins.merge import load_project_with_plugins
from bot.plugins.registry import build_action_registry
from bot.plugins.scaffold import create_plugin
from bot.project.loader import ProjectPaths
from tests.plugins.plugin_helpers import new_tracker, processor_for, say, texts, write_instance


async def test_a_new_plugin_trains_passes_its_test_story_and_runs_its_action(tmp_path: Path) -> None:
    folder = create_plugin("pet_store", tmp_path / "plugins")
    assert folder == tmp_path / "plugins" / "pet_store"
    assert load_manifest(folder / "plugin.yml").settings["team_name"].default == "the pet store team"
    write_instance(tmp_path, "plugins:\n  pet_store:\n")
    instance = load_instance(tmp_path)
    catalog = discover_plugins(instance.plugins_dir, shipped=tmp_path / "none", entry_points=False)
    project = load_project_with_plugins(ProjectPaths.discover(tmp_path), instance, catalog=catalog)

    path, reused = train_model(project, tmp_path / "models")
    model = load_model(path)
    assert not reused and model.dialogue is not None
    own_stories = [s for s in project.test_stories if str(folder) in (s.file or "")]
    [result] = run_test_stories(model.dialogue, own_stories, parse=model.parse)
    assert result.passed, result.failures()
    assert [check.predicted for check in result.intents] == ["ask_pet_store"]

    registry = build_action_registry(model, instance)
    turn = await processor_for(project, registry).handle_message(new_tracker(project), say("/ask_pet_store"))
    assert texts(turn.events) == ["This is the pet store skill.", "Hello from the pet store team!"]
    await registry.close()

    listing = list_plugins(tmp_path, catalog=catalog)
    [row] = listing.plugins
    assert (row.name, row.source, row.enabled, row.intents, row.responses, row.actions, row.forms) == (
        "pet_store", "folder", True, 1, 1, 1, 0
    )


def test_a_new_plugin_never_overwrites_and_needs_a_proper_name(tmp_path: Path) -> None:
    create_plugin("faq", tmp_path, description='Answers "frequent" questions.')
    assert load_manifest(tmp_path / "faq" / "plugin.yml").description == 'Answers "frequent" questions.'
    with pytest.raises(ConductorError, match="already exists"):
        create_plugin("faq", tmp_path)
    for bad in ("Pet-Store", "9lives", "tests", ""):
        with pytest.raises(ConductorError, match="cannot be a plugin name"):
            create_plugin(bad, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["faq"]
