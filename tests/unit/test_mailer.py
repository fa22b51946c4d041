"""The mailer's delivery of one notification (``Mailer.deliver``) over in-memory stores and a fake
transport: preferences, the daily cap, retries with their recorded failures, independence of
deliveries and a redelivered message."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from schemas.events.notifications import (
    EmailDeliveryFailed,
    EmailQuotaUsed,
    EmailSent,
    EmailSkipped,
    EmailSkipReason,
    NotificationRead,
    NotificationType,
)
from schemas.events.users import NotificationPreferencesSet, UserCreated
from services.domain.notifications.derive import Derived
from services.domain.notifications.links import verify_unsubscribe_token
from services.domain.users.user import all_on, user_stream_id
from services.infra.memory_eventstore import MemoryEventStore
from services.infra.notification_records import record
from services.infra.settings import Settings
from services.infra.store_contract import NewEvent
from services.notifier.mailer import Mailer
from services.notifier.transports import DeliveryError


class FakeTransport:
    """Accepts messages, or fails the first ``failures`` sends (every send when ``failures`` is
    None) for the addresses in ``failing`` (every address when it is empty), after ``delay``."""

    description = "fake"

    def __init__(self, failures: int | None = 0, failing: tuple[str, ...] = (), delay: float = 0.0) -> None:
        self.failures, self.failing, self.delay = failures, failing, delay
        self.attempts: list[str] = []
        self.sent: list = []

    async def send(self, message) -> None:
        to = str(message["To"])
        self.attempts.append(to)
        if self.delay:
            await asyncio.sleep(self.delay)
        if not self.failing or to in self.failing:
            failed_so_far = sum(1 for a in self.attempts if a == to) - 1
            if self.failures is None or failed_so_far < self.failures:
                raise DeliveryError("421 4.7.0 try again later")
        self.sent.append(message)


def settings(**overrides) -> Settings:
    values = {"local_mode": True, "email_retry_first_s": 0.0, "email_max_attempts": 3, **overrides}
    return Settings(**values)


@pytest.fixture
def stores() -> dict[str, MemoryEventStore]:
    return {"notifications": MemoryEventStore("notifications"), "users": MemoryEventStore("users")}


def user(stores, user_id: str, email: str | None = None, *, off: tuple[NotificationType, ...] = (),
         daily_limit: int | None = None) -> str:
    events = [UserCreated(user_id=user_id, email=email if email is not None else f"{user_id}@example.com",
                          name=user_id.title())]
    if off or daily_limit is not None:
        preferences = {**all_on(), **dict.fromkeys(off, False)}
        events.append(NotificationPreferencesSet(preferences=preferences,
                                                 daily_limit=3 if daily_limit is None else daily_limit))
    stores["users"].append([NewEvent(user_stream_id(user_id), i + 1, e, user_id=user_id) for i, e in enumerate(events)])
    return user_id


DATA = {
    NotificationType.AGENT_RUN: {"agent_name": "Summariser", "graph_id": "g", "graph_version": 1,
                                 "execution_id": "run", "status": "COMPLETED", "credits_used": 10,
                                 "execution_time": 1.0, "node_count": 2, "outputs": [{"name": "out", "value": "hi"}]},
    NotificationType.LOW_BALANCE: {"current_balance": 250, "threshold": 500, "billing_page_link": "https://b"},
}


def notification(stores, user_id: str, source_version: int = 1,
                 notification_type: NotificationType = NotificationType.AGENT_RUN) -> uuid.UUID:
    data = DATA[notification_type]
    derived = Derived(user_id, notification_type, data, "executions", f"run-of-{user_id}", source_version)
    nid = record(stores["notifications"], derived)
    assert nid is not None
    return nid


def outcome(stores, nid: uuid.UUID) -> list:
    """The notification's stream after ``NotificationRecorded``."""
    events = stores["notifications"].read_stream(nid)
    assert events[0].type == "NotificationRecorded"
    return [e.decode() for e in events[1:]]


async def test_a_user_who_wants_email_gets_one(stores):
    transport = FakeTransport()
    mailer = Mailer(settings(), stores, transport)
    nid = notification(stores, user(stores, "alice"))
    await mailer.deliver(nid)
    (message,) = transport.sent
    assert message["To"] == "alice@example.com" and message["Message-ID"] == f"<{nid}@agentloom>"
    assert outcome(stores, nid) == [EmailSent(message_id=f"<{nid}@agentloom>", attempt=1)]
    token = str(message["List-Unsubscribe"]).split("token=", 1)[1].rstrip(">")
    assert verify_unsubscribe_token(mailer.settings.api_key_secret, token) == "alice"
    assert (mailer.stats.sent, mailer.stats.skipped, mailer.stats.failed_attempts) == (1, 0, 0)


async def test_a_type_switched_off_is_skipped_without_sending(stores):
    transport = FakeTransport()
    mailer = Mailer(settings(), stores, transport)
    alice = user(stores, "alice", off=(NotificationType.AGENT_RUN,))
    off = notification(stores, alice)
    on = notification(stores, alice, notification_type=NotificationType.LOW_BALANCE)
    await mailer.deliver(off)
    assert transport.attempts == []
    assert outcome(stores, off) == [EmailSkipped(reason=EmailSkipReason.DISABLED)]
    await mailer.deliver(on)  # the other types stay on
    assert [str(m["To"]) for m in transport.sent] == ["alice@example.com"]


@pytest.mark.parametrize("has_record", [False, True])
async def test_no_user_record_or_no_address_is_skipped(stores, has_record):
    transport = FakeTransport()
    if has_record:
        user(stores, "ghost", email="")  # a token without an email made a user without an address
    nid = notification(stores, "ghost")
    await Mailer(settings(), stores, transport).deliver(nid)
    assert transport.attempts == []
    assert outcome(stores, nid) == [EmailSkipped(reason=EmailSkipReason.NO_ADDRESS)]


async def test_an_address_a_header_cannot_carry_is_skipped_not_retried(stores):
    transport = FakeTransport()
    nid = notification(stores, user(stores, "mallory", email="mallory@example.com,evil@example.com"))
    await Mailer(settings(), stores, transport).deliver(nid)
    assert transport.attempts == []
    assert outcome(stores, nid) == [EmailSkipped(reason=EmailSkipReason.NO_ADDRESS)]


async def test_an_agent_name_with_a_line_break_still_makes_an_email(stores):
    """A user-chosen name holding NEL once made compose raise, a delivery retried forever."""
    transport = FakeTransport()
    alice = user(stores, "alice")
    derived = Derived(alice, NotificationType.ZERO_BALANCE, {"agent_name": "x\x85Bcc: evil@x", "current_balance": 0,
                                                             "shortfall": 0, "billing_page_link": "https://b"},
                      "credits", "ledger", 1)
    nid = record(stores["notifications"], derived)
    await Mailer(settings(), stores, transport).deliver(nid)
    (message,) = transport.sent
    assert message["Bcc"] is None and "Bcc: evil@x" in str(message["Subject"])


async def test_the_daily_cap_holds(stores):
    transport = FakeTransport()
    mailer = Mailer(settings(), stores, transport)
    alice = user(stores, "alice", daily_limit=2)
    nids = [notification(stores, alice, source_version=v) for v in (1, 2, 3)]
    for nid in nids:
        await mailer.deliver(nid)
    assert len(transport.sent) == 2
    assert [outcome(stores, nid) for nid in nids] == [
        [EmailSent(message_id=f"<{nids[0]}@agentloom>", attempt=1)],
        [EmailSent(message_id=f"<{nids[1]}@agentloom>", attempt=1)],
        [EmailSkipped(reason=EmailSkipReason.DAILY_LIMIT)],
    ]
    places = [e.decode() for e in stores["notifications"].read_log(after=0) if e.type == EmailQuotaUsed.TYPE]
    assert [p.notification_id for p in places] == [str(nids[0]), str(nids[1])]
    assert {p.user_id for p in places} == {alice}


async def test_a_daily_cap_of_zero_sends_nothing(stores):
    transport = FakeTransport()
    nid = notification(stores, user(stores, "alice", daily_limit=0))
    await Mailer(settings(), stores, transport).deliver(nid)
    assert transport.attempts == []
    assert outcome(stores, nid) == [EmailSkipped(reason=EmailSkipReason.DAILY_LIMIT)]


async def test_failures_are_recorded_and_retried_until_sent(stores):
    transport = FakeTransport(failures=2)
    mailer = Mailer(settings(), stores, transport)
    nid = notification(stores, user(stores, "alice", daily_limit=1))
    await mailer.deliver(nid)
    assert len(transport.attempts) == 3 and len(transport.sent) == 1
    assert outcome(stores, nid) == [
        EmailDeliveryFailed(attempt=1, error="421 4.7.0 try again later"),
        EmailDeliveryFailed(attempt=2, error="421 4.7.0 try again later"),
        EmailSent(message_id=f"<{nid}@agentloom>", attempt=3),
    ]
    # the retries kept the one place taken first (a cap of 1 did not refuse attempts 2 and 3)
    assert sum(1 for e in stores["notifications"].read_log(after=0) if e.type == EmailQuotaUsed.TYPE) == 1
    assert (mailer.stats.sent, mailer.stats.failed_attempts) == (1, 2)


async def test_a_transport_that_always_fails_is_given_up_after_max_attempts(stores):
    transport = FakeTransport(failures=None)
    mailer = Mailer(settings(email_max_attempts=4), stores, transport)
    nid = notification(stores, user(stores, "alice"))
    await mailer.deliver(nid)
    assert len(transport.attempts) == 4 and transport.sent == []
    assert outcome(stores, nid) == [
        *[EmailDeliveryFailed(attempt=i, error="421 4.7.0 try again later") for i in (1, 2, 3, 4)],
        EmailSkipped(reason=EmailSkipReason.GAVE_UP),
    ]
    await mailer.deliver(nid)  # given up is final
    assert len(transport.attempts) == 4


async def test_an_email_that_cannot_be_built_ends_given_up_without_using_the_cap(stores, monkeypatch):
    """A notification no template renders must not hold its partition forever."""
    from services.notifier import emails

    def broken(**_):
        raise RuntimeError("template exploded")

    transport = FakeTransport()
    mailer = Mailer(settings(email_max_attempts=2), stores, transport)
    nid = notification(stores, user(stores, "alice"))
    monkeypatch.setattr(emails, "compose", broken)
    await mailer.deliver(nid)
    events = outcome(stores, nid)
    assert [type(e) for e in events] == [EmailDeliveryFailed, EmailDeliveryFailed, EmailSkipped]
    assert "template exploded" in events[0].error and events[-1].reason == EmailSkipReason.GAVE_UP
    assert transport.attempts == [] and not [e for e in stores["notifications"].read_log(after=0, limit=100)
                                             if e.type == "EmailQuotaUsed"]


async def test_a_failing_delivery_does_not_hold_up_another(stores):
    transport = FakeTransport(failures=None, failing=("slow@example.com",), delay=0.05)
    mailer = Mailer(settings(email_retry_first_s=0.05, email_max_attempts=3), stores, transport)
    slow = notification(stores, user(stores, "slow"))
    fast = notification(stores, user(stores, "fast"))
    finished: list[str] = []

    async def deliver(name: str, nid: uuid.UUID) -> None:
        await mailer.deliver(nid)
        finished.append(name)

    slow_task = asyncio.create_task(deliver("slow", slow))
    await asyncio.sleep(0.01)  # the slow one is in its first send
    await asyncio.wait_for(deliver("fast", fast), timeout=2)
    assert finished == ["fast"] and not slow_task.done()
    assert outcome(stores, fast) == [EmailSent(message_id=f"<{fast}@agentloom>", attempt=1)]
    await asyncio.wait_for(slow_task, timeout=5)
    assert finished == ["fast", "slow"]
    assert [type(e) for e in outcome(stores, slow)] == [EmailDeliveryFailed] * 3 + [EmailSkipped]
    assert outcome(stores, slow)[-1].reason is EmailSkipReason.GAVE_UP


async def test_a_redelivered_notification_is_sent_once(stores):
    transport = FakeTransport()
    mailer = Mailer(settings(), stores, transport)
    nid = notification(stores, user(stores, "alice"))
    await mailer.deliver(nid)
    await mailer.deliver(nid)
    assert len(transport.attempts) == 1
    assert outcome(stores, nid) == [EmailSent(message_id=f"<{nid}@agentloom>", attempt=1)]


async def test_an_unknown_notification_is_ignored(stores):
    transport = FakeTransport()
    await Mailer(settings(), stores, transport).deliver(uuid.uuid4())
    assert transport.attempts == []
    assert stores["notifications"].head() == 0


def published(stores, *nids: uuid.UUID) -> list:
    """The notifications' first events as the notifications topic carries them."""
    first = {e.stream_id: e for e in stores["notifications"].read_log(after=0) if e.stream_version == 1}
    return [first[nid].envelope() for nid in nids]


async def test_a_batchs_unwanted_emails_are_skipped_together_and_wanted_ones_left_to_deliver(stores):
    transport = FakeTransport()
    mailer = Mailer(settings(), stores, transport)
    off = notification(stores, user(stores, "alice", off=(NotificationType.AGENT_RUN,)))
    ghost = notification(stores, "ghost")  # no user record: no address
    wanted = notification(stores, user(stores, "bob"))
    also_off = notification(stores, "alice", source_version=2)

    skipped = await asyncio.to_thread(mailer.skip_batch, published(stores, off, ghost, wanted, also_off))

    assert skipped == {off, ghost, also_off}
    assert outcome(stores, off) == outcome(stores, also_off) == [EmailSkipped(reason=EmailSkipReason.DISABLED)]
    assert outcome(stores, ghost) == [EmailSkipped(reason=EmailSkipReason.NO_ADDRESS)]
    assert outcome(stores, wanted) == [] and transport.attempts == []
    await mailer.deliver(wanted)
    assert [str(m["To"]) for m in transport.sent] == ["bob@example.com"]


async def test_a_batch_with_a_notification_changed_since_is_left_whole_to_the_careful_way(stores):
    """Read by its user in between, or already decided before a crash: the batch's append conflicts,
    nothing of it is recorded, and each delivery then decides from the store, once."""
    mailer = Mailer(settings(), stores, FakeTransport())
    alice = user(stores, "alice", off=(NotificationType.AGENT_RUN,))
    read, fresh = notification(stores, alice), notification(stores, alice, source_version=2)
    stores["notifications"].append([NewEvent(read, 2, NotificationRead(), user_id=alice)])

    assert await asyncio.to_thread(mailer.skip_batch, published(stores, read, fresh)) == set()
    assert outcome(stores, fresh) == []
    for nid in (read, fresh):
        await mailer.deliver(nid)
    assert outcome(stores, read) == [NotificationRead(), EmailSkipped(reason=EmailSkipReason.DISABLED)]
    assert outcome(stores, fresh) == [EmailSkipped(reason=EmailSkipReason.DISABLED)]

    assert await asyncio.to_thread(mailer.skip_batch, published(stores, fresh)) == set()  # a redelivery
    assert outcome(stores, fresh) == [EmailSkipped(reason=EmailSkipReason.DISABLED)]
