"""``GET /metrics``: Prometheus text for what operators watch: store heads, relay and projection
positions per context, projection lag (events behind and seconds), how long each relay has left
recorded events unpublished, open dead letters per consumer, running executions.

``relay_backlog`` and ``dead_letter_counts`` also feed ``GET /health`` (one definition of each)."""

from __future__ import annotations

from schemas.topics import CONTEXTS
from services.infra import deadletters, event_log
from services.projector.names import PROJECTION_NAME

# Consumers that always get a dead-letter series (0 when nothing is parked).
DEAD_LETTER_CONSUMERS = ("relay", "projector", "executor")


async def relay_backlog(conn) -> dict[str, dict[str, float | int]]:
    """``{context: {"head", "position", "behind_s"}}``: ``behind_s`` is the age of the oldest
    recorded event the relay has not published (0 when it is caught up)."""
    out: dict[str, dict[str, float | int]] = {}
    for context in CONTEXTS:
        row = await (await conn.execute(
            f"SELECT {event_log.head_expression(context)}, "  # noqa: S608 - the log's own head expression
            "coalesce((SELECT position FROM relay_positions WHERE log = %s), 0)", (context,))).fetchone()
        head, position = int(row[0]), int(row[1])
        behind = 0.0
        if head > position:
            age = await event_log.seconds_since_first_after(conn, context, position)
            behind = max(0.0, age) if age is not None else 0.0
        out[context] = {"head": head, "position": position, "behind_s": round(behind, 3)}
    return out


async def dead_letter_counts(conn) -> dict[str, int]:
    counts = {consumer: 0 for consumer in DEAD_LETTER_CONSUMERS}
    counts.update(await deadletters.open_counts(conn))
    return counts


async def render(pool) -> str:
    lines = ["# TYPE agentloom_store_head gauge", "# TYPE agentloom_relay_position gauge",
             "# TYPE agentloom_relay_behind_seconds gauge",
             "# TYPE agentloom_projection_lag_events gauge", "# TYPE agentloom_projection_lag_seconds gauge",
             "# TYPE agentloom_dead_letters gauge", "# TYPE agentloom_executions_running gauge"]
    async with pool.connection() as conn:
        backlog = await relay_backlog(conn)
        for context in CONTEXTS:
            head, relayed = backlog[context]["head"], backlog[context]["position"]
            projected = (await (await conn.execute(
                "SELECT coalesce(max(position), 0) FROM projection_partitions WHERE projection = %s AND log = %s",
                (PROJECTION_NAME, context))).fetchone())[0]
            lines += [f'agentloom_store_head{{context="{context}"}} {head}',
                      f'agentloom_relay_position{{context="{context}"}} {relayed}',
                      f'agentloom_relay_behind_seconds{{context="{context}"}} {backlog[context]["behind_s"]}',
                      f'agentloom_projection_lag_events{{context="{context}"}} {max(0, head - projected)}']
        for consumer, count in sorted((await dead_letter_counts(conn)).items()):
            lines.append(f'agentloom_dead_letters{{consumer="{consumer}"}} {count}')
        rows = await (await conn.execute(
            "SELECT component, details FROM component_heartbeats "
            "WHERE updated_at > now() - interval '5 seconds'")).fetchall()
    running = 0
    for component, details in rows:
        if component == "projector":
            for quantile, key in (("0.5", "lag_p50_ms"), ("0.99", "lag_p99_ms")):
                lines.append(f'agentloom_projection_lag_seconds{{quantile="{quantile}"}} {details.get(key, 0) / 1000}')
        if component == "executor":
            running += int(details.get("running", 0))
    lines.append(f"agentloom_executions_running {running}")
    return "\n".join(lines) + "\n"
