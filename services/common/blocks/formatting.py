"""Sandboxed Jinja2 rendering shared by the template and output blocks.

Templates come from users, so they render in Jinja's sandbox with undefined variables rendering
as empty strings (AutoGPT's behaviour) and a cap on output size.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Undefined
from jinja2.sandbox import ImmutableSandboxedEnvironment

MAX_RENDERED_CHARS = 1_000_000

_ENV = ImmutableSandboxedEnvironment(undefined=Undefined, autoescape=False)
_ENV_ESCAPED = ImmutableSandboxedEnvironment(undefined=Undefined, autoescape=True)


def render_template(template: str, values: dict[str, Any], *, escape_html: bool = False) -> str:
    env = _ENV_ESCAPED if escape_html else _ENV
    rendered = env.from_string(template).render(**values)
    if len(rendered) > MAX_RENDERED_CHARS:
        raise ValueError(f"rendered text exceeds {MAX_RENDERED_CHARS} characters")
    return rendered
