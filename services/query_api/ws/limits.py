"""WebSocket bounds (audit F5/F7): subscriptions per socket and sockets per user.

Both are counted per query-API process (each process has its own hub), so with N API workers a
user can hold N times ``ws_max_sockets_per_user`` connections; what matters is that no single
user can grow a process's memory without bound.
"""

from __future__ import annotations

from typing import Protocol


class Refused(Exception):
    """A subscription or connection the hub will not take; the message is for the client."""


class _Socket(Protocol):
    user_id: str
    channels: set[str]


class Limits:
    def __init__(self, max_subscriptions_per_socket: int, max_sockets_per_user: int) -> None:
        self.max_subscriptions = max_subscriptions_per_socket
        self.max_sockets = max_sockets_per_user
        self.sockets_per_user: dict[str, int] = {}

    def connect(self, socket: _Socket) -> None:
        held = self.sockets_per_user.get(socket.user_id, 0)
        if held >= self.max_sockets:
            raise Refused(f"too many connections for this user (limit {self.max_sockets}); close one first")
        self.sockets_per_user[socket.user_id] = held + 1

    def disconnect(self, socket: _Socket) -> None:
        left = self.sockets_per_user.get(socket.user_id, 0) - 1
        if left > 0:
            self.sockets_per_user[socket.user_id] = left
        else:
            self.sockets_per_user.pop(socket.user_id, None)
        socket.channels.clear()

    def claim(self, socket: _Socket, channel: str) -> None:
        """Count ``channel`` against the socket's cap (subscribing again to it is free)."""
        if channel not in socket.channels and len(socket.channels) >= self.max_subscriptions:
            raise Refused(f"too many subscriptions on this connection (limit {self.max_subscriptions}); "
                          "unsubscribe first")
        socket.channels.add(channel)
