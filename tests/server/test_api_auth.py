"""Who may call the API: Rasa's `?token=` and JWT rules; the webhooks stay open."""

from __future__ import annotations

import time
from typing import Any

import jwt
import pytest
from server_helpers import StartServer, say

from bot.api.auth import ApiAuth
from bot.errors import ConductorError

SECRET = "a-secret-long-enough-for-every-hmac-method-" + "x" * 32


def bearer(claims: dict[str, Any], secret: str = SECRET, algorithm: str = "HS256") -> dict[str, str]:
    return {"Authorization": f"Bearer {jwt.encode(claims, secret, algorithm=algorithm)}"}


async def test_the_token_opens_the_api(start_server: StartServer) -> None:
    served = await start_server(enable_api=True, auth_token="t0ken")
    assert (await served.client.get("/status")).status == 401
    assert (await served.client.get("/status?token=wrong")).status == 401
    assert (await served.client.get("/status?token=t0ken")).status == 200
    response = await served.client.get("/conversations/a/tracker?token=t0ken")
    assert response.status == 200
    refused = await served.client.get("/conversations/a/tracker")
    body = await refused.json()
    assert (body["status"], body["reason"], body["code"]) == ("failure", "NotAuthenticated", 401)
    assert body["message"] == "User is not authenticated."


async def test_webhooks_and_public_routes_need_no_credentials(start_server: StartServer) -> None:
    served = await start_server(enable_api=True, auth_token="t0ken", jwt_secret=SECRET)
    assert await say(served, "x", "/greet")
    for path in ("/", "/version", "/health", "/metrics", "/openapi.json"):
        assert (await served.client.get(path)).status == 200, path


async def test_jwt_roles(start_server: StartServer) -> None:
    served = await start_server(enable_api=True, jwt_secret=SECRET)
    client = served.client
    admin = bearer({"user": {"username": "ops", "role": "admin"}})
    alice = bearer({"user": {"username": "alice", "role": "user"}})
    assert (await client.get("/status", headers=admin)).status == 200
    assert (await client.get("/conversations/bob/tracker", headers=admin)).status == 200
    assert (await client.get("/conversations/alice/tracker", headers=alice)).status == 200
    other = await client.get("/conversations/bob/tracker", headers=alice)
    assert other.status == 403
    assert (await other.json())["reason"] == "NotAuthorized"
    assert (await client.get("/status", headers=alice)).status == 403
    assert (await client.get("/domain", headers=bearer({"user": {"username": "x"}}))).status == 403
    assert (await client.get("/status", headers=bearer({"sub": "x"}))).status == 403


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"Authorization": "Bearer not.a.jwt"},
        {"Authorization": "Basic b3BzOnB3"},
        bearer({"user": {"username": "ops", "role": "admin"}}, secret="another-secret-of-enough-length-xyz"),
        bearer({"user": {"username": "ops", "role": "admin"}, "exp": int(time.time()) - 60}),
        bearer({"user": {"username": "ops", "role": "admin"}}, algorithm="HS512"),
    ],
    ids=["none", "garbage", "basic", "wrong-secret", "expired", "other-method"],
)
async def test_bad_jwts_are_401(start_server: StartServer, headers: dict[str, str]) -> None:
    served = await start_server(enable_api=True, jwt_secret=SECRET)
    response = await served.client.get("/status", headers=headers)
    assert response.status == 401
    assert await served.store.keys() == []


async def test_token_and_jwt_together(start_server: StartServer) -> None:
    served = await start_server(enable_api=True, auth_token="t0ken", jwt_secret=SECRET)
    assert (await served.client.get("/status?token=t0ken")).status == 200
    assert (await served.client.get("/status", headers=bearer({"user": {"role": "admin"}}))).status == 200
    assert (await served.client.get("/status?token=nope")).status == 401


def test_unusable_jwt_methods_are_refused_before_starting() -> None:
    with pytest.raises(ConductorError, match="unsigned tokens"):
        ApiAuth(jwt_secret=SECRET, jwt_method="none")
    with pytest.raises(ConductorError, match="not a JWT signing method"):
        ApiAuth(jwt_secret=SECRET, jwt_method="HS999")
    try:
        import cryptography  # noqa: F401
    except ImportError:
        with pytest.raises(ConductorError, match="cryptography"):
            ApiAuth(jwt_secret="public key", jwt_method="RS256")
