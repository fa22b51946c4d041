"""WebSocket notifications: every ``NotificationRecorded`` pushed to its owner's open sockets.

Like the execution hub, each query-API process tails the notifications log itself (woken by the
store's NOTIFY), so a notification reaches the user whichever instance holds their socket, and
straight from the system of record. The message is AutoGPT's ``notification`` (``{type, event, …}``
in ``data``), sent only to sockets of the notification's user: one user's notification never
reaches another's connection. Delivery is live only, as in AutoGPT; what a user missed while
offline is listed by ``GET /api/notifications``.

A process with no socket open reads nothing (under burst100 the API worker holding none spent a
sixth of its time following the head); the first socket to connect takes the head as its start.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import psycopg

from schemas.events.notifications import NotificationRecorded
from services.infra import event_log
from services.infra.event_codec import decode_row
from services.infra.settings import Settings
from services.query_api.ws import protocol

log = logging.getLogger(__name__)
LOG = "notifications"
PAGE = 1000


def notification_message(notification_id: str, event: NotificationRecorded, occurred_at) -> dict[str, Any]:
    return protocol.message(protocol.NOTIFICATION, data={
        "type": event.notification_type.value, "event": "notification_created", "id": notification_id,
        "created_at": occurred_at.isoformat() if occurred_at else None, "data": event.data})


class NotificationFeed:
    def __init__(self, settings: Settings, pool, push: Callable[[Any, dict[str, Any]], None]) -> None:
        self.settings = settings
        self.pool = pool
        self.push = push  # the hub's bounded per-socket queue
        self.sockets: dict[str, list[Any]] = {}
        self.position = 0
        self.delivered = 0
        self._idle = False  # True once the follower skipped commits because nobody was connected
        self._wake = asyncio.Event()
        self._stop = asyncio.Event()
        self._task: asyncio.Task | None = None

    async def start(self) -> None:
        async with self.pool.connection() as conn:
            self.position = await event_log.head(conn, LOG)
        self._task = asyncio.create_task(self._run())

    async def close(self) -> None:
        self._stop.set()
        if self._task:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def add(self, socket) -> None:
        """From now on ``socket`` gets its user's notifications. The first one after an idle spell
        waits for the head first: what was recorded while nobody listened is not pushed."""
        if self._idle and not self.sockets:
            await self._skip_to_head()
            self._idle = False
        self.sockets.setdefault(socket.user_id, []).append(socket)

    def remove(self, socket) -> None:
        held = [s for s in self.sockets.get(socket.user_id, []) if s is not socket]
        if held:
            self.sockets[socket.user_id] = held
        else:
            self.sockets.pop(socket.user_id, None)

    async def _run(self) -> None:
        listener = asyncio.create_task(event_log.wake_on_commits(self.settings, LOG, self._wake, self._stop))
        try:
            while not self._stop.is_set():
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=0.5)
                except TimeoutError:
                    pass
                self._wake.clear()
                if not self.sockets:
                    self._idle = True  # nobody to tell: read nothing, ``add`` catches up to the head
                    continue
                try:
                    await self._drain()
                except (psycopg.Error, OSError) as exc:
                    log.warning("notification feed: %s; retrying", exc)
                    await asyncio.sleep(0.5)
        finally:
            listener.cancel()

    async def _skip_to_head(self) -> None:
        async with self.pool.connection() as conn:
            self.position = max(self.position, await event_log.head(conn, LOG))

    async def _drain(self) -> None:
        while True:
            async with self.pool.connection() as conn:
                rows = await event_log.rows_after(conn, LOG, self.position, PAGE)
            for row in rows:
                self.position = row.position
                if row.type != NotificationRecorded.TYPE:
                    continue
                recorded = decode_row(row)
                sockets = self.sockets.get(recorded.user_id or "")
                if not sockets:
                    continue
                event = recorded.decode()
                if event.user_id != recorded.user_id:
                    continue  # the owner named inside the event is the one that counts; never guess
                msg = notification_message(str(row.stream_id), event, recorded.occurred_at)
                for socket in list(sockets):
                    self.push(socket, msg)
                    self.delivered += 1
            if len(rows) < PAGE:
                return
