"""Real success bodies match the schemas their routes declare in ``/openapi.json``, exactly.

The routes send the dicts the builders make as they are and name a response model for the docs
only, so nothing at run time holds a body to its model: this test does. One story drives every
operation of the combined app once, against the whole stack, and validates each 2xx body against
the published schema made strict: an object may hold no key its model does not declare, must hold
every key the model requires, and every value must have the declared type and format. It fails, too,
when an operation with a documented body is left out of the story.
"""

from __future__ import annotations

import copy
import string
import uuid
from typing import Any

import httpx
import jsonschema_rs
import pytest_asyncio
from pydantic import SecretStr

from schemas.events.apikeys import ApiKeyPermission
from schemas.events.callbacks import CallbackDeliveryScheduled
from schemas.events.notifications import NotificationType
from services.domain.notifications.links import unsubscribe_token
from services.infra.eventstore import EventStore
from services.infra.store_contract import NewEvent
from tests.conftest import drop_schema, isolated_settings
from tests.integration.helpers import eventually
from tests.integration.stack import running_stack
from tests.integration.test_credits import CALC
from tests.integration.test_graphs_api import INPUT, OUTPUT

EXT = "/external-api/v1"


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(database_url, broker):
    # credits charged for the calculator (USAGE rows in the history); a platform OpenAI key (system
    # credentials in the lists)
    settings = isolated_settings(database_url, broker.bootstrap, openai_api_key=SecretStr("sk-shape-test"),
                                 block_costs={CALC: [{"cost_amount": 1, "cost_filter": {}}]})
    async with running_stack(settings, executors=1) as running:
        yield running
    drop_schema(database_url, settings.db_schema)


def _strict(schema: Any) -> Any:
    """The schema with ``additionalProperties: false`` on every object that lists its properties."""
    if isinstance(schema, dict):
        schema = {key: _strict(value) for key, value in schema.items()}
        if "properties" in schema and "additionalProperties" not in schema:
            schema["additionalProperties"] = False
        return schema
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    return schema


class Shapes:
    """Validates bodies against the strict schemas of the app's own OpenAPI document."""

    def __init__(self, openapi: dict[str, Any]) -> None:
        self.openapi = openapi
        self.components = _strict(copy.deepcopy(openapi["components"]))
        self.checked: set[tuple[str, str]] = set()

    def documented(self) -> set[tuple[str, str]]:
        return {(method.upper(), path) for path, methods in self.openapi["paths"].items()
                for method, operation in methods.items()
                if any(code.startswith("2") and "content" in response
                       for code, response in operation["responses"].items())}

    def check(self, method: str, path: str, response: httpx.Response) -> Any:
        assert response.is_success, f"{method} {path}: {response.status_code} {response.text[:500]}"
        operation = self.openapi["paths"][path][method.lower()]
        schema = operation["responses"][str(response.status_code)]["content"]["application/json"]["schema"]
        validator = jsonschema_rs.validator_for({**_strict(schema), "components": self.components},
                                                validate_formats=True)
        body = response.json()
        errors = [f"{error.instance_path}: {error.message}" for error in validator.iter_errors(body)]
        assert not errors, f"{method} {path}: {errors[:10]}"
        self.checked.add((method, path))
        return body


class Caller:
    """Sends a request to a path template and checks the answer against the template's schema."""

    def __init__(self, client: httpx.AsyncClient, shapes: Shapes) -> None:
        self.client, self.shapes = client, shapes

    async def __call__(self, method: str, path: str, *, expect: int = 200, **kwargs: Any) -> Any:
        ids = {name: kwargs.pop(name) for _, name, _, _ in string.Formatter().parse(path) if name}
        response = await self.client.request(method, path.format(**ids), **kwargs)
        assert response.status_code == expect, f"{method} {path}: {response.status_code} {response.text[:500]}"
        return self.shapes.check(method, path, response)


def priced_graph() -> dict[str, Any]:
    return {"name": "shapes", "description": "every field", "nodes": [
        {"id": "in", "block_id": INPUT, "input_default": {"name": "x"}, "metadata": {"position": {"x": 1, "y": 2}}},
        {"id": "add", "block_id": CALC, "input_default": {"operation": "Add", "b": 1}},
        {"id": "out", "block_id": OUTPUT, "input_default": {"name": "y"}},
    ], "links": [{"source_id": "in", "sink_id": "add", "source_name": "result", "sink_name": "a"},
                 {"source_id": "add", "sink_id": "out", "source_name": "result", "sink_name": "value"}]}


async def _graphs_and_runs(api: Caller, stack, client: httpx.AsyncClient) -> tuple[str, str]:
    graph = await api("POST", "/api/graphs", json={"graph": priced_graph()})
    graph_id = graph["id"]
    await api("PUT", "/api/graphs/{graph_id}", graph_id=graph_id, json=priced_graph())
    await api("PUT", "/api/graphs/{graph_id}/versions/active", graph_id=graph_id, json={"active_graph_version": 1})
    await api("GET", "/api/graphs")
    await api("GET", "/api/graphs/{graph_id}", graph_id=graph_id, params={"for_export": True})
    await api("GET", "/api/graphs/{graph_id}/versions/{version}", graph_id=graph_id, version=2)
    await api("GET", "/api/graphs/{graph_id}/versions", graph_id=graph_id)
    run = await api("POST", "/api/graphs/{graph_id}/execute/{graph_version}", graph_id=graph_id,
                    graph_version=1, json={"inputs": {"x": 41}})
    done = await stack.wait_terminal(client, graph_id, run["id"])
    assert done["status"] == "COMPLETED" and done["outputs"] == {"y": [42]}
    await api("GET", "/api/graphs/{graph_id}/executions/{graph_exec_id}", graph_id=graph_id,
              graph_exec_id=run["id"])
    await api("GET", "/api/executions/{graph_exec_id}", graph_exec_id=run["id"])
    await api("GET", "/api/executions")
    await api("GET", "/api/executions/cost-summary", params={"top_runs_limit": 5})
    await api("GET", "/api/graphs/{graph_id}/executions", graph_id=graph_id)
    await api("GET", "/api/executions/{graph_exec_id}/events", graph_exec_id=run["id"])
    await api("GET", "/api/executions/{graph_exec_id}/state", graph_exec_id=run["id"], params={"at_seq": 3})
    retry = await api("POST", "/api/executions/{graph_exec_id}/retry", graph_exec_id=run["id"], json={})
    fork = await api("POST", "/api/executions/{graph_exec_id}/fork", graph_exec_id=run["id"], json={"at_seq": 2})
    for branch in (retry, fork):
        assert (await stack.wait_terminal(client, graph_id, branch["id"]))["outputs"] == {"y": [42]}
    await api("GET", "/api/executions/{graph_exec_id}/results", graph_exec_id=run["id"])
    active = await api("POST", "/api/graphs/{graph_id}/execute", graph_id=graph_id, json={"inputs": {"x": 1}})
    assert (await stack.wait_terminal(client, graph_id, active["id"]))["status"] == "COMPLETED"
    lineage = await api("GET", "/api/executions/{graph_exec_id}/lineage", graph_exec_id=run["id"])
    assert {b["execution_id"] for b in lineage["branches"]} == {retry["id"], fork["id"]}
    await api("POST", "/api/graphs/{graph_id}/executions/{graph_exec_id}/stop", graph_id=graph_id,
              graph_exec_id=run["id"])
    return graph_id, run["id"]


async def _blocks_and_credits(api: Caller, admin: Caller, user: str) -> None:
    await api("GET", "/api/blocks")
    await api("GET", "/api/blocks/{block_id}", block_id=CALC)
    await api("POST", "/api/blocks/{block_id}/execute", block_id=CALC, json={"operation": "Add", "a": 1, "b": 2})
    await api("GET", "/api/credits")
    await admin("POST", "/api/credits/admin/add_credits", json={"user_id": user, "amount": 5, "comments": "shape"})
    history = await api("GET", "/api/credits/transactions")
    assert {"GRANT", "USAGE"} <= {t["transaction_type"] for t in history["transactions"]}
    await admin("GET", "/api/credits/admin/users/{user_id}/transactions", user_id=user)


async def _keys_and_credentials(api: Caller) -> str:
    created = await api("POST", "/api/api-keys", json={"name": "shapes", "description": "d",
                                                        "permissions": [p.value for p in ApiKeyPermission]})
    key_id = created["api_key"]["id"]
    await api("GET", "/api/api-keys")
    await api("GET", "/api/api-keys/{key_id}", key_id=key_id)
    await api("PUT", "/api/api-keys/{key_id}/permissions", key_id=key_id,
              json={"permissions": [p.value for p in ApiKeyPermission]})
    spare = (await api("POST", "/api/api-keys", json={"name": "spare"}))["api_key"]["id"]
    await api("POST", "/api/api-keys/{key_id}/suspend", key_id=spare)
    await api("DELETE", "/api/api-keys/{key_id}", key_id=spare)

    stored = await api("POST", "/api/integrations/{provider}/credentials", provider="openai", expect=201,
                       json={"api_key": "sk-user-key", "title": "mine"})
    await api("GET", "/api/integrations/credentials")
    await api("GET", "/api/integrations/providers")
    assert "openai" in await api("GET", "/api/integrations/providers/system")
    await api("GET", "/api/integrations/{provider}/credentials", provider="openai")
    await api("GET", "/api/integrations/{provider}/credentials/{cred_id}", provider="openai", cred_id=stored["id"])
    await api("DELETE", "/api/integrations/{provider}/credentials/{cred_id}", provider="openai",
              cred_id=stored["id"])
    return created["plain_text_key"]


async def _users_and_onboarding(api: Caller, stack, user: str) -> None:
    await api("GET", "/api/user")
    await api("POST", "/api/auth/user")
    await api("POST", "/api/auth/user/email", json=f"{user}@example.org")
    await api("POST", "/api/auth/user/timezone", json={"timezone": "Europe/Paris"})
    await api("GET", "/api/auth/user/timezone")
    await api("POST", "/api/auth/user/preferences", json={"preferences": {"AGENT_RUN": False}, "daily_limit": 5})
    await api("GET", "/api/auth/user/preferences")
    await api("PUT", "/api/user", json={"name": "Shapes"})
    await api("GET", "/api/user/credits")
    await api("POST", "/api/user/api-keys", json={"name": "seed path"})
    await api("GET", "/api/user/api-keys")
    await api("GET", "/api/onboarding")
    await api("PATCH", "/api/onboarding", json={"walletShown": True, "agentInput": {"x": 1}})
    await api("POST", "/api/onboarding/step", params={"step": "WELCOME"})
    await api("GET", "/api/onboarding/completed")
    await api("POST", "/api/onboarding/reset")
    token = unsubscribe_token(stack.settings.api_key_secret, user)
    await api("POST", "/api/email/unsubscribe", params={"token": token})


async def _notifications(api: Caller, stack, user: str) -> None:
    """One notification recorded as the notifier records it (this stack runs no notifier)."""
    from services.domain.notifications.derive import Derived
    from services.infra.eventstore import EventStore
    from services.infra.notification_records import record

    derived = Derived(user, NotificationType.LOW_BALANCE, {"current_balance": 1, "billing_page_link": "x"},
                      "credits", str(uuid.uuid4()), 1)
    note_id = record(EventStore(stack.datastore, "notifications"), derived)
    listed = await api("GET", "/api/notifications")
    assert [n["id"] for n in listed["notifications"]] == [str(note_id)]
    await api("POST", "/api/notifications/{notification_id}/read", notification_id=str(note_id))


async def _library(api: Caller, stack, client: httpx.AsyncClient, graph_id: str, run_id: str) -> None:
    entry = await api("GET", "/api/library/agents/by-graph/{graph_id}", graph_id=graph_id)
    assert entry["recent_executions"], "the figures must be in the checked body"
    agent_id = entry["id"]
    folder = await api("POST", "/api/library/folders", expect=201, json={"name": "F", "color": "#abcdef"})
    await api("POST", "/api/library/folders", expect=201, json={"name": "Sub", "parent_id": folder["id"]})
    await api("PATCH", "/api/library/folders/{folder_id}", folder_id=folder["id"], json={"icon": "star"})
    await api("GET", "/api/library/folders")
    await api("GET", "/api/library/folders/tree")
    await api("GET", "/api/library/folders/{folder_id}", folder_id=folder["id"])
    await api("PATCH", "/api/library/agents/{library_agent_id}", library_agent_id=agent_id,
              json={"is_favorite": True, "folder_id": folder["id"], "settings": {"sensitive_action_safe_mode": True}})
    await api("GET", "/api/library/agents")
    await api("GET", "/api/library/agents/favorites")
    await api("GET", "/api/library/agents/{library_agent_id}", library_agent_id=agent_id)
    await api("POST", "/api/library/agents/bulk-move", json={"agent_ids": [agent_id], "folder_id": None})
    await api("PATCH", "/api/graphs/{graph_id}/settings", graph_id=graph_id,
              json={"human_in_the_loop_safe_mode": False})
    fork = await api("POST", "/api/library/agents/{library_agent_id}/fork", library_agent_id=agent_id)
    other = (await client.post("/api/library/folders", json={"name": "G"})).json()
    await api("POST", "/api/library/folders/{folder_id}/move", folder_id=other["id"],
              json={"target_parent_id": folder["id"]})
    assert (await client.delete(f"/api/library/folders/{folder['id']}")).status_code == 204
    assert (await client.delete(f"/api/library/agents/{fork['id']}")).status_code == 204

    preset = await api("POST", "/api/library/presets", json={"name": "p", "graph_id": graph_id, "graph_version": 1,
                                                             "inputs": {"x": 1}})
    await api("POST", "/api/library/presets", json={"name": "from run", "graph_execution_id": run_id})
    await api("GET", "/api/library/presets")
    await api("GET", "/api/library/presets/{preset_id}", preset_id=preset["id"])
    await api("PATCH", "/api/library/presets/{preset_id}", preset_id=preset["id"], json={"description": "d"})
    run = await api("POST", "/api/library/presets/{preset_id}/execute", preset_id=preset["id"],
                    json={"inputs": {"x": 2}})
    assert (await stack.wait_terminal(client, graph_id, run["id"]))["outputs"] == {"y": [3]}
    # two runs with different inputs, so the checked diff has changed pairs in it
    diff = await api("GET", "/api/executions/{graph_exec_id}/diff/{other_exec_id}", graph_exec_id=run_id,
                     other_exec_id=run["id"])
    assert diff["changed_nodes"] and diff["summary"]["changed"] > 0
    assert (await client.delete(f"/api/library/presets/{preset['id']}")).status_code == 204


async def _webhooks(api: Caller, stack, client: httpx.AsyncClient) -> None:
    from tests.integration.test_webhooks import trigger_graph
    graph = (await client.post("/api/graphs", json={"graph": trigger_graph()})).json()
    preset = await api("POST", "/api/library/presets/setup-trigger", json={
        "name": "t", "graph_id": graph["id"], "graph_version": 1, "trigger_config": {"constants": {"a": 1}}})
    answer = await api("POST", "/api/integrations/{provider}/webhooks/{webhook_id}/ingress", provider="generic_webhook",
                       webhook_id=preset["webhook_id"], json={"n": 1},
                       headers={"X-Webhook-Secret": preset["webhook"]["secret"], "Idempotency-Key": "shape"})
    assert (await stack.wait_terminal(client, graph["id"], answer["execution_ids"][0]))["status"] == "COMPLETED"
    await api("POST", "/api/integrations/webhooks/{webhook_id}/ping", webhook_id=preset["webhook_id"])


async def _schedules(api: Caller, stack, client: httpx.AsyncClient, graph_id: str) -> None:
    made = await api("POST", "/api/graphs/{graph_id}/schedules", graph_id=graph_id,
                     json={"name": "s", "cron": "0 9 * * *", "inputs": {"x": 1}, "timezone": "Europe/Berlin"})
    await api("GET", "/api/schedules")
    await api("GET", "/api/graphs/{graph_id}/schedules", graph_id=graph_id)
    await api("GET", "/api/schedules/{schedule_id}", schedule_id=made["id"])
    await api("POST", "/api/schedules/{schedule_id}/pause", schedule_id=made["id"])
    await api("POST", "/api/schedules/{schedule_id}/resume", schedule_id=made["id"])
    run = await api("POST", "/api/schedules/{schedule_id}/run", schedule_id=made["id"])
    assert (await stack.wait_terminal(client, graph_id, run["id"]))["outputs"] == {"y": [2]}
    await api("DELETE", "/api/schedules/{schedule_id}", schedule_id=made["id"])


async def _reviews(api: Caller, stack, client: httpx.AsyncClient) -> None:
    graph = {"name": "review", "nodes": [
        {"id": "h", "block_id": "8b2a7b3c-6e9d-4a5f-8c1b-2e3f4a5b6c7d", "input_default": {"data": {"a": 1}}},
    ], "links": []}
    gid = (await client.post("/api/graphs", json={"graph": graph})).json()["id"]
    run = (await client.post(f"/api/graphs/{gid}/execute/1", json={})).json()

    async def waiting():
        return [p for p in await api("GET", "/api/review/pending") if p["graph_exec_id"] == run["id"]]

    pending, = await eventually(waiting, timeout=30, message="the review waits")
    await api("GET", "/api/review/execution/{graph_exec_id}", graph_exec_id=run["id"])
    await api("POST", "/api/review/action",
              json={"reviews": [{"node_exec_id": pending["node_exec_id"], "approved": True}]})
    assert (await stack.wait_terminal(client, gid, run["id"]))["status"] == "COMPLETED"


async def _sharing(api: Caller, stack, shapes: Shapes, graph_id: str, run_id: str) -> None:
    link = await api("POST", "/api/graphs/{graph_id}/executions/{graph_exec_id}/share", graph_id=graph_id,
                     graph_exec_id=run_id)
    async with httpx.AsyncClient(base_url=stack.base_url, timeout=30) as anonymous:
        await Caller(anonymous, shapes)("GET", "/api/public/shared/{share_token}", share_token=link["share_token"])


async def _store_reads(api: Caller, admin: Caller, ext: Caller, stack, user: str, graph_id: str) -> None:
    """Every store read: the listing is recorded straight in the store (the command side's part of the
    story is ``_store_writes``), approved, so each route has a body to check."""
    from tests.integration.test_store_reads import Seeder

    seed = Seeder(stack)
    username = f"shape{uuid.uuid4().hex[:6]}"
    await seed.profile(user, username, avatar_url="https://img/a.png", links=["https://x"])
    version = await seed.submit(user, graph_id, "shape-agent", name="Shape agent", description="checks shapes",
                                categories=["testing"], image_urls=["https://img/1.png"], changes_summary="first")
    await seed.review(version, comments="ok", internal="fine")
    await seed.rate(f"{user}-rater", version, 5)
    await api("GET", "/api/store/profile")
    assert (await api("GET", "/api/store/agents", params={"search_query": "shapes"}))["agents"]
    await api("GET", "/api/store/search", params={"query": "shapes"})
    await api("GET", "/api/store/agents/{username}/{agent_name}", username=username, agent_name="shape-agent",
              params={"include_changelog": True})
    await api("GET", "/api/store/listings/versions/{store_listing_version_id}", store_listing_version_id=version)
    await api("GET", "/api/store/listings/versions/{store_listing_version_id}/graph",
              store_listing_version_id=version)
    await api("GET", "/api/store/listings/versions/{store_listing_version_id}/graph/download",
              store_listing_version_id=version)
    assert (await api("GET", "/api/store/creators", params={"search_query": username}))["creators"]
    await api("GET", "/api/store/creators/{username}", username=username)
    assert (await api("GET", "/api/store/submissions"))["submissions"]
    await api("GET", "/api/store/my-unpublished-agents")
    assert (await admin("GET", "/api/store/admin/listings", params={"search": "shape-agent"}))["listings"]
    await admin("GET", "/api/store/admin/submissions/download/{store_listing_version_id}",
                store_listing_version_id=version)
    assert (await ext("GET", f"{EXT}/store/agents", params={"creator": username}))["agents"]
    await ext("GET", EXT + "/store/agents/{username}/{agent_name}", username=username, agent_name="shape-agent")
    await ext("GET", f"{EXT}/store/creators")
    await ext("GET", EXT + "/store/creators/{username}", username=username)


async def _store_writes(api: Caller, admin: Caller, stack, user: str) -> None:
    """Every store write through the command routes, by a second creator, an admin and a buyer."""
    creator = f"{user}-creator"
    async with stack.client(creator) as creator_client, stack.client(f"{user}-buyer") as buyer_client:
        mine, buyer = Caller(creator_client, api.shapes), Caller(buyer_client, api.shapes)
        username = f"w{uuid.uuid4().hex[:8]}"
        await mine("POST", "/api/store/profile", json={"username": username, "name": "Writer", "links": ["https://x"]})
        graph = await mine("POST", "/api/graphs", json={"graph": priced_graph()})
        pending = await mine("POST", "/api/store/submissions", json={
            "graph_id": graph["id"], "graph_version": 1, "slug": "writes", "name": "Writes", "categories": ["t"]})
        version = pending["listing_version_id"]
        await mine("PUT", "/api/store/submissions/{store_listing_version_id}", store_listing_version_id=version,
                   json={"name": "Writes better"})
        await admin("POST", "/api/store/admin/submissions/{store_listing_version_id}/review",
                    store_listing_version_id=version, json={"is_approved": True, "comments": "ok"})
        await admin("PUT", "/api/store/admin/listings/{listing_id}/featured", listing_id=pending["listing_id"],
                    json={"featured": True})
        await buyer("POST", "/api/store/agents/{username}/{agent_name}/review", username=username,
                    agent_name="writes", json={"store_listing_version_id": version, "score": 5})
        await buyer("POST", "/api/library/agents", expect=201, json={"store_listing_version_id": version})
        await buyer("GET", "/api/library/agents/marketplace/{store_listing_version_id}",
                    store_listing_version_id=version)
        other = await mine("POST", "/api/graphs", json={"graph": priced_graph()})
        dropped = await mine("POST", "/api/store/submissions", json={
            "graph_id": other["id"], "graph_version": 1, "slug": "dropped", "name": "Dropped"})
        await mine("DELETE", "/api/store/submissions/{submission_id}", submission_id=dropped["listing_version_id"])


async def _external(api: Caller, client: httpx.AsyncClient, graph_id: str, run_id: str) -> None:
    await api("GET", f"{EXT}/me")
    await api("GET", f"{EXT}/blocks")
    await api("POST", EXT + "/blocks/{block_id}/execute", block_id=CALC, json={"operation": "Add", "a": 2, "b": 3})
    await api("POST", f"{EXT}/graphs", expect=201, json=priced_graph())  # AutoGPT: the raw graph, 201
    await api("POST", EXT + "/graphs/{graph_id}/execute/{graph_version}", graph_id=graph_id, graph_version=1,
              json={"node_input": {"x": 1}})
    await api("GET", EXT + "/graphs/{graph_id}/executions/{graph_exec_id}/results", graph_id=graph_id,
              graph_exec_id=run_id)
    await _external_owned(api, client, graph_id, run_id)


async def _external_owned(api: Caller, client: httpx.AsyncClient, graph_id: str, run_id: str) -> None:
    """The library, preset, schedule and run routes of the external API (``external_owned.py``)."""
    agents = await api("GET", f"{EXT}/library/agents")
    await api("GET", EXT + "/library/agents/{library_agent_id}", library_agent_id=agents["agents"][0]["id"])
    preset = (await client.post("/api/library/presets", json={"name": "ext", "graph_id": graph_id,
                                                               "graph_version": 1, "inputs": {"x": 1}})).json()
    await api("GET", f"{EXT}/library/presets")
    await api("GET", EXT + "/library/presets/{preset_id}", preset_id=preset["id"])
    await api("POST", EXT + "/library/presets/{preset_id}/execute", preset_id=preset["id"], json={"inputs": {}})
    schedule = await api("POST", EXT + "/graphs/{graph_id}/schedules", graph_id=graph_id, expect=201,
                         json={"name": "ext", "cron": "0 3 * * *", "inputs": {"x": 1}})
    await api("GET", f"{EXT}/schedules")
    await api("DELETE", EXT + "/schedules/{schedule_id}", schedule_id=schedule["id"])
    await api("GET", f"{EXT}/runs")
    await api("GET", EXT + "/runs/{run_id}", run_id=run_id)
    await api("POST", EXT + "/runs/{run_id}/stop", run_id=run_id)
    await api("GET", f"{EXT}/credits")
    await api("GET", f"{EXT}/credits/cost-summary")


async def _completion_webhooks(ext: Caller, stack, user: str, graph_id: str, run_id: str) -> None:
    """No notifier runs here: one delivery is recorded directly so the list has a row to check."""
    hook = await ext("POST", f"{EXT}/webhooks", expect=201, json={
        "url": "https://93.184.215.14/hook", "events": ["execution.completed"], "graph_id": graph_id,
        "description": "shapes"})
    await ext("GET", f"{EXT}/webhooks")
    await ext("GET", EXT + "/webhooks/{webhook_id}", webhook_id=hook["id"])
    await ext("PATCH", EXT + "/webhooks/{webhook_id}", webhook_id=hook["id"], json={"enabled": False})
    scheduled = CallbackDeliveryScheduled(
        callback_id=hook["id"], user_id=user, event="execution.completed", source_event_id=str(uuid.uuid4()),
        execution_id=run_id, graph_id=graph_id, graph_version=1, status="COMPLETED", url=hook["url"])
    EventStore(stack.datastore, "callbacks").append([NewEvent(uuid.uuid4(), 1, scheduled, user_id=user)])

    async def listed():
        page = await ext("GET", EXT + "/webhooks/{webhook_id}/deliveries", webhook_id=hook["id"])
        return page["deliveries"]

    await eventually(listed, timeout=20, message="the delivery listed")


async def test_every_documented_body_matches_its_schema(stack):
    user = f"shapes-{uuid.uuid4().hex[:8]}"
    async with stack.client(user) as client, stack.client("shape-admin", admin=True) as admin_client:
        openapi = (await client.get("/openapi.json")).json()
        shapes = Shapes(openapi)
        api, admin = Caller(client, shapes), Caller(admin_client, shapes)
        graph_id, run_id = await _graphs_and_runs(api, stack, client)
        await _blocks_and_credits(api, admin, user)
        plain_key = await _keys_and_credentials(api)
        await _users_and_onboarding(api, stack, user)
        await _notifications(api, stack, user)
        await _library(api, stack, client, graph_id, run_id)
        await _webhooks(api, stack, client)
        await _schedules(api, stack, client, graph_id)
        await _reviews(api, stack, client)
        await _sharing(api, stack, shapes, graph_id, run_id)
        async with httpx.AsyncClient(base_url=stack.base_url, headers={"X-API-Key": plain_key}, timeout=30) as ext:
            await _store_reads(api, admin, Caller(ext, shapes), stack, user, graph_id)
            await _external(Caller(ext, shapes), client, graph_id, run_id)
            await _completion_webhooks(Caller(ext, shapes), stack, user, graph_id, run_id)
        await _store_writes(api, admin, stack, user)
        await api("GET", "/health")
        await api("GET", "/health/ready")
        await api("GET", "/health/live")
        await api("DELETE", "/api/graphs/{graph_id}", graph_id=graph_id)
        assert (await client.delete(f"/api/executions/{run_id}")).status_code == 204
    assert shapes.documented() - shapes.checked == set()
