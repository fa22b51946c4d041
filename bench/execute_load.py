"""Execute accepted per second: 50 keep-alive clients POSTing ``/execute`` for a few seconds.

burst100's ``accepted_s`` times 100 POSTs sent through httpx, whose own CPU per request is about
the server's: on this 2-core machine the client then shares the cores with the stack. This section
uses the thin client of ``bench/httpload.py`` instead. The clients are spread over 10 users, each
with a graph of its own (small3), so the per-user rate limit (1000 a minute) is not what is
measured; every request is still rate-limited, balance-checked and durably recorded. The runs it
queues keep the executors busy afterwards, so this section runs last on its stack.
"""

from __future__ import annotations

import json

import orjson

from bench.harness import bench_settings, check, pct, report

USERS = 10


async def bench_execute(stack, workloads, *, clients: int = 50, seconds: float = 4.0) -> None:
    import httpx

    from bench.httpload import load_requests
    from services.infra.auth import issue_token

    settings = bench_settings(stack)
    graph = json.loads((workloads / "small3.json").read_text())
    requests = []
    for i in range(USERS):
        token = issue_token(settings, f"bench-execute-{i}-{stack.port}")
        async with httpx.AsyncClient(base_url=stack.base, headers={"Authorization": f"Bearer {token}"}) as client:
            r = await client.post("/api/graphs", json={"graph": graph})
            r.raise_for_status()
            made = r.json()
        body = orjson.dumps({"inputs": {"x": i}})
        requests.append((token, "POST", f"/api/graphs/{made['id']}/execute/{made['version']}", body))
    latencies, answers = await load_requests("127.0.0.1", stack.port, requests, clients=clients, seconds=seconds)
    refused = [status for status, _ in answers if status != 200]
    check(not refused, f"execute: {len(refused)} of {len(answers)} answers were not 200 ({sorted(set(refused))})")
    check(all(orjson.loads(body).get("id") for _, body in answers), "every execute answered with a run id")
    report("execute", clients=clients, users=USERS, accepted=len(answers), rps=len(answers) / seconds,
           p50_ms=pct(latencies, 50) * 1e3, p99_ms=pct(latencies, 99) * 1e3)
