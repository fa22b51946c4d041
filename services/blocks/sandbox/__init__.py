"""Running user templates with hard limits: a bounded Jinja sandbox (``environment``), the worker
process that renders under a memory cap (``worker``) and the per-process pool that enforces the
wall-clock limit (``pool``)."""

from services.blocks.sandbox.limits import MAX_TEMPLATE_CHARS, MAX_TEMPLATE_STEPS, TemplateLimitError
from services.blocks.sandbox.pool import TemplatePool
from services.blocks.sandbox.renderer import (
    INLINE_RENDERER,
    InlineRenderer,
    TemplateRenderer,
    TemplateRenderError,
    TemplateTimeout,
)

__all__ = ["INLINE_RENDERER", "MAX_TEMPLATE_CHARS", "MAX_TEMPLATE_STEPS", "InlineRenderer", "TemplateLimitError",
           "TemplatePool", "TemplateRenderError", "TemplateRenderer", "TemplateTimeout"]
