"""The notifier's first half: turn published events into recorded notifications.

It consumes the executions, credits and store topics in its own consumer group and looks only at
the few event types a rule needs (a run's end or pause for review, a spend, an admin's review). For a run's end it
folds the run from the store (the event alone does not say what the run produced); for a review,
the listing up to that review and the creator's profile as it stood at the review's log position
(the reviewer's name and email from the users log as of the review's time), so a replay derives the
same data. Each notification is appended as a new
stream whose id derives from the source event, so a batch replayed after a crash, before its
offsets were committed, records nothing twice; offsets are committed only after the whole batch
is recorded, so nothing is skipped either.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

from schemas.envelope import Envelope
from schemas.events import decode_payload
from schemas.events.credits import CreditsSpent
from schemas.events.executions import (
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionPausedForReview,
    ExecutionTerminated,
)
from schemas.events.store import ListingVersionReviewed
from services.domain.blocks.registry import get_block
from services.domain.executions.state import ExecutionState
from services.domain.notifications import derive
from services.domain.store.creators import Profile
from services.domain.store.ids import profile_id
from services.domain.store.listing import Listing
from services.domain.users.user import UserAccount, user_stream_id
from services.infra import blobs, notification_records
from services.infra.checkpoints import Checkpoints
from services.infra.consumer_loop import consume_until_stopped
from services.infra.eventstore import EventStore
from services.infra.kafka import ensure_topics, make_consumer
from services.infra.kafka_records import envelopes_of
from services.infra.ledger_service import LedgerService
from services.infra.settings import Settings

log = logging.getLogger(__name__)
RUN_EVENTS = (ExecutionCompleted, ExecutionFailed, ExecutionTerminated, ExecutionPausedForReview)
WATCHED = {cls.TYPE for cls in RUN_EVENTS} | {CreditsSpent.TYPE, ListingVersionReviewed.TYPE}
SOURCES = ("executions", "credits", "store")


def group_id(settings: Settings) -> str:
    return f"{settings.topic_prefix}.notifier.events"


@dataclass
class RecorderStats:
    ready: bool = False
    recorded: int = 0
    duplicates: int = 0
    skipped_malformed: int = 0


def block_name(block_id: str) -> str:
    block = get_block(block_id)
    return block.name() if block is not None else block_id


def describe_value(value):
    if blobs.is_reference(value):
        return f"(a stored value of {blobs.reference_size(value)} bytes)"
    return value


class NotificationRecorder:
    def __init__(self, settings: Settings, stores: dict[str, EventStore], ledger: LedgerService) -> None:
        self.settings = settings
        self.stores = stores
        self.ledger = ledger
        self.stats = RecorderStats()

    async def run(self, stop: asyncio.Event) -> None:
        await consume_until_stopped("notifier", self._consume, stop, on_down=self._down)

    def _down(self) -> None:
        self.stats.ready = False

    async def _consume(self, stop: asyncio.Event) -> None:
        await ensure_topics(self.settings, SOURCES)
        topics = {self.settings.topic(c): c for c in SOURCES}
        checkpoints = Checkpoints(self.settings, group_id(self.settings), topics)
        await checkpoints.subscribe()
        consumer = make_consumer(self.settings, *topics, group_id=group_id(self.settings), background=True)
        await consumer.start()
        try:
            while not stop.is_set():
                batch = await consumer.getmany(timeout_ms=200, max_records=500)
                self.stats.ready = bool(consumer.assignment())
                checkpoints.seen_batch(batch)
                envelopes = [env for messages in batch.values() for env in envelopes_of(messages, WATCHED)]
                if envelopes:  # all recorded before the commit
                    await asyncio.to_thread(self.handle_batch, envelopes)
                if batch:
                    await checkpoints.commit(consumer)
                await checkpoints.save()
        finally:
            self.stats.ready = False
            await consumer.stop()
            await checkpoints.close()

    def handle_batch(self, envelopes: list[Envelope]) -> None:
        """Record what one batch's events call for. The runs it ends or pauses are read from the
        store in one query and the new notifications appended in one transaction: per run end,
        a stream read, an append and a thread hop each were most of the notifier's work under
        burst100 (py-spy)."""
        decoded = [(env, event) for env in envelopes
                   if env.type in WATCHED and (event := self._decode(env)) is not None]
        runs = self._runs([env for env, event in decoded if isinstance(event, RUN_EVENTS)])
        derived = [found for env, event in decoded for found in self.derive(env, event, runs)]
        for recorded in notification_records.record_all(self.stores["notifications"], derived):
            if recorded is None:
                self.stats.duplicates += 1
            else:
                self.stats.recorded += 1

    def _decode(self, env: Envelope):
        try:
            return decode_payload(env.type, env.class_version, env.payload)
        except (ValueError, KeyError) as exc:  # a payload no class reads: nothing to notify about
            self.stats.skipped_malformed += 1
            log.error("notifier: skipping %s at %s/%d: %s", env.type, env.stream_id, env.stream_version,
                      str(exc)[:200])
            return None

    def _runs(self, envelopes: list[Envelope]) -> dict[tuple[uuid.UUID, int], ExecutionState]:
        """Each run as it stood at the event that ended or paused it (a run may be in one batch
        twice: paused, then ended), from one read of all their streams."""
        uptos: dict[uuid.UUID, int] = {}
        for env in envelopes:
            uptos[env.stream_id] = max(uptos.get(env.stream_id, 0), env.stream_version)
        streams = self.stores["executions"].read_streams(uptos)
        return {(env.stream_id, env.stream_version): ExecutionState.from_events(
                    str(env.stream_id), ((e.decode(), e.occurred_at) for e in streams[env.stream_id]
                                         if e.stream_version <= env.stream_version))
                for env in envelopes}

    def derive(self, env: Envelope, event, runs: dict[tuple[uuid.UUID, int], ExecutionState]) -> list[derive.Derived]:
        if isinstance(event, CreditsSpent):
            if not env.user_id:
                return []
            found = derive.low_balance(event, user_id=env.user_id, ledger_stream_id=str(env.stream_id),
                                       version=env.stream_version, threshold=self.settings.low_balance_threshold,
                                       public_url=self.settings.public_url)
            return [found] if found else []
        if isinstance(event, ListingVersionReviewed):
            found = self._reviewed(env, event)
            return [found] if found else []
        state = runs[(env.stream_id, env.stream_version)]
        if not state.user_id:
            return []
        if isinstance(event, ExecutionPausedForReview):
            found = derive.review_requested(state)
            return [found] if found else []
        out_of_credits = derive.failed_for_credits(event)
        found = derive.run_ended(state, out_of_credits=out_of_credits, block_names=block_name,
                                 describe_value=describe_value)
        if out_of_credits:
            found.append(notification_records.zero_balance(self.ledger, state.user_id, derive.agent_name(state),
                                                           self.settings.public_url))
        return found

    def _reviewed(self, env: Envelope, review: ListingVersionReviewed) -> derive.Derived | None:
        store = self.stores["store"]
        events = store.read_stream(env.stream_id, upto=env.stream_version)
        listing = Listing.from_events(str(env.stream_id), [(e.decode(), e.occurred_at) for e in events])
        if listing.user_id is None:
            return None
        profile = self._profile(listing.user_id, env.position)
        reviewer = self._user(review.reviewer_id, env.occurred_at)
        return derive.listing_reviewed(listing, review, version=env.stream_version, reviewed_at=env.occurred_at,
                                       creator_username=profile.username, reviewer_name=reviewer.name,
                                       reviewer_email=reviewer.email, public_url=self.settings.public_url)

    def _profile(self, user_id: str, position: int) -> Profile:
        """The creator's profile as of log ``position``: its events recorded before the review."""
        store, stream = self.stores["store"], profile_id(user_id)
        upto = store.stream_version_at(stream, position)
        events = store.read_stream(stream, upto=upto) if upto else []
        return Profile.from_events(user_id, [(e.decode(), e.occurred_at) for e in events])

    def _user(self, user_id: str, at) -> UserAccount:
        """The reviewer's account as of the review's time (another log: positions do not compare)."""
        events = self.stores["users"].read_stream(user_stream_id(user_id))
        return UserAccount.from_events(user_id, [(e.decode(), e.occurred_at) for e in events if e.occurred_at <= at])
