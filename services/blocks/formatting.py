"""Template rendering as the blocks see it: one awaitable call, whatever renders behind it.

Templates come from users (FillTextTemplate, AgentOutput's ``format``, the LLM prompt templates),
so they render in the bounded sandbox (``services.blocks.sandbox``): undefined variables render as
empty strings (AutoGPT's behaviour), loops share a step budget, strings and lists have a size cap
checked before they are built, and the output cap is counted while rendering. In the API and the
executor the renderer is the process's ``TemplatePool`` (``RunContext.templates``): worker
processes with an enforced wall-clock and memory limit, so a render never blocks the event loop.
A context without one (block unit tests) renders in-process on a thread.
"""

from __future__ import annotations

from typing import Any

from services.blocks.sandbox import INLINE_RENDERER, MAX_TEMPLATE_CHARS, TemplateRenderError
from services.domain.blocks.base import RunContext

MAX_RENDERED_CHARS = MAX_TEMPLATE_CHARS

__all__ = ["MAX_RENDERED_CHARS", "TemplateRenderError", "render_template"]


async def render_template(ctx: RunContext, template: str, values: dict[str, Any], *,
                          escape_html: bool = False) -> str:
    """Render ``template`` with ``values``; raises ``TemplateRenderError`` (a ``ValueError``) with
    a message for the graph's author: a syntax error, a limit passed, or the time limit."""
    if not template:
        return ""  # an empty system prompt needs no round trip to a worker
    renderer = ctx.templates if ctx.templates is not None else INLINE_RENDERER
    return await renderer.render(template, values, escape_html=escape_html, owner=ctx.user_id)
