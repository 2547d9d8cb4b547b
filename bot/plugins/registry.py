"""The actions an instance runs: every enabled plugin's actions, rasa-sdk actions in-process, and the action
server for the domain's other custom actions.

`build_action_registry(model, instance, endpoints)` is called at start-up. Where one name has two providers
(two plugins, or a plugin and a rasa-sdk module) it is an error naming both. A custom action the domain
declares that nothing provides is answered through the action server when `action_endpoint` is set (as in
Rasa, where every custom action is remote); without one it is logged once at start-up (and at run time the
engine answers it with `utter_default`).
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from types import ModuleType
from typing import Protocol

from bot.config import Endpoints
from bot.dialogue.actions import Action, ActionRegistry
from bot.errors import ConductorError, Problem
from bot.plugins.actions import (
    DEFAULT_ACTION_TIMEOUT,
    PluginActionAdapter,
    SharedHttp,
    actions_in_module,
    import_plugin_module,
)
from bot.plugins.instance import EnabledPlugin, InstanceConfig, enable_plugins
from bot.plugins.rasa_sdk import RasaSdkAction, rasa_sdk_actions_in, remote_actions
from bot.plugins.sdk import PluginInfo
from bot.project.domain import DEFAULT_ACTIONS, RULE_SNIPPET_ACTION, Domain

__all__ = ["PluginActionRegistry", "build_action_registry", "declared_custom_actions"]

logger = logging.getLogger(__name__)


class _HasDomain(Protocol):
    @property
    def domain(self) -> Domain: ...


class PluginActionRegistry(ActionRegistry):
    """An `ActionRegistry` that knows who provides each action and owns the HTTP session actions share.
    Call `close()` when the server stops."""

    def __init__(self, http: SharedHttp) -> None:
        super().__init__()
        self.http = http
        self.providers: dict[str, str] = {}
        """Action name -> who provides it (`plugin 'legal'`, `module actions`, `the action server at ...`)."""

    def add(self, action: Action, provider: str, where: str | None = None) -> None:
        """Register `action`; a second provider of its name is a `ConductorError` naming both."""
        if action.name in self.providers:
            raise ConductorError.single(
                f"the action '{action.name}' is provided by both {self.providers[action.name]} and {provider}",
                where,
                hint="Rename the action in one of them, or enable only one.",
            )
        self.register(action)
        self.providers[action.name] = provider

    async def close(self) -> None:
        await self.http.close()


def declared_custom_actions(domain: Domain) -> list[str]:
    """The domain's actions that code must provide: declared actions that are no response (`utter_*`).
    Default actions declared in the domain count too: declaring one overrides the built-in, as in Rasa."""
    return [name for name in domain.actions if not name.startswith("utter_") and name != RULE_SNIPPET_ACTION]


def _domain_of(source: Domain | _HasDomain) -> Domain:
    return source if isinstance(source, Domain) else source.domain


def _import(name: str, root: Path | None) -> ModuleType:
    if root is not None and str(root.resolve()) not in sys.path:
        sys.path.insert(0, str(root.resolve()))
    try:
        return importlib.import_module(name)
    except Exception as exc:
        raise ConductorError.single(
            f"the actions module '{name}' cannot be imported: {type(exc).__name__}: {exc}",
            hint="Check the module name, and install what it imports "
            "(rasa-sdk actions need `pip install 'conductor-bot[rasa-sdk]'`).",
        ) from None


def _add_plugin_actions(registry: PluginActionRegistry, plugin: EnabledPlugin, timeout: float) -> None:
    module = import_plugin_module(plugin.plugin)
    if module is None:
        return
    info = PluginInfo(plugin.name, plugin.version)
    where = getattr(module, "__file__", None)
    for found in actions_in_module(module):
        registry.add(PluginActionAdapter(found, info, plugin.settings, registry.http, timeout), plugin.label, where)
    for sdk_action in rasa_sdk_actions_in(module):
        registry.add(RasaSdkAction(sdk_action, plugin.label, timeout), plugin.label, where)


def _add_module_actions(registry: PluginActionRegistry, module: ModuleType, timeout: float) -> None:
    provider = f"module {module.__name__}"
    where = getattr(module, "__file__", None)
    info = PluginInfo(module.__name__, "")
    for found in actions_in_module(module):
        registry.add(PluginActionAdapter(found, info, None, registry.http, timeout), provider, where)
    for sdk_action in rasa_sdk_actions_in(module):
        registry.add(RasaSdkAction(sdk_action, provider, timeout), provider, where)


BASE_ACTION_NAMES = ("action_handoff",)
"""Actions of the base assistant (bot.base_actions), used when no plugin, module or server provides them."""


def build_action_registry(
    source: Domain | _HasDomain,
    instance: InstanceConfig | None = None,
    endpoints: Endpoints | None = None,
    *,
    plugins: Sequence[EnabledPlugin] | None = None,
    action_modules: Iterable[str | ModuleType] = (),
    timeout: float = DEFAULT_ACTION_TIMEOUT,
) -> PluginActionRegistry:
    """The registry for a model (or project, or domain) served for `instance`.

    - every enabled plugin's actions (`plugins`, or those `instance` enables, settings checked as at start);
    - the `@action` functions, `PluginAction` classes and rasa-sdk `Action` subclasses of the instance's
      `action_modules` (conductor.yml) and of `action_modules` (names are imported with the instance's folder
      on sys.path, e.g. a Rasa project's `actions` package);
    - for the domain's other custom actions, the action server of `endpoints.action_endpoint` if set.

    Raises `ConductorError` for a plugin that cannot be enabled or imported, or a name with two providers.
    """
    domain = _domain_of(source)
    registry = PluginActionRegistry(SharedHttp(timeout))
    if plugins is None:
        plugins, warnings = enable_plugins(instance) if instance is not None else ([], [])
        for warning in warnings:
            logger.warning("%s", warning)
    problems: list[Problem] = []
    for plugin in plugins:
        try:
            _add_plugin_actions(registry, plugin, timeout)
        except ConductorError as exc:
            problems.extend(exc.problems)
    root = instance.root if instance is not None else None
    modules = [*(instance.action_modules if instance is not None else []), *action_modules]
    for module in modules:
        try:
            _add_module_actions(registry, module if isinstance(module, ModuleType) else _import(module, root), timeout)
        except ConductorError as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConductorError(problems)
    declared = declared_custom_actions(domain)
    if any(name in declared and name not in registry for name in BASE_ACTION_NAMES):
        _add_module_actions(registry, importlib.import_module("bot.base_actions"), timeout)
    unprovided = [name for name in declared if name not in registry]
    endpoint = endpoints.action_endpoint if endpoints is not None else None
    if endpoint is not None:
        for remote in remote_actions(unprovided, endpoint, registry.http):
            registry.add(remote, remote.provider)
    else:
        _warn_unprovided(unprovided)
    return registry


def _warn_unprovided(names: list[str]) -> None:
    missing = [name for name in names if name not in DEFAULT_ACTIONS]
    if missing:
        logger.warning(
            "the domain declares actions that no plugin or actions module provides and no action server is set "
            "for: %s. They answer with utter_default; enable the plugin that provides them, or set "
            "action_endpoint in endpoints.yml",
            ", ".join(missing),
        )

