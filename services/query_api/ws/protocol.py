"""AutoGPT's WebSocket protocol: message envelope, methods and channel names.

Every server message is ``{method, data, success, channel, error}``. Execution events carry
AutoGPT's payloads plus ``seq``, the execution's stream version, so a client can resume with
``after_seq`` after a reconnect.
"""

from __future__ import annotations

from typing import Any

SUBSCRIBE_EXECUTION = "subscribe_graph_execution"
SUBSCRIBE_GRAPH = "subscribe_graph_executions"
UNSUBSCRIBE = "unsubscribe"
HEARTBEAT = "heartbeat"
GRAPH_EVENT = "graph_execution_event"
NODE_EVENT = "node_execution_event"
NOTIFICATION = "notification"
ERROR = "error"

# AutoGPT's close codes: no token, a token without a user id (``sub``), any other bad token.
CLOSE_MISSING_TOKEN = 4001
CLOSE_NO_SUBJECT = 4002
CLOSE_INVALID_TOKEN = 4003
CLOSE_TOO_MANY_SOCKETS = 4029  # the user already holds ws_max_sockets_per_user connections


def execution_channel(user_id: str, graph_exec_id: str) -> str:
    return f"{user_id}|graph_exec#{graph_exec_id}"


def graph_channel(user_id: str, graph_id: str) -> str:
    return f"{user_id}|graph#{graph_id}|executions"


def message(method: str, *, data: Any = None, channel: str | None = None, success: bool | None = None,
            error: str | None = None) -> dict[str, Any]:
    return {"method": method, "data": data, "success": success, "channel": channel, "error": error}


def ack(method: str, channel: str) -> dict[str, Any]:
    return message(method, channel=channel, success=True)


def refusal(method: str, error: str) -> dict[str, Any]:
    return message(method, success=False, error=error)


def pong() -> dict[str, Any]:
    return {"method": HEARTBEAT, "data": "pong", "success": True}
