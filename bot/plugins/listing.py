"""`bot plugins list`: every plugin discovery finds, whether the instance enables it, and what it adds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from bot.errors import ConductorError, Problem, Severity
from bot.plugins.discovery import DiscoveredPlugin, PluginCatalog, PluginSource, discover_plugins
from bot.plugins.instance import InstanceConfig, load_instance
from bot.plugins.manifest import load_manifest
from bot.project.domain import Domain, load_domain

__all__ = ["PluginListing", "PluginSummary", "list_plugins"]


@dataclass(frozen=True)
class PluginSummary:
    """One plugin as `bot plugins list` shows it. Counts are those of its domain fragment."""

    name: str
    version: str | None
    description: str | None
    source: PluginSource
    folder: Path
    enabled: bool
    intents: int = 0
    responses: int = 0
    actions: int = 0
    forms: int = 0
    problems: list[Problem] = field(default_factory=list)
    """What is wrong with it (a broken manifest or domain, a name clash)."""


@dataclass(frozen=True)
class PluginListing:
    plugins: list[PluginSummary]
    problems: list[Problem]
    """Problems that belong to no listed plugin (an entry point that names no plugin package)."""
    instance: InstanceConfig


def _summary(plugin: DiscoveredPlugin, enabled: bool, catalog: PluginCatalog) -> PluginSummary:
    problems: list[Problem] = [
        p for p in catalog.problems if p.file == str(plugin.manifest_path) and p.severity is Severity.WARNING
    ]
    version = description = None
    try:
        manifest = load_manifest(plugin.manifest_path)
        version, description = manifest.version, manifest.description
    except ConductorError as exc:
        problems.extend(exc.problems)
    domain = Domain()
    domain_path = plugin.folder / "domain.yml"
    try:
        domain = load_domain(domain_path if domain_path.exists() else plugin.folder / "domain")
    except ConductorError as exc:
        problems.extend(exc.problems)
    return PluginSummary(
        name=plugin.name,
        version=version,
        description=description,
        source=plugin.source,
        folder=plugin.folder,
        enabled=enabled,
        intents=len(domain.intents),
        responses=len(domain.responses),
        actions=len(domain.actions),
        forms=len(domain.forms),
        problems=problems,
    )


def list_plugins(root: Path | str = ".", *, catalog: PluginCatalog | None = None) -> PluginListing:
    """Every available plugin (shipped, entry points, the instance's plugins/ folder) sorted by name, each
    with its manifest's version and description, whether `<root>/conductor.yml` enables it, and what it adds.

    A broken plugin is listed with its problems; a broken conductor.yml raises `ConductorError`.
    """
    instance = load_instance(root)
    found = catalog if catalog is not None else discover_plugins(instance.plugins_dir)
    enabled = set(instance.enabled)
    candidates = [
        *found.plugins.values(),
        *(p for clashing in found.clashes.values() for p in clashing[1:]),
    ]
    summaries = sorted(
        (_summary(plugin, plugin.name in enabled, found) for plugin in candidates),
        key=lambda s: (s.name, s.source),
    )
    listed = {str(s.folder / "plugin.yml") for s in summaries}
    loose = [p for p in found.problems if p.file not in listed]
    return PluginListing(summaries, loose, instance)
