"""Read fences per stream, and honest when they cannot be met: with the projector stopped, one
user's new writes make context-wide reads answer 503 with Retry-After (never stale data as
current), while another user's reads of their own execution, graph and ledger answer at once;
``consistency=eventual`` answers with how far behind it is."""

from __future__ import annotations

import asyncio
import time

import pytest_asyncio

from tests.conftest import drop_schema, isolated_settings
from tests.integration.helpers import eventually
from tests.integration.stack import running_stack
from tests.integration.test_executions_api import sample_graph

INPUTS = {"input_1": "a", "input_2": "b"}


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(database_url, broker):
    # Fences wait 2 s here: short, so the 503s below come quickly, and long enough that a read whose
    # stream is current answers well inside it on a loaded machine (with 0.5 s, two test workers on
    # two cores made an ordinary read take 0.49 s).
    settings = isolated_settings(database_url, broker.bootstrap, read_fence_timeout_s=2.0)
    async with running_stack(settings, executors=1) as running:
        yield running
    drop_schema(database_url, settings.db_schema)


async def test_one_users_backlog_never_holds_up_another_users_stream_reads(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        graph = (await alice.post("/api/graphs", json={"graph": sample_graph()})).json()
        run = (await alice.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": INPUTS})).json()
        done = await stack.wait_terminal(alice, graph["id"], run["id"])
        assert (await alice.get("/api/credits/transactions")).status_code == 200

        await stack.stop("projector")
        try:
            # bob writes while nothing projects: the graphs and executions logs move ahead of the read models
            bobs = (await bob.post("/api/graphs", json={"graph": sample_graph()})).json()
            await bob.post(f"/api/graphs/{bobs['id']}/execute/1", json={"inputs": INPUTS})

            for path in (f"/api/graphs/{graph['id']}", f"/api/graphs/{graph['id']}/executions/{run['id']}",
                         f"/api/executions/{run['id']}", "/api/credits/transactions"):
                started = time.monotonic()
                r = await alice.get(path)
                assert r.status_code == 200, (path, r.text)
                assert time.monotonic() - started < 1.5, path  # it did not wait out the fence
            assert (await alice.get(f"/api/executions/{run['id']}")).json()["outputs"] == done["outputs"]

            # a context-wide read cannot know it is current: 503, never stale data presented as current
            r = await alice.get("/api/graphs")
            assert r.status_code == 503 and r.headers["Retry-After"] == "1", r.text
            assert "behind" in r.json()["detail"] and "consistency=eventual" in r.json()["detail"]
            # the caller may take what the read models hold, told how far behind they are
            r = await alice.get("/api/graphs", params={"consistency": "eventual"})
            assert r.status_code == 200 and [g["id"] for g in r.json()] == [graph["id"]]
            assert int(r.headers["X-Read-Behind-Events"]) >= 1
            # bob's own new graph is not readable yet, and says so
            r = await bob.get(f"/api/graphs/{bobs['id']}")
            assert r.status_code == 503 and "not yet readable" in r.json()["detail"], r.text
        finally:
            stack.start_projector()
        await eventually(lambda: _status(alice, "/api/graphs", 200), timeout=30, message="green after the restart")
        assert (await bob.get(f"/api/graphs/{bobs['id']}")).status_code == 200
        r = await alice.get("/api/graphs")
        assert "X-Read-Behind-Events" not in r.headers  # a strong read says nothing of the kind


async def _status(client, path: str, code: int) -> bool:
    return (await client.get(path)).status_code == code


async def test_consistency_is_a_bounded_choice(stack, user_ids):
    async with stack.client(user_ids["carol"]) as carol:
        r = await carol.get("/api/graphs", params={"consistency": "whenever"})
        assert r.status_code == 422
        await asyncio.sleep(0)


async def test_a_polled_run_answers_from_its_built_view_and_never_misses_a_write(stack, user_ids):
    """Reads of an execution that has not moved reuse the view built for it (stream_views.py);
    a write to it (here a stop) is in the very next read, and the view is never another user's."""
    from tests.integration.test_executor_faults import timer_then_output

    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        graph = (await alice.post("/api/graphs", json={"graph": timer_then_output(30)})).json()
        run = (await alice.post(f"/api/graphs/{graph['id']}/execute/1", json={})).json()

        async def running():
            r = await alice.get(f"/api/executions/{run['id']}")
            if r.status_code == 503:  # this stack's fence waits 2 s; a loaded machine can outlast it
                return False
            assert r.status_code == 200, r.text
            return any(n["status"] == "RUNNING" for n in r.json()["node_executions"])
        await eventually(running, timeout=30, message="the timer node running")
        views = stack.app.state.execution_views
        hits = views.hits
        polled = [(await alice.get(f"/api/executions/{run['id']}")).json() for _ in range(5)]
        assert views.hits >= hits + 4 and all(p == polled[0] for p in polled)
        assert (await bob.get(f"/api/executions/{run['id']}")).status_code == 404
        assert (await bob.get(f"/api/graphs/{graph['id']}/executions/{run['id']}")).status_code == 404

        stopped = await alice.post(f"/api/graphs/{graph['id']}/executions/{run['id']}/stop")
        assert stopped.status_code == 200
        read = await alice.get(f"/api/executions/{run['id']}")
        assert read.status_code == 200, read.text  # a fence that waited out its time answers 503
        after = read.json()
        assert after["status"] == "TERMINATED"
        assert {n["status"] for n in after["node_executions"]} <= {"TERMINATED", "COMPLETED", "FAILED"}
        other_graph = (await alice.post("/api/graphs", json={"graph": sample_graph()})).json()
        r = await alice.get(f"/api/graphs/{other_graph['id']}/executions/{run['id']}")
        assert r.status_code == 404  # the view is the run's; the graph in the path must still match


async def test_a_listed_view_is_reused_until_its_log_moves(stack, user_ids):
    """The graph list built at a head of the graphs log answers later reads until a graph event is
    recorded (by anyone); the next read after a write includes it."""
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        first = (await alice.post("/api/graphs", json={"graph": sample_graph()})).json()
        views = stack.app.state.list_views
        listed = [(await alice.get("/api/graphs")).json() for _ in range(3)]
        hits = views.hits
        assert (await alice.get("/api/graphs")).json() == listed[0] and views.hits == hits + 1
        assert [g["id"] for g in listed[0]] == [first["id"]]
        assert (await bob.get("/api/graphs")).json() == []  # keyed by user
        second = (await alice.post("/api/graphs", json={"graph": sample_graph()})).json()
        assert {g["id"] for g in (await alice.get("/api/graphs")).json()} == {first["id"], second["id"]}
        await alice.delete(f"/api/graphs/{first['id']}")
        assert [g["id"] for g in (await alice.get("/api/graphs")).json()] == [second["id"]]
