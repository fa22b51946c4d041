"""`make bench`: the workloads of ../shared/bench against the whole local stack.

Starts `agentloom up` (embedded PostgreSQL unless DATABASE_URL is set, local Tansu broker unless
KAFKA_BOOTSTRAP_SERVERS is set), then prints one line per figure. Every execution's output is
checked; a wrong answer aborts the run.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx

from bench.harness import (
    FIGURES,
    TERMINAL,
    Watcher,
    bench_dir,
    bench_port,
    bench_settings,
    check,
    finished,
    pct,
    report,
    settle,
    stack_cpu_percent,
)

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ROOT.parent / "shared" / "bench"


class Stack:
    def __init__(self, *, data_dir: Path | None = None, port: int | None = None, fresh: bool = True,
                 args: tuple[str, ...] = (), env: dict[str, str] | None = None) -> None:
        self.data_dir = (data_dir or bench_dir()).resolve()
        self.port = port or bench_port()
        self.fresh = fresh  # False: start over the installation the last run left (bench/startup.py)
        self.healthy_s = 0.0  # from `agentloom up` to a green /health
        self.args = args  # more options of `agentloom up` (bench/scaleout.py: --executors 2)
        self.env = {**os.environ, "AGENTLOOM_DATA_DIR": str(self.data_dir), "AGENTLOOM_LOG_LEVEL": "WARNING",
                    **(env or {})}
        self.proc: subprocess.Popen | None = None

    @classmethod
    def beside(cls, suffix: str, port_offset: int, **kwargs) -> Stack:
        """An installation of its own next to the main one (data in ``<bench dir>-<suffix>``, the
        main port plus ``port_offset``), for a section that restarts or reshapes its stack."""
        main = bench_dir()
        return cls(data_dir=main.with_name(f"{main.name}-{suffix}"), port=bench_port() + port_offset, **kwargs)

    def __enter__(self) -> Stack:
        # A fresh installation each run: an old store would be refilled into the (memory) broker at
        # start and replayed by every consumer while the benchmark runs.
        if self.fresh and (self.data_dir / "pgdata").exists() and not os.environ.get("DATABASE_URL"):
            subprocess.run(["pkill", "-f", str(self.data_dir / "pgdata")], check=False)
            shutil.rmtree(self.data_dir, ignore_errors=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.data_dir / "up.log", "wb")
        started = time.monotonic()
        command = [sys.executable, "-m", "services.cli.main", "up", "--port", str(self.port), *self.args]
        self.proc = subprocess.Popen(command, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT)
        base = self.base
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/health", timeout=2).status_code == 200:
                    self.healthy_s = time.monotonic() - started
                    break
            except httpx.HTTPError:
                pass
            if self.proc.poll() is not None:
                raise SystemExit(f"agentloom up exited; see {self.data_dir / 'up.log'}")
            time.sleep(0.1)
        else:
            raise SystemExit("stack not healthy within 180 s")
        time.sleep(3)  # past the start-up work (topics, first polls)
        self.idle_cpu = stack_cpu_percent(self, 2.0)  # what settle() counts as quiet
        user = f"bench-{int(time.time())}"  # a fresh user: list sizes do not grow across runs
        self.token = subprocess.run([sys.executable, "-m", "services.cli.main", "token", "--user", user], cwd=ROOT,
                                    env=self.env, capture_output=True, text=True, check=True).stdout.strip()
        return self

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __exit__(self, *exc) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.proc.kill()

    def client(self, **kwargs) -> httpx.AsyncClient:
        # Idle connections are dropped before the server's 5 s keep-alive closes them (uvicorn's
        # default): reusing one the server is closing at that moment fails the request (ReadError).
        limits = httpx.Limits(max_connections=200, max_keepalive_connections=200, keepalive_expiry=2.0)
        return httpx.AsyncClient(base_url=self.base, headers={"Authorization": f"Bearer {self.token}"},
                                 timeout=60, limits=limits, **kwargs)


async def create_graph(client: httpx.AsyncClient, name: str) -> dict:
    graph = json.loads((WORKLOADS / name).read_text())
    r = await client.post("/api/graphs", json={"graph": graph})
    r.raise_for_status()
    return r.json()


async def run_once(client: httpx.AsyncClient, graph: dict, inputs: dict, watcher: Watcher) -> tuple[float, dict]:
    start = time.perf_counter()
    r = await client.post(f"/api/graphs/{graph['id']}/execute/{graph['version']}", json={"inputs": inputs})
    r.raise_for_status()
    exec_id = r.json()["id"]
    await asyncio.wait_for(watcher.event_for(exec_id).wait(), timeout=120)
    got = await finished(client, graph["id"], exec_id)
    return time.perf_counter() - start, got


async def bench_graph_api(client: httpx.AsyncClient) -> None:
    graph = json.loads((WORKLOADS / "small3.json").read_text())
    creates, reads = [], []
    ids = []
    for _ in range(100):
        t = time.perf_counter()
        r = await client.post("/api/graphs", json={"graph": graph})
        creates.append(time.perf_counter() - t)
        ids.append(r.json()["id"])
    for gid in ids * 2:
        t = time.perf_counter()
        r = await client.get(f"/api/graphs/{gid}")
        reads.append(time.perf_counter() - t)
        check(r.status_code == 200, "graph read")
    report("graph-create", n=len(creates), p50_ms=pct(creates, 50) * 1e3, p99_ms=pct(creates, 99) * 1e3)
    report("graph-read", n=len(reads), p50_ms=pct(reads, 50) * 1e3, p99_ms=pct(reads, 99) * 1e3)


async def bench_chain40(stack: Stack, client: httpx.AsyncClient) -> None:
    graph = await create_graph(client, "chain40.json")
    async with Watcher(stack, graph["id"]) as watcher:
        await run_once(client, graph, {"x": 1}, watcher)  # warm-up
        times = await _runs(client, graph, {"x": 1}, watcher, lambda r: r["outputs"].get("result") == [41])
    median = statistics.median(times)
    report("chain40", median_s=median, min_s=min(times), ms_per_node_transition=median / 40 * 1e3)


async def _runs(client, graph, inputs, watcher, correct, n: int = 5) -> list[float]:
    times = []
    for _ in range(n):
        seconds, result = await run_once(client, graph, inputs, watcher)
        check(result["status"] == "COMPLETED" and correct(result), f"{graph['name']} -> {result['outputs']}")
        times.append(seconds)
    return times


async def bench_fan20(stack: Stack, client: httpx.AsyncClient) -> None:
    graph = await create_graph(client, "fan20.json")
    expected = {f"k{i:02d}": 2 * i for i in range(1, 21)}
    async with Watcher(stack, graph["id"]) as watcher:
        await run_once(client, graph, {"x": 2}, watcher)
        times = await _runs(client, graph, {"x": 2}, watcher, lambda r: r["outputs"].get("result") == [expected])
    report("fan20", median_s=statistics.median(times), min_s=min(times))


BURST_REPS = 3  # as the peer kit measures: a warm-up burst first, then the median of three


async def _burst(stack: Stack, client: httpx.AsyncClient, graph: dict, watcher: Watcher,
                 offset: int) -> tuple[float, float, dict[str, dict]]:
    """100 runs of small3 POSTed at once; (seconds until the query API reports every one ended,
    seconds until every POST was answered, each run's final body), outputs checked."""
    start = time.perf_counter()
    from bench.httpload import post_each

    # the thin client: httpx spent ~3.4 ms of CPU per POST, more than the server accepting it,
    # and on a 2-core machine the client's CPU is taken from the stack it measures
    queued = await post_each("127.0.0.1", stack.port, stack.token,
                             f"/api/graphs/{graph['id']}/execute/{graph['version']}",
                             [json.dumps({"inputs": {"x": offset + i}}).encode() for i in range(100)])
    check(all(status == 200 for status, _ in queued), f"burst100: answers {[status for status, _ in queued]}")
    exec_ids = [(offset + i, json.loads(body)["id"]) for i, (_, body) in enumerate(queued)]
    accepted = time.perf_counter() - start
    await asyncio.wait_for(asyncio.gather(*(watcher.event_for(e).wait() for _, e in exec_ids)), timeout=300)
    while True:  # then the query API must report all of them
        listed = {e["id"]: e["status"] for e in (await client.get("/api/executions")).json()}
        if all(listed.get(e) in TERMINAL for _, e in exec_ids):
            break
        await asyncio.sleep(0.005)
    seconds = time.perf_counter() - start
    results = await asyncio.gather(*(client.get(f"/api/graphs/{graph['id']}/executions/{e}") for _, e in exec_ids))
    ended = {}
    for (x, e), r in zip(exec_ids, results):
        body = ended[e] = r.json()
        check(body["status"] == "COMPLETED" and body["outputs"].get("result") == [x + 1], f"burst100[{x}] -> {body}")
    return seconds, accepted, ended


async def bench_burst100(stack: Stack, client: httpx.AsyncClient) -> str:
    graph = await create_graph(client, "small3.json")
    async with Watcher(stack, graph["id"]) as watcher:
        *_, warm = await _burst(stack, client, graph, watcher, 0)  # the API's pools and caches, not counted
        await _notified(watcher, warm)
        walls, accepts, runs = [], [], {}
        for rep in range(1, BURST_REPS + 1):
            seconds, accepted, ended = await _burst(stack, client, graph, watcher, rep * 100)
            walls.append(seconds)
            accepts.append(accepted)
            runs.update(ended)
            await _notified(watcher, ended)  # the next burst starts on a stack done with this one
        median = statistics.median(walls)
        report("burst100", seconds=median, min_s=min(walls), max_s=max(walls), accepted_s=statistics.median(accepts),
               executions_per_s=100 / median, node_executions_per_s=300 / median)
        _notification_latency(watcher, runs)
    health = (await client.get("/health")).json()["components"]["projector"]["details"][0]
    report("projection-lag", workload="burst100", p50_ms=float(health["lag_p50_ms"]),
           p99_ms=float(health["lag_p99_ms"]))
    return next(reversed(runs))


async def _notified(watcher: Watcher, runs: dict[str, dict]) -> None:
    """Until every run's AGENT_RUN notification arrived on the user's WebSocket (at most 60 s)."""
    deadline = time.monotonic() + 60
    while not set(runs) <= set(watcher.notified) and time.monotonic() < deadline:
        await asyncio.sleep(0.05)


def _notification_latency(watcher: Watcher, runs: dict[str, dict]) -> None:
    """Run end (the terminal event's time, ``ended_at``) to the AGENT_RUN ``notification`` message
    on the user's WebSocket: relay, notifier, store and the hub's push, under burst100 (``_notified``
    waited for them)."""
    # The user's socket may also carry a late notification of an earlier workload's run: only the
    # burst's runs are counted, each of them must be there.
    missing = set(runs) - set(watcher.notified)
    check(not missing, f"AGENT_RUN notifications missing for {len(missing)}/{len(runs)} runs")
    latencies = [(watcher.notified[e] - datetime.fromisoformat(body["ended_at"])).total_seconds()
                 for e, body in runs.items()]
    report("notification", workload="burst100", p50_ms=pct(latencies, 50) * 1e3, p99_ms=pct(latencies, 99) * 1e3)


async def bench_ws_latency(stack: Stack, client: httpx.AsyncClient) -> None:
    """Store commit (event time) to WebSocket client, over chain40 runs watched live."""
    from datetime import datetime

    import orjson
    import websockets

    graph = await create_graph(client, "chain40.json")
    latencies: list[float] = []
    url = stack.base.replace("http://", "ws://") + f"/ws?token={stack.token}"
    async with websockets.connect(url, max_size=None) as ws:
        await ws.send(orjson.dumps({"method": "subscribe_graph_executions",
                                    "data": {"graph_id": graph["id"]}}).decode())
        await ws.recv()
        for _ in range(3):
            r = await client.post(f"/api/graphs/{graph['id']}/execute/{graph['version']}", json={"inputs": {"x": 1}})
            exec_id = r.json()["id"]
            await ws.send(orjson.dumps({"method": "subscribe_graph_execution",
                                        "data": {"graph_exec_id": exec_id}}).decode())
            subscribed = datetime.now(UTC)
            while True:
                msg = orjson.loads(await ws.recv())
                received = datetime.now(UTC)
                data = msg.get("data") or {}
                if (msg.get("channel") or "").endswith(exec_id) and msg["method"] == "node_execution_event":
                    stamp = (data.get("end_time") or data.get("start_time") or data.get("queue_time")
                             or data.get("add_time"))
                    at = datetime.fromisoformat(stamp) if stamp else None
                    if at and at > subscribed:
                        latencies.append((received - at).total_seconds())
                if msg["method"] == "graph_execution_event" and data.get("id") == exec_id and \
                        data.get("status") in TERMINAL and (msg.get("channel") or "").endswith(exec_id):
                    break
    report("ws-delivery", events=len(latencies), p50_ms=pct(latencies, 50) * 1e3, p99_ms=pct(latencies, 99) * 1e3)


async def bench_api_read(stack: Stack, exec_id: str, duration_s: float = 10.0, clients: int = 50) -> None:
    from bench.httpload import load

    # Steady state: let the background work left by the previous sections (relay, projector,
    # notifier and WebSocket tails catching up) finish first, so the figure is about reads.
    waited = await settle(stack)
    report("api-read settle", waited_s=waited, idle_cpu_percent=stack.idle_cpu)
    for name, path in (("api-read execution", f"/api/executions/{exec_id}"), ("api-read graphs", "/api/graphs")):
        latencies, errors = await load("127.0.0.1", stack.port, stack.token, path, clients=clients, seconds=duration_s)
        check(errors == 0, f"GET {path}: {errors} non-200 answers")
        report(name, clients=clients, rps=len(latencies) / duration_s, p50_ms=pct(latencies, 50) * 1e3,
               p99_ms=pct(latencies, 99) * 1e3)


async def bench_relay(stack: Stack, streams: int = 2000, versions: int = 10) -> None:
    """Events/s through the relay alone: 20,000 events committed in one append, then the time from
    that commit until the relay has published them all (its reads of the log, the envelopes, the
    producer's requests and its position saves). Appending them is timed apart: timing both
    together measured the appending thread as much as the relay."""
    import uuid

    from schemas.events.graphs import ActiveVersionSet
    from services.infra import db
    from services.infra.eventstore import EventStore, make_datastore
    from services.infra.store_contract import NewEvent

    settings = bench_settings(stack)
    datastore = make_datastore(settings, pool_size=2)
    store = EventStore(datastore, "graphs")
    ids = [uuid.uuid4() for _ in range(streams)]
    events = [NewEvent(sid, v, ActiveVersionSet(version=v), user_id="bench-relay")
              for v in range(1, versions + 1) for sid in ids]
    start = time.perf_counter()
    # one transaction: the relay sees all of it at once; its last position is the head to wait for
    head = (await asyncio.to_thread(store.append, events))[-1]
    committed = time.perf_counter()
    datastore.close()
    with db.connect(settings) as conn:
        while True:
            row = conn.execute("SELECT position FROM relay_positions WHERE log = 'graphs'").fetchone()
            if row and row[0] >= head:
                break
            time.sleep(0.002)
    seconds = time.perf_counter() - committed
    report("relay", events=len(events), append_s=committed - start, seconds=seconds,
           events_per_s=len(events) / seconds)


async def bench_ledger(stack: Stack) -> None:
    """Spends/s on one ledger from 16 concurrent writers; reading a ledger with 100k entries."""
    from concurrent.futures import ThreadPoolExecutor

    from schemas.events.credits import LedgerSnapshotTaken
    from services.domain.credits.ledger import Ledger, ledger_stream_id
    from services.infra.eventstore import EventStore, make_datastore
    from services.infra.ledger_service import LedgerService
    from services.infra.migrations import migrate
    from services.infra.store_contract import NewEvent

    # A schema of its own: the ledger store is measured, not the relay and projector fanning out
    # 100k synthetic entries while it runs.
    settings = bench_settings(stack).model_copy(update={"db_schema": f"bench_ledger_{int(time.time())}"})
    await asyncio.to_thread(migrate, settings)
    datastore = make_datastore(settings, pool_size=16)
    store = EventStore(datastore, "credits")
    service = LedgerService(store, snapshot_every=settings.ledger_snapshot_every)
    user = f"bench-ledger-{int(time.time())}"
    service.grant(user, 1_000_000, "bench-grant")
    spends = 2000
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(lambda i: service.spend(user, 1, f"spend-{i}"), range(spends)))
    seconds = time.perf_counter() - start
    check(service.load(user).balance == 1_000_000 - spends, "ledger balance after concurrent spends")
    report("ledger-spend", writers=16, spends=spends, spends_per_s=spends / seconds)

    big = f"bench-ledger-100k-{int(time.time())}"
    ledger, batch, n = Ledger(big), [], 100_000
    for event in ledger.grant(n, "g").events:
        ledger.apply(event)
        batch.append(event)
    for i in range(n):
        events = list(ledger.spend(1, f"k{i}").events)
        for event in events:
            ledger.apply(event)
        batch += events
        if ledger.should_snapshot(every=settings.ledger_snapshot_every):
            snap = ledger.snapshot()
            ledger.apply(snap[0])
            batch += snap
    version, part = 0, []
    for event in [*batch, None]:  # appends of at most 500 events; each snapshot alone
        if event is None or isinstance(event, LedgerSnapshotTaken) or len(part) == 500:
            if part:
                store.append([NewEvent(ledger_stream_id(big), version + j + 1, e, user_id=big)
                              for j, e in enumerate(part)])
                version += len(part)
            part = []
        if isinstance(event, LedgerSnapshotTaken):
            store.append([NewEvent(ledger_stream_id(big), version + 1, event, user_id=big)])
            version += 1
        elif event is not None:
            part.append(event)
    reads = []
    for _ in range(20):  # a cold read each time: newest snapshot plus its tail, from the store
        t = time.perf_counter()
        balance = LedgerService(store)._fold(big).balance  # the uncached path on purpose
        reads.append(time.perf_counter() - t)
    check(balance == 0, "100k-entry ledger balance")
    report("ledger-read-100k", entries=n + 1, p50_ms=pct(reads, 50) * 1e3, p99_ms=pct(reads, 99) * 1e3)
    datastore.close()


async def bench_llm(stack: Stack, client: httpx.AsyncClient, server) -> None:
    """The AutoGPT "AI Function" sample graph (3 inputs -> AITextGenerator -> output) against a local
    OpenAI-compatible server that answers at once: what the platform adds around a model call
    (credential resolution and decryption, the HTTP call, recording), sequential and 50 at a time."""
    sample = ROOT.parent / "shared" / "autogpt" / "agents" / "agent_516d813b-d1bc-470f-add7-c63a4b2c2bad.json"
    if not sample.exists():
        print("llm                    skipped: ../shared/autogpt/agents not found", flush=True)
        return
    answer = '[{"name": "Ada", "age": 36}]'
    server.responder = lambda body, wire: answer
    r = await client.post("/api/integrations/openai/credentials", json={"api_key": "sk-bench", "title": "bench"})
    r.raise_for_status()
    creds = {"openai_api_key_credentials": {k: r.json()[k] for k in ("id", "provider", "type", "title")}}
    r = await client.post("/api/graphs", json={"graph": json.loads(sample.read_text())})
    r.raise_for_status()
    graph = r.json()
    url = f"/api/graphs/{graph['id']}/execute/{graph['version']}"

    async def one(watcher: Watcher) -> float:
        start = time.perf_counter()
        r = await client.post(url, json={"inputs": {}, "credentials_inputs": creds})
        r.raise_for_status()
        exec_id = r.json()["id"]
        await asyncio.wait_for(watcher.event_for(exec_id).wait(), timeout=120)
        got = (await client.get(f"/api/graphs/{graph['id']}/executions/{exec_id}")).json()
        check(got["status"] == "COMPLETED" and got["outputs"] == {"return": [answer]}, f"llm run {got.get('status')}")
        return time.perf_counter() - start

    async with Watcher(stack, graph["id"]) as watcher:
        await one(watcher)  # warm-up
        times = [await one(watcher) for _ in range(10)]
        start = time.perf_counter()
        await asyncio.gather(*(one(watcher) for _ in range(50)))
        burst = time.perf_counter() - start
    check(sum(1 for req in server.requests if req["headers"].get("authorization") == "Bearer sk-bench") >= 61,
          "every run called the model with the user's key")
    report("llm ai-function", runs=10, median_s=statistics.median(times), min_s=min(times))
    report("llm burst50", seconds=burst, runs_per_s=50 / burst)


STORE_WORDS = (
    "agent assistant automate blog budget calendar chart chat code content crawler customer data debug design "
    "digest email expense feedback finance forecast game grammar health image inbox invoice job journal lead "
    "legal lesson market meeting meme music news note outreach pitch planner podcast poem portfolio price "
    "product prompt quiz recipe report research resume review sales schedule script search seo sentiment "
    "social sql story summary support survey task tax ticket translate travel trend tutor tweet video weather "
    "website workout writer youtube analyst audit brand campaign compliance contract dashboard forum hiring "
    "insight keyword launch metric newsletter onboarding partner pricing recruit roadmap security slide "
    "spreadsheet strategy testimonial training webinar wiki").split()
STORE_CATEGORIES = ("writing", "research", "marketing", "sales", "coding", "finance", "education", "fun", "health",
                    "productivity")


def _store_seed_events(listings: int, creators: int) -> list:
    """A creator profile each, then per listing its submission and approval (what the command side
    appends). Texts mix words of ``STORE_WORDS`` (the searched ones: 3 in the name, 2 in the
    sub-heading, 3 in the description, so each is in about 7 % of the listings, as a popular term of
    a real store) with filler words from a few thousand made-up ones."""
    import random
    import uuid

    from schemas.events.store import ListingVersionReviewed, ListingVersionSubmitted, ProfileSaved
    from services.domain.store.ids import listing_id, profile_id
    from services.infra.store_contract import NewEvent

    rng = random.Random(14)  # noqa: S311 - reproducible texts, nothing secret
    syllables = [c + v for c in "bdfgklmnprstvz" for v in "aeiou"]
    filler = sorted({"".join(rng.sample(syllables, 3)) for _ in range(4000)})[:3000]
    words = lambda n: rng.sample(STORE_WORDS, n)  # noqa: E731
    fill = lambda n: [rng.choice(filler) for _ in range(n)]  # noqa: E731
    users = [f"bench-creator-{i}" for i in range(creators)]
    events = [NewEvent(profile_id(u), 1, ProfileSaved(user_id=u, username=f"creator{i}", name=f"Creator {i}"),
                       user_id=u) for i, u in enumerate(users)]
    for i in range(listings):
        user, graph_id, version_id = users[i % creators], str(uuid.uuid4()), str(uuid.uuid4())
        description = words(3) + fill(22)
        rng.shuffle(description)
        stream = listing_id(graph_id)
        events.append(NewEvent(stream, 1, ListingVersionSubmitted(
            user_id=user, slug=f"agent-{i}", listing_version_id=version_id, version=1, graph_id=graph_id,
            graph_version=1, name=" ".join(words(3)).title(), sub_heading=" ".join(words(2) + fill(3)),
            description=" ".join(description), categories=rng.sample(STORE_CATEGORIES, 2)), user_id=user))
        events.append(NewEvent(stream, 2, ListingVersionReviewed(listing_version_id=version_id, approved=True,
                                                                 reviewer_id="bench-admin"), user_id="bench-admin"))
    return events


async def bench_store_search(stack: Stack, listings: int = 10_000, clients: int = 50, duration_s: float = 10.0) -> None:
    """``GET /api/store/agents?search_query=<word>`` (full text, ranked) over 10,000 approved listings,
    50 concurrent clients each cycling through the words. The listings are appended straight to the
    store and the projector builds the read models, as it would from the command side's appends."""
    from bench.httpload import Connection
    from services.infra import db
    from services.infra.eventstore import EventStore, make_datastore

    settings = bench_settings(stack)
    datastore = make_datastore(settings, pool_size=2)
    store = EventStore(datastore, "store")
    events = _store_seed_events(listings, creators=200)
    start = time.perf_counter()
    for i in range(0, len(events), 1000):
        await asyncio.to_thread(store.append, events[i:i + 1000])
    datastore.close()
    with db.connect(settings, autocommit=True) as conn:
        deadline = time.monotonic() + 300
        count = "SELECT count(*) FROM rm_store_listings WHERE has_approved_version"
        while conn.execute(count).fetchone()[0] < listings:
            check(time.monotonic() < deadline, "store listings projected within 300 s")
            time.sleep(0.2)
        seconds = time.perf_counter() - start
        # Steady state, as autovacuum leaves it within a minute of a bulk load: the table's
        # statistics known and the dead row versions of the projection's updates cleared.
        conn.execute("VACUUM ANALYZE rm_store_listings")
    report("store_seed", listings=listings, events=len(events), seconds=seconds)

    async with stack.client() as client:  # the answers are right before they are timed
        r = await client.get("/api/store/agents", params={"search_query": "poem"})
        body = r.json()
        check(r.status_code == 200 and body["pagination"]["total_items"] > 0 and all(
            "poem" in f"{a['agent_name']} {a['sub_heading']} {a['description']}".lower() for a in body["agents"]),
            "store search finds the listings holding the word")
    # Steady state: the seed's approvals also became 10,000 notifications, which the notifier
    # works through for a minute or more; timing the search while it does measures the notifier.
    await settle(stack)
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + duration_s

    async def worker(n: int) -> None:
        nonlocal errors
        conn = Connection("127.0.0.1", stack.port, stack.token)
        await conn.open()
        try:
            i = n
            while time.perf_counter() < deadline:
                word = STORE_WORDS[i % len(STORE_WORDS)]
                i += 7
                t = time.perf_counter()
                status, _ = await conn.get(f"/api/store/agents?search_query={word}")
                latencies.append(time.perf_counter() - t)
                errors += status != 200
        finally:
            await conn.close()

    await asyncio.gather(*(worker(n) for n in range(clients)))
    check(errors == 0, f"store search: {errors} non-200 answers")
    report("store_search", listings=listings, clients=clients, rps=len(latencies) / duration_s,
           p50_ms=pct(latencies, 50) * 1e3, p99_ms=pct(latencies, 99) * 1e3)


async def main(only: set[str]) -> None:
    if os.environ.get("DATABASE_URL"):  # the user's own database, not one bench_settings found
        os.environ["AGENTLOOM_BENCH_DATABASE_URL_SET"] = "1"

    def wanted(name: str) -> bool:
        return not only or name in only

    if only - {"startup", "scaleout"} or not only:
        await _on_one_stack(wanted)
    if wanted("startup"):  # installations of its own, after the one above has stopped
        from bench.startup import bench_startup

        await bench_startup(Stack)
    if wanted("scaleout"):
        from bench.scaleout import bench_scaleout

        await bench_scaleout(Stack)
    figures = Stack().data_dir
    figures.mkdir(parents=True, exist_ok=True)
    (figures / "figures.json").write_text(json.dumps(FIGURES, indent=1))  # for bench.peers


async def _on_one_stack(wanted) -> None:
    """Every section but start-up, on one new installation."""
    llm_server = None
    if wanted("llm"):
        from tests.fake_llm import FakeLlmServer

        llm_server = FakeLlmServer().start()
        os.environ["AGENTLOOM_LLM_BASE_URLS"] = json.dumps({"openai": llm_server.openai_base_url})
    with Stack() as stack:
        print(f"agentloom bench against {stack.base} (2-core machine figures; outputs checked)", flush=True)
        last = None
        async with stack.client() as client:
            if wanted("graph-api"):
                await bench_graph_api(client)
            if wanted("chain40"):
                await bench_chain40(stack, client)
            if wanted("hops"):
                from bench.hops import bench_hops

                await bench_hops(stack, client, WORKLOADS)
            if wanted("fan20"):
                await bench_fan20(stack, client)
            if wanted("burst100") or wanted("api-read"):
                last = await bench_burst100(stack, client)
            if wanted("ws"):
                await bench_ws_latency(stack, client)
            if llm_server is not None:
                await bench_llm(stack, client, llm_server)
            if wanted("webhooks"):
                from bench.webhooks import bench_webhook_ingress

                await bench_webhook_ingress(stack, client)
            if wanted("fork"):
                from bench.forks import bench_fork_chain40

                await bench_fork_chain40(stack, client, WORKLOADS)
            if wanted("scheduler"):
                from bench.schedules import bench_scheduler

                await bench_scheduler(stack, client)
        if wanted("store_search"):  # before api-read: its 50 clients leave no PostgreSQL connection to seed with
            await bench_store_search(stack)
        if wanted("api-read") and last:
            await bench_api_read(stack, last)
        if wanted("relay"):
            await bench_relay(stack)
        if wanted("ledger"):
            await bench_ledger(stack)
        if wanted("execute"):  # last: the runs it queues keep the executors busy for a while
            from bench.execute_load import bench_execute

            await bench_execute(stack, WORKLOADS)
    if llm_server is not None:
        llm_server.stop()


if __name__ == "__main__":
    asyncio.run(main(set(sys.argv[1:])))  # e.g. python -m bench.run chain40 fan20
