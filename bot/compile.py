"""Compiles Conductor's hot modules (`bot.compiled.MODULES`) with mypyc, beside their sources.

`python -m bot.compile` builds them unless the build there is current (`--force` builds anyway), `python -m
bot.compile remove` deletes a build. `make setup` and the Docker image's builder run it. A machine without a C
compiler or the Python headers keeps the pure-Python modules (exit status 0, or 1 with `--require`).
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

from bot.compiled import (
    MANIFEST,
    MODULES,
    ROOT,
    Status,
    check,
    compiled_path,
    group_library,
    manifest_path,
    record,
    recorded,
    source_path,
    status,
)

PACKAGES_READ = ("channels", "plugins")
"""Packages beside `bot` that the compiled modules import: copied with it, so that mypyc knows their types."""


def build(root: Path = ROOT, modules: Sequence[str] = MODULES, *, force: bool = False) -> Status:
    """Compile `modules` and put their extensions beside their sources in `root`, with a record of the sources'
    digest; nothing when the build there is current. Raises `BuildUnavailable` without mypyc or a C compiler,
    `BuildFailed` when compiling fails.

    The packages are compiled in a copy: in site-packages (an installed Conductor) mypy would take every module
    there for one of the project's own (`typing_extensions.py` "shadows library module"), and the record then
    describes exactly the sources compiled, even if one changes during the build."""
    if not force and check(modules, root).compiled:
        return Status(True, f"{len(modules)} modules, already current")
    compiler = _missing_compiler()
    if compiler:
        raise BuildUnavailable(compiler)
    try:
        from mypyc.build import mypycify
        from setuptools import Distribution
    except ImportError as exc:
        raise BuildUnavailable(f"{exc.name} is not installed (pip install mypy setuptools)") from None
    manifest = manifest_path(modules, root)
    last = recorded(modules, root)
    dropped = [module for module in (last["sources"] if last else ()) if module not in modules]
    manifest.unlink(missing_ok=True)
    # compiled by an older list: Python would import such an extension, without its library
    for module in dropped:
        compiled_path(module, root).unlink(missing_ok=True)
    here = Path.cwd()
    with tempfile.TemporaryDirectory(prefix="conductor-mypyc-") as work:
        tree = Path(work) / "tree"
        packages = dict.fromkeys([modules[0].partition(".")[0], *PACKAGES_READ])
        for package in packages:
            if (root / package).is_dir():
                shutil.copytree(
                    root / package,
                    tree / package,
                    ignore=shutil.ignore_patterns("__pycache__", "*.so", MANIFEST),
                )
        os.chdir(tree)  # mypyc names modules by their paths
        try:
            paths = [str(source_path(module, Path("."))) for module in modules]
            # what a checkout's pyproject.toml sets, for the copy (which has none)
            options = ["--ignore-missing-imports"]
            group = group_library(modules).removesuffix("__mypyc")
            extensions = mypycify(options + paths, opt_level="3", target_dir=work, group_name=group)
            distribution = Distribution({"name": "conductor-compiled", "ext_modules": extensions})
            command = distribution.get_command_obj("build_ext")
            command.inplace = True
            command.build_temp = command.build_lib = work
            distribution.run_command("build_ext")
        except SystemExit as exc:  # mypyc (a type error) and setuptools (a compiler error) stop by exiting
            raise BuildFailed(
                f"mypyc or the C compiler stopped with status {exc.code}; see the messages above"
            ) from None
        finally:
            os.chdir(here)
        for module in [*modules, group_library(modules)]:
            # a new file renamed over the old one: a running server keeps the library it mapped
            target = compiled_path(module, root)
            partial = target.with_name(target.name + ".partial")
            shutil.copyfile(compiled_path(module, tree), partial)
            os.replace(partial, target)
        compiled_record = record(modules, tree)  # the sources compiled, even if one changed meanwhile
    manifest.write_text(json.dumps(compiled_record, indent=1) + "\n", encoding="utf-8")
    return check(modules, root)


def remove(root: Path = ROOT, modules: Sequence[str] = MODULES) -> int:
    """Delete a build's extensions and manifest in `root`; how many files went."""
    removed = 0
    last = recorded(modules, root)
    every = dict.fromkeys([*modules, *(last["sources"] if last else ()), group_library(modules)])
    built = [compiled_path(module, root) for module in every]
    for path in [*built, manifest_path(modules, root)]:
        if path.exists():
            path.unlink()
            removed += 1
    return removed


class BuildUnavailable(Exception):
    """This machine cannot compile: the modules run as Python."""


class BuildFailed(Exception):
    """Compiling started and failed."""


def _missing_compiler() -> str:
    """What is missing to compile C extensions here, or ''."""
    import shutil
    import sysconfig

    compiler = (os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc").split()[0]
    if not shutil.which(compiler):
        return f"no C compiler ({compiler}); install gcc"
    if not (Path(sysconfig.get_paths()["include"]) / "Python.h").exists():
        return "the Python headers (Python.h) are missing; install python3-dev"
    return ""


def main(argv: Sequence[str] | None = None) -> int:
    """`python -m bot.compile [build|status|remove] [--force] [--require]`."""
    args = list(sys.argv[1:] if argv is None else argv)
    command = args.pop(0) if args and not args[0].startswith("-") else "build"
    if command == "status":
        print(f"Conductor's hot modules run {status().describe()}")
        return 0
    if command == "remove":
        print(f"removed {remove()} compiled files")
        return 0
    if command != "build":
        print(f"unknown command {command!r}; use build, status or remove", file=sys.stderr)
        return 2
    try:
        result = build(force="--force" in args)
    except BuildUnavailable as exc:
        print(f"not compiling: {exc}; Conductor runs as Python (5-20 % more CPU a message)", file=sys.stderr)
        return 1 if "--require" in args else 0
    except BuildFailed as exc:
        print(f"compiling failed: {exc}; Conductor runs as Python", file=sys.stderr)
        return 1
    print(f"Conductor's hot modules: {result.describe()}")
    return 0 if result.compiled else 1


if __name__ == "__main__":
    sys.exit(main())
