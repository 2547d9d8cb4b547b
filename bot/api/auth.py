"""Who may call the HTTP API, decided as Rasa decides it.

* With `--auth-token`, a request carrying `?token=<the token>` may do anything.
* With `--jwt-secret`, a request carrying `Authorization: Bearer <JWT>` signed with that secret (or, for the
  RS/ES/PS methods, the private key matching that public key) is allowed by the JWT's `user.role`: `admin`
  may do anything; `user` may only touch the conversation whose id equals `user.username`.
* With neither, the API is open (as Rasa's is; `--enable-api` should then listen on a private interface only).

A missing or wrong credential is a 401, a valid JWT without the rights a 403. The channels' webhooks are not
behind this check: each channel verifies its own platform's requests.
"""

from __future__ import annotations

import hmac
from typing import Any, Final

import jwt
from aiohttp import web
from jwt.algorithms import get_default_algorithms, requires_cryptography

from bot.api.errors import ApiError
from bot.errors import ConductorError

__all__ = ["ApiAuth"]

_SECURITY_HELP: Final = "https://rasa.com/docs/rasa/http-api#security-considerations"
_BEARER: Final = "bearer "


class ApiAuth:
    """The API's access rule. `check(request, conversation_id)` raises `ApiError` (401/403) or returns."""

    def __init__(self, token: str | None = None, jwt_secret: str | None = None, jwt_method: str = "HS256") -> None:
        self._token = token or None
        self._jwt_secret = jwt_secret or None
        self._jwt_method = jwt_method
        if self._jwt_secret is not None:
            _check_jwt_method(jwt_method)

    @property
    def is_open(self) -> bool:
        """True when neither a token nor a JWT secret was given: every request is allowed."""
        return self._token is None and self._jwt_secret is None

    def check(self, request: web.Request, conversation_id: str | None = None) -> None:
        if self.is_open:
            return
        provided = request.query.get("token")
        if self._token is not None and provided is not None and hmac.compare_digest(
            provided.encode(), self._token.encode()
        ):
            return
        if self._jwt_secret is not None:
            payload = self._jwt_payload(request)
            if payload is not None:
                if _may_access(payload, conversation_id):
                    return
                raise ApiError(
                    403,
                    "User has insufficient permissions.",
                    reason="NotAuthorized",
                    help_url=_SECURITY_HELP,
                )
        raise ApiError(401, "User is not authenticated.", reason="NotAuthenticated", help_url=_SECURITY_HELP)

    def _jwt_payload(self, request: web.Request) -> dict[str, Any] | None:
        """The verified claims of the request's bearer token; None when there is none or it is invalid."""
        header = request.headers.get("Authorization", "")
        if header[: len(_BEARER)].lower() != _BEARER:
            return None
        token = header[len(_BEARER) :].strip()
        try:
            claims: dict[str, Any] = jwt.decode(token, self._jwt_secret, algorithms=[self._jwt_method])
        except jwt.PyJWTError:
            return None
        return claims


def _may_access(claims: dict[str, Any], conversation_id: str | None) -> bool:
    user = claims.get("user")
    if not isinstance(user, dict):
        return False
    role = user.get("role")
    if role == "admin":
        return True
    return role == "user" and conversation_id is not None and user.get("username") == conversation_id


def _check_jwt_method(method: str) -> None:
    if method.lower() == "none":
        raise ConductorError.single(
            "--jwt-method none would accept unsigned tokens", hint="Use a signing method such as HS256 or RS256."
        )
    if method in get_default_algorithms():
        return
    if method in requires_cryptography:
        raise ConductorError.single(
            f"--jwt-method {method} needs the 'cryptography' package, which is not installed",
            hint="Install it (`pip install cryptography`), or sign the tokens with HS256.",
        )
    known = ", ".join(sorted({*get_default_algorithms(), *requires_cryptography} - {"none"}))
    raise ConductorError.single(f"--jwt-method {method!r} is not a JWT signing method", hint=f"Use one of: {known}.")
