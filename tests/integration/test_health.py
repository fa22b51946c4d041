"""``/health`` tells the truth: a broker nobody can reach, stuck executions and a database that is
away each turn it red with a reason (and the gauges say the same); liveness stays green."""

from __future__ import annotations

import asyncio

import pytest_asyncio

from services.dev.local_broker import free_port
from services.health import BrokerProbe, check, health_gauges
from services.infra import db
from tests.conftest import drop_schema, isolated_settings
from tests.integration.stack import running_stack
from tests.integration.test_executions_api import sample_graph


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(database_url, broker):
    settings = isolated_settings(database_url, broker.bootstrap)
    async with running_stack(settings, executors=0) as running:  # no executor: queued runs stay queued
        yield running
    drop_schema(database_url, settings.db_schema)


async def _report(stack, **overrides):
    settings = stack.settings.model_copy(update=overrides)
    pool = db.make_async_pool(settings, max_size=2)
    await pool.open()
    try:
        return await check(pool, settings, BrokerProbe(settings), [])
    finally:
        await pool.close()


async def test_green_when_everything_answers_and_live_is_always_ok(stack):
    async with stack.client() as client:
        assert (await client.get("/health/live")).json() == {"status": "ok"}
        ready = await client.get("/health/ready")
        assert ready.status_code == 200 and ready.json()["components"]["broker"] == {"ready": True}
    report = await _report(stack)
    assert report.ok and report.components["executions"] == {"ready": True}


async def test_an_unreachable_broker_is_red_with_its_address(stack):
    port = free_port()  # nothing listens there
    report = await _report(stack, kafka_bootstrap_servers=f"127.0.0.1:{port}")
    assert not report.ok and not report.components["broker"]["ready"]
    assert f"127.0.0.1:{port}" in report.components["broker"]["reasons"][0]
    assert 'agentloom_component_ready{component="broker"} 0' in health_gauges(report)


async def test_stuck_executions_are_red_and_named(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        graph = (await alice.post("/api/graphs", json={"graph": sample_graph()})).json()
        run = (await alice.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"input_1": "a"}})).json()
        await alice.get(f"/api/graphs/{graph['id']}/executions/{run['id']}")  # fence: projected
    await asyncio.sleep(0.2)
    report = await _report(stack, stuck_queued_s=0.1)
    assert not report.ok and report.stuck["QUEUED"] >= 1
    (reason,) = report.components["executions"]["reasons"]
    assert "queued longer than 0.1 s" in reason and "(oldest:" in reason
    assert 'agentloom_executions_stuck{status="QUEUED"}' in health_gauges(report)
    assert (await _report(stack)).ok  # under the default deadlines the same run is not stuck


async def test_a_database_that_does_not_answer_is_red_quickly(stack):
    settings = stack.settings.model_copy(update={"database_url": f"postgresql://nobody@127.0.0.1:{free_port()}/x"})
    pool = db.make_async_pool(settings, min_size=0, max_size=1)
    await pool.open(wait=False)
    try:
        started = asyncio.get_running_loop().time()
        report = await check(pool, settings, BrokerProbe(settings), ["relay"])
        assert asyncio.get_running_loop().time() - started < 10
    finally:
        await pool.close()
    assert not report.ok and not report.components["database"]["ready"]
    assert report.components["database"]["error"]
