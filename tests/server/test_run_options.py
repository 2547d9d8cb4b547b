"""`bot run`'s operator options beyond the channels, as Rasa's `rasa run` has them: HTTPS (--ssl-*), secrets from
the environment (AUTH_TOKEN, JWT_SECRET, SSL_PASSWORD), one channel alone (--connector), and logging (-v, -vv /
--debug, --quiet, --log-file). Each test starts the real command in its own process."""

from __future__ import annotations

import os
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from aiohttp.test_utils import unused_port

from tests.conftest import REPO_ROOT
from tests.process_helpers import json_request, open_local, wait_until_healthy_sync

KEY_PASSWORD = "correct horse battery staple"
GREETING = [{"recipient_id": "op", "text": "Hey! How are you?"}]


def _bot_run(model: Path, tmp_path: Path, *options: str) -> tuple[list[str], int]:
    port = unused_port()
    endpoints = tmp_path / "endpoints.yml"
    endpoints.write_text("")
    credentials = tmp_path / "credentials.yml"
    if not credentials.exists():
        credentials.write_text("rest:\n")
    command = [sys.executable, "-m", "bot.cli", "run", "--model", str(model), "--endpoints", str(endpoints),
               "--credentials", str(credentials), "--port", str(port), "--interface", "127.0.0.1", *options]
    return command, port


@contextmanager
def _serving(command: Sequence[str], env: dict[str, str] | None = None) -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen(
        command, cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})}
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def _output(process: subprocess.Popen[bytes]) -> str:
    assert process.stdout is not None
    return process.stdout.read().decode(errors="replace")



def _get(url: str) -> int:
    try:
        with open_local(url, timeout=15) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code


def _failure(command: Sequence[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    """Runs a `bot run` that must not start: its exit code and everything it printed."""
    result = subprocess.run(
        command, cwd=REPO_ROOT, capture_output=True, text=True, timeout=60, env={**os.environ, **(env or {})}
    )
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for localhost and its private key, encrypted with KEY_PASSWORD (openssl)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-days", "2", "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1", "-keyout", str(key), "-out", str(cert),
         "-passout", f"pass:{KEY_PASSWORD}"],
        check=True, capture_output=True,
    )
    return cert, key


def _wait_for_https(base: str, context: ssl.SSLContext, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with open_local(f"{base}/health", timeout=2, context=context) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        if process.poll() is not None:
            raise AssertionError(f"the server exited with {process.returncode}:\n{_output(process)}")
        if time.monotonic() > deadline:
            raise AssertionError("the HTTPS server did not answer /health within 30 s")
        time.sleep(0.1)


def test_https_with_the_key_password_from_the_environment(
    trained_model: Path, tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    cert, key = certificate
    command, port = _bot_run(trained_model, tmp_path, "--ssl-certificate", str(cert), "--ssl-keyfile", str(key))
    trusting = ssl.create_default_context(cafile=str(cert))
    with _serving(command, env={"SSL_PASSWORD": KEY_PASSWORD}) as process:
        base = f"https://localhost:{port}"
        _wait_for_https(base, trusting, process)
        say = f"{base}/webhooks/rest/webhook"
        assert json_request(say, {"sender": "op", "message": "/greet"}, context=trusting) == (200, GREETING)
        # the same port does not speak plain HTTP, and a client that does not trust the certificate is refused
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            open_local(f"http://127.0.0.1:{port}/health", timeout=5)
        with pytest.raises(urllib.error.URLError, match="CERTIFICATE_VERIFY_FAILED"):
            open_local(f"{base}/health", timeout=5, context=ssl.create_default_context())
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
        output = _output(process)
    assert f"serving on https://127.0.0.1:{port}" in output
    assert KEY_PASSWORD not in output


@pytest.mark.parametrize(
    ("options", "env", "expected"),
    [
        (["--ssl-certificate", "missing.pem"], {}, "--ssl-certificate: there is no file 'missing.pem'"),
        (["--ssl-keyfile", "{key}"], {}, "need --ssl-certificate"),
        (["--ssl-certificate", "{cert}", "--ssl-keyfile", "{key}"], {}, "is encrypted"),
        (["--ssl-certificate", "{cert}", "--ssl-keyfile", "{key}"], {"SSL_PASSWORD": "not-the-password-71"},
         "password is wrong"),
        (["--ssl-certificate", "{cert}"], {"SSL_PASSWORD": KEY_PASSWORD}, "not a PEM certificate and its matching key"),
        (["--connector", "facebook"], {}, "--connector facebook: Conductor has no 'facebook' channel"),
        (["--connector", "no_such_channel"], {}, "no_such_channel"),
        ([], {"CONDUCTOR_EVENT_LOOP": "tokio"}, "CONDUCTOR_EVENT_LOOP='tokio' names no event loop"),
    ],
    ids=["missing-certificate", "key-without-certificate", "encrypted-key-no-password", "wrong-password",
         "certificate-without-key", "rasa-only-connector", "unknown-connector", "unknown-event-loop"],
)
def test_bad_options_stop_the_start_with_a_clear_error(
    trained_model: Path,
    tmp_path: Path,
    certificate: tuple[Path, Path],
    options: list[str],
    env: dict[str, str],
    expected: str,
) -> None:
    cert, key = certificate
    filled = [option.format(cert=cert, key=key) for option in options]
    command, _ = _bot_run(trained_model, tmp_path, *filled)
    code, output = _failure(command, env)
    assert code != 0
    assert expected in output
    assert "Traceback" not in output
    if env.get("SSL_PASSWORD"):
        assert env["SSL_PASSWORD"] not in output


def test_the_api_token_comes_from_the_environment_and_stays_out_of_the_log(
    trained_model: Path, tmp_path: Path
) -> None:
    secret = "env-token-4f1c9a"
    command, port = _bot_run(trained_model, tmp_path, "--enable-api", "--debug")  # not even in debug logs
    base = f"http://127.0.0.1:{port}"
    with _serving(command, env={"AUTH_TOKEN": secret}) as process:
        wait_until_healthy_sync(base, processes=[process])
        assert _get(f"{base}/conversations/op/tracker") == 401
        assert _get(f"{base}/conversations/op/tracker?token=wrong") == 401
        assert _get(f"{base}/conversations/op/tracker?token={secret}") == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
        output = _output(process)
    assert secret not in output


@pytest.mark.parametrize("loop", ["uvloop", "asyncio"])
def test_the_server_runs_and_stops_on_either_event_loop(trained_model: Path, tmp_path: Path, loop: str) -> None:
    """uvloop's loop by default, the standard library's with CONDUCTOR_EVENT_LOOP=asyncio: either serves and
    stops cleanly on SIGTERM."""
    command, port = _bot_run(trained_model, tmp_path)
    base = f"http://127.0.0.1:{port}"
    env = {"CONDUCTOR_EVENT_LOOP": "asyncio"} if loop == "asyncio" else {}
    with _serving(command, env=env) as process:
        wait_until_healthy_sync(base, processes=[process])
        assert json_request(f"{base}/webhooks/rest/webhook", {"sender": "op", "message": "/greet"}) == (200, GREETING)
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
        output = _output(process)
    assert f"event loop: {loop}" in output


def test_the_connector_option_serves_that_channel_alone(trained_model: Path, tmp_path: Path) -> None:
    (tmp_path / "credentials.yml").write_text("rest:\nsocketio:\n  user_message_evt: user_uttered\n")
    command, port = _bot_run(trained_model, tmp_path, "--connector", "rest")
    base = f"http://127.0.0.1:{port}"
    with _serving(command) as process:
        wait_until_healthy_sync(base, processes=[process])
        assert json_request(f"{base}/webhooks/rest/webhook", {"sender": "op", "message": "/greet"}) == (200, GREETING)
        assert _get(f"{base}/socket.io/?EIO=4&transport=polling") == 404
    # without --connector, the same credentials serve both
    command, port = _bot_run(trained_model, tmp_path)
    base = f"http://127.0.0.1:{port}"
    with _serving(command) as process:
        wait_until_healthy_sync(base, processes=[process])
        assert _get(f"{base}/socket.io/?EIO=4&transport=polling") == 200


def test_debug_logs_to_the_log_file_and_quiet_keeps_only_warnings(trained_model: Path, tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "bot.log"
    command, port = _bot_run(trained_model, tmp_path, "--debug", "--log-file", str(log_file))
    base = f"http://127.0.0.1:{port}"
    with _serving(command) as process:
        wait_until_healthy_sync(base, processes=[process])
        json_request(f"{base}/webhooks/rest/webhook", {"sender": "op", "message": "/greet"})
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
        console = _output(process)
    logged = log_file.read_text()
    assert "DEBUG" in logged and "turn of op took" in logged
    assert f"serving on http://127.0.0.1:{port}" in logged
    assert "turn of op took" in console  # the console keeps its log too

    command, port = _bot_run(trained_model, tmp_path, "--quiet")
    base = f"http://127.0.0.1:{port}"
    with _serving(command) as process:
        wait_until_healthy_sync(base, processes=[process])
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
        console = _output(process)
    assert "INFO" not in console and "serving on" not in console
