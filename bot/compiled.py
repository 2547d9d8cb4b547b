"""The modules Conductor compiles with mypyc, and whether this process runs them compiled.

A turn's CPU goes to Python code spread over many small functions (docs/performance.md); mypyc compiles the
typed modules below to C extensions, which cut the server's instructions a message by about a quarter (its
CPU by 5-17 %). The build is optional: without a C compiler, or with `CONDUCTOR_COMPILED=0`, the same modules
run as Python.

`python -m bot.compile` compiles them beside their sources (`make setup` and the Docker image run it) and
records a digest of those sources in `bot/_compiled.json`. When a source changed since that build (an edit in a
development checkout), the compiled modules would run the old code: `select`, called when `bot` is first
imported, then makes this process import all of them from their `.py` files instead (all or none: the compiled
modules call each other directly, so a mix would run two versions of one module), and `status()` says why.

This module is not compiled and imports only the standard library: it runs before the package's dependencies
are imported, and at build time before they are installed.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

MODULES: tuple[str, ...] = (
    "bot.jsonio",
    "bot.dialogue.events",
    "bot.dialogue.states",
    "bot.dialogue.tracker",
    "bot.dialogue.responses",
    "bot.dialogue.processor",
    "bot.dialogue.model",
    "bot.dialogue.policies.base",
    "bot.dialogue.policies.ensemble",
    "bot.dialogue.policies.memoization",
    "bot.dialogue.policies.rule",
    "bot.nlu.tokenizer",
    "bot.nlu.featurizers",
    "bot.nlu.linear_model",
    "bot.nlu.pipeline",
    "bot.stores.tracker_store",
    "bot.runtime",
)
"""The compiled modules: the path of a message through the runtime (NLU, dialogue, the store's base class).
Each must be mypy-clean and keep to what mypyc compiles the same as CPython runs (docs/performance.md)."""

SWITCH = "CONDUCTOR_COMPILED"
"""`CONDUCTOR_COMPILED=0` runs the Python sources even when a current build is there (to compare, or to test
the interpreted code)."""

MANIFEST = "_compiled.json"
"""Written into the `bot` package by a build: the digest of the sources it compiled."""

ROOT = Path(__file__).resolve().parent.parent
"""The folder that holds the `bot` package (the checkout, or site-packages)."""


@dataclass(frozen=True)
class Status:
    """Whether this process runs the compiled modules, and if not, why (for the log and the benchmarks)."""

    compiled: bool
    detail: str

    def describe(self) -> str:
        return f"compiled ({self.detail})" if self.compiled else f"interpreted ({self.detail})"


def source_path(module: str, root: Path = ROOT) -> Path:
    return root.joinpath(*module.split(".")).with_suffix(".py")


def group_library(modules: Sequence[str] = MODULES) -> str:
    """The extension that holds the compiled code of all `modules` (each module's own extension is a shim that
    imports it): inside their top package, so that wherever the package is found, so is its library."""
    return modules[0].partition(".")[0] + ".native__mypyc"


def compiled_path(module: str, root: Path = ROOT) -> Path:
    """Where the build puts a module's extension, beside its source."""
    suffix = importlib.machinery.EXTENSION_SUFFIXES[0]
    return source_path(module, root).with_name(module.rpartition(".")[2] + suffix)


def manifest_path(modules: Sequence[str] = MODULES, root: Path = ROOT) -> Path:
    """Where a build records what it compiled: in the top package of `modules` (`bot/_compiled.json`)."""
    return root / modules[0].partition(".")[0] / MANIFEST


def source_hashes(modules: Sequence[str] = MODULES, root: Path = ROOT) -> dict[str, str]:
    """Each module's source digest: what a build records and `check` compares."""
    return {module: hashlib.sha256(source_path(module, root).read_bytes()).hexdigest() for module in modules}


def record(modules: Sequence[str], root: Path) -> dict[str, Any]:
    """What a build of `modules` in `root` writes to its manifest: the Python it is for and each source's digest."""
    return {"python": sys.implementation.cache_tag, "sources": source_hashes(modules, root)}


def recorded(modules: Sequence[str] = MODULES, root: Path = ROOT) -> dict[str, Any] | None:
    """The last build's record in `root`, or None when it has none (or an unreadable one)."""
    try:
        found = json.loads(manifest_path(modules, root).read_text(encoding="utf-8"))
        if isinstance(found, dict) and isinstance(found.get("sources"), dict):
            return found
    except (OSError, ValueError):
        pass
    return None


def check(modules: Sequence[str] = MODULES, root: Path = ROOT, last: dict[str, Any] | None = None) -> Status:
    """Whether the build in `root` (its record `last`, read when not given) is there, complete and current for
    these sources (not the switch)."""
    missing = [
        module for module in [*modules, group_library(modules)] if not compiled_path(module, root).exists()
    ]
    if not set(modules) - set(missing):
        return Status(False, "not built: `make setup` or `python -m bot.compile` compiles them")
    last = recorded(modules, root) if last is None else last
    if last is None:
        manifest = manifest_path(modules, root)
        return Status(False, f"{manifest} is missing or unreadable: `python -m bot.compile` rebuilds")
    sources: dict[str, Any] = last["sources"]
    if set(sources) != set(modules):
        changed = ["the list of compiled modules (bot/compiled.py)"]
    elif last.get("python") != sys.implementation.cache_tag:
        changed = ["the Python version"]
    else:
        current = source_hashes(modules, root)
        changed = [module for module in modules if sources[module] != current[module]]
    if changed:
        return Status(
            False,
            f"{', '.join(changed)} changed since the build: `make setup` or `python -m bot.compile` "
            "compiles them again",
        )
    if missing:
        return Status(False, f"{', '.join(missing)} not built: `python -m bot.compile` rebuilds")
    return Status(True, f"{len(modules)} modules")


class _SourcesFirst(importlib.abc.MetaPathFinder):
    """Imports the listed modules from their `.py` files even where an extension of the same name is beside
    them (Python's own finder prefers the extension)."""

    def __init__(self, modules: Sequence[str]) -> None:
        self.modules = frozenset(modules)

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> importlib.machinery.ModuleSpec | None:
        if fullname not in self.modules:
            return None
        name = fullname.rpartition(".")[2] + ".py"
        for folder in path if path is not None else sys.path:
            source = Path(folder) / name
            if source.is_file():
                return importlib.util.spec_from_file_location(fullname, source)
        return None


_status: Status | None = None


def select(modules: Sequence[str] = MODULES, root: Path = ROOT) -> Status:
    """Decide, once per process and before any of `modules` is imported, whether they run compiled: only when
    the build is complete and current and `CONDUCTOR_COMPILED` is not 0; else from their sources."""
    global _status
    if _status is not None:
        return _status
    last = recorded(modules, root)
    switched_off = os.environ.get(SWITCH, "").strip() == "0"
    status = Status(False, f"{SWITCH}=0") if switched_off else check(modules, root, last)
    # also the modules an older build compiled that the list has dropped since: their extensions are still there
    every = list(dict.fromkeys([*modules, *(last["sources"] if last else ())]))
    if not status.compiled and any(compiled_path(module, root).exists() for module in every):
        sys.meta_path.insert(0, _SourcesFirst(every))
    _status = status
    return status


def status() -> Status:
    """Whether this process runs the compiled modules (decided when `bot` was imported)."""
    return select()
