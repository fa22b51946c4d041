"""Caps on what one block run may build, checked *before* the result is allocated.

A few blocks multiply their input: ``TextReplace`` with ``old=""`` inserts ``new`` between every
character (31 KB in, 30 MB out, in the security audit), ``CombineTexts`` repeats its delimiter
between every item, ``ZipLists`` pads every short list, ``CountdownTimer`` repeats its message.
Each predicts its result size from lengths (cheap) and yields a clear error past these caps,
instead of building gigabytes that the executor's output size check would only see afterwards.

``MAX_OUTPUT_CHARS`` is a fixed cap equal to the default ``Settings.max_value_bytes`` (16 MiB), so
with the defaults nothing refused here could have been recorded anyway. Blocks get no settings: an
operator who lowers ``max_value_bytes`` is still served by the executor's own check of every output,
which this only anticipates. (The replace prediction lives in ``sandbox/limits.py``, shared with the
template sandbox.)
"""

from __future__ import annotations

import json
from typing import Any

MAX_OUTPUT_CHARS = 16 * 1024 * 1024
MAX_OUTPUT_ITEMS = 1_000_000
MAX_REPEAT = 1_000


def too_many_chars(size: int, what: str = "the result") -> str | None:
    """The error message when ``size`` characters pass the cap, else None."""
    if size <= MAX_OUTPUT_CHARS:
        return None
    return f"{what} would be {size:,} characters long (the limit is {MAX_OUTPUT_CHARS:,})"


def too_many_items(count: int, what: str = "the result") -> str | None:
    if count <= MAX_OUTPUT_ITEMS:
        return None
    return f"{what} would hold {count:,} items (the limit is {MAX_OUTPUT_ITEMS:,})"


def approx_size(value: Any) -> int:
    """Rough serialized size of a value (its JSON length; ``str`` for anything JSON refuses)."""
    if isinstance(value, str):
        return len(value)
    try:
        return len(json.dumps(value, default=str))
    except (TypeError, ValueError):
        return len(str(value))
