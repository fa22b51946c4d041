"""Audit F12 (the cheap part): a 401 said what PyJWT said, e.g. "Invalid token: Invalid header
string: 'utf-8' codec can't decode byte 0xa6…". Now it is "Invalid token" plus a short reason of
our own, over HTTP and in the WebSocket close reason."""

import asyncio
import base64
import time

import jwt
import pytest
import websockets

BAD_HEADER = base64.urlsafe_b64encode(b"\xa6\xff\xfe").decode().rstrip("=") + ".eyJzdWIiOiJ4In0.c2ln"


def signed(stack, claims: dict, **kwargs) -> str:
    return jwt.encode(claims, stack.settings.jwt_secret, **{"algorithm": "HS256", **kwargs})


@pytest.mark.parametrize("make,reason", [
    (lambda s: BAD_HEADER, "Invalid token: malformed token"),
    (lambda s: "x" * 12_000, "Invalid token: malformed token"),
    (lambda s: signed(s, {"sub": "u", "aud": "authenticated", "exp": time.time() + 60}, algorithm="HS512"),
     "Invalid token: algorithm not allowed"),
    (lambda s: jwt.encode({"sub": "u", "aud": "authenticated", "exp": time.time() + 60}, "w" * 40,
                          algorithm="HS256"), "Invalid token: bad signature"),
    (lambda s: signed(s, {"sub": "u", "aud": "other", "exp": time.time() + 60}), "Invalid token: wrong audience"),
    (lambda s: signed(s, {"sub": "u", "aud": "authenticated"}), "Invalid token: missing 'exp' claim"),
    (lambda s: signed(s, {"sub": "u", "aud": "authenticated", "exp": time.time() + 60, "nbf": time.time() + 600}),
     "Invalid token: not valid yet"),
    (lambda s: signed(s, {"sub": "u", "aud": "authenticated", "exp": str(int(time.time()) + 60)}),
     "Invalid token: bad 'exp' claim"),
])
async def test_f12_401_bodies_carry_our_reason_not_pyjwts_text(stack, make, reason):
    token = make(stack)
    async with stack.client() as anonymous:
        r = await anonymous.get("/api/graphs", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 401
    assert r.json() == {"detail": reason}


async def test_f12_websocket_close_reason_is_ours_too(stack):
    url = stack.base_url.replace("http://", "ws://") + f"/ws?token={BAD_HEADER}"
    async with websockets.connect(url) as ws:
        with pytest.raises(websockets.ConnectionClosed) as closed:
            await asyncio.wait_for(ws.recv(), 10)
    assert closed.value.rcvd.code == 4003 and closed.value.rcvd.reason == "Invalid token: malformed token"
