"""Completion webhooks end to end, against the real store, broker, projector, executor and
notifier, with a real HTTP receiver started here on 127.0.0.1 (allow-listed the way a deployment
would, ``AGENTLOOM_HTTP_ALLOW_HOSTS``): signatures that verify, retries after 500s, one delivery
per run end across a kill -9 of the notifier mid-request, the outbound policy at registration and
at delivery, every route's BOLA and bounds."""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections import defaultdict
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import pytest_asyncio

from schemas.events.callbacks import CallbackDeliveryScheduled
from services.domain.callbacks import signing
from services.domain.callbacks.rules import EVENTS
from services.infra.eventstore import EventStore
from services.notifier.callbacks import CallbackDeliverer
from services.notifier.service import NotifierService
from tests.conftest import drop_schema, isolated_settings
from tests.integration.helpers import eventually, read_topic
from tests.integration.processes import ServiceProcess
from tests.integration.stack import running_stack
from tests.integration.test_api_keys import ALL, EXT, adder_graph, external, new_key
from tests.integration.test_executor_faults import slow_fanout_graph
from tests.integration.test_graphs_api import INPUT, OUTPUT
from tests.integration.test_rebuild_and_subgraphs import AGENT_EXECUTOR, child_graph


class Receiver:
    """A webhook receiver: records every request per path; ``plan[path]`` lists the statuses to
    answer first (then 200); a path in ``hold`` keeps its first request open until released."""

    def __init__(self) -> None:
        self.requests: dict[str, list[dict]] = defaultdict(list)
        self.plan: dict[str, list[int]] = {}
        self.hold: dict[str, threading.Event] = {}
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests[self.path].append({"headers": dict(self.headers), "body": body})
                held = receiver.hold.pop(self.path, None)
                if held is not None:
                    held.wait(30)
                    return  # the caller is gone (killed): no answer
                statuses = receiver.plan.get(self.path) or []
                status = statuses.pop(0) if statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"


@pytest.fixture(scope="module")
def receiver():
    r = Receiver()
    r.thread.start()
    yield r
    for held in r.hold.values():
        held.set()
    r.server.shutdown()


@pytest.fixture(scope="module")
def callback_settings(database_url, broker):
    s = isolated_settings(database_url, broker.bootstrap, http_allow_hosts=["127.0.0.1"],
                          callback_retry_delays_s=[0.3, 0.6], callback_timeout_s=3.0, callback_lease_s=4.0,
                          callback_poll_s=0.2, public_url="http://agentloom.test")
    yield s
    drop_schema(database_url, s.db_schema)


@pytest_asyncio.fixture(scope="module", loop_scope="session")
async def stack(callback_settings):
    async with running_stack(callback_settings, executors=1, notifier=True) as running:
        yield running


async def owner_key(stack, user: str, permissions=ALL) -> str:
    async with stack.client(user) as c:
        return (await new_key(c, permissions))[1]


async def register(ext, url: str, **extra) -> dict:
    r = await ext.post(f"{EXT}/webhooks", json={"url": url, **extra})
    assert r.status_code == 201, r.text
    return r.json()


async def run_adder(stack, user: str, x: int = 1) -> tuple[str, str]:
    async with stack.client(user) as c:
        graph = (await c.post("/api/graphs", json={"graph": adder_graph(f"adder-{x}")})).json()
        r = await c.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {"x": x}})
        assert r.status_code == 200, r.text
        await stack.wait_terminal(c, graph["id"], r.json()["id"])
    return graph["id"], r.json()["id"]


async def deliveries(ext, webhook_id: str, **params) -> dict:
    r = await ext.get(f"{EXT}/webhooks/{webhook_id}/deliveries", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def settled(ext, webhook_id: str, count: int = 1, status: str = "succeeded", timeout: float = 30) -> list:
    async def check():
        items = (await deliveries(ext, webhook_id))["deliveries"]
        return items if len(items) >= count and all(d["status"] == status for d in items) else None

    return await eventually(check, timeout=timeout, message=f"{count} delivery(ies) {status}")


async def received(receiver: Receiver, path: str, count: int = 1, timeout: float = 30) -> list[dict]:
    async def check():
        got = receiver.requests.get(path, [])
        return list(got) if len(got) >= count else None

    return await eventually(check, timeout=timeout, message=f"{count} request(s) at {path}")


def scheduled_events(stack, webhook_id: str) -> list:
    store = EventStore(stack.datastore, "callbacks")
    return [e for e in store.read_log(after=0, limit=100_000)
            if e.type == CallbackDeliveryScheduled.TYPE and e.decode().callback_id == webhook_id]


async def test_a_signed_delivery_verifies_at_the_receiver_and_is_recorded_once(stack, user_ids, receiver):
    alice = user_ids["alice"]
    path = f"/signed-{uuid.uuid4().hex[:6]}"
    async with external(stack, await owner_key(stack, alice)) as ext:
        hook = await register(ext, receiver.url(path), description="CI")
        assert len(hook["secret"]) >= 40 and hook["events"] == list(EVENTS)
        not_failed = await register(ext, receiver.url(path + "-failed"), events=["execution.failed"])
        other_graph = await register(ext, receiver.url(path + "-other"), graph_id=str(uuid.uuid4()))
        listed = (await ext.get(f"{EXT}/webhooks")).json()
        assert {w["id"] for w in listed} == {hook["id"], not_failed["id"], other_graph["id"]}
        assert all("secret" not in w for w in listed)
        assert "secret" not in (await ext.get(f"{EXT}/webhooks/{hook['id']}")).json()

        graph_id, exec_id = await run_adder(stack, alice, x=40)
        [request] = await received(receiver, path)
        h, body = request["headers"], request["body"]
        assert signing.verify(hook["secret"], h[signing.TIMESTAMP_HEADER], body, h[signing.SIGNATURE_HEADER])
        assert not signing.verify("wrong", h[signing.TIMESTAMP_HEADER], body, h[signing.SIGNATURE_HEADER])
        payload = json.loads(body)
        assert h[signing.EVENT_HEADER] == payload["event"] == "execution.completed"
        assert h[signing.DELIVERY_HEADER] == payload["delivery_id"]
        assert payload["webhook_id"] == hook["id"]
        assert payload["execution"]["id"] == exec_id and payload["execution"]["graph_id"] == graph_id
        assert payload["execution"]["status"] == "COMPLETED" and payload["execution"]["graph_version"] == 1
        assert payload["execution"]["results_url"].endswith(f"/graphs/{graph_id}/executions/{exec_id}/results")
        [delivery] = await settled(ext, hook["id"])
        assert delivery["id"] == payload["delivery_id"] and delivery["attempts"] == 1
        assert delivery["last_status_code"] == 200 and delivery["execution_id"] == exec_id
        await asyncio.sleep(1.0)
        assert receiver.requests.get(path + "-failed", []) == [] == receiver.requests.get(path + "-other", [])
        assert (await deliveries(ext, not_failed["id"]))["deliveries"] == []

        # the same run end consumed again (a replayed batch) schedules and sends nothing new, also
        # twice in one batch beside the run end of a user without webhooks
        _, bobs_run = await run_adder(stack, user_ids["bob"])
        published = await read_topic(stack.settings, stack.settings.topic("executions"), expect=10_000, timeout=3)
        ends = [env for env in published if env.stream_id == uuid.UUID(exec_id) and env.type == "ExecutionCompleted"]
        bobs_end = next(env for env in published if env.stream_id == uuid.UUID(bobs_run)
                        and env.type == "ExecutionCompleted")
        deliverer = CallbackDeliverer(stack.settings, stack.notifier.stores)
        assert deliverer.schedule(ends[0]) == [delivery["id"]] and deliverer.stats.duplicates == 1
        assert deliverer.schedule_batch([ends[0], bobs_end, ends[0]]) == [delivery["id"], delivery["id"]]
        assert deliverer.stats.duplicates == 3 and deliverer.stats.scheduled == 0
        await deliverer.attempt(delivery["id"])  # done: no request
        assert len(receiver.requests[path]) == 1 and len(scheduled_events(stack, hook["id"])) == 1


async def test_500s_are_retried_with_the_same_delivery_id_until_a_2xx(stack, user_ids, receiver):
    alice = user_ids["alice"]
    path = f"/flaky-{uuid.uuid4().hex[:6]}"
    receiver.plan[path] = [500, 503]
    async with external(stack, await owner_key(stack, alice)) as ext:
        hook = await register(ext, receiver.url(path))
        await run_adder(stack, alice)
        requests = await received(receiver, path, 3)
        assert len({r["headers"][signing.DELIVERY_HEADER] for r in requests}) == 1
        assert len({r["body"] for r in requests}) == 1  # every attempt sends the same bytes
        for r in requests:
            assert signing.verify(hook["secret"], r["headers"][signing.TIMESTAMP_HEADER], r["body"],
                                  r["headers"][signing.SIGNATURE_HEADER])
        [delivery] = await settled(ext, hook["id"])
        assert delivery["attempts"] == 3 and delivery["last_status_code"] == 200 and delivery["last_error"] is None
        await asyncio.sleep(1.0)
        assert len(receiver.requests[path]) == 3


async def test_private_destinations_are_refused_at_registration(stack, user_ids, receiver):
    async with external(stack, await owner_key(stack, user_ids["alice"])) as ext:
        for url in ("http://169.254.169.254/latest/meta-data/", "http://10.0.0.1/hook", "http://[::1]:8080/",
                    "http://192.168.1.10/", "http://0.0.0.0/", "http://[::ffff:169.254.169.254]/"):
            r = await ext.post(f"{EXT}/webhooks", json={"url": url})
            assert r.status_code == 400, (url, r.text)
            assert "destination not allowed" in r.json()["detail"], r.text
        hook = await register(ext, receiver.url("/fine"))
        r = await ext.patch(f"{EXT}/webhooks/{hook['id']}", json={"url": "http://10.0.0.1/"})
        assert r.status_code == 400 and "destination not allowed" in r.json()["detail"]
        assert (await ext.get(f"{EXT}/webhooks/{hook['id']}")).json()["url"] == receiver.url("/fine")
        assert [w["url"] for w in (await ext.get(f"{EXT}/webhooks")).json()] == [receiver.url("/fine")]


async def test_a_destination_refused_at_delivery_time_is_not_called(stack, user_ids, receiver):
    """The command API admitted the URL; the notifier's policy (here: no allow-list, as if the name
    now resolved to a private address) refuses it on every attempt and records why."""
    alice = user_ids["alice"]
    path = f"/rebound-{uuid.uuid4().hex[:6]}"
    await stack.stop("notifier")
    strict = NotifierService(stack.settings.model_copy(update={"http_allow_hosts": []}))
    stack.start("strict-notifier", strict.run)
    try:
        await eventually(lambda: _ready(strict), timeout=30, message="the strict notifier joined its groups")
        async with external(stack, await owner_key(stack, alice)) as ext:
            hook = await register(ext, receiver.url(path))
            await run_adder(stack, alice)

            async def refused_twice():
                items = (await deliveries(ext, hook["id"]))["deliveries"]
                return items if items and items[0]["attempts"] >= 2 and items[0]["last_error"] else None

            [delivery] = await eventually(refused_twice, timeout=30, message="two refused attempts")
            assert delivery["status"] == "pending" and delivery["last_status_code"] is None
            assert delivery["last_error"] == "destination not allowed: 127.0.0.1"
            assert receiver.requests.get(path, []) == []
            # deleting the webhook ends its pending delivery
            assert (await ext.delete(f"{EXT}/webhooks/{hook['id']}")).status_code == 204
            store = EventStore(stack.datastore, "callbacks")

            def abandoned():
                events = store.read_stream(uuid.UUID(delivery["id"]))
                return events[-1].decode() if events[-1].type == "CallbackDeliveryAbandoned" else None

            async def check():
                return await asyncio.to_thread(abandoned)

            assert (await eventually(check, timeout=20, message="abandoned")).reason == "callback_deleted"
    finally:
        await stack.stop("strict-notifier")
        stack.notifier = stack.start_notifier()
        await eventually(lambda: _ready(stack.notifier), timeout=30, message="notifier back")


async def _ready(service) -> bool:
    return service.ready


async def test_one_delivery_per_run_end_when_the_notifier_is_killed_mid_request(stack, user_ids, receiver, tmp_path):
    """A real notifier process is killed with SIGKILL while the receiver holds its request open;
    the next process attempts again after the claim's lease with the same delivery id, and the
    record shows one delivery (scheduled once) that succeeded on its second attempt."""
    alice = user_ids["alice"]
    path = f"/killed-{uuid.uuid4().hex[:6]}"
    release = receiver.hold[path] = threading.Event()
    await stack.stop("notifier")
    proc = ServiceProcess("notifier", stack.settings, tmp_path).start()
    try:
        async with external(stack, await owner_key(stack, alice)) as ext:
            hook = await register(ext, receiver.url(path))
            await run_adder(stack, alice)
            await received(receiver, path, 1, timeout=60)
            proc.kill9()
            release.set()
            proc = ServiceProcess("notifier", stack.settings, tmp_path).start()
            requests = await received(receiver, path, 2, timeout=60)
            [delivery] = await settled(ext, hook["id"], timeout=30)
            await asyncio.sleep(1.5)
            assert len(receiver.requests[path]) == 2, proc.log()
            assert {r["headers"][signing.DELIVERY_HEADER] for r in requests} == {delivery["id"]}
            assert delivery["attempts"] == 2 and delivery["status"] == "succeeded"
            assert len(scheduled_events(stack, hook["id"])) == 1
            assert len((await deliveries(ext, hook["id"]))["deliveries"]) == 1
    finally:
        proc.stop()
        stack.notifier = stack.start_notifier()
        await eventually(lambda: _ready(stack.notifier), timeout=30, message="notifier back")


async def test_another_users_webhook_is_not_found_on_every_route(stack, user_ids, receiver):
    async with external(stack, await owner_key(stack, user_ids["alice"])) as alice, \
            external(stack, await owner_key(stack, user_ids["bob"])) as bob:
        hook = await register(alice, receiver.url("/bola"))
        wid = hook["id"]
        assert (await bob.get(f"{EXT}/webhooks/{wid}")).status_code == 404
        assert (await bob.patch(f"{EXT}/webhooks/{wid}", json={"enabled": False})).status_code == 404
        assert (await bob.patch(f"{EXT}/webhooks/{wid}", json={"url": "http://10.0.0.1/"})).status_code == 404
        assert (await bob.delete(f"{EXT}/webhooks/{wid}")).status_code == 404
        assert (await bob.get(f"{EXT}/webhooks/{wid}/deliveries")).status_code == 404
        assert (await bob.get(f"{EXT}/webhooks")).json() == []
        assert (await alice.get(f"{EXT}/webhooks/{wid}")).json()["enabled"] is True
        # the owner's own changes
        r = await alice.patch(f"{EXT}/webhooks/{wid}", json={"enabled": False, "events": ["execution.failed"],
                                                            "graph_id": str(uuid.uuid4())})
        assert r.status_code == 200 and r.json()["enabled"] is False and r.json()["events"] == ["execution.failed"]
        r = await alice.patch(f"{EXT}/webhooks/{wid}", json={"graph_id": None})
        assert r.status_code == 200 and r.json()["graph_id"] is None
        assert (await alice.delete(f"{EXT}/webhooks/{wid}")).status_code == 204
        assert (await alice.get(f"{EXT}/webhooks/{wid}")).status_code == 404
        assert (await alice.delete(f"{EXT}/webhooks/{wid}")).status_code == 404


async def test_permissions_and_keys(stack, user_ids, receiver):
    alice = user_ids["alice"]
    async with external(stack, await owner_key(stack, alice, ["READ_INTEGRATIONS"])) as reader, \
            external(stack, None) as anonymous, external(stack, await owner_key(stack, alice)) as full:
        assert (await anonymous.get(f"{EXT}/webhooks")).status_code == 401
        assert (await reader.get(f"{EXT}/webhooks")).status_code == 200
        r = await reader.post(f"{EXT}/webhooks", json={"url": receiver.url("/p")})
        assert r.status_code == 403 and "MANAGE_INTEGRATIONS" in r.text
        hook = await register(full, receiver.url("/p"))
        assert (await reader.delete(f"{EXT}/webhooks/{hook['id']}")).status_code == 403
        assert (await reader.patch(f"{EXT}/webhooks/{hook['id']}", json={"enabled": False})).status_code == 403


async def test_every_bound_is_a_4xx(stack, user_ids, receiver):
    async with external(stack, await owner_key(stack, user_ids["carol"])) as ext:
        url = receiver.url("/bounds")
        bad_bodies = [
            {"url": url + "/" + "a" * 2048}, {"url": "ftp://127.0.0.1/"}, {"url": ""}, {"url": "http:///nohost"},
            {"url": "http://127.0.0.1:99999/"}, {"url": "http://user:pw@127.0.0.1/"}, {"url": url, "events": []},
            {"url": url, "events": ["execution.started"]}, {"url": url, "events": ["execution.failed"] * 7},
            {"url": url, "description": "d" * 501}, {"url": url, "graph_id": "not-a-uuid"},
            {"url": url, "secret": "mine"}, {"events": ["execution.failed"]}, {"url": 5},
        ]
        for body in bad_bodies:
            r = await ext.post(f"{EXT}/webhooks", json=body)
            assert r.status_code in (400, 422), (body, r.status_code, r.text)
        assert (await ext.get(f"{EXT}/webhooks")).json() == []
        hooks = [await register(ext, url) for _ in range(20)]
        r = await ext.post(f"{EXT}/webhooks", json={"url": url})
        assert r.status_code == 400 and "at most 20" in r.text
        wid = hooks[0]["id"]
        for body in ({"events": None}, {"events": []}, {"url": None}, {"url": "ftp://x/"}, {"enabled": None},
                     {"description": "d" * 501}, {"graph_id": "nope"}, {"other": 1}):
            r = await ext.patch(f"{EXT}/webhooks/{wid}", json=body)
            assert r.status_code in (400, 422), (body, r.status_code, r.text)
        for path in ("/webhooks/not-a-uuid", "/webhooks/not-a-uuid/deliveries"):
            assert (await ext.get(EXT + path)).status_code == 400
        assert (await ext.delete(f"{EXT}/webhooks/not-a-uuid")).status_code == 400
        assert (await ext.get(f"{EXT}/webhooks/{uuid.uuid4()}")).status_code == 404
        for params in ({"page_size": 101}, {"page_size": 0}, {"page": 0}):
            assert (await ext.get(f"{EXT}/webhooks/{wid}/deliveries", params=params)).status_code == 422
        page = await deliveries(ext, wid, page=2, page_size=100)
        assert page == {"deliveries": [], "pagination": {"total_items": 0, "total_pages": 0, "current_page": 2,
                                                         "page_size": 100}}


async def test_a_sub_graph_run_tells_nothing_its_parent_run_tells_once(stack, user_ids, receiver):
    alice = user_ids["alice"]
    path = f"/nested-{uuid.uuid4().hex[:6]}"
    async with external(stack, await owner_key(stack, alice)) as ext, stack.client(alice) as c:
        hook = await register(ext, receiver.url(path))
        child = (await c.post("/api/graphs", json={"graph": child_graph()})).json()
        parent = {"name": "parent", "nodes": [
            {"id": "i", "block_id": INPUT, "input_default": {"name": "x"}},
            {"id": "a", "block_id": AGENT_EXECUTOR, "input_default": {
                "graph_id": child["id"], "graph_version": 1, "inputs": {},
                "input_schema": child["input_schema"], "output_schema": child["output_schema"]}},
            {"id": "o", "block_id": OUTPUT, "input_default": {"name": "result"}},
        ], "links": [{"source_id": "i", "sink_id": "a", "source_name": "result", "sink_name": "n"},
                     {"source_id": "a", "sink_id": "o", "source_name": "doubled", "sink_name": "value"}]}
        pid = (await c.post("/api/graphs", json={"graph": parent})).json()["id"]
        run = (await c.post(f"/api/graphs/{pid}/execute/1", json={"inputs": {"x": 21}})).json()
        assert (await stack.wait_terminal(c, pid, run["id"]))["status"] == "COMPLETED"
        [request] = await received(receiver, path)
        assert json.loads(request["body"])["execution"]["id"] == run["id"]
        await settled(ext, hook["id"])
        await asyncio.sleep(1.0)
        assert len(receiver.requests[path]) == 1


async def test_a_stopped_run_tells_only_the_webhooks_that_want_terminated(stack, user_ids, receiver):
    alice = user_ids["alice"]
    path = f"/stopped-{uuid.uuid4().hex[:6]}"
    async with external(stack, await owner_key(stack, alice)) as ext, stack.client(alice) as c:
        wants = await register(ext, receiver.url(path), events=["execution.terminated"])
        await register(ext, receiver.url(path + "-completed"), events=["execution.completed", "execution.failed"])
        graph = (await c.post("/api/graphs", json={"graph": slow_fanout_graph(items=2, seconds=5)})).json()
        run = (await c.post(f"/api/graphs/{graph['id']}/execute/1", json={"inputs": {}})).json()
        await asyncio.sleep(1.0)
        r = await c.post(f"/api/graphs/{graph['id']}/executions/{run['id']}/stop")
        assert r.status_code == 200, r.text
        [request] = await received(receiver, path)
        payload = json.loads(request["body"])
        assert payload["event"] == request["headers"][signing.EVENT_HEADER] == "execution.terminated"
        assert payload["execution"]["status"] == "TERMINATED" and payload["execution"]["id"] == run["id"]
        [delivery] = await settled(ext, wants["id"])
        assert delivery["event"] == "execution.terminated"
        await asyncio.sleep(1.0)
        assert receiver.requests.get(path + "-completed", []) == []
