"""The compiled build (`bot.compiled`, `bot.compile`): a build is used only while it is complete and current,
all of its modules or none, and `CONDUCTOR_COMPILED=0` turns it off.

The mechanism is tested on a small package compiled here with mypyc (real extensions, real imports in fresh
processes); the project's own modules are checked against the status this test run reports."""

from __future__ import annotations

import importlib
import importlib.machinery
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from bot import compiled
from bot.compile import BuildUnavailable, build, remove

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]
DEMO = ("demo.fast", "demo.user")

FAST = '''
def double(value: int) -> int:
    return value * 2

VERSION = "built"
'''
USER = '''
from demo.fast import VERSION, double

def quadruple(value: int) -> int:
    return double(double(value))
'''


def _probe(root: Path, modules: tuple[str, ...] = DEMO, **env: str) -> dict[str, object]:
    """Import the demo package in a fresh process, as `import bot` would select, and say what ran."""
    script = textwrap.dedent(
        f"""
        import json, sys
        sys.path.insert(0, {str(root)!r})
        from pathlib import Path
        from bot import compiled
        compiled._status = None
        status = compiled.select({modules!r}, Path({str(root)!r}))
        import demo.fast, demo.user
        print(json.dumps({{
            "compiled": status.compiled, "detail": status.detail,
            "files": [Path(demo.fast.__file__).name, Path(demo.user.__file__).name],
            "version": demo.user.VERSION, "quadruple": demo.user.quadruple(3),
        }}))
        """
    )
    environment = {key: value for key, value in os.environ.items() if key != compiled.SWITCH} | env
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, env=environment, check=False
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("compiled")
    package = root / "demo"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "fast.py").write_text(FAST)
    (package / "user.py").write_text(USER)
    try:
        status = build(root, DEMO)
    except BuildUnavailable as exc:  # CI's machine has a compiler: this fails there, as it should
        pytest.fail(f"this machine cannot compile: {exc}")
    assert status.compiled, status.detail
    return root


@pytest.fixture
def fresh(demo: Path) -> Iterator[Path]:
    """The demo package as built (a test may edit a source; it is put back)."""
    source = demo / "demo" / "fast.py"
    yield demo
    source.write_text(FAST)


def test_a_current_build_runs_compiled(fresh: Path) -> None:
    ran = _probe(fresh)
    assert ran["compiled"] is True
    assert ran["files"] == ["fast" + SUFFIX, "user" + SUFFIX]
    assert (ran["version"], ran["quadruple"]) == ("built", 12)


def test_an_edited_source_runs_as_python_all_modules_or_none(fresh: Path) -> None:
    (fresh / "demo" / "fast.py").write_text(FAST.replace('"built"', '"edited"'))
    ran = _probe(fresh)
    assert ran["compiled"] is False
    assert "demo.fast changed since the build" in str(ran["detail"])
    # demo.user did not change, yet it runs from its source too: compiled, it would call the old demo.fast
    assert ran["files"] == ["fast.py", "user.py"]
    assert (ran["version"], ran["quadruple"]) == ("edited", 12)


def test_the_switch_turns_a_current_build_off(fresh: Path) -> None:
    ran = _probe(fresh, **{compiled.SWITCH: "0"})
    assert (ran["compiled"], ran["detail"], ran["files"]) == (False, "CONDUCTOR_COMPILED=0", ["fast.py", "user.py"])


@contextmanager
def _replaced(path: Path, content: bytes | None) -> Iterator[None]:
    """`path` holds `content` (None: it is gone) for the block, and what it held after it."""
    kept = path.read_bytes()
    if content is None:
        path.unlink()
    else:
        path.write_bytes(content)
    try:
        yield
    finally:
        path.write_bytes(kept)


def test_a_build_without_its_record_is_not_trusted(fresh: Path) -> None:
    with _replaced(compiled.manifest_path(DEMO, fresh), b"{not json"):
        ran = _probe(fresh)
    assert ran["compiled"] is False and "missing or unreadable" in str(ran["detail"])
    assert ran["files"] == ["fast.py", "user.py"]


def test_a_build_missing_a_module_is_not_used(fresh: Path) -> None:
    with _replaced(compiled.compiled_path("demo.user", fresh), None):
        ran = _probe(fresh)
    assert ran["compiled"] is False and "demo.user not built" in str(ran["detail"])
    assert ran["files"] == ["fast.py", "user.py"]


def test_building_again_is_nothing_when_current_and_remove_leaves_python(demo: Path, tmp_path: Path) -> None:
    assert build(demo, DEMO).detail == "2 modules, already current"
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(demo), str(copy)], check=True)
    assert remove(copy, DEMO) >= 4  # two extensions, the group library, the record
    assert not list(copy.rglob("*" + SUFFIX))
    ran = _probe(copy)
    assert ran["compiled"] is False and str(ran["detail"]).startswith("not built")
    assert ran["files"] == ["fast.py", "user.py"]


def test_the_projects_modules_run_as_the_status_says() -> None:
    status = compiled.status()
    files = {module: importlib.import_module(module).__file__ or "" for module in compiled.MODULES}
    expected = SUFFIX if status.compiled else ".py"
    assert all(file.endswith(expected) for file in files.values()), (status, files)
    if os.environ.get("CONDUCTOR_EXPECT_COMPILED") == "1":  # `make test`'s compiled pass sets it
        assert status.compiled, f"make test built the modules, yet this run is {status.describe()}"


def test_a_module_dropped_from_the_list_runs_from_source_and_the_next_build_deletes_it(
    demo: Path, tmp_path: Path
) -> None:
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(demo), str(copy)], check=True)
    ran = _probe(copy, ("demo.fast",))  # demo.user left the list; its extension is still there
    assert ran["compiled"] is False and "the list of compiled modules" in str(ran["detail"])
    assert ran["files"] == ["fast.py", "user.py"]  # compiled, demo.user would ask the new library for itself
    assert build(copy, ("demo.fast",)).compiled
    assert not compiled.compiled_path("demo.user", copy).exists()
    ran = _probe(copy, ("demo.fast",))
    assert ran["compiled"] is True and ran["files"] == ["fast" + SUFFIX, "user.py"]
    assert ran["quadruple"] == 12
