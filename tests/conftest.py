"""Shared test fixtures and paths."""

from __future__ import annotations

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
