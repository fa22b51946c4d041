"""`make bench-peers`: Celery and DBOS on the same workloads, on this machine, right after agentloom.

Runs the peer kit in ``../shared/bench/peers`` (``ONLY=celery,dbos REPS=3 CELERY_EXTRA=0
./run_all.sh``: Celery 5.7 on RabbitMQ and on Redis, DBOS 3.4 on the machine's PostgreSQL) into a
results folder of this invocation only, then prints the peers' medians beside the figures the
preceding ``python -m bench.run`` wrote (``.agentloom-bench/figures.json``), with ratios. When the
kit or its virtual environments are missing it says how to get them and exits 0: the peers are a
comparison, not a prerequisite of agentloom's own figures.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from bench.harness import bench_dir

ROOT = Path(__file__).resolve().parents[1]
KIT = ROOT.parent / "shared" / "bench" / "peers"
PB = Path(os.environ.get("PB", Path(os.environ.get("TMPDIR", "/var/tmp")) / "peerbench"))
FIGURES = bench_dir() / "figures.json"
VENVS = {"celery": ("celery-venv", "'celery[redis]==5.7.0'"), "dbos": ("dbos-venv", "'dbos==3.4.0'")}
CONFIGS = (("celery/rabbitmq-redis", "Celery + RabbitMQ"), ("celery/redis-redis", "Celery + Redis"),
           ("dbos/pg-start", "DBOS pg-start"))


def missing() -> list[str]:
    """What the kit needs and this machine lacks, each with the command that provides it."""
    if not (KIT / "run_all.sh").exists():
        return [f"the peer kit is not at {KIT} (it ships beside this repository as ../shared/bench/peers)"]
    needs = []
    for engine, (venv, spec) in VENVS.items():
        if not (PB / venv / "bin" / "python").exists():
            needs.append(f"{engine}: python3 -m venv {PB / venv} && {PB / venv}/bin/pip install {spec}")
    for tool in ("redis-server", "rabbitmqctl", "psql"):
        if shutil.which(tool) is None:
            needs.append(f"{tool}: see {KIT / 'README.md'} (RabbitMQ, Redis and PostgreSQL 15 must be running)")
    return needs


def run_kit() -> Path:
    results = PB / "runs" / time.strftime("%Y%m%dT%H%M%S")
    env = {**os.environ, "PB": str(PB), "ONLY": "celery,dbos", "REPS": os.environ.get("REPS", "3"),
           "CELERY_EXTRA": "0"}
    # run_all.sh writes to $PB/results; keep this invocation's records apart from earlier ones
    shutil.rmtree(PB / "results", ignore_errors=True)
    subprocess.run(["bash", "run_all.sh"], cwd=KIT, env=env, check=False,
                   stdout=subprocess.DEVNULL if not os.environ.get("PEERS_VERBOSE") else None)
    results.parent.mkdir(parents=True, exist_ok=True)
    shutil.copytree(PB / "results", results)
    return results


def peer_medians(results: Path) -> dict[tuple[str, str], dict[str, float]]:
    records = [json.loads(line) for f in sorted(results.glob("*.jsonl")) for line in f.read_text().splitlines()
               if line.strip()]
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in records:
        if "error" in r or r.get("workload") == "warmup" or r.get("w3_concurrency") not in (None, "unbounded"):
            continue
        groups.setdefault((f"{r['engine']}/{r['config']}", r["workload"]), []).append(r)
    return {k: {"wall": statistics.median(r["wall"] for r in rs),
                "tasks_per_s": statistics.median(r.get("tasks_per_s") or 0 for r in rs)}
            for k, rs in groups.items()}


def table(ours: dict, peers: dict) -> list[str]:
    chain = ours.get("chain40", {}).get("median_s")
    fan = ours.get("fan20", {}).get("median_s")
    burst = ours.get("burst100", {}).get("node_executions_per_s")
    head = "| workload | agentloom (every event durable) | " + " | ".join(name for _, name in CONFIGS) + " |"
    lines = [head, "|" + " --- |" * (2 + len(CONFIGS))]

    def row(label, value, fmt, workload, field, faster_is_lower):
        cells = [label, fmt(value) if value else "n/a"]
        for key, _ in CONFIGS:
            peer = peers.get((key, workload), {}).get(field)
            if not peer:
                cells.append("n/a")
                continue
            ratio = (value / peer if faster_is_lower else peer / value) if value else None
            cells.append(f"{fmt(peer)} (agentloom {ratio:.2f}×)" if ratio else fmt(peer))
        return "| " + " | ".join(cells) + " |"

    lines.append(row("chain40 wall", chain, lambda v: f"{v:.3f} s", "w1_chain40", "wall", True))
    lines.append(row("fan20 wall", fan, lambda v: f"{v:.3f} s", "w2_fan20", "wall", True))
    lines.append(row("burst100 node executions/s", burst, lambda v: f"{v:.0f}/s", "w3_burst100", "tasks_per_s",
                     False))
    lines.append("")
    lines.append("Ratios are agentloom's time ÷ the peer's (walls) and the peer's rate ÷ agentloom's (burst100): "
                 "below 1 agentloom is faster.")
    return lines


def main() -> int:
    needs = missing()
    if needs:
        print("bench-peers skipped: the peer kit cannot run here yet. To get it:", flush=True)
        for need in needs:
            print(f"  - {need}")
        return 0
    print(f"peers: running {KIT}/run_all.sh (Celery, DBOS; 3 repetitions each, a few minutes)", flush=True)
    results = run_kit()
    peers = peer_medians(results)
    for (key, workload), m in sorted(peers.items()):
        print(f"peer {key:<22} {workload:<12} wall_median_s={m['wall']:.4g} tasks_per_s={m['tasks_per_s']:.4g}")
    ours = json.loads(FIGURES.read_text()) if FIGURES.exists() else {}
    if not ours:
        print(f"(no agentloom figures at {FIGURES}: run `make bench` for the side-by-side table)")
        return 0
    print("\n".join(["", *table(ours, peers)]), flush=True)
    print(f"\npeer records: {results}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
