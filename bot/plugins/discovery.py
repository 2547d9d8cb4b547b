"""Where plugins come from. Three sources, each a folder holding `plugin.yml`:

- shipped: the packages under Conductor's own `plugins/` (`plugins/legal`, importable as `plugins.legal`);
- entry point: an installed distribution that declares its plugin package in the group `bot.plugins`
  (`[project.entry-points."bot.plugins"] legal_plus = "acme_legal"`), found with importlib.metadata;
- folder: a folder dropped into the instance's `plugins/` directory (`<instance>/plugins/<name>/plugin.yml`).

Discovery only looks: it imports no plugin code (an entry point's package is located with `find_spec`).
A name offered by two sources is a clash; it is reported, and enabling that name is an error naming both.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

import bot
from bot.errors import ConductorError, Problem, Severity
from bot.plugins.manifest import MANIFEST_FILE, PLUGIN_NAME

__all__ = [
    "ENTRY_POINT_GROUP",
    "INSTANCE_PLUGINS_DIR",
    "DiscoveredPlugin",
    "PluginCatalog",
    "PluginSource",
    "discover_plugins",
    "shipped_plugins_folder",
]

ENTRY_POINT_GROUP: Final = "bot.plugins"
INSTANCE_PLUGINS_DIR: Final = "plugins"
SHIPPED_PACKAGE: Final = "plugins"

PluginSource = Literal["shipped", "entry point", "folder"]


@dataclass(frozen=True)
class DiscoveredPlugin:
    """A plugin found by discovery: its folder, and how it is imported."""

    name: str
    folder: Path
    source: PluginSource
    package: str | None
    """The importable package (`plugins.legal`, `acme_legal`); None for a folder plugin, which is imported
    from its path."""
    origin: str
    """Where it came from, for messages."""

    @property
    def manifest_path(self) -> Path:
        return self.folder / MANIFEST_FILE


@dataclass
class PluginCatalog:
    """Every plugin discovery found, by name, with the problems met on the way."""

    plugins: dict[str, DiscoveredPlugin] = field(default_factory=dict)
    clashes: dict[str, list[DiscoveredPlugin]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def add(self, plugin: DiscoveredPlugin) -> None:
        existing = self.plugins.get(plugin.name)
        if existing is None:
            self.plugins[plugin.name] = plugin
            return
        if existing.folder.resolve() == plugin.folder.resolve():
            return  # one package seen twice (e.g. a shipped plugin also declared as an entry point)
        self.clashes.setdefault(plugin.name, [existing]).append(plugin)
        self.problems.append(
            Problem(
                f"two plugins are named '{plugin.name}': {existing.origin} and {plugin.origin}",
                str(plugin.manifest_path),
                hint="Rename one of them (folder and `name:` in plugin.yml), or remove one.",
                severity=Severity.WARNING,
            )
        )

    def get(self, name: str) -> DiscoveredPlugin:
        """The plugin of this name; a `ConductorError` if there is none or two sources offer it."""
        if name in self.clashes:
            found = self.clashes[name]
            raise ConductorError.single(
                f"the plugin '{name}' is offered by {len(found)} sources: "
                + " and ".join(p.origin for p in found),
                found[-1].manifest_path,
                hint="Rename or remove all but one, so that the name says which plugin is meant.",
            )
        plugin = self.plugins.get(name)
        if plugin is None:
            raise KeyError(name)
        return plugin

    def __contains__(self, name: object) -> bool:
        return name in self.plugins


def shipped_plugins_folder() -> Path:
    """Conductor's own `plugins/` folder: beside the `bot` package, in a source tree and once installed."""
    return Path(bot.__file__).resolve().parents[1] / SHIPPED_PACKAGE


def _plugin_folders(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return sorted(
        path
        for path in folder.iterdir()
        if path.is_dir() and not path.name.startswith((".", "_")) and (path / MANIFEST_FILE).is_file()
    )


def _from_folders(folder: Path, source: PluginSource, catalog: PluginCatalog) -> None:
    for path in _plugin_folders(folder):
        if not PLUGIN_NAME.fullmatch(path.name):
            catalog.problems.append(
                Problem(
                    f"the plugin folder '{path.name}' is not a lower_snake_case name; it is skipped",
                    str(path),
                    hint="Rename the folder to the plugin's name, e.g. `tech_support`.",
                    severity=Severity.WARNING,
                )
            )
            continue
        package = f"{SHIPPED_PACKAGE}.{path.name}" if source == "shipped" else None
        where = f"{source} plugin at {path}"
        catalog.add(DiscoveredPlugin(path.name, path, source, package, where))


def _from_entry_points(catalog: PluginCatalog) -> None:
    seen: set[tuple[str, str]] = set()
    for entry in importlib.metadata.entry_points(group=ENTRY_POINT_GROUP):
        if (entry.name, entry.value) in seen:
            continue
        seen.add((entry.name, entry.value))
        dist = entry.dist
        provider = f"{dist.name} {dist.version}" if dist is not None else "an installed distribution"
        origin = f"entry point '{entry.name} = {entry.value}' of {provider}"
        folder = _package_folder(entry.module)
        if folder is None or not (folder / MANIFEST_FILE).is_file():
            what = "is not an importable package" if folder is None else f"has no {MANIFEST_FILE} in {folder}"
            catalog.problems.append(
                Problem(
                    f"the {origin} is skipped: '{entry.module}' {what}",
                    hint=f"The `{ENTRY_POINT_GROUP}` entry point must name the plugin's package, the folder "
                    f"that holds {MANIFEST_FILE}.",
                    severity=Severity.WARNING,
                )
            )
            continue
        if not PLUGIN_NAME.fullmatch(entry.name):
            catalog.problems.append(
                Problem(
                    f"the {origin} is skipped: '{entry.name}' is not a lower_snake_case plugin name",
                    str(folder / MANIFEST_FILE),
                    hint="Name the entry point like the plugin, e.g. `tech_support`.",
                    severity=Severity.WARNING,
                )
            )
            continue
        catalog.add(DiscoveredPlugin(entry.name, folder, "entry point", entry.module, origin))


def _package_folder(module: str) -> Path | None:
    try:
        spec = importlib.util.find_spec(module)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def discover_plugins(
    instance_plugins: Path | None = None, *, shipped: Path | None = None, entry_points: bool = True
) -> PluginCatalog:
    """Every plugin available: shipped, from entry points, and from the instance's plugins folder.

    `shipped` replaces Conductor's own plugins folder (tests); `entry_points=False` skips installed ones.
    """
    catalog = PluginCatalog()
    _from_folders(shipped if shipped is not None else shipped_plugins_folder(), "shipped", catalog)
    if entry_points:
        _from_entry_points(catalog)
    if instance_plugins is not None:
        _from_folders(instance_plugins, "folder", catalog)
    return catalog
