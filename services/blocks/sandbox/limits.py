"""The size checks of the template sandbox: pure functions that refuse an operation *before* it
allocates its result.

Jinja's sandbox stops attribute access, not work: ``'x' * 10**10`` or ``s ~ s`` in a loop would
allocate gigabytes before any output check ran. Each helper here predicts the size of a result
from its operands (cheap: lengths and integers) and raises ``TemplateLimitError`` when it would
pass the cap, so the allocation never happens.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from jinja2 import TemplateError

MAX_TEMPLATE_CHARS = 1_000_000   # rendered output, and any string or list built while rendering
MAX_TEMPLATE_STEPS = 1_000_000   # loop iterations + calls + items fed to filters, per render
MAX_INT_BITS = 100_000           # integers from * and ** (about 30,000 digits)

_PRINTF_SPEC = re.compile(r"%[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?")
_DIGITS = re.compile(r"\d+")


class TemplateLimitError(TemplateError):
    """A template asked for more than the sandbox allows; the message says which limit."""


def check_chars(size: int, what: str = "text") -> None:
    if size > MAX_TEMPLATE_CHARS:
        raise TemplateLimitError(f"the template would build a {what} of {size:,} characters "
                                 f"(the limit is {MAX_TEMPLATE_CHARS:,})")


def check_items(size: int, what: str = "list") -> None:
    if size > MAX_TEMPLATE_CHARS:
        raise TemplateLimitError(f"the template would build a {what} of {size:,} items "
                                 f"(the limit is {MAX_TEMPLATE_CHARS:,})")


def check_width(width: Any, what: str) -> None:
    """A width-like argument (padding, indentation, batch size) must itself fit the cap."""
    if isinstance(width, int) and not isinstance(width, bool):
        check_chars(width, what)


def _sized(value: Any) -> tuple[str, int] | None:
    if isinstance(value, str):
        return "text", len(value)
    if isinstance(value, (list, tuple)):
        return "list", len(value)
    return None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse ``*``, ``+``, ``**`` and ``%`` whose result would pass a cap."""
    if operator == "*":
        for seq, count in ((left, right), (right, left)):
            sized = _sized(seq)
            if sized is not None and _is_int(count):
                (check_chars if sized[0] == "text" else check_items)(sized[1] * max(count, 0), sized[0])
        if _is_int(left) and _is_int(right) and abs(left).bit_length() + abs(right).bit_length() > MAX_INT_BITS:
            raise TemplateLimitError(f"the template would build an integer over {MAX_INT_BITS:,} bits")
    elif operator == "+":
        a, b = _sized(left), _sized(right)
        if a is not None and b is not None:
            (check_chars if a[0] == "text" else check_items)(a[1] + b[1], a[0])
    elif operator == "**":
        if _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1 \
                and abs(left).bit_length() * right > MAX_INT_BITS:
            raise TemplateLimitError(f"the template would build an integer over {MAX_INT_BITS:,} bits")
    elif operator == "%" and isinstance(left, str):
        check_printf(left, right)


def text_size(value: Any) -> int:
    return len(value) if isinstance(value, str) else len(str(value))


def check_printf(fmt: str, args: Any) -> None:
    """``'%0999999999d' % 1`` allocates its width: refuse widths and precisions past the cap and
    ``*`` widths taken from the arguments, then bound the result by the arguments' sizes (every
    ``%`` of a mapping format may name the largest value)."""
    for width, precision in _PRINTF_SPEC.findall(fmt):
        for part in (width, precision):
            if part == "*":
                for arg in args if isinstance(args, tuple) else (args,):
                    check_width(arg, "formatted value")
            elif part:
                check_chars(int(part), "formatted value")
    if isinstance(args, tuple):
        size = sum(text_size(a) for a in args)
    else:
        values = args.values() if isinstance(args, dict) else (args,)
        size = fmt.count("%") * max((text_size(v) for v in values), default=0)
    check_chars(len(fmt) + size, "formatted text")


def check_format_spec(spec: str) -> None:
    """A ``str.format`` spec such as ``{:>999999999}``: any number in it bounds the field size."""
    for digits in _DIGITS.findall(spec):
        check_chars(int(digits), "formatted value")


def check_join(parts: Iterable[Any], separator: str = "") -> list[Any]:
    """Materialise ``parts`` and refuse when joining them would pass the cap. Non-text parts are
    counted by their ``str``, which the join computes anyway."""
    items = list(parts)
    check_items(len(items))
    size = len(separator) * max(len(items) - 1, 0)
    check_chars(size, "text")
    for item in items:
        size += len(item) if isinstance(item, str) else len(str(item))
        check_chars(size, "text")
    return items


def replaced_size(text: str, old: str, new: str, count: int = -1) -> int:
    """Length of ``text.replace(old, new, count)`` without building it (``'abc'.replace('', 'x' *
    1000)`` inserts ``new`` between every character). The one home of this prediction: the text
    blocks use it too (``blocks/bounds.py``)."""
    hits = (len(text) + 1) if old == "" else text.count(old)
    if count is not None and count >= 0:
        hits = min(hits, count)
    return len(text) + hits * (len(new) - len(old))


def check_replace(text: str, old: str, new: str, count: int = -1) -> None:
    check_chars(replaced_size(text, old, new, count), "text")
