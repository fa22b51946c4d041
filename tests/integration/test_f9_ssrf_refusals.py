"""Audit F9: an SSRF refusal told the caller what a host name resolved to (an internal DNS oracle
through a free direct block run), and ``[::1]`` was refused for the wrong reason. Now the answer is
"destination not allowed: <the host as given>"; the reason goes to the server log."""

import asyncio
import ipaddress
import logging
import socket

import pytest

from services.blocks import http_fetch
from services.blocks.http_fetch import FetchError, system_resolve
from services.blocks.net_policy import block_reason

SEND_WEB_REQUEST = "6595ae1f-b924-42cb-9a41-551a0611c4b4"


@pytest.mark.parametrize("url,host", [
    ("http://localhost:9/x", "localhost"),
    ("http://127.0.0.1:9/", "127.0.0.1"),
    ("http://[::1]:9/", "::1"),
    ("http://[::ffff:127.0.0.1]:9/", "::ffff:127.0.0.1"),
])
async def test_f9_refusal_names_the_host_not_what_it_resolved_to(stack, user_ids, caplog, url, host):
    caplog.set_level(logging.INFO, logger=http_fetch.__name__)
    async with stack.client(user_ids["alice"]) as alice:
        r = await alice.post(f"/api/blocks/{SEND_WEB_REQUEST}/execute", json={"url": url, "method": "GET"})
    assert r.status_code == 200, r.text
    assert r.json()["error"] == [f"destination not allowed: {host}"]
    assert "resolves" not in r.text and "loopback" not in r.text and "0.0.0.1" not in r.text
    logged = [rec.getMessage() for rec in caplog.records if rec.name == http_fetch.__name__]
    assert any("loopback" in line for line in logged), logged  # the operator still learns why


def test_f9_ipv6_loopback_is_reported_as_loopback():
    assert block_reason(ipaddress.ip_address("::1")) == "a loopback address"
    assert block_reason(ipaddress.ip_address("::")) == "an unspecified address"
    assert block_reason(ipaddress.ip_address("::127.0.0.1")) == "embeds 127.0.0.1, which is a loopback address"


def test_f9_a_name_that_does_not_resolve_gets_the_same_answer(monkeypatch, caplog):
    """Whether an internal name exists is not for users either: no "could not resolve"."""
    caplog.set_level(logging.INFO, logger=http_fetch.__name__)

    async def no_such_name(*_args, **_kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    async def go():
        monkeypatch.setattr(asyncio.get_running_loop(), "getaddrinfo", no_such_name)
        return await system_resolve("db.internal", 80)

    with pytest.raises(FetchError) as refused:
        asyncio.run(go())
    assert str(refused.value) == "destination not allowed: db.internal"
    assert any("could not resolve db.internal" in rec.getMessage() for rec in caplog.records)
