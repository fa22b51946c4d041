"""Completion webhooks, the pure parts: the user's callbacks (bounds, cap, updates, matching), a
delivery's attempts (claims, backoff, the 24 h window, lost leases) and the signature."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from schemas.events.callbacks import (
    CallbackDeliveryAbandoned,
    CallbackDeliveryAttempted,
    CallbackDeliveryAttemptStarted,
    CallbackDeliveryScheduled,
    CallbackDeliverySucceeded,
)
from services.command_api.application.callbacks import check_destination
from services.domain.callbacks import rules, signing
from services.domain.callbacks.callbacks import UserCallbacks
from services.domain.callbacks.delivery import ABANDONED, SUCCEEDED, Delivery, RetryPolicy
from services.domain.callbacks.ids import delivery_id
from services.domain.errors import InvalidCommand, NotFoundError

T0 = datetime(2026, 12, 3, 1, 0, tzinfo=UTC)
POLICY = RetryPolicy(delays=(10, 30, 120), window=timedelta(hours=24), lease=timedelta(seconds=30))


def registered(state: UserCallbacks, **kwargs) -> str:
    callback_id = str(uuid.uuid4())
    args = {"url": "https://example.com/hook", "events": ["execution.completed"], "graph_id": None,
            "description": "", "secret_ciphertext": "v1:k:x"} | kwargs
    for event in state.register(callback_id, **args):
        state.apply(event, T0)
    return callback_id


@pytest.mark.parametrize(("field", "value"), [
    ("url", ""), ("url", "ftp://example.com/"), ("url", "https://" + "a" * 2048 + ".com"),
    ("url", "https://exa mple.com/"), ("url", "https://exa\tmple.com/x"), ("events", []),
    ("events", ["execution.started"]), ("description", "d" * 501)])
def test_every_bound_is_refused(field, value):
    with pytest.raises(InvalidCommand):
        registered(UserCallbacks("alice"), **{field: value})


def test_the_cap_and_canonical_events():
    state = UserCallbacks("alice")
    first = registered(state, events=["execution.failed", "execution.completed", "execution.failed"])
    assert state.get(first).events == ["execution.completed", "execution.failed"]
    for _ in range(rules.MAX_CALLBACKS_PER_USER - 1):
        registered(state)
    with pytest.raises(InvalidCommand, match="at most 20"):
        registered(state)
    for event in state.delete(first):
        state.apply(event, T0)
    registered(state)  # a place again
    with pytest.raises(NotFoundError):
        state.get(first)


def test_updates_record_only_changes_and_matching_follows_them():
    state = UserCallbacks("alice")
    cid = registered(state, events=list(rules.EVENTS))
    graph = str(uuid.uuid4())
    assert [c.callback_id for c in state.matching("execution.failed", graph)] == [cid]
    assert state.update(cid, url="https://example.com/hook") == []
    for event in state.update(cid, graph_id=graph, events=["execution.failed"]):
        state.apply(event, T0)
    assert state.matching("execution.failed", str(uuid.uuid4())) == []
    assert state.matching("execution.completed", graph) == []
    assert len(state.matching("execution.failed", graph)) == 1
    for event in state.update(cid, enabled=False):
        state.apply(event, T0)
    assert state.matching("execution.failed", graph) == []
    for event in state.update(cid, graph_id=None, enabled=True):
        state.apply(event, T0)
    assert state.get(cid).graph_id is None and len(state.matching("execution.failed", "any")) == 1
    with pytest.raises(InvalidCommand):
        state.update(cid, events=None)
    with pytest.raises(NotFoundError):
        UserCallbacks("bob").update(cid, enabled=False)


def scheduled() -> CallbackDeliveryScheduled:
    return CallbackDeliveryScheduled(callback_id=str(uuid.uuid4()), user_id="alice", event="execution.completed",
                                     source_event_id=str(uuid.uuid4()), execution_id=str(uuid.uuid4()),
                                     graph_id=str(uuid.uuid4()), graph_version=1, status="COMPLETED",
                                     ended_at=T0, url="https://example.com/hook")


def test_a_delivery_id_is_one_per_callback_and_source_event():
    callback, source = str(uuid.uuid4()), str(uuid.uuid4())
    assert delivery_id(callback, source) == delivery_id(callback, source)
    assert delivery_id(callback, source) != delivery_id(str(uuid.uuid4()), source)


def test_attempts_claim_back_off_and_succeed():
    d = Delivery("d")
    d.apply(scheduled(), T0)
    [claim] = d.start_attempt(T0, POLICY)
    assert isinstance(claim, CallbackDeliveryAttemptStarted) and claim.attempt == 1
    d.apply(claim, T0)
    assert d.start_attempt(T0 + timedelta(seconds=5), POLICY) == []  # leased: nobody else attempts
    [failed] = d.outcome(1, T0 + timedelta(seconds=1), POLICY, status_code=500, error="the receiver answered 500")
    assert isinstance(failed, CallbackDeliveryAttempted) and failed.next_attempt_at == T0 + timedelta(seconds=11)
    d.apply(failed, T0)
    assert d.start_attempt(T0 + timedelta(seconds=10), POLICY) == []
    [claim2] = d.start_attempt(T0 + timedelta(seconds=11), POLICY)
    d.apply(claim2, T0)
    [ok] = d.outcome(2, T0 + timedelta(seconds=12), POLICY, status_code=204)
    assert isinstance(ok, CallbackDeliverySucceeded)
    d.apply(ok, T0)
    assert d.status == SUCCEEDED and d.start_attempt(T0 + timedelta(days=1), POLICY) == []


def test_the_last_delay_repeats_and_the_window_ends_it():
    assert [POLICY.delay_after(n).total_seconds() for n in (1, 2, 3, 4, 9)] == [10, 30, 120, 120, 120]
    d = Delivery("d")
    d.apply(scheduled(), T0)
    late = T0 + timedelta(hours=24, seconds=-5)  # the next wait (10 s) would pass the window
    d.apply(d.start_attempt(T0, POLICY)[0], T0)
    failed, abandoned = d.outcome(1, late, POLICY, error="connection refused")
    assert failed.next_attempt_at is None and isinstance(abandoned, CallbackDeliveryAbandoned)
    assert abandoned.reason == "expired"
    d2 = Delivery("d2")
    d2.apply(scheduled(), T0)
    [expired] = d2.start_attempt(T0 + timedelta(hours=25), POLICY)
    assert isinstance(expired, CallbackDeliveryAbandoned)


def test_a_lost_lease_is_taken_over_with_a_new_attempt_number_and_the_old_outcome_is_dropped():
    d = Delivery("d")
    d.apply(scheduled(), T0)
    d.apply(d.start_attempt(T0, POLICY)[0], T0)  # this notifier dies mid-request
    [claim2] = d.start_attempt(T0 + timedelta(seconds=31), POLICY)
    assert claim2.attempt == 2
    d.apply(claim2, T0)
    assert d.outcome(1, T0 + timedelta(seconds=32), POLICY, status_code=200) == []  # the late first one


def test_a_deleted_callback_abandons_its_pending_delivery():
    d = Delivery("d")
    d.apply(scheduled(), T0)
    [gone] = d.start_attempt(T0, POLICY, callback_gone="callback_deleted")
    d.apply(gone, T0)
    assert d.status == ABANDONED and gone.reason == "callback_deleted"


def test_the_signature_covers_timestamp_and_body():
    event = scheduled()
    body = signing.body("d-1", event, "https://agentloom.test/")
    assert body == signing.body("d-1", event, "https://agentloom.test/")  # every attempt: the same bytes
    headers = signing.headers("d-1", event.event, "s3cret", 1_700_000_000, body)
    assert headers[signing.DELIVERY_HEADER] == "d-1" and headers[signing.EVENT_HEADER] == "execution.completed"
    assert signing.verify("s3cret", headers[signing.TIMESTAMP_HEADER], body, headers[signing.SIGNATURE_HEADER])
    assert not signing.verify("s3cret", "1700000001", body, headers[signing.SIGNATURE_HEADER])
    assert not signing.verify("other", headers[signing.TIMESTAMP_HEADER], body, headers[signing.SIGNATURE_HEADER])
    assert not signing.verify("s3cret", headers[signing.TIMESTAMP_HEADER], body + b" ",
                              headers[signing.SIGNATURE_HEADER])
    assert b"https://agentloom.test/external-api/v1/graphs/" in body


@pytest.mark.parametrize("url", ["http://169.254.169.254/latest/meta-data", "http://10.0.0.1/", "http://127.0.0.1:9/",
                                 "http://[::1]/", "http://[::ffff:10.0.0.1]/", "http://0.0.0.0/",
                                 "http://metadata.internal/"])
def test_the_outbound_policy_refuses_private_destinations(url):
    def resolve(host, port):
        return ["10.1.2.3"]  # an internal name

    with pytest.raises(InvalidCommand, match="destination not allowed"):
        check_destination(url, (), resolve)


@pytest.mark.parametrize("url", ["http:///x", "https://user:pw@example.com/", "https://example.com:99999/",
                                 "https://[zz]/"])
def test_a_url_without_a_usable_host_is_refused(url):
    with pytest.raises(InvalidCommand):
        check_destination(url, (), lambda host, port: ["93.184.215.14"])


def test_a_public_or_allow_listed_destination_passes():
    check_destination("https://hooks.example.com/x", (), lambda host, port: ["93.184.215.14"])
    check_destination("http://127.0.0.1:8123/x", ("127.0.0.1",), lambda host, port: [])
    with pytest.raises(InvalidCommand):
        check_destination("https://rebind.example.com/", (), lambda host, port: ["93.184.215.14", "10.0.0.1"])
