"""The AutoGPT contract: the requests an AutoGPT client sends (paths, bodies and query strings as
``../shared/autogpt/API-AUDIT.md`` and COMPAT §5 record them), sent to a running stack, with the
status codes AutoGPT answers and the keys of AutoGPT's response models.

Each key set below is AutoGPT's model as its backend defines it; agentloom may answer more keys,
never fewer. ``test_response_shapes.py`` checks every body against agentloom's own OpenAPI; this
suite checks the other side, that a client reading AutoGPT's fields finds them.
"""

from __future__ import annotations

import orjson
import pytest_asyncio
import websockets

from tests.conftest import drop_schema, isolated_settings
from tests.integration.stack import running_stack
from tests.integration.test_api_keys import CALCULATOR, EXT, adder_graph, external, new_key

GRAPH = {"id", "version", "is_active", "name", "description", "nodes", "links", "sub_graphs", "user_id",
         "input_schema", "output_schema", "credentials_input_schema", "has_external_trigger", "trigger_setup_info",
         "forked_from_id", "forked_from_version", "has_human_in_the_loop"}
GRAPH_META = {"id", "version", "is_active", "name", "description", "user_id", "input_schema", "output_schema",
              "credentials_input_schema", "has_external_trigger"}
NODE = {"id", "block_id", "input_default", "metadata", "input_links", "output_links", "webhook_id"}
LINK = {"id", "source_id", "sink_id", "source_name", "sink_name", "is_static"}
EXECUTION_META = {"id", "user_id", "graph_id", "graph_version", "inputs", "credential_inputs", "nodes_input_masks",
                  "preset_id", "status", "started_at", "ended_at", "is_shared", "share_token", "is_dry_run", "stats"}
STATS = {"cost", "duration", "duration_cpu_only", "node_exec_time", "node_exec_time_cpu_only", "node_exec_count",
         "node_error_count", "error"}
EXECUTION = EXECUTION_META | {"outputs", "node_executions"}
NODE_EXECUTION = {"user_id", "graph_id", "graph_version", "graph_exec_id", "node_exec_id", "node_id", "block_id",
                  "status", "input_data", "output_data", "add_time", "queue_time", "start_time", "end_time"}
PAGINATION = {"total_items", "total_pages", "current_page", "page_size"}
BLOCK = {"id", "name", "inputSchema", "outputSchema", "description", "categories", "contributors", "staticOutput",
         "uiType", "costs"}
API_KEY = {"id", "name", "head", "tail", "status", "scopes", "created_at", "last_used_at", "revoked_at",
           "description", "user_id", "type", "expires_at"}
CREDENTIALS_META = {"id", "provider", "type", "title", "scopes", "username", "host"}
TRANSACTION = {"transaction_key", "transaction_time", "transaction_type", "amount", "running_balance",
               "current_balance", "description", "usage_graph_id", "usage_execution_id", "usage_node_count",
               "usage_start_time", "user_id", "user_email", "reason", "admin_email", "extra_data"}
SCHEDULE = {"id", "name", "next_run_time", "timezone", "user_id", "graph_id", "graph_version", "cron", "input_data",
            "input_credentials"}
LIBRARY_AGENT = {"id", "graph_id", "graph_version", "image_url", "creator_name", "creator_image_url", "status",
                 "created_at", "updated_at", "name", "description", "input_schema", "output_schema",
                 "credentials_input_schema", "has_external_trigger", "has_human_in_the_loop", "trigger_setup_info",
                 "new_output", "execution_count", "success_rate", "recent_executions", "can_access_graph",
                 "is_latest_version", "is_favorite", "folder_id", "recommended_schedule_cron", "settings"}
PRESET = {"id", "graph_id", "graph_version", "name", "description", "is_active", "inputs", "credentials",
          "webhook_id", "updated_at"}
COST_SUMMARY = {"total_cents", "run_count", "billable_run_count", "failed_cost_cents", "success_run_count",
                "failed_run_count", "review_run_count", "total_duration_seconds", "duration_run_count", "by_agent",
                "top_runs", "daily"}
SHARED = {"id", "graph_name", "graph_description", "status", "created_at", "outputs"}
WS_MESSAGE = {"method", "data", "success", "channel", "error"}


def keys(body, expected: set[str], what: str) -> None:
    assert isinstance(body, dict), f"{what}: not an object: {body!r}"[:300]
    missing = expected - body.keys()
    assert not missing, f"{what} lacks AutoGPT's keys {sorted(missing)}"


def answer(response, status: int, expected: set[str] | None = None, what: str = ""):
    what = what or f"{response.request.method} {response.request.url.path}"
    assert response.status_code == status, f"{what}: {response.status_code} {response.text[:500]}"
    body = response.json() if response.content else None
    if expected is not None:
        keys(body, expected, what)
    return body


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(database_url, broker):
    settings = isolated_settings(database_url, broker.bootstrap)
    async with running_stack(settings, executors=1) as running:
        yield running
    drop_schema(database_url, settings.db_schema)


async def test_graphs_contract(stack, user_ids):
    async with stack.client(user_ids["alice"]) as c:
        graph = answer(await c.post("/api/graphs", json={"graph": adder_graph(), "source": "builder"}), 200, GRAPH)
        keys(graph["nodes"][0], NODE, "GraphModel.nodes[]")
        keys(graph["links"][0], LINK, "GraphModel.links[]")
        gid = graph["id"]
        keys(answer(await c.get("/api/graphs"), 200)[0], GRAPH_META, "GET /api/graphs[]")
        answer(await c.get(f"/api/graphs/{gid}", params={"version": 1, "for_export": "true"}), 200, GRAPH)
        answer(await c.get(f"/api/graphs/{gid}/versions/1"), 200, GRAPH)
        keys(answer(await c.get(f"/api/graphs/{gid}/versions"), 200)[0], GRAPH, "GET versions[]")
        updated = answer(await c.put(f"/api/graphs/{gid}", json=adder_graph("v2")), 200,
                         {"graph", "skipped_webhook_presets"})  # AutoGPT's UpdateGraphResponse
        keys(updated["graph"], GRAPH, "UpdateGraphResponse.graph")
        answer(await c.put(f"/api/graphs/{gid}/versions/active", json={"active_graph_version": 1}), 200,
               {"skipped_webhook_presets"})
        answer(await c.patch(f"/api/graphs/{gid}/settings", json={"human_in_the_loop_safe_mode": True}), 200)
        answer(await c.get(f"/api/graphs/{gid}", params={"version": 9}), 404)
        answer(await c.delete(f"/api/graphs/{gid}"), 200, {"version_counts"})


async def test_executions_contract(stack, user_ids):
    async with stack.client(user_ids["alice"]) as c:
        gid = answer(await c.post("/api/graphs", json={"graph": adder_graph()}), 200)["id"]
        meta = answer(await c.post(f"/api/graphs/{gid}/execute/1", json={
            "inputs": {"x": 1}, "credentials_inputs": {}, "source": "library"}), 200, EXECUTION_META)
        done = await stack.wait_terminal(c, gid, meta["id"])
        run = answer(await c.get(f"/api/graphs/{gid}/executions/{meta['id']}"), 200, EXECUTION)
        keys(run["stats"], STATS, "GraphExecutionStats")
        keys(run["node_executions"][0], NODE_EXECUTION, "NodeExecutionResult")
        assert run["outputs"] == {"sum": [3]} and done["status"] == "COMPLETED"
        keys(answer(await c.get("/api/executions"), 200)[0], EXECUTION_META, "GET /api/executions[]")
        page = answer(await c.get(f"/api/graphs/{gid}/executions", params={"page": 1, "page_size": 25}), 200,
                      {"executions", "pagination"})
        keys(page["pagination"], PAGINATION, "Pagination")
        answer(await c.get(f"/api/graphs/{gid}/executions", params={"page_size": 101}), 422)
        answer(await c.post(f"/api/graphs/{gid}/executions/{meta['id']}/stop"), 200, EXECUTION_META)
        answer(await c.get("/api/executions/cost-summary", params={"top_runs_limit": 5}), 200, COST_SUMMARY)
        answer(await c.get("/api/executions/cost-summary", params={"top_runs_limit": 500}), 422)
        share = answer(await c.post(f"/api/graphs/{gid}/executions/{meta['id']}/share"), 200,
                       {"share_url", "share_token"})
        async with stack.client() as anon:
            answer(await anon.get(f"/api/public/shared/{share['share_token']}"), 200, SHARED)
        answer(await c.delete(f"/api/graphs/{gid}/executions/{meta['id']}/share"), 204)
        unlinked = {"name": "unlinked", "nodes": [  # the Calculator's required `a` has no link and no default
            {"id": "calc", "block_id": CALCULATOR, "input_default": {"operation": "Add", "b": 2}}], "links": []}
        bad_id = answer(await c.post("/api/graphs", json={"graph": unlinked}), 200)["id"]
        bad = answer(await c.post(f"/api/graphs/{bad_id}/execute/1", json={"inputs": {}}), 400)
        assert bad["detail"]["type"] == "validation_error" and "node_errors" in bad["detail"], bad
        assert list(bad["detail"]["node_errors"].values()) == [{"a": "This field is required"}], bad  # ids re-assigned
        answer(await c.delete(f"/api/executions/{meta['id']}"), 204)
        answer(await c.get(f"/api/graphs/{gid}/executions/{meta['id']}"), 404)


async def test_blocks_credits_and_keys_contract(stack, user_ids):
    async with stack.client(user_ids["alice"]) as c:
        blocks = answer(await c.get("/api/blocks"), 200)
        keys(next(b for b in blocks if b["id"] == CALCULATOR), BLOCK, "GET /api/blocks[]")
        assert answer(await c.post(f"/api/blocks/{CALCULATOR}/execute",
                                   json={"operation": "Add", "a": 1, "b": 2}), 200) == {"result": [3.0]}
        answer(await c.post("/api/blocks/not-a-block/execute", json={}), 404)
        answer(await c.get("/api/credits"), 200, {"credits"})
        history = answer(await c.get("/api/credits/transactions", params={"transaction_count_limit": 10}), 200,
                         {"transactions", "next_transaction_time"})
        keys(history["transactions"][0], TRANSACTION, "UserTransaction")

        created = answer(await c.post("/api/api-keys", json={"name": "k", "permissions": ["EXECUTE_GRAPH"],
                                                             "description": "d"}), 200,
                         {"api_key", "plain_text_key"})
        keys(created["api_key"], API_KEY, "APIKeyInfo")
        kid = created["api_key"]["id"]
        keys(answer(await c.get("/api/api-keys"), 200)[0], API_KEY, "GET /api/api-keys[]")
        answer(await c.get(f"/api/api-keys/{kid}"), 200, API_KEY)
        answer(await c.put(f"/api/api-keys/{kid}/permissions", json={"permissions": ["READ_GRAPH"]}), 200, API_KEY)
        answer(await c.post(f"/api/api-keys/{kid}/suspend"), 200, API_KEY)
        answer(await c.delete(f"/api/api-keys/{kid}"), 200, API_KEY)

        stored = answer(await c.post("/api/integrations/openai/credentials", json={
            "type": "api_key", "api_key": "sk-test", "title": "mine"}), 201, CREDENTIALS_META)
        keys(answer(await c.get("/api/integrations/credentials"), 200)[0], CREDENTIALS_META, "credentials[]")
        answer(await c.get(f"/api/integrations/openai/credentials/{stored['id']}"), 200, CREDENTIALS_META)
        answer(await c.delete(f"/api/integrations/openai/credentials/{stored['id']}"), 200, {"deleted"})


async def test_user_library_presets_and_schedules_contract(stack, user_ids):
    async with stack.client(user_ids["alice"]) as c:
        answer(await c.post("/api/auth/user"), 200, {"id", "email"})
        answer(await c.post("/api/auth/user/timezone", json={"timezone": "Europe/Paris"}), 200, {"timezone"})
        assert answer(await c.get("/api/auth/user/timezone"), 200) == {"timezone": "Europe/Paris"}
        answer(await c.get("/api/auth/user/preferences"), 200, {"email"})
        answer(await c.get("/api/onboarding"), 200, {"completedSteps", "walletShown", "agentRuns"})
        answer(await c.get("/api/onboarding/completed"), 200, {"is_completed"})

        gid = answer(await c.post("/api/graphs", json={"graph": adder_graph("lib")}), 200)["id"]
        agents = answer(await c.get("/api/library/agents", params={"page": 1, "page_size": 15}), 200,
                        {"agents", "pagination"})
        keys(agents["agents"][0], LIBRARY_AGENT, "LibraryAgent")
        agent_id = agents["agents"][0]["id"]
        answer(await c.get(f"/api/library/agents/{agent_id}"), 200, LIBRARY_AGENT)
        answer(await c.get(f"/api/library/agents/by-graph/{gid}"), 200, LIBRARY_AGENT)
        answer(await c.patch(f"/api/library/agents/{agent_id}", json={"is_favorite": True}), 200, LIBRARY_AGENT)
        answer(await c.get("/api/library/agents/favorites"), 200, {"agents", "pagination"})

        preset = answer(await c.post("/api/library/presets", json={
            "graph_id": gid, "graph_version": 1, "inputs": {"x": 1}, "credentials": {}, "name": "p",
            "description": "d", "is_active": True}), 200, PRESET)
        answer(await c.get("/api/library/presets", params={"graph_id": gid}), 200, {"presets", "pagination"})
        answer(await c.get(f"/api/library/presets/{preset['id']}"), 200, PRESET)
        answer(await c.post(f"/api/library/presets/{preset['id']}/execute",
                            json={"inputs": {}, "credential_inputs": {}}), 200, EXECUTION_META)
        answer(await c.delete(f"/api/library/presets/{preset['id']}"), 204)

        schedule = answer(await c.post(f"/api/graphs/{gid}/schedules", json={
            "graph_version": 1, "name": "nightly", "cron": "0 3 * * *", "inputs": {"x": 1}, "credentials": {},
            "timezone": "UTC"}), 200, SCHEDULE)
        keys(answer(await c.get("/api/schedules"), 200)[0], SCHEDULE, "GET /api/schedules[]")
        keys(answer(await c.get(f"/api/graphs/{gid}/schedules"), 200)[0], SCHEDULE, "GET graph schedules[]")
        assert answer(await c.delete(f"/api/schedules/{schedule['id']}"), 200) == {"id": schedule["id"]}

        answer(await c.get("/api/store/agents"), 200, {"agents", "pagination"})
        answer(await c.get("/api/store/creators"), 200, {"creators", "pagination"})
        answer(await c.get("/api/review/pending"), 200)


async def test_external_api_contract(stack, user_ids):
    async with stack.client(user_ids["alice"]) as c:
        _, plain = await new_key(c, ["IDENTITY", "READ_BLOCK", "EXECUTE_BLOCK", "WRITE_GRAPH", "WRITE_LIBRARY",
                                     "EXECUTE_GRAPH", "READ_GRAPH", "READ_STORE"])
        async with external(stack, plain) as ext, external(stack, None) as anon:
            answer(await ext.get(f"{EXT}/me"), 200, {"id", "name", "email", "timezone"})
            answer(await ext.get(f"{EXT}/blocks"), 200)
            graph = answer(await ext.post(f"{EXT}/graphs", json=adder_graph("ext")), 201, GRAPH)
            queued = answer(await ext.post(f"{EXT}/graphs/{graph['id']}/execute/1", json={"node_input": {"x": 2}}),
                            200, {"id"})
            await stack.wait_terminal(c, graph["id"], queued["id"])
            results = answer(await ext.get(f"{EXT}/graphs/{graph['id']}/executions/{queued['id']}/results"), 200,
                             {"execution_id", "status", "nodes", "output"})
            keys(results["nodes"][0], {"node_id", "input", "output"}, "results.nodes[]")
            answer(await ext.get(f"{EXT}/store/agents"), 200, {"agents", "pagination"})
            answer(await anon.get(f"{EXT}/me"), 401)
            answer(await ext.get(f"{EXT}/runs"), 403)  # the key lacks READ_RUN


async def test_websocket_contract(stack, user_ids):
    token = stack.token(user_ids["alice"])
    async with stack.client(user_ids["alice"]) as c:
        gid = answer(await c.post("/api/graphs", json={"graph": adder_graph()}), 200)["id"]
        run = answer(await c.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"x": 1}}), 200)
        await stack.wait_terminal(c, gid, run["id"])
    url = stack.base_url.replace("http://", "ws://") + f"/ws?token={token}"
    async with websockets.connect(url) as ws:
        await ws.send(orjson.dumps({"method": "heartbeat", "data": "ping"}).decode())
        pong = orjson.loads(await ws.recv())
        assert (pong["method"], pong["data"], pong["success"]) == ("heartbeat", "pong", True)
        await ws.send(orjson.dumps({"method": "subscribe_graph_execution",
                                    "data": {"graph_exec_id": run["id"]}}).decode())
        ack = orjson.loads(await ws.recv())
        keys(ack, WS_MESSAGE, "subscribe ack")
        assert ack["success"] is True and ack["channel"] == f"{user_ids['alice']}|graph_exec#{run['id']}"
        event = orjson.loads(await ws.recv())
        assert event["method"] in ("graph_execution_event", "node_execution_event")
        keys(event["data"], {"event_type"}, "execution event")
