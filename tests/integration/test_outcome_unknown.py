"""Outcome unknown (issue 17): an HTTP POST interrupted by kill -9 of its executor is not sent
again when the run resumes; the run waits for its owner, who re-runs the node or marks it done
with given outputs. A module of its own: its stack must not share the test database's connections
with another module's (100 in all)."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.conftest import drop_schema, isolated_settings
from tests.integration.helpers import eventually
from tests.integration.processes import ServiceProcess
from tests.integration.stack import running_stack
from tests.integration.test_graphs_api import OUTPUT
from tests.integration.test_human_review import WEB, _status, link


class HangingOrders:
    """An HTTP server whose POSTs are counted and never answered (until it closes): a request in
    flight when the executor is killed."""

    def __init__(self) -> None:
        self.posts = 0
        self.release = threading.Event()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                owner.posts += 1
                owner.release.wait(30)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, format, *args):  # noqa: A002 - stdlib signature
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()


async def test_an_http_post_interrupted_by_kill_9_goes_to_outcome_unknown_instead_of_running_twice(
        database_url, broker, tmp_path):
    settings = isolated_settings(database_url, broker.bootstrap, http_allow_hosts=["127.0.0.1"])
    orders = HangingOrders()
    graph = {"name": "place order", "nodes": [
        {"id": "post", "block_id": WEB, "input_default": {"url": f"{orders.url}/orders", "method": "POST",
                                                          "body": {"sku": 1}}},
        {"id": "out", "block_id": OUTPUT, "input_default": {"name": "order"}},
    ], "links": [link("post", "out", "response", "value")]}
    first = second = None
    try:
        async with running_stack(settings) as stack, stack.client("alice") as alice:
            first = ServiceProcess("executor", settings, tmp_path).start()
            gid = (await alice.post("/api/graphs", json={"graph": graph})).json()["id"]
            exec_id = (await alice.post(f"/api/graphs/{gid}/execute/1", json={})).json()["id"]

            async def sent():
                return orders.posts == 1

            await eventually(sent, timeout=60, message="the POST is sent")
            first.kill9()
            second = ServiceProcess("executor", settings, tmp_path).start()
            paused = await _status(alice, gid, exec_id, "REVIEW", timeout=60)
            post, = [ne for ne in paused["node_executions"] if ne["block_id"] == WEB]
            assert post["status"] == "REVIEW"
            row, = (await alice.get(f"/api/review/execution/{exec_id}")).json()
            assert row["kind"] == "outcome_unknown" and row["payload"]["method"] == "POST"
            assert orders.posts == 1  # not sent again on resume

            r = await alice.post("/api/review/action", json={"reviews": [
                {"node_exec_id": post["node_exec_id"], "approved": False,
                 "reviewed_data": {"response": {"ok": True, "by": "hand"}}}]})
            assert r.status_code == 200, r.text
            done = await _status(alice, gid, exec_id, "COMPLETED", timeout=60)
            assert done["outputs"] == {"order": [{"ok": True, "by": "hand"}]}
            assert orders.posts == 1
    finally:
        for proc in (first, second):
            if proc:
                proc.kill9()
        orders.close()
        drop_schema(database_url, settings.db_schema)
