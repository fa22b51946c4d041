"""The notifier's third part: completion webhooks delivered, each once per run end (at least once).

It consumes the executions topic in its own consumer group. For each run end
(ExecutionCompleted/Failed/Terminated; a sub-graph run's end is part of its parent's and tells
nothing) it reads the owner's callbacks stream and, for every
callback that wants that event (and graph), appends ``CallbackDeliveryScheduled`` at version 1 of
a stream whose id derives from the callback and the source event; a replay after a crash meets
the taken version and schedules nothing twice. Offsets are committed after the whole batch is
scheduled, so nothing is skipped either; the first attempt is made at once.

Attempts are decided on the delivery's stream (``domain/callbacks/delivery.py``): a claim with a
lease at the expected version before the request, the outcome after. A retry loop polls
``rm_callback_deliveries`` for due deliveries (a failed attempt's backoff over, a claim's lease run
out because its notifier died); the row only says where to look, the stream decides. Requests go
through the SendWebRequest block's guarded client (``blocks/http_fetch.py``): the outbound policy
on the address actually connected to, no redirects followed, one overall timeout.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import psycopg

from schemas.envelope import Envelope
from schemas.events import decode_payload
from schemas.events.callbacks import CallbackDeliveryAbandoned, CallbackDeliveryScheduled
from schemas.events.executions import ExecutionCompleted, ExecutionFailed, ExecutionTerminated
from services.blocks.http_fetch import FetchError, guarded_fetch
from services.domain.callbacks import signing
from services.domain.callbacks.callbacks import Callback, UserCallbacks
from services.domain.callbacks.delivery import Delivery, RetryPolicy
from services.domain.callbacks.ids import delivery_id, secret_binding, user_callbacks_id
from services.domain.executions.state import ExecutionState
from services.domain.integrations.crypto import Keyring, SecretDecryptionError
from services.infra import db
from services.infra.appending import decide_and_append
from services.infra.checkpoints import Checkpoints
from services.infra.consumer_loop import consume_until_stopped
from services.infra.eventstore import EventStore
from services.infra.kafka import ensure_topics, make_consumer
from services.infra.kafka_records import envelopes_of
from services.infra.settings import Settings
from services.infra.store_contract import ConcurrencyConflict, NewEvent, utcnow

log = logging.getLogger(__name__)
RUN_ENDS = {ExecutionCompleted.TYPE: "execution.completed", ExecutionFailed.TYPE: "execution.failed",
            ExecutionTerminated.TYPE: "execution.terminated"}
MAX_IN_FLIGHT = 200  # attempts running at once
MAX_RESPONSE_BYTES = 1024 * 1024  # a receiver's answer is read (and dropped) up to this size
DUE_BATCH = 200


def group_id(settings: Settings) -> str:
    return f"{settings.topic_prefix}.notifier.callbacks"


def policy_from(settings: Settings) -> RetryPolicy:
    """The lease outlasts the request's timeout, so a live attempt is never taken over."""
    lease = max(settings.callback_lease_s, settings.callback_timeout_s + 2.0)
    return RetryPolicy(delays=tuple(settings.callback_retry_delays_s),
                       window=timedelta(seconds=settings.callback_give_up_after_s), lease=timedelta(seconds=lease))


@dataclass
class DelivererStats:
    ready: bool = False
    scheduled: int = 0
    duplicates: int = 0
    succeeded: int = 0
    failed_attempts: int = 0
    abandoned: int = 0


class CallbackDeliverer:
    def __init__(self, settings: Settings, stores: dict[str, EventStore], *, transport=None, resolver=None) -> None:
        self.settings = settings
        self.store = stores["callbacks"]
        self.executions = stores["executions"]
        self.keyring = Keyring.parse(settings.credentials_keys)
        self.policy = policy_from(settings)
        self.transport, self.resolver = transport, resolver  # injectable for tests
        self.stats = DelivererStats()
        self._in_flight: dict[str, asyncio.Task] = {}
        self._slots = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def run(self, stop: asyncio.Event) -> None:
        try:
            await asyncio.gather(consume_until_stopped("callbacks", self._consume, stop, on_down=self._down),
                                 self._retry_loop(stop))
        finally:
            for task in list(self._in_flight.values()):
                task.cancel()
            await asyncio.gather(*self._in_flight.values(), return_exceptions=True)

    def _down(self) -> None:
        self.stats.ready = False

    # -- scheduling from the executions topic ---------------------------------------------------

    async def _consume(self, stop: asyncio.Event) -> None:
        await ensure_topics(self.settings, ("executions",))
        topic = self.settings.topic("executions")
        checkpoints = Checkpoints(self.settings, group_id(self.settings), {topic: "executions"})
        await checkpoints.subscribe()
        consumer = make_consumer(self.settings, topic, group_id=group_id(self.settings), background=True)
        await consumer.start()
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=500)
                self.stats.ready = bool(consumer.assignment())
                checkpoints.seen_batch(batch)
                ends = [env for messages in batch.values() for env in envelopes_of(messages, RUN_ENDS)]
                scheduled = await asyncio.to_thread(self.schedule_batch, ends) if ends else []
                if batch:
                    await checkpoints.commit(consumer)
                await checkpoints.save()
                for found in scheduled:
                    self._start(found)
        finally:
            self.stats.ready = False
            await consumer.stop()
            await checkpoints.close()

    def schedule(self, env: Envelope) -> list[str]:
        """Record a delivery per callback that wants this run end (idempotent); their ids."""
        return self.schedule_batch([env])

    def schedule_batch(self, ends: list[Envelope]) -> list[str]:
        """``schedule`` for each of a batch's run ends, their owners' callbacks read in one query:
        nearly every run end is of a user with no callback for it, and one read each was most of
        this consumer's work under burst100."""
        callbacks = self._owners_callbacks({env.user_id for env in ends if env.user_id})
        return [found for env in ends if env.user_id for found in self._schedule(env, callbacks[env.user_id])]

    def _schedule(self, env: Envelope, callbacks: UserCallbacks) -> list[str]:
        name = RUN_ENDS[env.type]
        if not any(name in c.events and c.enabled for c in callbacks.callbacks.values()):
            return []  # the common case: no fold of the run
        try:
            event = decode_payload(env.type, env.class_version, env.payload)
        except (ValueError, KeyError) as exc:
            log.error("callbacks: skipping %s at %s/%d: %s", env.type, env.stream_id, env.stream_version,
                      str(exc)[:200])
            return []
        run = self._run(env.stream_id, env.stream_version)
        if run.parent_execution_id is not None:
            return []  # a sub-graph run is part of its parent's run, as for notifications
        failure = getattr(event, "error", None)
        ids = []
        for callback in callbacks.matching(name, run.graph_id):
            found = str(delivery_id(callback.callback_id, str(env.event_id)))
            scheduled = CallbackDeliveryScheduled(
                callback_id=callback.callback_id, user_id=env.user_id, event=name, source_event_id=str(env.event_id),
                execution_id=str(env.stream_id), graph_id=run.graph_id, graph_version=run.graph_version,
                status=run.status.value, started_at=run.started_at, ended_at=run.ended_at or env.occurred_at,
                error=str(failure)[:500] if failure else None, url=callback.url)
            try:
                self.store.append([NewEvent(uuid.UUID(found), 1, scheduled, user_id=env.user_id)])
                self.stats.scheduled += 1
            except ConcurrencyConflict:
                self.stats.duplicates += 1  # scheduled before (a replayed batch, another notifier)
            ids.append(found)
        return ids

    def _callbacks(self, user_id: str) -> UserCallbacks:
        return self._owners_callbacks({user_id})[user_id]

    def _owners_callbacks(self, owners: set[str]) -> dict[str, UserCallbacks]:
        streams = self.store.read_streams({user_callbacks_id(user_id): None for user_id in owners})
        return {user_id: UserCallbacks.from_events(user_id, [(e.decode(), e.occurred_at)
                                                             for e in streams[user_callbacks_id(user_id)]])
                for user_id in owners}

    def _run(self, stream_id: uuid.UUID, upto: int) -> ExecutionState:
        events = self.executions.read_stream(stream_id, upto=upto)
        return ExecutionState.from_events(str(stream_id), ((e.decode(), e.occurred_at) for e in events))

    # -- due deliveries -------------------------------------------------------------------------

    async def _retry_loop(self, stop: asyncio.Event) -> None:
        pool = db.make_async_pool(self.settings, min_size=1, max_size=2)
        await pool.open()
        try:
            while not stop.is_set():
                try:
                    async with pool.connection() as conn:
                        rows = await (await conn.execute(
                            "SELECT delivery_id FROM rm_callback_deliveries WHERE status = 'pending' "
                            "AND next_attempt_at <= %s ORDER BY next_attempt_at LIMIT %s",
                            (utcnow(), DUE_BATCH))).fetchall()
                    for (found,) in rows:
                        self._start(str(found))
                except psycopg.Error as exc:  # the database away: look again shortly
                    log.warning("callbacks: could not look for due deliveries: %s", exc)
                try:
                    await asyncio.wait_for(stop.wait(), timeout=self.settings.callback_poll_s)
                except TimeoutError:
                    pass
        finally:
            await pool.close()

    def _start(self, found: str) -> None:
        if found in self._in_flight:
            return  # this process is already on it
        task = asyncio.create_task(self._attempt_soon(found))
        self._in_flight[found] = task

        def done(finished: asyncio.Task) -> None:
            self._in_flight.pop(found, None)
            if not finished.cancelled() and finished.exception() is not None:
                log.error("callbacks: attempt of %s stopped: %s (the retry loop tries again)", found,
                          finished.exception())

        task.add_done_callback(done)

    async def _attempt_soon(self, found: str) -> None:
        async with self._slots:
            await self.attempt(found)

    # -- one attempt ----------------------------------------------------------------------------

    def _delivery(self, found: str) -> Delivery:
        events = self.store.read_stream(uuid.UUID(found))
        return Delivery.from_events(found, [(e.decode(), e.occurred_at) for e in events])

    def _append(self, delivery: Delivery, events: list) -> None:
        assert delivery.scheduled is not None
        now = utcnow()
        self.store.append([NewEvent(uuid.UUID(delivery.delivery_id), delivery.stream_version + i + 1, event,
                                    user_id=delivery.scheduled.user_id, occurred_at=now)
                           for i, event in enumerate(events)])
        for event in events:
            delivery.apply(event, now)

    def _claim(self, found: str) -> tuple[Delivery, Callback | None, int | None]:
        """The attempt this notifier may make now (its number), or None: not due, claimed by
        another notifier, or ended (abandoned) by this decision."""
        delivery = self._delivery(found)
        if not delivery.due(utcnow()):
            return delivery, None, None
        assert delivery.scheduled is not None
        callback = self._callbacks(delivery.scheduled.user_id).callbacks.get(delivery.scheduled.callback_id)
        gone = "callback_deleted" if callback is None else None if callback.enabled else "callback_disabled"
        events = delivery.start_attempt(utcnow(), self.policy, callback_gone=gone)
        if not events:
            return delivery, None, None
        try:
            self._append(delivery, events)
        except ConcurrencyConflict:
            return delivery, None, None  # another notifier claimed it first
        if isinstance(events[0], CallbackDeliveryAbandoned):
            self.stats.abandoned += 1
            log.info("callbacks: delivery %s abandoned (%s)", found, events[0].reason)
            return delivery, None, None
        return delivery, callback, delivery.attempts

    async def attempt(self, found: str) -> None:
        delivery, callback, attempt = await asyncio.to_thread(self._claim, found)
        if callback is None or attempt is None:
            return
        assert delivery.scheduled is not None
        status_code, error = await self._send(delivery, callback)
        if status_code is not None and 200 <= status_code < 300:
            self.stats.succeeded += 1
        else:
            self.stats.failed_attempts += 1
            log.info("callbacks: delivery %s attempt %d failed: %s", found, attempt, error)

        def record(current: Delivery) -> Delivery:
            events = current.outcome(attempt, utcnow(), self.policy, status_code=status_code, error=error)
            if events:
                self._append(current, events)
                if isinstance(events[-1], CallbackDeliveryAbandoned):
                    self.stats.abandoned += 1
            return current

        await asyncio.to_thread(decide_and_append, lambda: self._delivery(found), record)

    async def _send(self, delivery: Delivery, callback: Callback) -> tuple[int | None, str | None]:
        scheduled = delivery.scheduled
        assert scheduled is not None
        try:
            secret = self.keyring.decrypt(callback.secret_ciphertext,
                                          bound_to=secret_binding(callback.callback_id, callback.user_id))
        except SecretDecryptionError as exc:
            return None, f"the webhook's secret cannot be opened: {exc}"
        content = signing.body(delivery.delivery_id, scheduled, self.settings.public_url)
        headers = signing.headers(delivery.delivery_id, scheduled.event, secret, int(time.time()), content)
        try:
            result = await guarded_fetch("POST", callback.url, headers=headers, content=content,
                                         allow_hosts=self.settings.http_allow_hosts, transport=self.transport,
                                         resolver=self.resolver, max_redirects=0, max_bytes=MAX_RESPONSE_BYTES,
                                         timeout=self.settings.callback_timeout_s)
        except FetchError as exc:
            return None, str(exc)
        return result.status, None if 200 <= result.status < 300 else f"the receiver answered {result.status}"
