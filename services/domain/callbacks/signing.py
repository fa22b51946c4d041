"""What a delivery sends (pure): the body, built from the scheduled event alone so every attempt
sends the same bytes, and the signed headers.

The signature is HMAC-SHA256, keyed with the callback's secret, over ``f"{timestamp}.{body}"``:
the timestamp is signed so a captured request cannot be replayed later under a fresh one, and a
receiver refuses timestamps far from its clock (docs/callbacks.md has a verification snippet).
"""

from __future__ import annotations

import hashlib
import hmac
import json

from schemas.events.callbacks import CallbackDeliveryScheduled

EVENT_HEADER = "X-Agentloom-Event"
DELIVERY_HEADER = "X-Agentloom-Delivery"
TIMESTAMP_HEADER = "X-Agentloom-Timestamp"
SIGNATURE_HEADER = "X-Agentloom-Signature"
USER_AGENT = "agentloom-callbacks/1"


def _instant(value) -> str | None:
    return value.isoformat() if value is not None else None


def body(delivery_id: str, scheduled: CallbackDeliveryScheduled, public_url: str) -> bytes:
    """AutoGPT's GraphExecutionMeta, small: no outputs (``results_url`` fetches them with an API key)."""
    execution = {
        "id": scheduled.execution_id, "graph_id": scheduled.graph_id, "graph_version": scheduled.graph_version,
        "status": scheduled.status, "started_at": _instant(scheduled.started_at),
        "ended_at": _instant(scheduled.ended_at), "error": scheduled.error,
        "results_url": f"{public_url.rstrip('/')}/external-api/v1/graphs/{scheduled.graph_id}/executions/"
                       f"{scheduled.execution_id}/results",
    }
    payload = {"event": scheduled.event, "delivery_id": delivery_id, "webhook_id": scheduled.callback_id,
               "execution": execution}
    return json.dumps(payload, separators=(",", ":"), sort_keys=True).encode()


def signature(secret: str, timestamp: int, content: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + content, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def verify(secret: str, timestamp: str, content: bytes, presented: str) -> bool:
    """The receiver's check (used by the tests, and the model for the docs' snippet)."""
    try:
        expected = signature(secret, int(timestamp), content)
    except ValueError:
        return False
    return hmac.compare_digest(expected, presented)


def headers(delivery_id: str, event: str, secret: str, timestamp: int, content: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", "User-Agent": USER_AGENT, EVENT_HEADER: event,
            DELIVERY_HEADER: delivery_id, TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: signature(secret, timestamp, content)}
