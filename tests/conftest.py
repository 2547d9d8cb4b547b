"""Shared test fixtures and paths."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()
RASA_PROJECTS = SHARED_DATA / "rasa-projects"
NLU_DATA = SHARED_DATA / "nlu"
PROJECT_NAMES = sorted(
    p.name for p in RASA_PROJECTS.iterdir() if p.is_dir() and (p / "domain.yml").exists()
) if RASA_PROJECTS.exists() else []
PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")


def _keep_requests_off_proxies() -> None:
    """Every server the tests talk to runs on this machine (the stand-ins of Slack's and Telegram's APIs too),
    and the SDKs honour the proxy variables, slack-sdk even for hosts in NO_PROXY: on a machine that sets one
    (for its package registries, say) the tests' requests would go to the proxy. The suite installs nothing, so
    it drops them, for this process and the servers it starts."""
    for name in PROXY_VARIABLES:
        os.environ.pop(name, None)


_keep_requests_off_proxies()


def pytest_report_header() -> str:
    from bot import compiled

    return f"Conductor's hot modules: {compiled.status().describe()}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests marked `interpreted_only` wrap a method of a compiled module to compare an optimisation with the
    exhaustive way; compiled callers call the method directly and never see the wrapper. They run in the
    interpreted pass of `make test` (CONDUCTOR_COMPILED=0), which runs every test."""
    from bot import compiled

    if not compiled.status().compiled:
        return
    skip = pytest.mark.skip(reason="patches a compiled method; runs in make test's interpreted pass")
    for item in items:
        if item.get_closest_marker("interpreted_only"):
            item.add_marker(skip)


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.exists():
        pytest.fail(f"the shared data folder is missing: {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def rasa_init_copy(tmp_path: Path) -> Path:
    """A copy of the shared rasa-init project (as `rasa init` 3.6.21 makes it), for a test to change or run in."""
    target = tmp_path / "bot"
    shutil.copytree(RASA_PROJECTS / "rasa-init-3.6.21", target)
    return target
