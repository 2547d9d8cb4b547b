"""The Docker deployment without a Docker engine: compose.yml and the Dockerfile are parsed and checked, and
the image's start command (docker/entrypoint.sh) runs for real with the installed `bot`."""

from __future__ import annotations

import contextlib
import fnmatch
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config import load_endpoints
from bot.stores.lock_store import create_lock_store
from bot.stores.redis_lock import RedisLockStore
from bot.stores.sql import SQLTrackerStore
from bot.stores.tracker_store import create_tracker_store
from tests.process_helpers import open_local

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKER_DIR = REPO_ROOT / "docker"
ENTRYPOINT = DOCKER_DIR / "entrypoint.sh"
BOT_BIN_DIR = Path(sys.executable).parent  # the virtualenv running the tests, with the `bot` console script
ENV_VAR = re.compile(r"\$\{([^}:]+)(?::-([^}]*))?\}")


# --- compose.yml -------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    data = yaml.safe_load((DOCKER_DIR / "compose.yml").read_text())
    assert isinstance(data, dict)
    return data


def compose_value(text: str, environ: dict[str, str]) -> str:
    """Docker Compose's interpolation of `${VAR}` and `${VAR:-default}` in a compose.yml value."""
    return ENV_VAR.sub(lambda m: environ.get(m.group(1)) or (m.group(2) or ""), text)


def test_compose_has_the_bot_and_its_stores(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert set(services) == {"bot", "postgres", "redis"}
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    assert services["bot"]["build"] == {"context": "..", "dockerfile": "docker/Dockerfile"}
    assert (DOCKER_DIR / services["bot"]["build"]["context"] / services["bot"]["build"]["dockerfile"]).is_file()


def test_compose_starts_the_bot_after_healthy_stores(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert services["bot"]["depends_on"] == {
        "postgres": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }
    postgres_check = " ".join(services["postgres"]["healthcheck"]["test"])
    redis_check = " ".join(services["redis"]["healthcheck"]["test"])
    assert "pg_isready" in postgres_check
    assert "redis-cli" in redis_check and "ping" in redis_check
    for name in ("postgres", "redis"):
        assert services[name]["healthcheck"]["retries"] >= 3


def test_compose_publishes_the_bot_port_and_keeps_store_data(compose: dict[str, Any]) -> None:
    services = compose["services"]
    published = [compose_value(port, {}) for port in services["bot"]["ports"]]
    assert published == ["5005:5005"]
    assert services["bot"]["environment"]["PORT"] == "5005"
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])
    named = {v.split(":")[0] for name in ("postgres", "redis") for v in services[name]["volumes"]}
    assert named <= set(compose["volumes"])


def test_compose_mounts_the_endpoints_file_the_bot_reads(compose: dict[str, Any]) -> None:
    bot = compose["services"]["bot"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in bot["volumes"]}
    in_container = bot["environment"]["BOT_ENDPOINTS"]
    assert in_container in mounts
    assert (DOCKER_DIR / mounts[in_container]).resolve() == DOCKER_DIR / "endpoints.yml"


def yaml_strings(value: Any) -> list[str]:
    """Every string in a parsed YAML value (comments are gone, so only what the bot substitutes)."""
    if isinstance(value, dict):
        return [s for item in value.values() for s in yaml_strings(item)]
    if isinstance(value, list):
        return [s for item in value for s in yaml_strings(item)]
    return [value] if isinstance(value, str) else []


def test_the_bot_environment_sets_every_variable_its_endpoints_file_needs(compose: dict[str, Any]) -> None:
    needed_names = {name for value in yaml_strings(yaml.safe_load((DOCKER_DIR / "endpoints.yml").read_text()))
                    for name, _default in ENV_VAR.findall(value)}
    assert {"POSTGRES_HOST", "POSTGRES_PASSWORD", "REDIS_HOST", "REDIS_PASSWORD"} <= needed_names
    environment = compose["services"]["bot"]["environment"]
    assert needed_names <= set(environment), needed_names - set(environment)


def test_the_compose_endpoints_reach_postgres_and_redis(
    compose: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bot's environment as compose resolves it (no .env) makes real store objects aimed at the services."""
    services = compose["services"]
    for name, value in services["bot"]["environment"].items():
        monkeypatch.setenv(name, compose_value(str(value), {}))
    endpoints = load_endpoints(DOCKER_DIR / "endpoints.yml")
    assert endpoints._warnings == []
    tracker_store = create_tracker_store(endpoints.tracker_store, "endpoints.yml")
    assert isinstance(tracker_store, SQLTrackerStore)
    postgres_env = {k: compose_value(str(v), {}) for k, v in services["postgres"]["environment"].items()}
    assert endpoints.tracker_store is not None and endpoints.tracker_store.url == "postgres"
    assert endpoints.tracker_store.db == postgres_env["POSTGRES_DB"]
    assert endpoints.tracker_store.username == postgres_env["POSTGRES_USER"]
    assert endpoints.tracker_store.password is not None
    assert endpoints.tracker_store.password.get_secret_value() == postgres_env["POSTGRES_PASSWORD"]
    assert tracker_store.url.get_backend_name() == "postgresql" and tracker_store.url.host == "postgres"
    assert isinstance(create_lock_store(endpoints.lock_store, "endpoints.yml"), RedisLockStore)
    assert endpoints.lock_store is not None and endpoints.lock_store.url == "redis"
    assert endpoints.lock_store.password is not None
    redis_password = compose_value(str(services["redis"]["environment"]["REDIS_PASSWORD"]), {})
    assert endpoints.lock_store.password.get_secret_value() == redis_password


# --- Dockerfile --------------------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, with continuation lines joined and comments dropped."""
    text = (DOCKER_DIR / "Dockerfile").read_text()
    logical = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.lstrip().startswith("#")))
    pairs = []
    for line in logical.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (keyword, _) in enumerate(instructions) if keyword == "FROM")
    return instructions[last_from:]


def test_dockerfile_is_multi_stage_on_python_311_slim() -> None:
    instructions = dockerfile_instructions()
    froms = [rest for keyword, rest in instructions if keyword == "FROM"]
    assert len(froms) >= 3
    assert ("ARG", "PYTHON_IMAGE=python:3.11-slim") in instructions
    assert all(f.startswith(("${PYTHON_IMAGE}", "builder")) for f in froms)


def test_the_final_stage_runs_as_a_non_root_user_with_health_port_and_entrypoint() -> None:
    stage = final_stage()
    users = [rest for keyword, rest in stage if keyword == "USER"]
    assert users and users[-1] not in {"root", "0", "0:0"}
    assert ("EXPOSE", "5005") in stage
    assert ("ENTRYPOINT", '["/app/entrypoint.sh"]') in stage
    healthchecks = [rest for keyword, rest in stage if keyword == "HEALTHCHECK"]
    assert len(healthchecks) == 1 and "/health" in healthchecks[0]
    copies = [rest for keyword, rest in stage if keyword == "COPY"]
    assert all("--from=builder" in c or "--from=trainer" in c or "entrypoint.sh" in c for c in copies)


def test_the_build_trains_unless_told_the_model_is_mounted() -> None:
    instructions = dockerfile_instructions()
    assert ("ARG", "TRAIN_MODEL=1") in instructions
    runs = " ".join(rest for keyword, rest in instructions if keyword == "RUN")
    assert 'if [ "$TRAIN_MODEL" = "1" ]; then bot train' in runs


def dockerignore_excludes(path: str) -> bool:
    patterns = [
        line.strip() for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = Path(path).parts
    prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    return any(
        fnmatch.fnmatch(prefix, pattern) or (pattern.startswith("**/") and fnmatch.fnmatch(prefix, pattern[3:]))
        or (pattern.startswith("**/") and fnmatch.fnmatch(prefix, "*/" + pattern[3:]))
        for pattern in patterns for prefix in prefixes
    )


def test_every_file_the_build_copies_exists_and_is_in_the_build_context() -> None:
    sources = []
    for keyword, rest in dockerfile_instructions():
        if keyword == "COPY" and "--from=" not in rest:
            words = [w for w in rest.split() if not w.startswith("--")]
            sources += words[:-1]
    assert "docker/entrypoint.sh" in sources and "domain/" in sources
    for source in sources:
        assert (REPO_ROOT / source).exists(), source
        assert not dockerignore_excludes(source.rstrip("/")), f"{source} is excluded by .dockerignore"
    for left_out in ("domain/models", "domain/conductor.db", ".venv", "tests"):
        assert dockerignore_excludes(left_out), left_out


def healthcheck_command() -> list[str]:
    (healthcheck,) = [rest for keyword, rest in final_stage() if keyword == "HEALTHCHECK"]
    command: list[str] = json.loads(healthcheck.split("CMD", 1)[1])
    return command


# --- entrypoint.sh, run for real ---------------------------------------------------------------------------


def test_the_entrypoint_is_valid_posix_sh() -> None:
    subprocess.run(["sh", "-n", str(ENTRYPOINT)], check=True)
    assert os.access(ENTRYPOINT, os.X_OK)
    if shutil.which("shellcheck"):
        result = subprocess.run(["shellcheck", "--shell=sh", str(ENTRYPOINT)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    """A copy of the base assistant without its model or database, as the image's /app/project."""
    target = tmp_path / "project"
    shutil.copytree(
        REPO_ROOT / "domain", target, ignore=shutil.ignore_patterns("models", "*.db", "__pycache__", "results")
    )
    return target


def entrypoint_environment(**settings: str) -> dict[str, str]:
    assert (BOT_BIN_DIR / "bot").exists(), f"no `bot` in {BOT_BIN_DIR}"
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("PORT", "BOT_", "MODELS_DIR", "TRAIN_"))}
    environ["PATH"] = f"{BOT_BIN_DIR}{os.pathsep}{environ.get('PATH', '')}"
    environ.update(settings)
    return environ


def test_validate_passes_through_to_bot_data_validate(project: Path) -> None:
    result = subprocess.run(
        [str(ENTRYPOINT), "validate"], cwd=project, env=entrypoint_environment(),
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "The project is valid" in result.stdout
    assert not (project / "models").exists()


def test_without_a_model_and_training_refused_it_exits_with_advice(project: Path) -> None:
    result = subprocess.run(
        [str(ENTRYPOINT)], cwd=project, env=entrypoint_environment(TRAIN_IF_MISSING="0"),
        capture_output=True, text=True, timeout=30,
    )
    assert result.returncode == 1
    assert "no model in models" in result.stderr and "TRAIN_IF_MISSING=1" in result.stderr


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def health_status(port: int) -> int | None:
    try:
        with open_local(f"http://127.0.0.1:{port}/health", timeout=2) as response:
            status: int = response.status
            return status
    except urllib.error.HTTPError as exc:
        return exc.code
    except OSError:
        return None


def test_the_start_command_trains_serves_health_and_stops_on_sigterm(project: Path) -> None:
    """The image's start command run directly: no model yet, so it trains, then serves until SIGTERM."""
    (project / "sqlite-endpoints.yml").write_text("tracker_store:\n  type: sql\n  dialect: sqlite\n  db: bot.db\n")
    port = free_port()
    environ = entrypoint_environment(PORT=str(port), BOT_ENDPOINTS="sqlite-endpoints.yml")
    server = subprocess.Popen(
        [str(ENTRYPOINT)], cwd=project, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        start_new_session=True,  # its own process group, so a failed test leaves nothing running
    )
    try:
        deadline = time.monotonic() + 60
        while health_status(port) != 200:
            assert server.poll() is None, f"the server stopped early:\n{server.communicate()[0]}"
            assert time.monotonic() < deadline, "no /health 200 within 60 s"
            time.sleep(0.3)
        assert [p.name for p in (project / "models").iterdir()], "the entrypoint did not train a model"
        assert (project / "bot.db").exists(), "the SQLite tracker store from BOT_ENDPOINTS was not used"
        probe = subprocess.run(healthcheck_command(), env=environ, timeout=10, capture_output=True)
        assert probe.returncode == 0, probe.stderr
        # a proxy in the container's environment (for the bot's outgoing calls) is not asked for /health
        dead_proxy = f"http://127.0.0.1:{free_port()}"
        proxied = {**environ, "HTTP_PROXY": dead_proxy, "http_proxy": dead_proxy, "NO_PROXY": "", "no_proxy": ""}
        probe = subprocess.run(healthcheck_command(), env=proxied, timeout=10, capture_output=True)
        assert probe.returncode == 0, probe.stderr
        server.send_signal(signal.SIGTERM)  # exec: the signal reaches `bot run` itself, not a shell
        output = server.communicate(timeout=30)[0]
        assert server.returncode == 0, output
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        if server.poll() is None:
            server.communicate()
    stopped_probe = subprocess.run(healthcheck_command(), env=environ, timeout=10, capture_output=True)
    assert stopped_probe.returncode != 0
