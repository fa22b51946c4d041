"""A poison event never stops the projector (audit F1): it is parked, every other stream goes on,
its own stream waits in order until an operator retries or skips it, and a rebuild parks too."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC

from schemas.events.graphs import GraphVersionCreated
from schemas.graph import GraphVersionBody
from services.cli import main as cli
from services.infra import db, deadletters
from services.infra.eventstore import EventStore
from services.infra.migrations import migrate
from services.infra.store_contract import NewEvent
from services.projector.rebuild import rebuild
from tests.integration.helpers import eventually
from tests.integration.stack import running_stack
from tests.integration.test_executions_api import sample_graph


def _body(graph_id: str, version: int, name: str = "v") -> GraphVersionBody:
    return GraphVersionBody(id=graph_id, version=version, name=name)


def _append(stack, graph_id: str, stream_version: int, body: GraphVersionBody, user: str) -> int:
    store = EventStore(stack.datastore, "graphs")
    return store.append([NewEvent(uuid.UUID(graph_id), stream_version, GraphVersionCreated(graph=body),
                                  user_id=user)])[0]


def _query(settings, sql: str, params=()) -> list[tuple]:
    with db.connect(settings, autocommit=True) as conn:
        return conn.execute(sql, params).fetchall()


def _versions(settings, graph_id: str) -> list[int]:
    return [r[0] for r in _query(settings, "SELECT version FROM rm_graph_versions WHERE graph_id = %s ORDER BY 1",
                                 (graph_id,))]


async def _open_letters(settings) -> list[deadletters.DeadLetter]:
    conn = await db.aconnect(settings, autocommit=True)
    try:
        return await deadletters.list_open(conn)
    finally:
        await conn.close()


def _cli(monkeypatch, settings, *argv: str) -> int:
    """``agentloom …`` in-process against the test's schema."""
    monkeypatch.setenv("DATABASE_URL", settings.database_url)
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", settings.kafka_bootstrap_servers)
    monkeypatch.setenv("AGENTLOOM_DB_SCHEMA", settings.db_schema)
    monkeypatch.setenv("AGENTLOOM_TOPIC_PREFIX", settings.topic_prefix)
    monkeypatch.setenv("AGENTLOOM_LOCAL_MODE", "true")
    return cli.main(list(argv))


async def _acli(monkeypatch, settings, *argv: str) -> int:
    return await asyncio.to_thread(_cli, monkeypatch, settings, *argv)


async def _poisoned_graph(stack, alice, user: str) -> tuple[str, int]:
    """Alice's graph with a version 2^63 recorded straight into the store (no bigint holds it),
    then a good version after it on the same stream."""
    gid = (await alice.post("/api/graphs", json={"graph": sample_graph()})).json()["id"]
    position = await asyncio.to_thread(_append, stack, gid, 2, _body(gid, 2**63), user)
    await asyncio.to_thread(_append, stack, gid, 3, _body(gid, 3), user)
    return gid, position


async def test_poison_event_is_parked_and_other_users_go_on(settings, user_ids, monkeypatch, capsys):
    async with running_stack(settings) as stack:
        alice_id, bob_id = user_ids["alice"], user_ids["bob"]
        async with stack.client(alice_id) as alice, stack.client(bob_id) as bob:
            gid, position = await _poisoned_graph(stack, alice, alice_id)

            # Bob's graph is projected: the projector did not stop.
            bobs = (await bob.post("/api/graphs", json={"graph": sample_graph()})).json()["id"]
            r = await bob.get(f"/api/graphs/{bobs}")
            assert r.status_code == 200, r.text

            letters = await eventually(lambda: _open_letters(settings), message="the poison event is parked")
            assert [(d.consumer, d.context, d.stream_id, d.position, d.version, d.event_type) for d in letters] == [
                ("projector", "graphs", gid, position, 2, "GraphVersionCreated")]
            assert "out of range" in letters[0].error
            # Alice's stream waits in order: version 3 (fine by itself) is not applied either.
            assert _versions(settings, gid) == [1]
            assert _query(settings, "SELECT version FROM projection_streams WHERE stream_id = %s", (gid,)) == [(1,)]

            health = await bob.get("/health")
            assert health.status_code == 503
            assert "1 open dead letter" in health.json()["components"]["projector"]["reasons"][0]
            metrics = (await bob.get("/metrics")).text
            assert 'agentloom_dead_letters{consumer="projector"} 1' in metrics

            # The operator lists it and skips it: the projector steps over it and catches up.
            assert await _acli(monkeypatch, settings, "deadletters", "list") == 0
            listed = capsys.readouterr().out
            assert "GraphVersionCreated" in listed and gid in listed and "parked" in listed
            assert await _acli(monkeypatch, settings, "deadletters", "skip", str(letters[0].id)) == 0
            await eventually(lambda: _async(_versions(settings, gid) == [1, 3]), timeout=10,
                             message="the stream caught up after the skip")
            assert (await bob.get("/health")).status_code == 200
            assert not await _open_letters(settings)

            # Later events of the stream flow normally again. (The store holds version 2^63 for
            # this graph, so a new version through the API is refused.)
            assert (await alice.put(f"/api/graphs/{gid}", json=sample_graph())).status_code == 409
            await asyncio.to_thread(_append, stack, gid, 4, _body(gid, 4), alice_id)
            await eventually(lambda: _async(_versions(settings, gid) == [1, 3, 4]), timeout=10,
                             message="a later version is projected")


async def _async(value):
    return value


async def test_retry_applies_the_parked_event_and_the_rest_of_its_stream(settings, user_ids, monkeypatch, capsys):
    async with running_stack(settings) as stack:
        user = user_ids["carol"]
        async with stack.client(user) as carol:
            gid = (await carol.post("/api/graphs", json={"graph": sample_graph()})).json()["id"]
            await carol.get(f"/api/graphs/{gid}")
            # An operator-fixable failure: a constraint the event breaks (IntegrityError).
            await asyncio.to_thread(_query_exec, settings,
                                    "ALTER TABLE rm_graph_versions ADD CONSTRAINT no_poison CHECK (name <> 'poison')")
            await asyncio.to_thread(_append, stack, gid, 2, _body(gid, 2, "poison"), user)
            await asyncio.to_thread(_append, stack, gid, 3, _body(gid, 3), user)
            letters = await eventually(lambda: _open_letters(settings), message="parked")
            assert "CheckViolation" in letters[0].error
            assert _versions(settings, gid) == [1]

            # Retrying without a fix parks it again (one more attempt); after the fix it applies.
            assert await _acli(monkeypatch, settings, "deadletters", "retry", str(letters[0].id)) == 0
            await eventually(lambda: _attempts(settings, letters[0].id, 2), timeout=10, message="tried again")
            assert _versions(settings, gid) == [1]
            await asyncio.to_thread(_query_exec, settings, "ALTER TABLE rm_graph_versions DROP CONSTRAINT no_poison")
            assert await _acli(monkeypatch, settings, "deadletters", "retry", str(letters[0].id)) == 0
            await eventually(lambda: _async(_versions(settings, gid) == [1, 2, 3]), timeout=10,
                             message="the retried event and the rest of its stream are applied")
            assert not await _open_letters(settings)
            capsys.readouterr()
            assert await _acli(monkeypatch, settings, "deadletters", "list", "--all") == 0
            assert "resolved" in capsys.readouterr().out


async def _attempts(settings, dead_letter_id: int, n: int) -> bool:
    conn = await db.aconnect(settings, autocommit=True)
    try:
        letter = await deadletters.get(conn, dead_letter_id)
    finally:
        await conn.close()
    return letter.attempts >= n and letter.status == "parked"


def _query_exec(settings, sql: str) -> None:
    with db.connect(settings, autocommit=True) as conn:
        conn.execute(sql)


async def test_rebuild_parks_instead_of_failing(settings, user_ids):
    async with running_stack(settings) as stack:
        user = user_ids["alice"]
        async with stack.client(user) as alice:
            gid, position = await _poisoned_graph(stack, alice, user)
            other = (await alice.post("/api/graphs", json={"graph": sample_graph()})).json()["id"]
            await eventually(lambda: _open_letters(settings), message="parked")
            await alice.get(f"/api/graphs/{other}")
        await stack.stop("projector")
        counts = await rebuild(settings)
        assert counts["graphs"] >= 4 and counts["parked"] == 2  # the poison event and version 3 behind it
        assert _versions(settings, gid) == [1] and _versions(settings, other) == [1]
        letters = await _open_letters(settings)
        assert [(d.position, d.status) for d in letters] == [(position, "parked")]


def test_cli_refuses_unknown_and_closed_ids(settings, monkeypatch, capsys):
    migrate(settings)
    assert _cli(monkeypatch, settings, "deadletters", "retry", "999999") == 1
    assert "no dead letter #999999" in capsys.readouterr().err
    assert _cli(monkeypatch, settings, "deadletters", "list") == 0
    assert "no open dead letters" in capsys.readouterr().out
    with db.connect(settings, autocommit=True) as conn:
        dl_id = conn.execute(
            "INSERT INTO dead_letters (consumer, context, stream_id, position, error, status) "
            "VALUES ('projector', 'graphs', %s, 7, 'boom', 'resolved') RETURNING id",
            (str(uuid.uuid4()),)).fetchone()[0]
    assert _cli(monkeypatch, settings, "deadletters", "skip", str(dl_id)) == 1
    assert "already resolved" in capsys.readouterr().err
    assert _cli(monkeypatch, settings, "deadletters", "skip", "not-a-number") == 2  # a usage error
    assert "not-a-number" in capsys.readouterr().err


def test_version_columns_are_bigint(settings):
    migrate(settings)
    migrate(settings)  # idempotent
    rows = _query(settings, "SELECT table_name, column_name, data_type FROM information_schema.columns "
                  "WHERE table_schema = %s AND (table_name, column_name) IN (('rm_graphs', 'active_version'), "
                  "('rm_graphs', 'latest_version'), ('rm_graph_versions', 'version'), "
                  "('rm_executions', 'graph_version'))", (settings.db_schema,))
    assert sorted(rows) == sorted([("rm_graphs", "active_version", "bigint"), ("rm_graphs", "latest_version", "bigint"),
                                   ("rm_graph_versions", "version", "bigint"),
                                   ("rm_executions", "graph_version", "bigint")])


def test_only_connection_trouble_is_transient():
    """What decides "retry the batch" against "park the event" (pure; no services)."""
    import psycopg.errors as pe
    from aiokafka.errors import KafkaConnectionError, MessageSizeTooLargeError

    from services.infra.relay_quarantine import is_poison
    from services.projector.quarantine import is_transient

    for poison in (pe.NumericValueOutOfRange("x"), pe.CheckViolation("x"), pe.UniqueViolation("x"),
                   pe.ProgramLimitExceeded("x"), pe.UndefinedColumn("x"), KeyError("payload"), ValueError("decode")):
        assert not is_transient(poison), poison
    for trouble in (pe.DeadlockDetected("x"), pe.LockNotAvailable("x"), pe.AdminShutdown("x"),
                    psycopg_operational(), OSError("reset"), ConnectionResetError()):
        assert is_transient(trouble), trouble
    assert is_poison(MessageSizeTooLargeError("big")) and is_poison(ValueError("not a JSON object"))
    assert not is_poison(KafkaConnectionError("down")) and not is_poison(TimeoutError())


def psycopg_operational():
    import psycopg

    return psycopg.OperationalError("connection lost")  # raised by the client: no SQLSTATE


def test_dead_letter_table_is_readable():
    from datetime import datetime

    now = datetime.now(UTC)
    letter = deadletters.DeadLetter(3, "relay", "executions", "1f0c", 42, 7, "NodeOutput",
                                    "MessageSizeTooLargeError: The message is\n 1048900 bytes", "parked", 2, now, now)
    lines = deadletters.format_table([letter]).splitlines()
    assert lines[0].split() == ["ID", "CONSUMER", "CONTEXT", "STREAM", "POSITION", "VERSION", "TYPE", "STATUS",
                                "ATTEMPTS", "ERROR"]
    assert lines[1].split()[:9] == ["3", "relay", "executions", "1f0c", "42", "7", "NodeOutput", "parked", "2"]
    assert lines[1].endswith("MessageSizeTooLargeError: The message is 1048900 bytes")
