"""Skill plugins: discovery, manifests and settings, merging into a project, and running their actions.

A plugin is a folder that is also a Python package (`plugin.yml`, a Rasa domain fragment and data, its own
test stories, and optionally `actions.py` written against `bot.plugins.sdk`). An instance enables plugins in
its `conductor.yml`. The entry points for the rest of Conductor:

- `load_project_with_plugins(paths)`: `bot train` / `bot test` / `bot data validate`;
- `build_action_registry(model, instance, endpoints)`: the actions a running bot uses;
- `list_plugins(root)` and `create_plugin(name)`: `bot plugins list` / `bot plugins new`.
"""

from bot.plugins.discovery import ENTRY_POINT_GROUP, DiscoveredPlugin, PluginCatalog, discover_plugins
from bot.plugins.instance import INSTANCE_FILE, EnabledPlugin, InstanceConfig, enable_plugins, load_instance
from bot.plugins.listing import PluginListing, PluginSummary, list_plugins
from bot.plugins.manifest import Manifest, load_manifest
from bot.plugins.merge import load_project_with_plugins
from bot.plugins.registry import PluginActionRegistry, build_action_registry
from bot.plugins.scaffold import create_plugin

__all__ = [
    "ENTRY_POINT_GROUP",
    "INSTANCE_FILE",
    "DiscoveredPlugin",
    "EnabledPlugin",
    "InstanceConfig",
    "Manifest",
    "PluginActionRegistry",
    "PluginCatalog",
    "PluginListing",
    "PluginSummary",
    "build_action_registry",
    "create_plugin",
    "discover_plugins",
    "enable_plugins",
    "list_plugins",
    "load_instance",
    "load_manifest",
    "load_project_with_plugins",
]
