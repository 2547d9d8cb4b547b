"""Discovery from the three sources: shipped plugins, entry points of installed distributions (a real
dist-info folder on sys.path, read by importlib.metadata), and folders in the instance's plugins/ directory."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.errors import ConductorError
from bot.plugins.actions import actions_in_module, import_plugin_module
from bot.plugins.discovery import discover_plugins, shipped_plugins_folder
from bot.plugins.instance import enable_plugins, load_instance
from bot.plugins.listing import list_plugins
from tests.conftest import REPO_ROOT
from tests.plugins.plugin_helpers import write, write_instance, write_plugin

ACTIONS = """\
from bot.plugins.sdk import ActionContext, PluginAction, action

from .helpers import GREETING


@action("action_{name}_hello", timeout=2.5)
async def hello(ctx: ActionContext) -> None:
    ctx.dispatcher.utter_message(text=GREETING)


class Check(PluginAction):
    name = "validate_{name}_form"

    async def run(self, ctx: ActionContext) -> None:
        return None
"""


def install_distribution(site: Path, dist: str, package: str, entry_name: str) -> Path:
    """A distribution as pip installs one: the package, and a dist-info with an entry point in `bot.plugins`."""
    write_plugin(site, package, domain="intents: [ask_acme]\nactions: [action_acme_hello]\n")
    write(site / package / "helpers.py", 'GREETING = "hello from acme"\n')
    write(site / package / "actions.py", ACTIONS.format(name="acme"))
    info = site / f"{dist.replace('-', '_')}-1.2.0.dist-info"
    write(info / "METADATA", f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.0\n")
    write(info / "entry_points.txt", f"[bot.plugins]\n{entry_name} = {package}\n")
    return site / package


@pytest.fixture
def three_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An instance whose plugins come from all three sources; returns the instance folder."""
    write_plugin(tmp_path / "shipped", "legal", domain="intents: [ask_legal]\n")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    install_distribution(tmp_path / "site", "acme-plugin", "acme_skill_pkg", "acme_skill_pkg")
    instance = tmp_path / "instance"
    write_plugin(instance / "plugins", "local_faq", domain="intents: [ask_faq]\n", actions=ACTIONS.format(name="faq"))
    write(instance / "plugins" / "local_faq" / "helpers.py", 'GREETING = "hello from the folder"\n')
    write(instance / "plugins" / "notes" / "README.md", "not a plugin: no plugin.yml\n")
    return instance


def test_plugins_are_found_in_all_three_sources(tmp_path: Path, three_sources: Path) -> None:
    catalog = discover_plugins(three_sources / "plugins", shipped=tmp_path / "shipped")
    found = {name: (p.source, p.package) for name, p in catalog.plugins.items()}
    assert found["legal"] == ("shipped", "plugins.legal")
    assert found["acme_skill_pkg"] == ("entry point", "acme_skill_pkg")
    assert found["local_faq"] == ("folder", None)
    assert "notes" not in found
    assert "acme-plugin 1.2.0" in catalog.plugins["acme_skill_pkg"].origin
    assert catalog.problems == []


def test_actions_of_entry_point_and_folder_plugins_import_with_relative_imports(
    tmp_path: Path, three_sources: Path
) -> None:
    catalog = discover_plugins(three_sources / "plugins", shipped=tmp_path / "shipped")
    for name, greeting in (("acme_skill_pkg", "hello from acme"), ("local_faq", "hello from the folder")):
        module = import_plugin_module(catalog.plugins[name])
        assert module is not None
        assert greeting == module.GREETING
        found = {a.name: a.timeout for a in actions_in_module(module)}
        short = "acme" if name == "acme_skill_pkg" else "faq"
        assert found == {f"action_{short}_hello": 2.5, f"validate_{short}_form": None}
    assert import_plugin_module(catalog.plugins["legal"]) is None  # no actions.py


def test_conductor_finds_its_own_shipped_plugins_folder() -> None:
    assert shipped_plugins_folder() == REPO_ROOT / "plugins"
    catalog = discover_plugins(entry_points=False)
    assert all(p.folder.parent == REPO_ROOT / "plugins" for p in catalog.plugins.values())


def test_a_name_from_two_sources_is_listed_with_the_clash_and_cannot_be_enabled(
    tmp_path: Path, three_sources: Path
) -> None:
    write_plugin(three_sources / "plugins", "legal", domain="intents: [ask_legal]\n")
    write(three_sources / "conductor.yml", "plugins:\n  legal:\n")
    catalog = discover_plugins(three_sources / "plugins", shipped=tmp_path / "shipped")
    with pytest.raises(ConductorError) as excinfo:
        enable_plugins(load_instance(three_sources), catalog)
    [problem] = excinfo.value.problems
    assert "the plugin 'legal' is offered by 2 sources" in problem.message
    assert str(tmp_path / "shipped" / "legal") in problem.message
    assert str(three_sources / "plugins" / "legal") in problem.message
    listing = list_plugins(three_sources, catalog=catalog)
    legal = [s for s in listing.plugins if s.name == "legal"]
    assert [s.source for s in legal] == ["folder", "shipped"]
    assert any("two plugins are named 'legal'" in p.message for s in legal for p in s.problems)


def test_listing_shows_version_source_enabled_and_what_each_adds(tmp_path: Path, three_sources: Path) -> None:
    write_instance(three_sources, "plugins:\n  local_faq:\n")
    write(
        three_sources / "plugins" / "broken" / "plugin.yml", "name: broken\nversion: 1\n"
    )
    catalog = discover_plugins(three_sources / "plugins", shipped=tmp_path / "shipped")
    listing = list_plugins(three_sources, catalog=catalog)
    rows = {s.name: s for s in listing.plugins}
    faq = rows["local_faq"]
    assert (faq.version, faq.source, faq.enabled, faq.intents, faq.actions) == ("0.1.0", "folder", True, 1, 0)
    assert rows["acme_skill_pkg"].source == "entry point" and rows["acme_skill_pkg"].actions == 1
    assert not rows["legal"].enabled
    assert rows["broken"].version is None
    assert {p.message for p in rows["broken"].problems} >= {"'description' should be text"}


def test_an_entry_point_that_names_no_plugin_package_is_reported(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    info = site / "broken_dist-0.1.dist-info"
    write(info / "METADATA", "Metadata-Version: 2.1\nName: broken-dist\nVersion: 0.1\n")
    write(info / "entry_points.txt", "[bot.plugins]\nghost = no_such_package_here\n")
    monkeypatch.syspath_prepend(str(site))
    catalog = discover_plugins(shipped=tmp_path / "none")
    assert "ghost" not in catalog.plugins
    [problem] = [p for p in catalog.problems if "ghost" in p.message]
    assert "'no_such_package_here' is not an importable package" in problem.message
