"""Errors of the HTTP API in Rasa's `ErrorResponse` shape, and the checks that produce them.

Every request a client gets wrong is answered with a 4xx status and a JSON body such as

    {"version": "0.1.0", "status": "failure", "message": "The request body is not valid JSON: ...",
     "reason": "BadRequest", "details": {"in": "body"}, "help": null, "code": 400}

Handlers raise `ApiError`; `error_middleware` turns it (and aiohttp's own 404/405/413, and anything
unexpected, as a 500) into that body. Request bodies are read with `read_json_body` and their fields checked
with the `*_field` helpers, before anything reaches the runtime, so a rejected request stores nothing.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from typing import Any, Final

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.typedefs import Handler

from bot import __version__
from bot.jsonio import compact_bytes, loads_fast, lone_surrogate
from channels.base import MAX_TEXT_CHARS, text_too_long

__all__ = [
    "MAX_TEXT_CHARS",
    "ApiError",
    "bool_query",
    "check_text_length",
    "error_middleware",
    "json_response",
    "number_field",
    "object_field",
    "quiet_client_protocol_errors",
    "read_json_body",
    "read_json_object",
    "string_field",
    "text_too_long",
]

logger = logging.getLogger(__name__)

HELP_URL: Final = "https://rasa.com/docs/rasa/pages/http-api"
"""Where the API is documented (Conductor follows Rasa's HTTP API)."""

_REASONS: Final = {
    400: "BadRequest",
    401: "NotAuthenticated",
    403: "NotAuthorized",
    404: "NotFound",
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: "Conflict",
    413: "RequestTooLarge",
    415: "UnsupportedMediaType",
    500: "InternalError",
    503: "ServiceUnavailable",
}


def json_response(value: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> web.Response:
    return web.Response(
        body=compact_bytes(value), status=status, content_type="application/json", charset="utf-8", headers=headers
    )


class ApiError(Exception):
    """A request the server refuses; becomes a JSON error response with `status`."""

    def __init__(
        self,
        status: int,
        message: str,
        *,
        reason: str | None = None,
        details: Mapping[str, Any] | None = None,
        help_url: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason or _REASONS.get(status, "Error")
        self.details = dict(details or {})
        self.help_url = help_url
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "status": "failure",
            "message": self.message,
            "reason": self.reason,
            "details": self.details,
            "help": self.help_url,
            "code": self.status,
        }

    def response(self) -> web.Response:
        return json_response(self.body(), self.status, self.headers)


def _from_http_exception(exc: web.HTTPException, request: web.Request) -> ApiError:
    """aiohttp's own error (unknown route, wrong method, body too large) in the API's shape."""
    if isinstance(exc, web.HTTPRequestEntityTooLarge):
        return _too_large(request)
    if isinstance(exc, web.HTTPNotFound):
        return ApiError(404, f"There is no resource at {request.path}.", help_url=HELP_URL)
    if isinstance(exc, web.HTTPMethodNotAllowed):
        allowed = sorted(exc.allowed_methods)
        return ApiError(
            405,
            f"{request.method} is not allowed on {request.path}; use {', '.join(allowed)}.",
            details={"allowed_methods": allowed},
            headers={"Allow": ", ".join(allowed)},  # RFC 9110 15.5.6: a 405 names the methods that are allowed
        )
    return ApiError(exc.status, exc.reason, reason=_REASONS.get(exc.status))


def _too_large(request: web.Request) -> ApiError:
    limit = request.client_max_size
    return ApiError(
        413,
        f"The request body is larger than this server accepts ({limit} bytes).",
        details={"in": "body", "limit_bytes": limit},
    )


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Answer every error as JSON in Rasa's `ErrorResponse` shape; log the unexpected ones."""
    try:
        return await handler(request)
    except ApiError as error:
        return error.response()
    except web.HTTPException as exc:
        if exc.status < 400 or exc.content_type == "application/json":
            raise
        return _from_http_exception(exc, request).response()
    except Exception:
        logger.exception("%s %s failed", request.method, request.path)
        return ApiError(
            500, "An unexpected error occurred; the server log has the details.", reason="InternalError"
        ).response()


class _ClientProtocolErrors(logging.Filter):
    """aiohttp logs a request that is not valid HTTP (a bad header byte, a request line too long) as an error
    with its traceback, then answers it with a 400. The mistake is the client's: this makes it one warning line
    without the traceback, which a client sending such requests on purpose would otherwise fill the log with."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        if isinstance(error, HttpProcessingError):
            # the first line only: aiohttp quotes the offending bytes below it, an Authorization header's perhaps
            lines = str(error.message).strip().splitlines()
            what = (lines[0].rstrip(": ") if lines else "")[:200] or type(error).__name__
            record.msg = f"{record.getMessage()}: not valid HTTP ({what}); answered {error.code or 400}"
            record.args = ()
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, logging.getLevelName(logging.WARNING)
        return True


_CLIENT_PROTOCOL_ERRORS: Final = _ClientProtocolErrors()


def quiet_client_protocol_errors() -> None:
    """Log requests that are not valid HTTP in one line (`_ClientProtocolErrors`, on aiohttp's server logger)."""
    logging.getLogger("aiohttp.server").addFilter(_CLIENT_PROTOCOL_ERRORS)  # added once, however often called


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")




async def read_json_body(request: web.Request, missing: str) -> Any:
    """The request body parsed as JSON. `missing` is the message for an empty body."""
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise _too_large(request) from None
    if not raw.strip():
        raise ApiError(400, missing, details={"in": "body"}, help_url=HELP_URL)
    try:
        return loads_fast(raw)  # UTF-8 JSON, as nearly every client sends
    except ValueError:
        pass  # another encoding, a lone surrogate, or not JSON: the standard library reads it or words the error
    try:
        value = json.loads(raw, parse_constant=_reject_constant)  # refuses NaN and Infinity, which are not JSON
    except json.JSONDecodeError as exc:
        raise ApiError(
            400,
            f"The request body is not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno}).",
            details={"in": "body", "line": exc.lineno, "column": exc.colno},
        ) from None
    except UnicodeDecodeError:
        raise ApiError(400, "The request body is not UTF-8 text.", details={"in": "body"}) from None
    except (ValueError, RecursionError) as exc:
        reason = "it is nested too deeply" if isinstance(exc, RecursionError) else str(exc)
        raise ApiError(400, f"The request body is not valid JSON: {reason}.", details={"in": "body"}) from None
    surrogate = lone_surrogate(value)
    if surrogate is not None:
        raise ApiError(
            400,
            f"The request body holds a lone surrogate ({surrogate}): a text with it is not Unicode and cannot be "
            "handled. Send the character's pair of surrogates, or the character itself.",
            details={"in": "body"},
        )
    return value


async def read_json_object(request: web.Request, missing: str) -> dict[str, Any]:
    """The request body as a JSON object (anything else is a 400)."""
    body = await read_json_body(request, missing)
    if not isinstance(body, dict):
        raise ApiError(
            400,
            f"The request body must be a JSON object, not {_json_kind(body)}.",
            details={"in": "body"},
            help_url=HELP_URL,
        )
    return body


def _json_kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _wrong_type(name: str, expected: str, value: Any) -> ApiError:
    return ApiError(
        400,
        f"'{name}' must be {expected}, not {_json_kind(value)}.",
        details={"parameter": name, "in": "body"},
    )


def string_field(
    body: Mapping[str, Any], name: str, *, required: bool = False, empty_ok: bool = False
) -> str | None:
    """`body[name]` as text; a missing required field, an empty one (unless `empty_ok`), or a value that is not
    text, is a 400. An empty field that is not required counts as absent (None)."""
    value = body.get(name)
    if value is None or (value == "" and not empty_ok):
        if required:
            problem = "is empty in" if value == "" else "is missing from"
            raise ApiError(
                400,
                f"'{name}' {problem} the request body.",
                details={"parameter": name, "in": "body"},
                help_url=HELP_URL,
            )
        return None
    if not isinstance(value, str):
        raise _wrong_type(name, "a string", value)
    return value


def check_text_length(text: str, name: str) -> str:
    """`text` unless it is longer than `MAX_TEXT_CHARS` (a 400)."""
    problem = text_too_long(text, name)
    if problem is not None:
        raise ApiError(400, f"{problem}.", details={"parameter": name, "in": "body", "limit_chars": MAX_TEXT_CHARS})
    return text


def number_field(body: Mapping[str, Any], name: str) -> float | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _wrong_type(name, "a number", value)
    return float(value)


def object_field(body: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    value = body.get(name)
    if value is None:
        return None
    if not isinstance(value, dict):
        raise _wrong_type(name, "an object", value)
    return value


def bool_query(request: web.Request, name: str, default: bool = False) -> bool:
    """A true/false query parameter (`?all_sessions=true`), as the OpenAPI description's boolean is written:
    `true` or `false`; empty (`?all_sessions=`) or absent is `default`; another value is a 400."""
    value = request.query.get(name)
    if value is None or value == "":
        return default
    if value in ("true", "false"):
        return value == "true"
    raise ApiError(
        400,
        f"Invalid value {value!r} for the query parameter '{name}'; use true or false.",
        details={"parameter": name, "in": "query"},
    )
