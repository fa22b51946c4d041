"""``GET /metrics``: Prometheus text for what operators watch: store heads, relay and projection
positions per context, projection lag (events behind and seconds), running executions."""

from __future__ import annotations

from schemas.topics import CONTEXTS
from services.projector.registry import PROJECTION_NAME


async def render(pool) -> str:
    lines = ["# TYPE agentloom_store_head gauge", "# TYPE agentloom_relay_position gauge",
             "# TYPE agentloom_projection_lag_events gauge", "# TYPE agentloom_projection_lag_seconds gauge",
             "# TYPE agentloom_executions_running gauge"]
    async with pool.connection() as conn:
        for context in CONTEXTS:
            head = (await (await conn.execute(
                f'SELECT coalesce(max(notification_id), 0) FROM "{context}_events"')).fetchone())[0]  # noqa: S608
            relayed = (await (await conn.execute(
                "SELECT coalesce(max(position), 0) FROM relay_positions WHERE log = %s", (context,))).fetchone())[0]
            projected = (await (await conn.execute(
                "SELECT coalesce(max(position), 0) FROM projection_partitions WHERE projection = %s AND log = %s",
                (PROJECTION_NAME, context))).fetchone())[0]
            lines += [f'agentloom_store_head{{context="{context}"}} {head}',
                      f'agentloom_relay_position{{context="{context}"}} {relayed}',
                      f'agentloom_projection_lag_events{{context="{context}"}} {max(0, head - projected)}']
        rows = await (await conn.execute(
            "SELECT component, details FROM component_heartbeats WHERE updated_at > now() - interval '5 seconds'")).fetchall()
    running = 0
    for component, details in rows:
        if component == "projector":
            for quantile, key in (("0.5", "lag_p50_ms"), ("0.99", "lag_p99_ms")):
                lines.append(f'agentloom_projection_lag_seconds{{quantile="{quantile}"}} {details.get(key, 0) / 1000}')
        if component == "executor":
            running += int(details.get("running", 0))
    lines.append(f"agentloom_executions_running {running}")
    return "\n".join(lines) + "\n"
