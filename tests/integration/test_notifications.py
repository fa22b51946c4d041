"""Notifications end to end, against the real store, broker, projector, executor, notifier and a
real SMTP server (aiosmtpd) started here: what is recorded, pushed over the WebSocket, listed,
and emailed, for whom, how often, and what survives a kill -9 of the notifier."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from email import message_from_bytes, policy

import orjson
import pytest
import pytest_asyncio
import websockets
from aiosmtpd.controller import Controller

from schemas.events.notifications import NotificationRecorded
from schemas.events.store import (
    ListingSlugClaimed,
    ListingVersionIndexed,
    ListingVersionReviewed,
    ListingVersionSubmitted,
    ProfileSaved,
    UsernameClaimed,
)
from services.dev.local_broker import free_port
from services.domain.store.ids import listing_id, profile_id, slug_id, username_id
from services.infra.eventstore import EventStore
from services.infra.ledger_service import LedgerService
from services.infra.store_contract import NewEvent
from services.notifier import recorder
from tests.conftest import drop_schema, isolated_settings
from tests.integration.helpers import eventually
from tests.integration.processes import ServiceProcess
from tests.integration.stack import running_stack
from tests.integration.test_api_keys import adder_graph


class Inbox:
    """aiosmtpd handler: keeps every message the server accepted."""

    def __init__(self) -> None:
        self.messages: list = []

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's hook name
        self.messages.append(message_from_bytes(envelope.content, policy=policy.default))
        return "250 OK"

    def to(self, address: str) -> list:
        return [m for m in self.messages if m["To"] == address]


@pytest.fixture(scope="module")
def smtp():
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture(scope="module")
def notifier_settings(database_url, broker, smtp):
    s = isolated_settings(database_url, broker.bootstrap, smtp_host="127.0.0.1", smtp_port=smtp[1],
                          smtp_security="none", email_retry_first_s=0.2, low_balance_threshold=500,
                          public_url="http://agentloom.test")
    yield s
    drop_schema(database_url, s.db_schema)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(notifier_settings):
    async with running_stack(notifier_settings, executors=1, notifier=True) as running:
        yield running


async def sign_up(client, **prefs) -> dict:
    r = await client.post("/api/auth/user")
    assert r.status_code == 200, r.text
    if prefs:
        r = await client.post("/api/auth/user/preferences", json=prefs)
        assert r.status_code == 200, r.text
    return r.json()


async def run_adder(stack, client, x: int = 1, wait: bool = True) -> tuple[str, str]:
    graph = (await client.post("/api/graphs", json={"graph": adder_graph(f"adder-{x}")})).json()
    r = await client.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"x": x}})
    assert r.status_code == 200, r.text
    if wait:
        await stack.wait_terminal(client, graph["id"], r.json()["id"])
    return graph["id"], r.json()["id"]


async def notifications(client, **params) -> dict:
    r = await client.get("/api/notifications", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def listed(client, count: int, kind: str | None = None, timeout: float = 20.0) -> list[dict]:
    async def check():
        items = (await notifications(client, page_size=100))["notifications"]
        items = [n for n in items if kind is None or n["type"] == kind]
        return items if len(items) >= count else None

    return await eventually(check, timeout=timeout, message=f"{count} {kind or ''} notification(s) listed")


async def settled(client, kind: str, count: int) -> list[dict]:
    """The ``count`` notifications of ``kind`` once each email is sent or skipped."""
    async def check():
        items = [n for n in (await notifications(client, page_size=100))["notifications"] if n["type"] == kind]
        return items if len(items) >= count and all(n["email_status"] != "pending" for n in items) else None

    return await eventually(check, timeout=30, message=f"{count} {kind} email(s) settled")


def ws_url(stack, user: str) -> str:
    return stack.base_url.replace("http://", "ws://") + f"/ws?token={stack.token(user)}"


async def next_notification(ws, timeout: float = 20.0) -> dict:
    while True:
        msg = orjson.loads(await asyncio.wait_for(ws.recv(), timeout=timeout))
        if msg["method"] == "notification":
            return msg


async def test_autogpt_client_sequence_gets_the_websocket_message_and_the_email(stack, user_ids, smtp):
    inbox, _ = smtp
    alice, bob = user_ids["alice"], user_ids["bob"]
    async with stack.client(alice) as a, stack.client(bob) as b, \
            websockets.connect(ws_url(stack, alice)) as alice_ws, websockets.connect(ws_url(stack, bob)) as bob_ws:
        assert (await a.post("/api/auth/user")).status_code == 200
        assert (await a.post("/api/auth/user/timezone", json={"timezone": "Europe/Paris"})).status_code == 200
        await sign_up(b)
        graph_id, exec_id = await run_adder(stack, a, x=40)

        msg = await next_notification(alice_ws)
        assert msg["data"]["type"] == "AGENT_RUN" and msg["data"]["event"] == "notification_created"
        data = msg["data"]["data"]
        assert data["execution_id"] == exec_id and data["graph_id"] == graph_id and data["status"] == "COMPLETED"
        assert data["outputs"] == [{"name": "sum", "value": 42}] and data["node_count"] == 3
        with pytest.raises(TimeoutError):  # bob is connected too, and hears nothing of alice's run
            await next_notification(bob_ws, timeout=1.0)

        mail = await eventually(lambda: _async(inbox.to(f"{alice}@example.com")), message="alice's email")
        assert len(mail) == 1
        assert mail[0]["Message-ID"] == f"<{msg['data']['id']}@agentloom>"
        assert "adder-40" in mail[0]["Subject"] and "COMPLETED" in mail[0]["Subject"]
        body = mail[0].get_body(("plain",)).get_content()
        assert "sum: 42" in body and "http://agentloom.test/api/email/unsubscribe?token=" in body
        assert mail[0]["List-Unsubscribe"].startswith("<http://agentloom.test/api/email/unsubscribe?token=")
        assert not inbox.to(f"{bob}@example.com")

        note = (await settled(a, "AGENT_RUN", 1))[0]
        assert note["id"] == msg["data"]["id"] and note["email_status"] == "sent" and note["is_read"] is False
        assert (await notifications(b))["notifications"] == []
        # only the owner may mark it read; to anyone else it does not exist
        assert (await b.post(f"/api/notifications/{note['id']}/read")).status_code == 404
        r = await a.post(f"/api/notifications/{note['id']}/read")
        assert r.status_code == 200 and r.json()["is_read"] is True
        assert (await a.post(f"/api/notifications/{note['id']}/read")).json()["read_at"] == r.json()["read_at"]
        assert (await a.post(f"/api/notifications/{uuid.uuid4()}/read")).status_code == 404
        assert (await a.post("/api/notifications/not-a-uuid/read")).status_code in (400, 422)
        page = await notifications(a, unread_only="true")
        assert page["unread_count"] == 0 and page["notifications"] == []


async def _async(value):
    return value


async def test_email_only_when_the_preferences_allow_it(stack, user_ids, smtp):
    inbox, _ = smtp
    carol = user_ids["carol"]
    async with stack.client(carol) as c:
        await sign_up(c, email=f"{carol}@example.com", preferences={"AGENT_RUN": False}, daily_limit=10)
        await run_adder(stack, c, x=1)
        note = (await settled(c, "AGENT_RUN", 1))[0]
        assert note["email_status"] == "skipped" and note["email_detail"] == "disabled"
        assert not inbox.to(f"{carol}@example.com")


async def test_the_daily_cap_holds(stack, user_ids, smtp):
    inbox, _ = smtp
    alice = user_ids["alice"]
    async with stack.client(alice) as a:
        await sign_up(a, email=f"{alice}@example.com", preferences={}, daily_limit=2)
        for x in range(4):
            await run_adder(stack, a, x=x, wait=False)
        notes = await settled(a, "AGENT_RUN", 4)
        assert sorted(n["email_status"] for n in notes) == ["sent", "sent", "skipped", "skipped"]
        assert {n["email_detail"] for n in notes if n["email_status"] == "skipped"} == {"daily_limit"}
        assert len(inbox.to(f"{alice}@example.com")) == 2


async def test_low_balance_once_per_crossing_under_concurrent_spends(stack, user_ids, smtp):
    inbox, _ = smtp
    bob = user_ids["bob"]
    ledger = LedgerService.from_settings(EventStore(stack.datastore, "credits"), stack.settings)
    async with stack.client(bob) as b:
        await sign_up(b)
        start = ledger.balance(bob)  # the sign-up grant
        await asyncio.to_thread(ledger.spend, bob, start - 600, "SETUP")  # 600 left, above the 500 threshold

        async def spend(i: int) -> None:
            await asyncio.to_thread(ledger.spend, bob, 10, f"SPEND-{i}")

        await asyncio.gather(*(spend(i) for i in range(20)))  # 600 -> 400: crosses 500 once
        assert ledger.balance(bob) == 400
        note = (await settled(b, "LOW_BALANCE", 1))[0]
        assert note["data"]["current_balance"] < 500 <= note["data"]["current_balance"] + 10
        await asyncio.to_thread(ledger.grant, bob, 500, "TOPUP-1")  # 900: above again
        await asyncio.gather(*(asyncio.to_thread(ledger.spend, bob, 100, f"AGAIN-{i}") for i in range(5)))
        await settled(b, "LOW_BALANCE", 2)
        await asyncio.sleep(1.0)  # anything recorded late would show now
        assert len([n for n in (await notifications(b))["notifications"] if n["type"] == "LOW_BALANCE"]) == 2
        assert len([m for m in inbox.to(f"{bob}@example.com") if "balance is low" in m["Subject"]]) == 2


async def test_zero_balance_once_until_the_next_top_up(stack, user_ids):
    carol = user_ids["carol"]
    ledger = LedgerService.from_settings(EventStore(stack.datastore, "credits"), stack.settings)
    async with stack.client(carol) as c:
        await sign_up(c)
        graph = (await c.post("/api/graphs", json={"graph": adder_graph("broke")})).json()
        await asyncio.to_thread(ledger.spend, carol, ledger.balance(carol), "ALL")
        for _ in range(3):
            r = await c.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"x": 1}})
            assert r.status_code == 402
        first = await listed(c, 1, "ZERO_BALANCE")
        assert first[0]["data"]["agent_name"] == "broke" and first[0]["data"]["current_balance"] == 0
        await asyncio.to_thread(ledger.grant, carol, 5, "TOPUP")
        await asyncio.to_thread(ledger.spend, carol, 5, "ALL-AGAIN")
        assert (await c.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"x": 1}})).status_code == 402
        await listed(c, 2, "ZERO_BALANCE")
        await asyncio.sleep(0.5)
        kinds = [n["type"] for n in (await notifications(c))["notifications"]]
        assert kinds.count("ZERO_BALANCE") == 2 and kinds.count("LOW_BALANCE") == 1  # spending it all crossed too


def submit_and_review(store: EventStore, creator: str, username: str, graph_id: str, admin: str) -> str:
    """A creator's profile and one submission of ``graph_id``, appended as the command side does,
    then the admin's approval; the listing version's id."""
    version_id, listing = str(uuid.uuid4()), listing_id(graph_id)
    store.append([
        NewEvent(profile_id(creator), 1, ProfileSaved(user_id=creator, username=username, name="Alice"),
                 user_id=creator),
        NewEvent(username_id(username), 1, UsernameClaimed(user_id=creator, username=username), user_id=creator)])
    store.append([
        NewEvent(listing, 1, ListingVersionSubmitted(
            user_id=creator, slug="adder", listing_version_id=version_id, version=1, graph_id=graph_id,
            graph_version=1, name="Adder deluxe", sub_heading="Adds", description="Adds one"), user_id=creator),
        NewEvent(uuid.UUID(version_id), 1, ListingVersionIndexed(listing_id=str(listing), user_id=creator),
                 user_id=creator),
        NewEvent(slug_id(creator, "adder"), 1, ListingSlugClaimed(listing_id=str(listing), user_id=creator),
                 user_id=creator)])
    store.append([NewEvent(listing, 2, ListingVersionReviewed(
        listing_version_id=version_id, approved=True, reviewer_id=admin, comments="Welcome to the store",
        internal_comments="checked by hand"), user_id=admin)])
    return version_id


async def test_an_approval_notifies_the_creator_once_even_when_the_store_topic_is_replayed(
        stack, user_ids, smtp, monkeypatch):
    inbox, _ = smtp
    bob, admin = user_ids["bob"], f"admin-{user_ids['carol']}"
    username = f"bobby{bob[-8:]}"
    store = EventStore(stack.datastore, "store")
    async with stack.client(bob) as b, stack.client(admin, admin=True) as adm:
        await sign_up(b, email=f"{bob}@example.com", preferences={}, daily_limit=100)
        await sign_up(adm)
        graph = (await b.post("/api/graphs", json={"graph": adder_graph("adder-store")})).json()
        await asyncio.to_thread(submit_and_review, store, bob, username, graph["id"], admin)

        (note,) = await settled(b, "AGENT_APPROVED", 1)
        data = note["data"]
        assert data.pop("reviewed_at")
        assert data == {
            "agent_name": "Adder deluxe", "graph_id": graph["id"], "graph_version": 1,
            "reviewer_name": "agentloom admin", "reviewer_email": f"{admin}@example.com",
            "comments": "Welcome to the store",
            "store_url": f"http://agentloom.test/marketplace/agent/{username}/adder",
        }
        assert note["email_status"] == "sent"
        (mail,) = [m for m in inbox.to(f"{bob}@example.com") if "approved" in m["Subject"]]
        assert mail["Message-ID"] == f"<{note['id']}@agentloom>"
        assert "Adder deluxe" in mail["Subject"]
        body = mail.get_body(("plain",)).get_content()
        assert f"http://agentloom.test/marketplace/agent/{username}/adder" in body and "Welcome to the store" in body
        assert "checked by hand" not in body
        assert (await notifications(adm))["notifications"] == []  # the reviewer is not the one told

        # replay: a notifier in a fresh consumer group reads the store topic from its start again
        await stack.stop("notifier")
        with monkeypatch.context() as m:
            m.setattr(recorder, "SOURCES", ("store",))
            m.setattr(recorder, "group_id", lambda settings: f"{settings.topic_prefix}.notifier.replay")
            replay = stack.start_notifier()
            try:
                await eventually(lambda: _async(replay.recorder.stats.duplicates >= 1 or None), timeout=30,
                                 message="the review derived again")
                await asyncio.sleep(1.0)
                assert replay.recorder.stats.recorded == 0
            finally:
                await stack.stop("notifier")
        stack.notifier = stack.start_notifier()
        recorded = [e for e in store_log(stack) if e.user_id == bob and e.payload["notification_type"]
                    == "AGENT_APPROVED"]
        assert len(recorded) == 1
        assert len([m for m in inbox.to(f"{bob}@example.com") if "approved" in m["Subject"]]) == 1


def store_log(stack) -> list:
    store = EventStore(stack.datastore, "notifications")
    return [e for e in store.read_log(after=0, limit=10_000) if e.type == NotificationRecorded.TYPE]


async def test_no_duplicate_after_the_notifier_is_killed_mid_batch(stack, user_ids, smtp, tmp_path):
    """The in-process notifier steps aside; a real notifier process is killed with SIGKILL while
    runs end, then restarted: every run has exactly one notification and one distinct email."""
    inbox, _ = smtp
    await stack.stop("notifier")
    alice = user_ids["alice"]
    proc = ServiceProcess("notifier", stack.settings, tmp_path).start()
    try:
        async with stack.client(alice) as a:
            await sign_up(a, email=f"{alice}@example.com", preferences={}, daily_limit=1000)
            runs = 10
            for x in range(runs):
                await run_adder(stack, a, x=x, wait=False)
            await listed(a, 1, "AGENT_RUN", timeout=60)  # it is working through them
            proc.kill9()
            proc = ServiceProcess("notifier", stack.settings, tmp_path).start()
            notes = await settled(a, "AGENT_RUN", runs)
            await asyncio.sleep(1.0)
            store = EventStore(stack.datastore, "notifications")
            recorded = [e for e in store.read_log(after=0, limit=10_000) if e.type == NotificationRecorded.TYPE
                        and e.user_id == alice]
            assert len(recorded) == runs == len(notes)
            assert len({n["data"]["execution_id"] for n in notes}) == runs
            mail = inbox.to(f"{alice}@example.com")
            ids = {m["Message-ID"] for m in mail}
            assert ids == {f"<{n['id']}@agentloom>" for n in notes}
            # at least once: a kill between the server's "250" and EmailSent re-sends that message. Every
            # delivery in flight at the kill may be one of them (the mailer runs them side by side), but
            # one kill re-sends each message at most once.
            copies = Counter(m["Message-ID"] for m in mail)
            assert max(copies.values()) <= 2 and runs <= len(mail) <= 2 * runs, (copies, proc.log())
    finally:
        proc.stop()
        stack.start_notifier()
