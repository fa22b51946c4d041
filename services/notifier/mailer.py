"""The notifier's second half: email each recorded notification the user wants, under their cap.

It consumes the notifications topic in its own consumer group. Each ``NotificationRecorded`` gets
a delivery task, so a slow or failing delivery never holds up the others; a partition's offset is
committed only up to its oldest delivery still running, so a crash leaves every unfinished one to
be picked up again. A delivery decides from the store each time (the notification's own stream
says whether its email is already sent or skipped, the user's stream whether they want it, the
mail-day stream whether the cap allows it), which makes a redelivered message harmless.

Failures are retried with doubling waits (``email_retry_first_s``) up to ``email_max_attempts``,
each failure recorded; the last one records the email as given up. Delivery is at least once: a
crash after the server accepted a message but before ``EmailSent`` was recorded sends it again,
with the same ``Message-ID``.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from aiokafka import TopicPartition
from aiokafka.errors import CommitFailedError

from schemas.envelope import Envelope
from schemas.events import decode_payload
from schemas.events.notifications import EmailSkipReason, NotificationRecorded
from services.domain.notifications.ids import mail_day_id
from services.domain.notifications.mail_day import MailDay
from services.domain.notifications.notification import Notification
from services.domain.users.user import UserAccount, user_stream_id
from services.infra import notification_records
from services.infra.appending import decide_and_append
from services.infra.checkpoints import Checkpoints
from services.infra.consumer_loop import consume_until_stopped
from services.infra.eventstore import EventStore
from services.infra.kafka import ensure_topics, make_consumer
from services.infra.settings import Settings
from services.infra.store_contract import ConcurrencyConflict, NewEvent
from services.notifier import emails
from services.notifier.transports import DeliveryError

log = logging.getLogger(__name__)
MAX_IN_FLIGHT = 500   # deliveries running at once; fetching pauses above it
RETRY_AFTER_ERROR_S = 5.0


def group_id(settings: Settings) -> str:
    return f"{settings.topic_prefix}.notifier.mail"


@dataclass
class MailerStats:
    ready: bool = False
    sent: int = 0
    skipped: int = 0
    failed_attempts: int = 0
    in_flight: int = 0


class _Partition:
    """Offsets of one partition's messages whose delivery has not finished yet."""

    def __init__(self) -> None:
        self.open: set[int] = set()
        self.next_offset: int | None = None  # one past the last message seen

    def committable(self) -> int | None:
        return min(self.open) if self.open else self.next_offset


class Mailer:
    def __init__(self, settings: Settings, stores: dict[str, EventStore], transport) -> None:
        self.settings = settings
        self.stores = stores
        self.transport = transport
        self.stats = MailerStats()
        self._tasks: set[asyncio.Task] = set()

    async def run(self, stop: asyncio.Event) -> None:
        await consume_until_stopped("mailer", self._consume, stop, on_down=self._down)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def _down(self) -> None:
        self.stats.ready = False

    async def _consume(self, stop: asyncio.Event) -> None:
        await ensure_topics(self.settings, ("notifications",))
        topic = self.settings.topic("notifications")
        checkpoints = Checkpoints(self.settings, group_id(self.settings), {topic: "notifications"})
        await checkpoints.subscribe()
        consumer = make_consumer(self.settings, topic, group_id=group_id(self.settings), background=True)
        partitions: dict[TopicPartition, _Partition] = {}
        committed: dict[TopicPartition, int] = {}
        await consumer.start()
        try:
            while not stop.is_set():
                assigned = consumer.assignment()
                self.stats.ready = bool(assigned)
                if len(self._tasks) >= MAX_IN_FLIGHT:
                    consumer.pause(*assigned)
                else:
                    consumer.resume(*assigned)
                batch = await consumer.getmany(timeout_ms=200, max_records=200)
                checkpoints.seen_batch(batch)
                recorded = [(tp, message.offset, env) for tp, messages in batch.items() for message in messages
                            if (env := _recorded(message.value)) is not None]
                skipped = await asyncio.to_thread(self.skip_batch, [env for *_, env in recorded]) if recorded else set()
                self.stats.skipped += len(skipped)
                for tp, messages in batch.items():
                    partitions.setdefault(tp, _Partition()).next_offset = messages[-1].offset + 1
                for tp, offset, env in recorded:
                    if env.stream_id not in skipped:
                        part = partitions[tp]
                        part.open.add(offset)
                        self._start(env.stream_id, part, offset)
                await self._commit(consumer, partitions, committed, checkpoints)
                await checkpoints.save()
        finally:
            self.stats.ready = False
            await consumer.stop()
            await checkpoints.close()

    async def _commit(self, consumer, partitions: dict[TopicPartition, _Partition],
                      committed: dict[TopicPartition, int], checkpoints: Checkpoints) -> None:
        assigned = consumer.assignment()
        offsets = {tp: offset for tp, part in partitions.items()
                   if tp in assigned and (offset := part.committable()) is not None and committed.get(tp) != offset}
        for tp in [tp for tp in partitions if tp not in assigned]:
            partitions.pop(tp)  # another member owns it now and redelivers what was open
            checkpoints.forget([tp])
        if not offsets:
            return
        try:
            await checkpoints.commit(consumer, offsets)
            committed.update(offsets)
        except CommitFailedError as exc:  # a rebalance: the new owner starts from the last commit
            log.info("mailer: commit refused (%s)", exc)

    def _start(self, notification_id: uuid.UUID, part: _Partition, offset: int) -> None:
        task = asyncio.create_task(self.deliver(notification_id))
        self._tasks.add(task)
        self.stats.in_flight = len(self._tasks)

        def done(finished: asyncio.Task) -> None:
            self._tasks.discard(finished)
            self.stats.in_flight = len(self._tasks)
            if finished.cancelled():
                return  # stopping: not committed, redelivered on restart
            if finished.exception() is not None:  # the store was unreachable, say: try again shortly
                log.error("mailer: delivery of %s stopped: %s; retrying", notification_id, finished.exception())
                asyncio.get_running_loop().call_later(RETRY_AFTER_ERROR_S, self._start, notification_id, part, offset)
                return  # left open meanwhile, so its offset is not committed
            part.open.discard(offset)

        task.add_done_callback(done)

    def skip_batch(self, envelopes: list[Envelope]) -> set[uuid.UUID]:
        """Record as skipped, in one append, the batch's notifications whose user wants no email of
        them or has no address; their ids. Most notifications end this way, and one by one each
        cost three reads and an append. They are decided from the recorded event itself and the
        users read together: if anything was recorded on one of them since (it was read, or an
        earlier delivery decided it), the append conflicts and every one of them goes the careful
        way, ``deliver``, which decides from the store. Emails to send always go that way."""
        notes = [note for env in envelopes if (note := _as_recorded(env)) is not None]
        users = self._users({note.user_id for note in notes})
        new: list[NewEvent] = []
        for note in notes:
            reason = _skip_reason(note, users[note.user_id])
            if reason is None:
                continue
            stream_id = uuid.UUID(note.notification_id)
            new.extend(NewEvent(stream_id, note.stream_version + i, event, user_id=note.user_id)
                       for i, event in enumerate(note.skip(reason), start=1))
        if not new:
            return set()
        try:
            self.stores["notifications"].append(new)
        except ConcurrencyConflict:
            return set()
        return {item.stream_id for item in new}

    def _users(self, user_ids: set[str]) -> dict[str, UserAccount]:
        streams = self.stores["users"].read_streams({user_stream_id(user_id): None for user_id in user_ids})
        return {user_id: UserAccount.from_events(user_id, [(e.decode(), e.occurred_at)
                                                           for e in streams[user_stream_id(user_id)]])
                for user_id in user_ids}

    # -- one delivery ----------------------------------------------------------------------------

    async def deliver(self, notification_id: uuid.UUID) -> None:
        """Drive one notification's email to an end: sent, or skipped with a reason. The message is
        composed before a place under the cap is taken, so an email that cannot be built costs
        nothing; one that fails to build for any other reason counts as a failed attempt, so a
        notification no template can render ends as given up instead of holding its partition."""
        while True:
            note = await asyncio.to_thread(self._notification, notification_id)
            if not note.exists or note.email_done:
                return
            user = await asyncio.to_thread(self._user, note.user_id)
            reason = _skip_reason(note, user)
            message = None
            if reason is None:
                try:
                    message = self._compose(note, user)
                except emails.BadAddress:
                    reason = EmailSkipReason.NO_ADDRESS
                except Exception as exc:  # a template or data problem: counted as a failed attempt
                    log.exception("mailer: could not compose the email of %s", notification_id)
                    if await self._failed(notification_id, f"could not compose the email: {exc}"):
                        continue
                    return
            if reason is None and not await asyncio.to_thread(self._take_quota, note, user):
                reason = EmailSkipReason.DAILY_LIMIT
            if reason is not None:
                await asyncio.to_thread(self._decide, notification_id, lambda n, r=reason: n.skip(r))
                self.stats.skipped += 1
                return
            try:
                await self.transport.send(message)
            except DeliveryError as exc:
                if await self._failed(notification_id, str(exc)):
                    continue
                return
            message_id = str(message["Message-ID"])
            await asyncio.to_thread(self._decide, notification_id, lambda n, m=message_id: n.sent(m))
            self.stats.sent += 1
            return

    def _compose(self, note: Notification, user: UserAccount):
        return emails.compose(notification_id=note.notification_id, notification_type=note.notification_type,
                              data=note.data, user_id=note.user_id, to=user.email, name=user.name,
                              sender=self.settings.mail_from, public_url=self.settings.public_url,
                              secret=self.settings.api_key_secret)

    async def _failed(self, notification_id: uuid.UUID, error: str) -> bool:
        """Record a failed attempt; True after waiting out its backoff when another attempt is due."""
        self.stats.failed_attempts += 1
        after = await asyncio.to_thread(
            self._decide, notification_id, lambda n: n.delivery_failed(error, self.settings.email_max_attempts))
        if after.email_done:
            log.warning("mailer: gave up on %s after %d attempts: %s", notification_id, after.email_attempts, error)
            return False
        await asyncio.sleep(self.settings.email_retry_first_s * 2 ** (after.email_attempts - 1))
        return True

    def _notification(self, notification_id: uuid.UUID) -> Notification:
        return notification_records.load(self.stores["notifications"], notification_id)

    def _user(self, user_id: str) -> UserAccount:
        return self._users({user_id})[user_id]

    def _decide(self, notification_id: uuid.UUID, decide) -> Notification:
        return notification_records.change(self.stores["notifications"], notification_id, decide)

    def _take_quota(self, note: Notification, user: UserAccount) -> bool:
        """A place under the user's cap for the UTC day the notification was recorded on."""
        day = (note.created_at or datetime.now(UTC)).astimezone(UTC).strftime("%Y-%m-%d")
        store = self.stores["notifications"]
        stream = mail_day_id(note.user_id, day)

        def load() -> MailDay:
            return MailDay.from_events(note.user_id, day, (e.decode() for e in store.read_stream(stream)))

        def take(mail_day: MailDay) -> bool:
            allowed, events = mail_day.take(note.notification_id, user.daily_limit)
            if events:
                store.append([NewEvent(stream, mail_day.stream_version + 1, events[0], user_id=note.user_id)])
            return allowed

        return decide_and_append(load, take)


def _skip_reason(note: Notification, user: UserAccount) -> EmailSkipReason | None:
    if not user.exists or not user.email:
        return EmailSkipReason.NO_ADDRESS
    if not user.wants_email(note.notification_type):
        return EmailSkipReason.DISABLED
    return None


def _recorded(raw: bytes) -> Envelope | None:
    """The record's envelope if it is a ``NotificationRecorded``."""
    try:
        env = Envelope.from_bytes(raw)
    except (ValueError, TypeError):
        return None
    return env if env.type == NotificationRecorded.TYPE else None


def _as_recorded(env: Envelope) -> Notification | None:
    """The notification as its first event recorded it, or None for a payload no class reads (the
    careful way then says why)."""
    try:
        event = decode_payload(env.type, env.class_version, env.payload)
    except (ValueError, KeyError):
        return None
    if not isinstance(event, NotificationRecorded) or env.stream_version != 1:
        return None
    return Notification.from_events(str(env.stream_id), [(event, env.occurred_at)])
