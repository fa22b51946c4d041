"""What a block awaits to render a user template, and the in-process stand-in used by tests.

Blocks take a renderer from ``RunContext.templates``: in the API and the executor that is the
process's ``TemplatePool`` (separate processes, enforced time and memory limits). Code that has no
pool (block unit tests, tools) gets ``InlineRenderer``: the same bounded sandbox and the same
error messages, run on a worker thread so the event loop keeps turning, but with nothing to stop
a render that outlives the step budget's blind spots. It must never serve user traffic.
"""

from __future__ import annotations

import asyncio
from typing import Any, Protocol

from services.blocks.sandbox.worker import reply


class TemplateRenderError(ValueError):
    """The template could not be rendered; the message is meant for the graph's author."""


class TemplateTimeout(TemplateRenderError):
    """The render passed the wall-clock limit and its worker process was killed."""


class TemplateRenderer(Protocol):
    async def render(self, template: str, values: dict[str, Any], *, escape_html: bool = False,
                     owner: str = "") -> str: ...


class InlineRenderer:
    """Bounded sandbox on a thread of this process (no time or memory limit: tests and tools only)."""

    async def render(self, template: str, values: dict[str, Any], *, escape_html: bool = False,
                     owner: str = "") -> str:
        answer = await asyncio.to_thread(reply, template, values, escape_html)
        if answer[0] == "ok":
            return answer[1]
        raise TemplateRenderError(answer[1])


INLINE_RENDERER = InlineRenderer()
