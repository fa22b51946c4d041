"""Bench: fork chain40 after its node 35 and finish (``bench/run.py`` wires it in).

The fork branches off after the event that completed node 35 of the chain, so the 35 nodes (and
the input) completed by then are taken over and only nodes 36..40 and the output run: the figure
is the time from the fork's POST to its end, beside a whole run of the chain in the same stack.
The fork's output must equal the original's, and its history must say what was taken over.
"""

from __future__ import annotations

import json
import statistics
import time

import httpx

from bench.harness import check, finished, report

FORK_AFTER_NODE = 35


async def bench_fork_chain40(stack, client: httpx.AsyncClient, workloads, runs: int = 5) -> None:
    chain = json.loads((workloads / "chain40.json").read_text())
    graph = (await client.post("/api/graphs", json={"graph": chain})).json()
    whole, forks, taken = [], [], []
    for _ in range(runs):
        start = time.perf_counter()
        run = (await client.post(f"/api/graphs/{graph['id']}/execute/{graph['version']}",
                                 json={"inputs": {"x": 1}})).json()
        original = await finished(client, graph["id"], run["id"])
        whole.append(time.perf_counter() - start)
        events = (await client.get(f"/api/executions/{run['id']}/events")).json()["events"]
        completed = [e["seq"] for e in events if e["type"] == "NodeCompleted"]
        at_seq = completed[FORK_AFTER_NODE]  # the input node completes first, then node 1, 2, ...
        start = time.perf_counter()
        r = await client.post(f"/api/executions/{run['id']}/fork", json={"at_seq": at_seq})
        check(r.status_code == 200, f"fork: {r.status_code} {r.text[:200]}")
        fork = await finished(client, graph["id"], r.json()["id"])
        forks.append(time.perf_counter() - start)
        check(fork["outputs"] == original["outputs"], f"fork output {fork['outputs']} != {original['outputs']}")
        history = (await client.get(f"/api/executions/{fork['id']}/events")).json()["events"]
        taken.append(sum(1 for e in history if e["type"] == "NodeCompleted" and "reused_from" in e["payload"]["stats"]))
    check(set(taken) == {FORK_AFTER_NODE + 1}, f"nodes taken over per fork: {taken}")
    report("fork-chain40", at_node=FORK_AFTER_NODE, taken_over=taken[0], ran=42 - taken[0],
           median_s=statistics.median(forks), whole_run_median_s=statistics.median(whole))
