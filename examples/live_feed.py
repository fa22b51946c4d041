"""A live, readable feed of agentloom's public events: one line per event from both topics.

Why it exists: it is the smallest complete subscriber of the public contract (``docs/events.md``),
meant to be copied. It depends on aiokafka and the standard library only (no agentloom imports),
uses its own consumer group so it never takes partitions away from the platform's consumers, and
keeps formatting in pure functions (``format_line`` / ``summarize``) that are easy to test.

    KAFKA_BOOTSTRAP_SERVERS=127.0.0.1:9092 AGENTLOOM_TOPIC_PREFIX=agentloom python examples/live_feed.py

Options: ``--from-beginning`` replays what the topics still hold, ``--group`` names the consumer group.
Ctrl-C (or SIGTERM) stops it cleanly: the consumer leaves its group before the process exits.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import sys
from datetime import datetime
from typing import Any

CONTEXTS = ("graphs", "executions")
VALUE_WIDTH = 48


def short(value: Any, width: int = 8) -> str:
    """The first characters of an id: enough to tell streams and node executions apart."""
    return str(value or "-")[:width]


def compact(value: Any, width: int = VALUE_WIDTH) -> str:
    """A value as one line of JSON, cut to ``width`` characters."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    return text if len(text) <= width else text[: width - 1] + "…"


def _stats(stats: dict[str, Any]) -> str:
    parts = [f"nodes={stats.get('node_exec_count', 0)}", f"errors={stats.get('node_error_count', 0)}",
             f"{float(stats.get('duration') or 0):.2f}s"]
    if stats.get("cost"):
        parts.append(f"cost={stats['cost']}")
    return " ".join(parts)


def summarize(event_type: str, payload: dict[str, Any], nodes: dict[str, str] | None = None) -> str:
    """The interesting fields of one payload. ``nodes`` maps node execution id -> node id, so events
    that only carry ``node_exec_id`` can still name their node."""
    p, nodes = payload, nodes or {}
    ne = p.get("node_exec_id")
    node = f"node={short(p.get('node_id') or nodes.get(ne, '?'))} ne={short(ne)}" if ne else ""
    if event_type in ("GraphCreated", "GraphVersionCreated"):
        g = p.get("graph") or {}
        return (f"v{g.get('version')} {compact(g.get('name', ''), 32)} nodes={len(g.get('nodes') or [])} "
                f"links={len(g.get('links') or [])}" + (" active" if p.get("is_active") else ""))
    if event_type == "ActiveVersionSet":
        return f"active v{p.get('version')} (was v{p.get('previous_version')})"
    if event_type == "GraphDeleted":
        return f"versions={p.get('version_count')}"
    if event_type == "ExecutionQueued":
        text = f"graph={short(p.get('graph_id'))} v{p.get('graph_version')} inputs={compact(p.get('inputs') or {})}"
        return text + (f" parent={short(p['parent_execution_id'])}" if p.get("parent_execution_id") else "")
    if event_type == "ExecutionStarted":
        return "resumed" if p.get("resumed") else ""
    if event_type == "ExecutionStopRequested":
        return f"by={p.get('requested_by')}"
    if event_type == "NodeInputAdded":
        return f"{node} pin={p.get('pin')} value={compact(p.get('value'))}" + (" new" if p.get("created") else "")
    if event_type == "NodeQueued":
        return f"{node} block={short(p.get('block_id'))} input={compact(p.get('input_data') or {})}"
    if event_type == "NodeStarted":
        return f"{node} attempt={p.get('attempt', 1)}"
    if event_type == "NodeOutput":
        return f"{node} pin={p.get('pin')}#{p.get('seq')} value={compact(p.get('value'))}"
    if event_type == "NodeCompleted":
        walltime = (p.get("stats") or {}).get("walltime")
        return node + (f" {float(walltime):.3f}s" if walltime is not None else "")
    if event_type == "NodeFailed":
        return f"{node} error={compact(p.get('error'))}"
    if event_type == "NodeTerminated":
        return f"{node} reason={compact(p.get('reason'))}"
    if event_type in ("ExecutionCompleted", "ExecutionTerminated"):
        return _stats(p.get("stats") or {})
    if event_type == "ExecutionFailed":
        return f"{_stats(p.get('stats') or {})} error={compact(p.get('error'))}"
    # A type this feed does not know yet: show its scalar fields.
    return " ".join(f"{k}={compact(v, 24)}" for k, v in p.items() if isinstance(v, (str, int, float, bool)))


def remember(envelope: dict[str, Any], nodes: dict[str, str]) -> None:
    """Learn which node a node execution belongs to (from the events that say so)."""
    payload = envelope.get("payload") or {}
    if payload.get("node_exec_id") and payload.get("node_id"):
        nodes[payload["node_exec_id"]] = payload["node_id"]


def format_line(envelope: dict[str, Any], nodes: dict[str, str] | None = None) -> str:
    """One feed line: time, type, stream id (short) and version, payload summary."""
    try:
        at = datetime.fromisoformat(str(envelope.get("occurred_at")).replace("Z", "+00:00"))
        when = at.astimezone().strftime("%H:%M:%S.%f")[:-3]
    except ValueError:
        when = "--:--:--.---"
    event_type = str(envelope.get("type", "?"))
    stream = f"{short(envelope.get('stream_id'))} v{envelope.get('stream_version', '?')}"
    summary = summarize(event_type, envelope.get("payload") or {}, nodes)
    return f"{when}  {event_type:<22} {stream:<13} {summary}".rstrip()


async def run(bootstrap: str, prefix: str, group: str, from_beginning: bool, stop: asyncio.Event) -> None:
    # Imported here so the formatting functions above import without a Kafka client installed.
    from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener
    from aiokafka.errors import KafkaError

    topics = [f"{prefix}.{context}.events.v1" for context in CONTEXTS]
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=True,
                                auto_offset_reset="earliest" if from_beginning else "latest")

    rewound: set = set()

    class Rewind(ConsumerRebalanceListener):
        """With --from-beginning, start each partition at its oldest offset once (the group may
        already have committed offsets from an earlier run)."""

        async def on_partitions_revoked(self, revoked) -> None:
            pass

        async def on_partitions_assigned(self, assigned) -> None:
            fresh = [tp for tp in assigned if tp not in rewound] if from_beginning else []
            if fresh:
                rewound.update(fresh)
                await consumer.seek_to_beginning(*fresh)

    consumer.subscribe(topics, listener=Rewind())
    try:
        await consumer.start()
    except KafkaError as exc:
        await consumer.stop()
        raise SystemExit(f"cannot reach the broker at {bootstrap}: {exc}") from None
    print(f"live feed of {', '.join(topics)} on {bootstrap} (group {group}); Ctrl-C stops", file=sys.stderr)
    nodes: dict[str, str] = {}
    try:
        while not stop.is_set():
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                for record in records:
                    try:
                        envelope = json.loads(record.value)
                    except (TypeError, ValueError):
                        print(f"(undecodable message at {record.topic}:{record.partition}@{record.offset})")
                        continue
                    remember(envelope, nodes)
                    print(format_line(envelope, nodes), flush=True)
    finally:
        await consumer.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Print agentloom's public events as they happen.")
    parser.add_argument("--from-beginning", action="store_true", help="replay what the topics still hold")
    parser.add_argument("--group", default="agentloom-live-feed", help="consumer group (default: %(default)s)")
    args = parser.parse_args(argv)
    bootstrap = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or "127.0.0.1:9092"
    prefix = os.environ.get("AGENTLOOM_TOPIC_PREFIX") or "agentloom"

    async def guarded() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                loop.add_signal_handler(sig, stop.set)
            except (NotImplementedError, RuntimeError):  # Windows: Ctrl-C raises KeyboardInterrupt
                pass
        await run(bootstrap, prefix, args.group, args.from_beginning, stop)

    try:
        asyncio.run(guarded())
    except KeyboardInterrupt:
        pass
    print("live feed stopped", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
