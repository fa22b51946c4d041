"""Adds ``X-Read-Behind-Events`` to an eventual read's answer (``api/deps.py`` works out the number;
routes return their own responses, so a dependency cannot set the header itself)."""

from __future__ import annotations

from services.query_api.api.deps import BEHIND_HEADER

_HEADER = BEHIND_HEADER.lower().encode()


class ReadBehindHeader:
    """Pure ASGI: nothing is added unless the request's state carries ``read_behind``."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_header(message) -> None:
            if message["type"] == "http.response.start":
                behind = (scope.get("state") or {}).get("read_behind")
                if behind is not None:
                    message = {**message, "headers": [*message.get("headers", []), (_HEADER, str(behind).encode())]}
            await send(message)

        await self.app(scope, receive, with_header)
