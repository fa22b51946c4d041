"""The whole stack started the way `make run` starts it (embedded PostgreSQL, local Tansu broker,
every service as a child process), driven over HTTP like a user would."""

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


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("stack")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}
    env["AGENTLOOM_DATA_DIR"] = str(data_dir)
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


def _client(local_stack) -> httpx.Client:
    return httpx.Client(base_url=local_stack["base"], headers={"Authorization": f"Bearer {local_stack['token']}"},
                        timeout=30)


def _queue(client, gid: str, xs) -> dict[str, int]:
    out = {}
    for x in xs:
        r = client.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"x": x}})
        assert r.status_code == 200, r.text
        out[r.json()["id"]] = x
    return out


def _all_complete_exactly_once(client, gid: str, runs: dict[str, int], timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    pending = dict(runs)
    while pending and time.monotonic() < deadline:
        for exec_id, x in list(pending.items()):
            r = client.get(f"/api/graphs/{gid}/executions/{exec_id}")
            if r.status_code == 200 and r.json()["status"] in ("COMPLETED", "FAILED", "TERMINATED"):
                got = r.json()
                assert got["status"] == "COMPLETED" and got["outputs"] == {"result": [x + 1]}, got
                assert [n["status"] for n in got["node_executions"]].count("COMPLETED") == 3, got
                del pending[exec_id]
        time.sleep(0.2)
    assert not pending, f"runs not finished: {pending}"


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


def test_a_killed_broker_is_restarted_on_its_port_and_every_run_completes_once(local_stack):
    log = (local_stack["data_dir"] / "up.log").read_text()
    port = log.split("local Tansu broker on 127.0.0.1:")[1].split()[0]
    (broker,) = _pids_matching("tansu", f"127.0.0.1:{port}")
    with _client(local_stack) as client:
        gid = client.post("/api/graphs", json={"graph": ADD_GRAPH}).json()["id"]
        runs = _queue(client, gid, range(5))
        os.kill(broker, signal.SIGKILL)
        runs |= _queue(client, gid, range(5, 10))  # accepted while the broker is gone: recorded in the store
        _all_complete_exactly_once(client, gid, runs)
    (again,) = _pids_matching("tansu", f"127.0.0.1:{port}")
    assert again != broker
    assert _wait_health(local_stack)["components"]["broker"]["ready"] is True


def test_a_killed_postgres_is_restarted_and_every_acknowledged_run_completes_once(local_stack):
    pgdata = local_stack["data_dir"] / "pgdata"
    postmaster = int((pgdata / "postmaster.pid").read_text().split()[0])
    with _client(local_stack) as client:
        gid = client.post("/api/graphs", json={"graph": ADD_GRAPH}).json()["id"]
        runs = _queue(client, gid, range(5))
        os.kill(postmaster, signal.SIGKILL)
        red = None
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and red is None:
            r = httpx.get(f"{local_stack['base']}/health", timeout=10)
            if r.status_code == 503 and not r.json()["components"]["database"]["ready"]:
                red = r.json()
            time.sleep(0.05)
        assert red is not None, "health never said the database was down"
        _wait_health(local_stack)
        runs |= _queue(client, gid, range(5, 10))
        _all_complete_exactly_once(client, gid, runs)
    assert int((pgdata / "postmaster.pid").read_text().split()[0]) != postmaster


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
