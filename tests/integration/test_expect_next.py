"""A projector batch applied ``expect_next`` (no read of the applied versions before its writes)
applies every version once: where a stream does not stand just below the batch, the transaction
fails with NOT_NEXT and leaves nothing behind, and the careful way then applies only what is new.

Against the real PostgreSQL; the rows are read back."""

import asyncio
import uuid

import psycopg
import pytest

from schemas.envelope import Envelope
from schemas.events.executions import (
    ExecutionCompleted,
    ExecutionQueued,
    ExecutionStarted,
    ExecutionStats,
    NodeCompleted,
    NodeOutput,
    NodeQueued,
    NodeStarted,
)
from services.infra import db
from services.infra.migrations import migrate
from services.projector.applier import apply_envelopes, is_not_next, versions_before
from services.projector.names import PROJECTION_NAME
from tests.stories.builders import graph_body, stream_envelopes

BLOCK = "1ff065e9-88e8-4358-9d82-8dc91f622ba9"
USER = "u-expect-next"


def _run_story() -> tuple[str, str, list[Envelope]]:
    """A run's stream of 9 events: queued, started, one node with three outputs, completed."""
    run, node = str(uuid.uuid4()), str(uuid.uuid4())
    body = graph_body(uuid.uuid4())
    events = [ExecutionQueued(user_id=USER, graph_id=body.id, graph_version=1, graph=body),
              ExecutionStarted(),
              NodeQueued(node_exec_id=node, node_id="n", block_id=BLOCK, input_data={"a": 1}),
              NodeStarted(node_exec_id=node),
              NodeOutput(node_exec_id=node, pin="result", value=1, seq=0),
              NodeOutput(node_exec_id=node, pin="result", value=2, seq=1),
              NodeOutput(node_exec_id=node, pin="result", value=3, seq=2),
              NodeCompleted(node_exec_id=node, stats={}),
              ExecutionCompleted(stats=ExecutionStats())]
    return run, node, stream_envelopes(run, events, user_id=USER)


@pytest.fixture
async def conn(settings):
    migrate(settings)
    async with await db.aconnect(settings) as connection:
        yield connection


async def _apply(conn, batch: list[Envelope], *, expect_next: bool) -> tuple[int, int]:
    async with conn.transaction(), conn.pipeline(), conn.cursor() as cur:
        applied, duplicates = await apply_envelopes(cur, "executions", batch, expect_next=expect_next)
    return len(applied), duplicates


async def _state(conn, run: str, node: str) -> tuple:
    """What a double application would change: the stream's version, the node's appended outputs,
    the run's status and last_seq."""
    version = await (await conn.execute(
        "SELECT version FROM projection_streams WHERE projection = %s AND stream_id = %s",
        (PROJECTION_NAME, run))).fetchone()
    outputs = await (await conn.execute(
        "SELECT output_data, status FROM rm_node_executions WHERE node_exec_id = %s", (node,))).fetchone()
    execution = await (await conn.execute(
        "SELECT status, last_seq FROM rm_executions WHERE execution_id = %s", (run,))).fetchone()
    return version, outputs, execution


async def test_a_batch_that_continues_its_streams_is_applied_without_a_read(conn):
    run, node, envelopes = _run_story()
    assert await _apply(conn, envelopes[:4], expect_next=True) == (4, 0)
    assert await _apply(conn, envelopes[4:], expect_next=True) == (5, 0)
    version, (outputs, status), execution = await _state(conn, run, node)
    assert version == (9,)
    assert outputs == {"result": [1, 2, 3]} and status == "COMPLETED"
    assert execution == ("COMPLETED", 9)


@pytest.mark.parametrize("redelivered", [slice(0, 4), slice(2, 6), slice(3, 4)])
async def test_a_redelivered_batch_fails_whole_and_the_careful_way_applies_only_what_is_new(conn, redelivered):
    """Versions 1-4 applied; a batch that repeats some of them (alone or with new ones) changes
    nothing ahead of the careful way, which applies the new versions once."""
    run, node, envelopes = _run_story()
    await _apply(conn, envelopes[:4], expect_next=True)
    before = await _state(conn, run, node)
    again = envelopes[redelivered]
    with pytest.raises(psycopg.Error) as failed:
        await _apply(conn, again, expect_next=True)
    assert is_not_next(failed.value)
    assert await _state(conn, run, node) == before  # the failed transaction left nothing
    new = sum(1 for env in again if env.stream_version > 4)
    assert await _apply(conn, again, expect_next=False) == (new, len(again) - new)
    await _apply(conn, envelopes[max(4, redelivered.stop):], expect_next=True)
    version, (outputs, status), execution = await _state(conn, run, node)
    assert version == (9,) and outputs == {"result": [1, 2, 3]} and execution == ("COMPLETED", 9)


async def test_a_batch_after_a_gap_is_not_next(conn):
    run, node, envelopes = _run_story()
    await _apply(conn, envelopes[:2], expect_next=True)
    with pytest.raises(psycopg.Error) as failed:
        await _apply(conn, envelopes[4:6], expect_next=True)
    assert is_not_next(failed.value)
    assert (await _state(conn, run, node))[0] == (2,)


async def test_a_batch_whose_own_versions_repeat_goes_the_careful_way_at_once(conn):
    run, node, envelopes = _run_story()
    batch = [*envelopes[:3], *envelopes[1:5]]  # 1 2 3 2 3 4 5: a relay's republish inside one fetch
    assert versions_before(batch) is None
    assert await _apply(conn, batch, expect_next=True) == (5, 2)
    version, (outputs, _), _ = await _state(conn, run, node)
    assert version == (5,) and outputs == {"result": [1]}


async def test_two_projectors_applying_the_same_batch_apply_it_once(settings, conn):
    """A projector that lost its partitions (a zombie) applies the batch the new owner applies:
    the second transaction waits on the first's row locks, then finds the stream moved on."""
    run, node, envelopes = _run_story()
    await _apply(conn, envelopes[:4], expect_next=True)
    async with await db.aconnect(settings) as other:
        async with conn.transaction(), conn.pipeline(), conn.cursor() as cur:
            await apply_envelopes(cur, "executions", envelopes[4:7], expect_next=True)
            await (await conn.execute("SELECT 1")).fetchone()  # the writes have reached the server
            zombie = asyncio.create_task(_apply(other, envelopes[4:7], expect_next=True))
            await asyncio.sleep(0.3)
            assert not zombie.done()  # held by this transaction's row locks
        with pytest.raises(psycopg.Error) as failed:
            await zombie
        assert is_not_next(failed.value)
    version, (outputs, _), _ = await _state(conn, run, node)
    assert version == (7,) and outputs == {"result": [1, 2, 3]}


def test_versions_before_reads_each_streams_first_version():
    run, _, envelopes = _run_story()
    other, _, more = _run_story()
    mixed = [envelopes[2], more[0], envelopes[3], more[1]]
    assert versions_before(mixed) == {uuid.UUID(run): 2, uuid.UUID(other): 0}
    assert versions_before([envelopes[0], envelopes[2]]) is None  # a skip inside the batch


async def test_the_projector_applies_a_redelivered_batch_again_the_careful_way(settings, conn):
    """The runner's path: the same fetched batch twice (its offsets were not committed before a
    crash). The second attempt fails as not next, is counted, and applies nothing twice."""
    from aiokafka import TopicPartition

    from services.projector.runner import Projector

    run, node, envelopes = _run_story()
    projector = Projector(settings)
    parts = [(TopicPartition(settings.topic("executions"), 0), "executions", envelopes[:6])]
    await projector._apply_fast(conn, parts)
    assert (projector.stats.applied, projector.stats.not_next) == (6, 0)
    await projector._apply_fast(conn, [(parts[0][0], "executions", envelopes[3:])])
    assert (projector.stats.applied, projector.stats.duplicates, projector.stats.not_next) == (9, 3, 1)
    version, (outputs, status), execution = await _state(conn, run, node)
    assert version == (9,) and outputs == {"result": [1, 2, 3]} and execution == ("COMPLETED", 9)
