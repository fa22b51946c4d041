"""Poison events in the projector: park the event, keep every other stream going (audit F1).

An event whose projection raises anything but connection trouble (a value a column cannot hold,
a constraint, a payload that does not decode, a handler bug) would fail the same way on every
attempt, so retrying its batch forever stops the read models of every user. Instead:

- the failed batch is applied again event by event, each in its own savepoint; the event that
  fails is parked in ``dead_letters`` (consumer ``projector``) in the same transaction that moves
  the partition positions on, and every other event of the batch is applied;
- its stream stays blocked, in order, from the parked event on: later events of that stream are
  not applied and ``projection_streams`` stays just below the parked version, so a reader never
  sees the stream with a hole in it;
- about once a second the projector looks at operator decisions (``agentloom deadletters``):
  ``retry`` applies the parked event and then the stream's later events from the store; ``skip``
  steps over that one event for good and catches the stream up from the store. The same catch-up
  parks again if a later event fails.

``agentloom projections rebuild`` uses the same rules, so a rebuild parks instead of failing.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import psycopg

from schemas.envelope import Envelope
from services.infra import deadletters
from services.infra.deadletters import is_transient_db_error
from services.projector.applier import ProjectionFailed, apply_envelopes, stream_events
from services.projector.names import PROJECTION_NAME

log = logging.getLogger(__name__)

CONSUMER = "projector"
CATCH_UP_PAGE = 500
def is_transient(exc: BaseException, conn: psycopg.AsyncConnection | None = None) -> bool:
    """Connection trouble (retry the batch later) as opposed to a poison event (park it)."""
    if isinstance(exc, ProjectionFailed):
        exc = exc.cause
    if conn is not None and (conn.closed or conn.broken):
        return True
    return is_transient_db_error(exc)


def describe(exc: BaseException) -> str:
    cause = exc.cause if isinstance(exc, ProjectionFailed) else exc
    return f"{type(cause).__module__}.{type(cause).__name__}: {cause}".strip()


@dataclass
class Quarantine:
    """What the projector must hold back or step over, per context.

    ``blocked[context][stream_id]`` is the position of the stream's first open dead letter: that
    event and every later one of the stream wait. ``skipped[context]`` holds positions an
    operator skipped."""

    blocked: dict[str, dict[str, int]] = field(default_factory=dict)
    skipped: dict[str, set[int]] = field(default_factory=dict)
    parked: int = 0  # dead letters recorded through this object (and carried over on reload)

    def holds(self, context: str, env: Envelope) -> bool:
        since = self.blocked.get(context, {}).get(str(env.stream_id))
        return since is not None and env.position >= since

    def block(self, context: str, stream_id, position: int) -> None:
        streams = self.blocked.setdefault(context, {})
        key = str(stream_id)
        streams[key] = min(position, streams.get(key, position))

    def skips(self, context: str) -> set[int]:
        return self.skipped.get(context, set())

    @property
    def blocked_count(self) -> int:
        return sum(len(s) for s in self.blocked.values())


@dataclass(frozen=True)
class Decision:
    """An operator decision the projector has not acted on yet."""

    dead_letter_id: int
    context: str
    stream_id: str
    position: int
    version: int | None
    status: str  # retry | skipped


async def load(conn: psycopg.AsyncConnection, *, rebuilding: bool = False) -> tuple[Quarantine, list[Decision]]:
    """The projector's dead letters as a ``Quarantine`` plus the decisions still to act on.

    A skipped dead letter is acted on once: while the stream's applied version is below it.
    In a rebuild (``rebuilding``) nothing has been applied yet: retried letters are simply tried
    again in store order and only parked ones block."""
    rows = await (await conn.execute(
        "WITH d AS MATERIALIZED (SELECT id, context, stream_id, position, version, status FROM dead_letters "
        "  WHERE consumer = %s AND status IN ('parked', 'retry', 'skipped')) "
        "SELECT d.id, d.context, d.stream_id, d.position, d.version, d.status, "
        "  (SELECT p.version FROM projection_streams p WHERE p.projection = %s AND p.stream_id = d.stream_id::uuid) "
        "FROM d ORDER BY d.position", (CONSUMER, PROJECTION_NAME))).fetchall()
    quarantine, decisions = Quarantine(), []
    for dl_id, context, stream_id, position, version, status, applied in rows:
        if status == "skipped":
            quarantine.skipped.setdefault(context, set()).add(int(position))
            if rebuilding or version is None or (applied or 0) >= version:
                continue
        elif rebuilding and status == "retry":
            continue
        quarantine.block(context, stream_id, int(position))
        if status != "parked":
            decisions.append(Decision(dl_id, context, stream_id, int(position), version, status))
    return quarantine, decisions


async def park(conn: psycopg.AsyncConnection, quarantine: Quarantine, context: str, failed: Envelope,
               exc: BaseException) -> None:
    """Record the event as a dead letter and block its stream from it on."""
    error = describe(exc)
    await deadletters.park(conn, consumer=CONSUMER, context=context, stream_id=str(failed.stream_id),
                           position=failed.position, version=failed.stream_version, event_type=failed.type,
                           error=error)
    quarantine.block(context, failed.stream_id, failed.position)
    quarantine.parked += 1
    log.error("projector: parked %s v%d of %s stream %s (position %d): %s; the stream waits for "
              "`agentloom deadletters retry|skip`", failed.type, failed.stream_version, context, failed.stream_id,
              failed.position, error[:300])


async def apply_guarded(conn: psycopg.AsyncConnection, quarantine: Quarantine, context: str,
                        envelopes: list[Envelope], *, whole_first: bool = True) -> tuple[list[Envelope], int, int]:
    """Apply ``envelopes`` inside the caller's open transaction, parking any event that fails.

    Held events (blocked streams) are left out. With ``whole_first`` the rest is tried in one
    savepoint first (the common case costs one savepoint); on a failure it is applied again one
    event per savepoint. Returns (applied, duplicates, held). Connection trouble is raised."""
    pending = [env for env in envelopes if not quarantine.holds(context, env)]
    held = len(envelopes) - len(pending)
    if not pending:
        return [], 0, held
    if whole_first:
        try:
            async with conn.transaction(), conn.cursor() as cur:
                applied, duplicates = await apply_envelopes(cur, context, pending, skip=quarantine.skips(context))
            return applied, duplicates, held
        except Exception as exc:  # sorted below
            if is_transient(exc, conn):
                raise
    applied, duplicates = [], 0
    for env in pending:
        if quarantine.holds(context, env):  # blocked by a failure earlier in this list
            held += 1
            continue
        try:
            async with conn.transaction(), conn.cursor() as cur:
                done, dup = await apply_envelopes(cur, context, [env], skip=quarantine.skips(context))
        except Exception as exc:  # sorted here
            if is_transient(exc, conn):
                raise
            await park(conn, quarantine, context, exc.env if isinstance(exc, ProjectionFailed) else env, exc)
            held += 1
            continue
        applied.extend(done)
        duplicates += dup
    return applied, duplicates, held


async def act_on(conn: psycopg.AsyncConnection, quarantine: Quarantine, decisions: list[Decision]) -> None:
    """Carry out operator decisions: catch each stream up from the store (a skipped event is
    stepped over, a retried one applied again)."""
    done: set[tuple[str, str]] = set()
    for decision in decisions:  # oldest first; one catch-up per stream covers later letters too
        key = (decision.context, decision.stream_id)
        if key in done:
            continue
        done.add(key)
        streams = quarantine.blocked.get(decision.context, {})
        streams.pop(decision.stream_id, None)
        async with conn.transaction():
            version = await _catch_up(conn, quarantine, decision.context, decision.stream_id)
            if decision.status == "retry" and decision.version is not None and version >= decision.version:
                await deadletters.resolve(conn, decision.dead_letter_id)
        log.info("projector: %s dead letter #%d of %s stream %s; stream now at version %d%s",
                 "retried" if decision.status == "retry" else "skipped", decision.dead_letter_id,
                 decision.context, decision.stream_id, version,
                 " (blocked again)" if decision.stream_id in streams else "")


async def _catch_up(conn: psycopg.AsyncConnection, quarantine: Quarantine, context: str, stream_id: str) -> int:
    """Apply the stream's events after its applied version, page by page, until the end of the
    stream or an event that fails (parked: the stream is blocked again). Returns the version reached."""
    previous = -1
    while True:
        async with conn.cursor() as cur:
            row = await (await cur.execute(
                "SELECT version FROM projection_streams WHERE projection = %s AND stream_id = %s FOR UPDATE",
                (PROJECTION_NAME, stream_id))).fetchone()
            current = int(row[0]) if row else 0
            if current == previous or quarantine.blocked.get(context, {}).get(stream_id) is not None:
                return current
            page = await stream_events(cur, context, stream_id, after=current, limit=CATCH_UP_PAGE)
        if not page:
            return current
        previous = current
        await apply_guarded(conn, quarantine, context, page)
