"""Trigger webhooks through the real stack: setup-trigger, ingress exactly once per delivery, the
secret, the bounds, ping, and the webhook's end when its preset or graph is deleted."""

from __future__ import annotations

import asyncio
import uuid

from services.domain.integrations.triggers import TRIGGERED_DIRECTLY
from services.domain.integrations.webhook import MAX_PAYLOAD_BYTES, delivery_stream_id
from services.infra.eventstore import EventStore
from tests.integration.helpers import eventually, publish, review
from tests.integration.test_executions_api import sample_graph
from tests.integration.test_graphs_api import OUTPUT

TRIGGER = "8fa8c167-2002-47ce-aba8-97572fc5d387"


def trigger_graph() -> dict:
    return {"name": "on webhook", "description": "echoes the payload", "nodes": [
        {"id": "hook", "block_id": TRIGGER, "input_default": {}},
        {"id": "got", "block_id": OUTPUT, "input_default": {"name": "got"}},
        {"id": "const", "block_id": OUTPUT, "input_default": {"name": "constants"}},
    ], "links": [{"source_id": "hook", "sink_id": "got", "source_name": "payload", "sink_name": "value"},
                 {"source_id": "hook", "sink_id": "const", "source_name": "constants", "sink_name": "value"}]}


async def _graph(client, graph=None) -> dict:
    r = await client.post("/api/graphs", json={"graph": graph or trigger_graph()})
    assert r.status_code == 200, r.text
    return r.json()


async def _setup(client, graph_id: str, **extra) -> dict:
    body = {"name": "hooked", "description": "d", "graph_id": graph_id, "graph_version": 1,
            "trigger_config": {"constants": {"source": "test"}}, **extra}
    r = await client.post("/api/library/presets/setup-trigger", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def _ingress(preset: dict) -> str:
    return f"/api/integrations/generic_webhook/webhooks/{preset['webhook_id']}/ingress"


def _secret(preset: dict) -> dict:
    return {"X-Webhook-Secret": preset["webhook"]["secret"]}


async def _runs(client, graph_id: str) -> list[dict]:
    r = await client.get(f"/api/graphs/{graph_id}/executions", params={"page_size": 100})
    assert r.status_code == 200, r.text
    return r.json()["executions"]


def _events(stack, stream_id) -> list:
    return EventStore(stack.datastore, "integrations").read_stream(stream_id)


async def test_setup_trigger_answers_the_preset_with_the_ingress_url_and_the_secret_once(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        graph = await _graph(alice)
        assert graph["has_external_trigger"] is True
        preset = await _setup(alice, graph["id"])
        webhook = preset["webhook"]
        assert preset["webhook_id"] == webhook["id"] and preset["graph_id"] == graph["id"]
        assert preset["inputs"] == {"constants": {"source": "test"}} and preset["is_active"] is True
        assert webhook["provider"] == "generic_webhook" and webhook["secret_header"] == "X-Webhook-Secret"
        assert webhook["url"].endswith(_ingress(preset)) and webhook["is_active"] is True
        assert len(webhook["secret"]) >= 43  # 256 bits, URL-safe base64

        # the secret is recorded only as a digest
        recorded = _events(stack, uuid.UUID(webhook["id"]))
        assert webhook["secret"] not in str([e.decode() for e in recorded])

        async def listed():
            r = await alice.get(f"/api/library/presets/{preset['id']}")
            return r.json() if r.status_code == 200 else None

        read = await eventually(listed)
        assert read["webhook_id"] == webhook["id"] and read["webhook"] is None  # never the secret again

        # one delivery: the trigger node outputs the payload and the saved constants
        r = await alice.post(_ingress(preset), json={"hello": "world"}, headers=_secret(preset))
        assert r.status_code == 200, r.text
        answer = r.json()
        assert answer["webhook_id"] == webhook["id"] and len(answer["execution_ids"]) == 1
        done = await stack.wait_terminal(alice, graph["id"], answer["execution_ids"][0])
        assert done["status"] == "COMPLETED", done
        assert done["outputs"] == {"got": [{"hello": "world"}], "constants": [{"source": "test"}]}
        assert done["preset_id"] == preset["id"]
        hook = next(n for n in done["node_executions"] if n["block_id"] == TRIGGER)  # node ids are reassigned
        assert hook["output_data"]["payload"] == [{"hello": "world"}]

        # ping: a manual webhook has no provider to ask, so nothing is sent (AutoGPT's false)
        r = await alice.post(f"/api/integrations/webhooks/{webhook['id']}/ping")
        assert r.status_code == 200 and r.json() is False


async def test_100_deliveries_of_which_20_repeat_a_key_give_exactly_80_runs(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        graph = await _graph(alice)
        preset = await _setup(alice, graph["id"])
        keys = [f"delivery-{i}" for i in range(80)]
        sends = [(k, i) for i, k in enumerate(keys)] + [(keys[i * 4], i * 4) for i in range(20)]
        gate = asyncio.Semaphore(8)

        async def send(key: str, n: int) -> tuple[str, dict]:
            async with gate:
                r = await alice.post(_ingress(preset), json={"n": n, "key": key},
                                     headers={**_secret(preset), "Idempotency-Key": key})
                assert r.status_code == 200, r.text
                return key, r.json()

        answers = await asyncio.gather(*(send(k, n) for k, n in sends))
        by_key: dict[str, dict] = {}
        for key, answer in answers:
            assert len(answer["execution_ids"]) == 1
            assert by_key.setdefault(key, answer) == answer, "a repeat answers as the first did"
        run_ids = {a["execution_ids"][0] for a in by_key.values()}
        assert len(run_ids) == 80

        async def all_ended():
            runs = await _runs(alice, graph["id"])
            return runs if len(runs) == 80 and all(r["status"] == "COMPLETED" for r in runs) else None

        runs = await eventually(all_ended, timeout=120, message="80 runs complete")
        assert {r["id"] for r in runs} == run_ids
        for key, answer in by_key.items():
            r = await alice.get(f"/api/graphs/{graph['id']}/executions/{answer['execution_ids'][0]}")
            assert r.json()["outputs"]["got"] == [{"n": int(key.split("-")[1]), "key": key}]

        # a later repeat with another body still answers the first, and queues nothing
        r = await alice.post(_ingress(preset), json={"other": True}, headers={**_secret(preset),
                                                                                 "Idempotency-Key": keys[0]})
        assert r.status_code == 200 and r.json() == by_key[keys[0]]
        # X-Delivery-Id names a delivery the same way
        first = await alice.post(_ingress(preset), json={"d": 1}, headers={**_secret(preset), "X-Delivery-Id": "d1"})
        again = await alice.post(_ingress(preset), json={"d": 1}, headers={**_secret(preset), "X-Delivery-Id": "d1"})
        assert first.status_code == again.status_code == 200 and first.json() == again.json()
        assert len(await _runs(alice, graph["id"])) == 81


async def test_a_wrong_or_missing_secret_is_401_and_records_nothing(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client() as anonymous:
        graph = await _graph(alice)
        preset = await _setup(alice, graph["id"])
        for headers in ({}, {"X-Webhook-Secret": "wrong"}, {"X-Webhook-Secret": preset["webhook"]["secret"][:-1]},
                        {"Authorization": f"Bearer {stack.token(user_ids['alice'])}"}):
            r = await anonymous.post(_ingress(preset), json={"x": 1}, headers={**headers, "Idempotency-Key": "k"})
            assert r.status_code == 401, (headers, r.text)
        assert _events(stack, delivery_stream_id(preset["webhook_id"], "k")) == []
        await asyncio.sleep(0.5)
        assert await _runs(alice, graph["id"]) == []
        # the right secret, without any user token
        r = await anonymous.post(_ingress(preset), json={"x": 1}, headers={**_secret(preset), "Idempotency-Key": "k"})
        assert r.status_code == 200, r.text
        assert len(_events(stack, delivery_stream_id(preset["webhook_id"], "k"))) == 1


async def test_another_users_webhook_and_graph_are_not_found(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        graph = await _graph(alice)
        preset = await _setup(alice, graph["id"])
        webhook_id = preset["webhook_id"]
        r = await bob.post(f"/api/integrations/webhooks/{webhook_id}/ping")
        assert r.status_code == 404, r.text
        r = await bob.post("/api/library/presets/setup-trigger", json={
            "name": "steal", "graph_id": graph["id"], "graph_version": 1, "trigger_config": {}})
        assert r.status_code == 404, r.text
        r = await bob.delete(f"/api/library/presets/{preset['id']}")
        assert r.status_code == 404
        # bob's own webhook's secret does not open alice's
        bobs = await _setup(bob, (await _graph(bob))["id"])
        r = await bob.post(_ingress(preset), json={}, headers=_secret(bobs))
        assert r.status_code == 401
        r = await alice.post(f"/api/integrations/webhooks/{webhook_id}/ping")
        assert r.status_code == 200


async def test_deleting_the_preset_ends_the_webhook(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        graph = await _graph(alice)
        preset = await _setup(alice, graph["id"])
        r = await alice.post(_ingress(preset), json={"before": 1}, headers=_secret(preset))
        assert r.status_code == 200
        assert (await alice.delete(f"/api/library/presets/{preset['id']}")).status_code == 204
        r = await alice.post(_ingress(preset), json={"after": 1}, headers=_secret(preset))
        assert r.status_code == 404, r.text
        reasons = [e.decode() for e in _events(stack, uuid.UUID(preset["webhook_id"]))]
        assert [type(e).__name__ for e in reasons][-2:] == ["WebhookPresetUnbound", "WebhookDeactivated"]
        assert reasons[-1].reason == "preset_deleted"


async def test_deleting_the_graph_ends_its_webhooks(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        graph = await _graph(alice)
        first, second = await _setup(alice, graph["id"]), await _setup(alice, graph["id"])
        assert (await alice.delete(f"/api/graphs/{graph['id']}")).status_code == 200
        for preset in (first, second):
            r = await alice.post(_ingress(preset), json={}, headers=_secret(preset))
            assert r.status_code == 404, r.text
            last = _events(stack, uuid.UUID(preset["webhook_id"]))[-1].decode()
            assert (type(last).__name__, last.reason) == ("WebhookDeactivated", "graph_deleted")


async def test_rejecting_the_store_version_ends_other_users_webhooks_on_it(stack, user_ids):
    alice, bob = user_ids["alice"], user_ids["bob"]
    async with stack.client(alice) as creator, stack.client(bob) as user, \
            stack.client("webhook-admin", admin=True) as admin:
        graph = await _graph(creator)
        version_id = await publish(creator, admin, graph["id"], username=f"hooks-{alice[-8:]}", slug="hook")
        theirs, own = await _setup(user, graph["id"]), await _setup(creator, graph["id"])
        assert (await user.post(_ingress(theirs), json={"n": 1}, headers=_secret(theirs))).status_code == 200
        await review(admin, version_id, False)
        last = _events(stack, uuid.UUID(theirs["webhook_id"]))[-1].decode()  # ended by the decision itself
        assert (type(last).__name__, last.reason) == ("WebhookDeactivated", "graph_unavailable")
        assert (await user.post(_ingress(theirs), json={"n": 2}, headers=_secret(theirs))).status_code == 404
        assert (await creator.post(_ingress(own), json={"n": 3}, headers=_secret(own))).status_code == 200


async def test_a_triggered_graph_cannot_run_directly(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice:
        graph = await _graph(alice)
        r = await alice.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {}})
        assert r.status_code == 400 and r.json()["detail"] == TRIGGERED_DIRECTLY
        preset = await _setup(alice, graph["id"])
        r = await alice.post(f"/api/library/presets/{preset['id']}/execute", json={})
        assert r.status_code == 400 and r.json()["detail"] == TRIGGERED_DIRECTLY
        # and a graph without a trigger node has no webhook to set up
        plain = await _graph(alice, sample_graph())
        r = await alice.post("/api/library/presets/setup-trigger", json={
            "name": "n", "graph_id": plain["id"], "graph_version": 1, "trigger_config": {}})
        assert r.status_code == 400 and "does not have a webhook node" in r.json()["detail"]


async def test_every_bound_is_a_4xx(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client() as anonymous:
        graph = await _graph(alice)
        preset = await _setup(alice, graph["id"])
        url, secret = _ingress(preset), _secret(preset)
        big = {"blob": "x" * (MAX_PAYLOAD_BYTES + 1)}
        assert (await anonymous.post(url, json=big, headers=secret)).status_code == 413
        r = await anonymous.post(url, content=b"not json", headers={**secret, "Content-Type": "text/plain"})
        assert r.status_code == 400 and "JSON object" in r.json()["detail"]
        assert (await anonymous.post(url, json=[1, 2], headers=secret)).status_code == 400
        assert (await anonymous.post(url, content=b"", headers=secret)).status_code == 400
        assert (await anonymous.post(url, json={"__agentloom_blob_ref__": {"sha256": "0" * 64, "size": 1}},
                                     headers=secret)).status_code == 400
        r = await anonymous.post(url, json={}, headers={**secret, "Idempotency-Key": "k" * 201})
        assert r.status_code == 422
        bad = "/api/integrations/generic_webhook/webhooks/not-a-uuid/ingress"
        assert (await anonymous.post(bad, json={}, headers=secret)).status_code == 400
        unknown = f"/api/integrations/generic_webhook/webhooks/{uuid.uuid4()}/ingress"
        assert (await anonymous.post(unknown, json={}, headers=secret)).status_code == 404
        other = url.replace("generic_webhook", "github")
        assert (await anonymous.post(other, json={}, headers=secret)).status_code == 404
        assert (await alice.post("/api/integrations/webhooks/not-a-uuid/ping")).status_code == 400
        assert (await alice.post(f"/api/integrations/webhooks/{uuid.uuid4()}/ping")).status_code == 404
        for body, code in (({"trigger_config": {"payload": {}}}, 400), ({"trigger_config": {"nope": 1}}, 400),
                           ({"trigger_config": {"constants": "not an object"}}, 400),
                           ({"graph_id": "not-a-uuid"}, 400), ({"graph_id": str(uuid.uuid4())}, 404),
                           ({"graph_version": 0}, 422), ({"name": ""}, 422), ({"trigger_config": None}, 422)):
            r = await alice.post("/api/library/presets/setup-trigger", json={
                "name": "n", "graph_id": graph["id"], "graph_version": 1, "trigger_config": {}, **body})
            assert r.status_code == code, (body, r.text)
        assert (await anonymous.post("/api/library/presets/setup-trigger", json={})).status_code == 401
        await asyncio.sleep(0.3)
        assert await _runs(alice, graph["id"]) == []
