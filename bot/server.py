"""The aiohttp application behind `bot run`: the channels' webhooks, the HTTP API, health, metrics and the web
chat widget's files.

    runtime = Runtime(load_model("models"), tracker_store, lock_store)
    app = create_app(runtime, credentials="credentials.yml", enable_api=True, auth_token="s3cret")
    await serve(app, "127.0.0.1", 5005)        # until SIGINT/SIGTERM

Routes (Rasa 3.x's paths and shapes):
- always: `/` (hello text; the widget page for browsers when `channels/webchat/` exists), `/version`,
  `/health`, `/metrics`, `/openapi.json` and `/openapi.yml`, each channel's routes under
  `/webhooks/<name>/` (not behind the API's auth: channels verify their own platforms), `/webchat/`;
- with `enable_api`: `/status`, `/conversations/{id}/...`, `/model/parse`, `/domain`, `PUT /model`
  (see `bot.api.conversations` and `bot.api.model_routes`), behind the token/JWT check of `bot.api.auth`.

Lifecycle: starting the application opens the stores, then initialises and starts every channel. Stopping it
(SIGTERM, SIGINT, or `runner.cleanup()` in tests) first stops listening and tells the channels to stop
receiving, waits for the requests in flight (their turns finish and are stored), then shuts the channels
down and closes the stores.
"""

from __future__ import annotations

import asyncio
import ctypes
import gc
import logging
import os
import platform
import re
import signal
import ssl
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import suppress
from pathlib import Path
from typing import Final

from aiohttp import web
from aiohttp.typedefs import Middleware

from bot import LOG_FORMAT, compiled
from bot.api.auth import ApiAuth
from bot.api.conversations import conversation_routes
from bot.api.cors import cors_middleware, cors_response_headers
from bot.api.errors import error_middleware, quiet_client_protocol_errors
from bot.api.metrics import ServerMetrics
from bot.api.model_routes import model_routes
from bot.api.service_routes import hello, service_routes
from bot.api.state import SERVER_STATE, ServerState
from bot.api.webchat import WEBCHAT_DIR, add_webchat_routes
from bot.config import Credentials, load_credentials, load_endpoints
from bot.dialogue.actions import ActionRegistry
from bot.errors import ConductorError
from bot.model import METADATA_FILE, LoadedModel, load_model
from bot.model_watch import DEFAULT_WATCH_INTERVAL, ModelWatcher
from bot.runtime import DEFAULT_CACHE_SIZE, ActionsFactory, Runtime
from channels.base import InputChannel
from channels.dedup import share_redeliveries
from channels.registry import RASA_ONLY_CHANNELS, AttachesToApp, available_channels, channels_from_credentials

__all__ = [
    "DEFAULT_MAX_REQUEST_BYTES",
    "DEFAULT_SHUTDOWN_TIMEOUT",
    "EVENT_LOOP_VARIABLE",
    "create_app",
    "event_loop_factory",
    "freeze_startup_heap",
    "run",
    "serve",
    "tls_context",
]

logger = logging.getLogger(__name__)

DEFAULT_MAX_REQUEST_BYTES: Final = 1024 * 1024
"""The largest request body accepted (a larger one is a 413)."""

DEFAULT_SHUTDOWN_TIMEOUT: Final = 30.0
"""Seconds a stopping server waits for requests in flight before cancelling them."""


def create_app(
    runtime: Runtime,
    *,
    credentials: Credentials | str | Path | None = None,
    channels: Sequence[InputChannel] | None = None,
    enable_api: bool = False,
    auth_token: str | None = None,
    jwt_secret: str | None = None,
    jwt_method: str = "HS256",
    cors: Sequence[str] | None = None,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    webchat_dir: Path | None = WEBCHAT_DIR,
) -> web.Application:
    """The server's application for `runtime` (not started: `serve` or aiohttp's test server starts it).

    The channels are `channels` if given, else those credentials.yml (a `Credentials` or its path) names,
    else `rest` alone. Bad settings (an unknown channel, a missing credential, an unusable `jwt_method`) raise
    `ConductorError` here, before anything starts.
    """
    if channels is None:
        if not isinstance(credentials, Credentials):
            credentials = load_credentials(credentials) if credentials is not None else Credentials()
        channels = channels_from_credentials(credentials)
    state = ServerState(runtime, channels, ApiAuth(auth_token, jwt_secret, jwt_method), ServerMetrics())
    quiet_client_protocol_errors()
    middlewares: list[Middleware] = [error_middleware]
    if cors:
        middlewares.insert(0, cors_middleware(cors))
    app = web.Application(client_max_size=max_request_bytes, middlewares=middlewares)
    app[SERVER_STATE] = state
    if cors:
        app.on_response_prepare.append(cors_response_headers(cors))
    app.add_routes(service_routes())
    for channel in state.channels:
        _mount_channel(app, state, channel)
    if enable_api:
        app.add_routes(conversation_routes())
        app.add_routes(model_routes())
    if webchat_dir is not None and webchat_dir.is_dir():
        add_webchat_routes(app, webchat_dir)
    else:
        app.router.add_get("/", hello)
    app.cleanup_ctx.append(_lifecycle)
    app.on_shutdown.append(_stop_receiving)
    return app


def _mount_channel(app: web.Application, state: ServerState, channel: InputChannel) -> None:
    """The channel's routes under `/webhooks/<url_prefix>/`, and whatever it attaches to the app itself."""
    handler = state.message_handler(channel.name)
    prefix = "/webhooks/" + channel.url_prefix().strip("/")
    for route in channel.routes(handler):
        web.RouteDef(route.method, prefix + route.path, route.handler, route.kwargs).register(app.router)
    if isinstance(channel, AttachesToApp):
        channel.attach(app, handler)


async def _lifecycle(app: web.Application) -> AsyncIterator[None]:
    """Open the stores and start the channels; after the server stopped, shut the channels and stores down."""
    state = app[SERVER_STATE]
    await state.runtime.start()
    initialized: list[InputChannel] = []
    try:
        for channel in state.channels:
            await channel.initialize()
            initialized.append(channel)
        for channel in state.channels:
            await channel.start(state.message_handler(channel.name))
            state.started_channels.append(channel)
    except BaseException:
        await _shut_down(initialized, state.runtime)
        raise
    yield
    await _shut_down(initialized, state.runtime)


async def _stop_receiving(app: web.Application) -> None:
    """The first step of stopping (before the requests in flight are waited for): channels stop receiving."""
    state = app[SERVER_STATE]
    state.accepting = False
    for channel in reversed(state.started_channels):
        try:
            await channel.stop()
        except Exception:
            logger.exception("the %s channel failed to stop", channel.name)


async def _shut_down(channels: Sequence[InputChannel], runtime: Runtime) -> None:
    for channel in reversed(channels):
        try:
            await channel.shutdown()
        except Exception:
            logger.exception("the %s channel failed to shut down", channel.name)
    await runtime.close()


GC_THRESHOLDS = (20_000, 20, 100)
"""The garbage collector's thresholds while serving (Python's are 700, 10, 10). A full collection walks every
cached tracker's events: measured on the rasa-init bot, about 25 ms per 1,000 cached conversations once they
outgrow the CPU's caches. With Python's thresholds one ran every second or so under load and set the p99
latency (130 ms at 32 senders); with these, young collections are rarer and cheaper per object allocated, and
full ones come about a tenth as often."""


MALLOC_ARENAS = 2
"""glibc's malloc gives each thread that allocates its own arena (up to 8 per core), and memory freed in one is
not reused by another. The server's threads (SQLite connections, executors) each kept one: with 2 arenas the
rasa-init server held 152 MB after its first answer instead of 165, and 179 MB instead of 192 after 10,000
conversations, at the same throughput (benchmarks/server.py sqlite)."""
_M_ARENA_MAX = -8
"""mallopt's parameter number for the arena limit (malloc.h)."""


def limit_malloc_arenas() -> None:
    """Cap glibc's malloc arenas (`MALLOC_ARENAS`) before the server starts threads, unless the operator set
    MALLOC_ARENA_MAX (glibc reads it itself). Elsewhere than on glibc this does nothing."""
    if os.environ.get("MALLOC_ARENA_MAX") or sys.platform != "linux" or platform.libc_ver()[0] != "glibc":
        return
    with suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").mallopt(_M_ARENA_MAX, MALLOC_ARENAS)


EVENT_LOOP_VARIABLE = "CONDUCTOR_EVENT_LOOP"
"""Environment variable naming the server's event loop: `uvloop` (the default where it is installed) or
`asyncio` (the standard library's)."""


def event_loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """What makes the server's event loop: uvloop's (libuv), unless CONDUCTOR_EVENT_LOOP=asyncio or uvloop is
    not installed (on Windows it has no wheels), then the standard library's (None). On the rasa-init bot
    uvloop's transports and scheduling cut what serving adds to a turn by a sixth (the whole process's
    instructions per message by 3 %, benchmarks/instructions.py --server)."""
    wanted = os.environ.get(EVENT_LOOP_VARIABLE, "uvloop").strip().lower() or "uvloop"
    if wanted not in ("uvloop", "asyncio"):
        raise ConductorError.single(
            f"{EVENT_LOOP_VARIABLE}={wanted!r} names no event loop Conductor knows",
            hint=f"Set {EVENT_LOOP_VARIABLE} to 'uvloop' (the default) or 'asyncio', or leave it unset.",
        )
    if wanted == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop


def freeze_startup_heap() -> None:
    """Take what start-up created (modules, the model, clients) out of the garbage collector's generations,
    and collect less often while serving (`GC_THRESHOLDS`).

    Those objects live as long as the process; left in the oldest generation, every full collection scans all
    of them, which stalls the event loop for tens to hundreds of milliseconds on a busy machine.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


def tls_context(
    certificate: str | Path,
    keyfile: str | Path | None = None,
    ca_file: str | Path | None = None,
    password: str | None = None,
) -> ssl.SSLContext:
    """The TLS settings of an HTTPS server (Rasa's --ssl-certificate, --ssl-keyfile, --ssl-ca-file and
    --ssl-password): the certificate chain (PEM) and its private key (in the certificate file when `keyfile` is
    None), unlocked with `password` if it is encrypted; `ca_file` adds the CAs trusted for client
    certificates. A file that is missing or unreadable, or a wrong password, is a `ConductorError`."""
    for flag, path in (("--ssl-certificate", certificate), ("--ssl-keyfile", keyfile), ("--ssl-ca-file", ca_file)):
        if path is not None and not Path(path).is_file():
            raise ConductorError.single(
                f"{flag}: there is no file {str(path)!r}",
                hint="Give the path of a PEM file (certificate, private key or CA bundle).",
            )
    try:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(ca_file) if ca_file else None)
    except ssl.SSLError as exc:
        raise ConductorError.single(
            f"--ssl-ca-file {str(ca_file)!r} holds no CA certificate this server can read ({exc.reason or exc})",
            hint="Give a PEM file of one or more CA certificates.",
        ) from None

    def give_password() -> str:
        # always a callback: without one OpenSSL would ask for the password on the terminal, and wait
        if password is None:
            raise _KeyIsEncrypted
        return password

    try:
        context.load_cert_chain(str(certificate), str(keyfile) if keyfile else None, give_password)
    except _KeyIsEncrypted:
        raise ConductorError.single(
            f"the private key of the TLS certificate {str(certificate)!r} is encrypted",
            hint="Give its password with --ssl-password (or the SSL_PASSWORD environment variable).",
        ) from None
    except ssl.SSLError as exc:
        key = str(keyfile or certificate)
        hint = (
            "Give the certificate (PEM) with --ssl-certificate and its private key (PEM) with --ssl-keyfile"
            + (", and check the key's password (--ssl-password or SSL_PASSWORD)." if password is not None else ".")
        )
        raise ConductorError.single(
            f"cannot serve HTTPS with the certificate {str(certificate)!r} and the private key {key!r}: they are "
            f"not a PEM certificate and its matching key{', or the password is wrong' if password else ''} "
            f"(OpenSSL: {exc.reason or exc})",
            hint=hint,
        ) from None
    return context


class _KeyIsEncrypted(Exception):
    """The private key needs a password and none was given."""


_SECRET_QUERY_VALUE = re.compile(r"([?&][^=&\s]*(?:token|secret|password|jwt)[^=&\s]*=)[^&\s]*", re.IGNORECASE)


class _QuerySecretRedaction(logging.Filter):
    """Access-log lines (`run(access_log=True)`) with the values of secret-looking query parameters replaced:
    Rasa's clients send the auth token as `?token=`, and a secret never reaches a log."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = _SECRET_QUERY_VALUE.sub(r"\1<redacted>", message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


_QUERY_SECRETS: Final = _QuerySecretRedaction()


def access_logger() -> logging.Logger:
    """aiohttp's access logger, its lines redacted (`_QuerySecretRedaction`)."""
    logger = logging.getLogger("aiohttp.access")
    logger.addFilter(_QUERY_SECRETS)  # added once, however often called
    return logger


async def serve(
    app: web.Application,
    host: str = "0.0.0.0",
    port: int = 5005,
    *,
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    stop: asyncio.Event | None = None,
    access_log: bool = False,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """Start `app` on host:port (HTTPS with `ssl_context`) and serve until SIGINT or SIGTERM (or until `stop`
    is set), then stop gracefully: no new connections, requests in flight finished (at most
    `shutdown_timeout` s), channels and stores closed. A port that cannot be listened on is a
    `ConductorError`."""
    runner = web.AppRunner(
        app,
        handle_signals=False,
        access_log=access_logger() if access_log else None,
        shutdown_timeout=shutdown_timeout,
    )
    stop = stop if stop is not None else asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    try:
        await runner.setup()
        freeze_startup_heap()
        site = web.TCPSite(runner, host, port, backlog=1024, ssl_context=ssl_context)
        try:
            await site.start()
        except OSError as exc:
            raise ConductorError.single(
                f"cannot listen on {host}:{port}: {exc.strerror or exc}",
                hint="Another server may be using this port; stop it or choose another with --port.",
            ) from None
        scheme = "https" if ssl_context is not None else "http"
        logger.info("Conductor is serving on %s://%s:%d (stop with Ctrl+C)", scheme, host, port)
        await stop.wait()
        logger.info("Stopping: finishing the requests in flight, then closing channels and stores")
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        await runner.cleanup()


def run(
    model_path: str | Path = "models",
    endpoints: str | Path | None = "endpoints.yml",
    credentials: str | Path | None = "credentials.yml",
    port: int = 5005,
    interface: str = "0.0.0.0",
    enable_api: bool = False,
    auth_token: str | None = None,
    jwt_secret: str | None = None,
    jwt_method: str = "HS256",
    cors: Sequence[str] | None = None,
    *,
    actions: ActionRegistry | None = None,
    shutdown_timeout: float = DEFAULT_SHUTDOWN_TIMEOUT,
    access_log: bool = False,
    watch_models: bool = True,
    watch_interval: float = DEFAULT_WATCH_INTERVAL,
    tracker_cache: int | None = None,
    connector: str | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> None:
    """`bot run`: serve the newest model in `model_path` (or that model folder) until SIGINT/SIGTERM.

    The stores and the event broker come from endpoints.yml (stores in memory and no broker when it is
    missing or has none), the channels from credentials.yml (`rest` alone when it is missing). Everything is
    checked before the port is opened; a problem raises `ConductorError`. Returns once the server has stopped
    gracefully. When `model_path` is a folder of models and `watch_models` is on, a newer model appearing there
    is served without a restart (`bot.model_watch`); each model gets actions built for its domain, unless
    `actions` are given. `tracker_cache` conversations (default `bot.runtime.DEFAULT_CACHE_SIZE`) stay in
    memory between turns. `connector` serves that channel alone (its credentials.yml section, if any), as
    Rasa's --connector does. With `ssl_context` (e.g. from `tls_context`) the server speaks HTTPS.
    """
    from bot.brokers import create_event_broker
    from bot.stores import create_lock_store, create_tracker_store

    limit_malloc_arenas()
    if not logging.getLogger().handlers:
        logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    loop_factory = event_loop_factory()
    channel_credentials = load_credentials(credentials) if credentials is not None else Credentials()
    if connector is not None:
        channel_credentials = _only_connector(channel_credentials, connector)
    model = load_model(model_path)
    endpoint_settings = load_endpoints(endpoints) if endpoints is not None else None
    tracker_store = create_tracker_store(
        endpoint_settings.tracker_store if endpoint_settings else None, endpoints
    )
    lock_store = create_lock_store(endpoint_settings.lock_store if endpoint_settings else None, endpoints)
    event_broker = create_event_broker(endpoint_settings.event_broker if endpoint_settings else None, endpoints)
    actions_for: ActionsFactory | None = None
    if actions is None:
        from bot.plugins import build_action_registry, load_instance

        instance = load_instance(".")

        def actions_for(served: LoadedModel) -> ActionRegistry:
            return build_action_registry(served, instance, endpoint_settings)

    runtime = Runtime(
        model, tracker_store, lock_store, actions, event_broker=event_broker, actions_for=actions_for,
        cache_size=DEFAULT_CACHE_SIZE if tracker_cache is None else tracker_cache,
    )
    app = create_app(
        runtime,
        credentials=channel_credentials,
        enable_api=enable_api,
        auth_token=auth_token,
        jwt_secret=jwt_secret,
        jwt_method=jwt_method,
        cors=cors,
    )
    if watch_models and not (Path(model_path) / METADATA_FILE).exists():
        app.cleanup_ctx.append(ModelWatcher(runtime, Path(model_path), watch_interval).cleanup_context())
    lock_settings = endpoint_settings.lock_store if endpoint_settings else None
    redeliveries = share_redeliveries(app[SERVER_STATE].channels, lock_settings, endpoints)  # Redis lock store
    if redeliveries is not None:
        app.on_cleanup.append(lambda _: redeliveries.close())  # after the channels have shut down
    _warn_if_open(enable_api, auth_token, jwt_secret, interface)
    logger.info(
        "Model %s; channels: %s; HTTP API %s; event loop: %s; hot modules: %s",
        model.path.name,
        ", ".join(channel.name for channel in app[SERVER_STATE].channels),
        "enabled" if enable_api else "off (--enable-api turns it on)",
        "asyncio" if loop_factory is None else "uvloop",
        compiled.status().describe(),
    )
    serving = serve(
        app, interface, port, shutdown_timeout=shutdown_timeout, access_log=access_log, ssl_context=ssl_context
    )
    with asyncio.Runner(loop_factory=loop_factory) as runner:
        runner.run(serving)


def _only_connector(credentials: Credentials, connector: str) -> Credentials:
    """credentials.yml reduced to the channel `connector` (with no settings when the file has none for it)."""
    if connector in RASA_ONLY_CHANNELS:
        raise ConductorError.single(
            f"--connector {connector}: Conductor has no '{connector}' channel ({RASA_ONLY_CHANNELS[connector]})",
            hint=f"Conductor's channels: {', '.join(available_channels())}.",
        )
    only = Credentials()
    only.file = credentials.file
    only[connector] = credentials.get(connector)
    if connector in credentials.key_lines:
        only.key_lines[connector] = credentials.key_lines[connector]
    return only


def _warn_if_open(enable_api: bool, auth_token: str | None, jwt_secret: str | None, interface: str) -> None:
    if enable_api and not auth_token and not jwt_secret and interface not in ("127.0.0.1", "localhost", "::1"):
        logger.warning(
            "The HTTP API is enabled without --auth-token or --jwt-secret on %s: anyone who reaches this port "
            "can read and change conversations and the model.",
            interface,
        )
