"""Size limits with small overrides, through the real stack: the value limit and the per-run byte
budget fail the node with a clear error (the value is never recorded) and nobody else is held up."""

import orjson
import pytest

from tests.conftest import drop_schema, isolated_settings
from tests.integration.test_blobs import REPLACE, largest_event, replace_graph, replaced, start, wait_status
from tests.integration.test_executions_api import sample_graph

MAX_VALUE = 2 * 1024 * 1024
MAX_RUN = 3 * 1024 * 1024


@pytest.fixture(scope="module")
def module_settings(database_url, broker):
    s = isolated_settings(database_url, broker.bootstrap, max_value_bytes=MAX_VALUE, max_run_bytes=MAX_RUN)
    yield s
    drop_schema(database_url, s.db_schema)


async def test_an_output_over_max_value_bytes_fails_the_node_and_others_go_on(stack, user_ids):
    alice, bob = user_ids["alice"], user_ids["bob"]
    async with stack.client(alice) as client:
        _gid, exec_id = await start(client, replace_graph(1000, 3000))  # ~3 MB > 2 MiB
        async with stack.client(bob) as other:
            _g, bobs = await start(other, sample_graph(), {"input_1": "Hello", "input_2": "World"})
            assert await wait_status(other, bobs, timeout=15) == "COMPLETED"
        await wait_status(client, exec_id)
        done = (await client.get(f"/api/executions/{exec_id}")).json()
    size = len(orjson.dumps(replaced(1000, 3000)))
    node, = [ne for ne in done["node_executions"] if ne["block_id"] == REPLACE]
    assert node["status"] == "FAILED"
    assert node["output_data"] == {"error": [f"Output of {size} bytes exceeds the limit of {MAX_VALUE} bytes"]}
    assert len(done["node_executions"]) == 1  # nothing was routed to the successors
    assert largest_event(stack.settings, exec_id) < stack.settings.max_event_bytes


async def test_the_per_run_byte_budget(stack, user_ids):
    """Four independent 1.2 MB outputs against a 3 MiB budget: two are recorded, the third would
    pass the budget and fails its node (so does the fourth)."""
    alice = user_ids["alice"]
    nodes = [{"id": f"r{i}", "block_id": REPLACE, "input_default": {"text": "a" * 400, "old": "", "new": "b" * 3000}}
             for i in range(4)]
    async with stack.client(alice) as client:
        _gid, exec_id = await start(client, {"name": "budget", "nodes": nodes, "links": []})
        await wait_status(client, exec_id)
        done = (await client.get(f"/api/executions/{exec_id}")).json()
    statuses = sorted(ne["status"] for ne in done["node_executions"])
    assert statuses == ["COMPLETED", "COMPLETED", "FAILED", "FAILED"]
    size = len(orjson.dumps(replaced(400, 3000)))
    for ne in done["node_executions"]:
        if ne["status"] == "FAILED":
            error, = ne["output_data"]["error"]
            assert error.startswith(f"Output of {size} bytes exceeds the limit of {MAX_RUN} bytes of recorded "
                                    "output per run")
        else:
            assert ne["output_data"] == {"output": [replaced(400, 3000)]}
