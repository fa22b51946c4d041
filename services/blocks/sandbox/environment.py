"""A Jinja sandbox that bounds the work of a render *while* it runs.

``ImmutableSandboxedEnvironment`` stops a template from reaching Python internals, but not from
working forever: it caps each ``range()`` at 100,000, yet ``{% for %}`` loops nest freely (10^10
iterations in 80 characters), ``'x' * 10**10`` allocates 10 GB, and the output size can only be
checked once rendering is over. ``BoundedSandbox`` adds, during rendering:

* a step budget (``MAX_TEMPLATE_STEPS``) shared by every loop iteration, filtered-out loop item,
  call (a macro call costs ``MACRO_CALL_STEPS``, so recursion counts), attribute or item lookup
  (``LOOKUP_STEPS``) and item fed to a filter, across all nesting levels, so that running out of
  budget takes about a second of CPU;
* size checks before ``*``, ``+``, ``**``, ``%``, ``~``, ``str.format``, ``join``, ``replace``,
  padding filters and methods, which refuse a result past the cap instead of allocating it;
* an output cap counted chunk by chunk while ``generate()`` streams (``render_bounded``).

What the budget cannot see (a few expensive string operations repeated) is left to the
wall-clock and memory limits of the worker process (``services.blocks.sandbox.pool``).
"""

from __future__ import annotations

import string
import threading
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from functools import update_wrapper
from typing import Any

from jinja2 import Template, Undefined, nodes
from jinja2.compiler import CodeGenerator, Frame, optimizeconst
from jinja2.runtime import Macro
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum

from services.blocks.sandbox.limits import (
    MAX_TEMPLATE_CHARS,
    MAX_TEMPLATE_STEPS,
    TemplateLimitError,
    check_binop,
    check_chars,
    check_format_spec,
    check_join,
    check_printf,
    check_replace,
    check_width,
    text_size,
)

_PADDING_METHODS = {"ljust", "rjust", "center", "zfill"}
MACRO_CALL_STEPS = 10  # a macro call costs about ten loop iterations (its frame, buffer and join)
LOOKUP_STEPS = 3       # a sandboxed attribute or item lookup (its safety checks) about three


class _Budget:
    __slots__ = ("left",)

    def __init__(self, steps: int) -> None:
        self.left = steps


_BUDGET: ContextVar[_Budget | None] = ContextVar("template_budget", default=None)


def _is_tick(node: nodes.Node) -> bool:
    return (isinstance(node, nodes.ExprStmt) and isinstance(node.node, nodes.EnvironmentAttribute)
            and node.node.name == "loop_tick")


class _BoundedCodeGenerator(CodeGenerator):
    """Every loop body starts with a budget step; a filtered loop (``for x in xs if test``), whose
    skipped items never reach the body, also pays a step per item drawn. Jinja forbids custom
    node types, so the step is an ``ExprStmt`` of an ``EnvironmentAttribute`` (a node no template
    text can produce) that this generator compiles as a direct call."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:  # noqa: N802 - Jinja's visitor names
        if not (node.body and _is_tick(node.body[0])):
            tick = nodes.ExprStmt(nodes.EnvironmentAttribute("loop_tick", lineno=node.lineno), lineno=node.lineno)
            node.body = [tick, *node.body]
        if node.test is not None and not (isinstance(node.iter, nodes.Call)
                                          and isinstance(node.iter.node, nodes.EnvironmentAttribute)):
            node.iter = nodes.Call(nodes.EnvironmentAttribute("counted"), [node.iter], [], None, None,
                                   lineno=node.lineno)
        super().visit_For(node, frame)

    def visit_ExprStmt(self, node: nodes.ExprStmt, frame: Frame) -> None:  # noqa: N802 - Jinja's visitor names
        if _is_tick(node):
            self.writeline("environment.loop_tick()", node)
        else:
            super().visit_ExprStmt(node, frame)

    @optimizeconst
    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:  # noqa: N802 - Jinja's visitor names
        """``a ~ b`` checks the joined size first (Jinja's own version joins unconditionally)."""
        if frame.eval_ctx.volatile:
            func_name = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            func_name = "markup_join"
        else:
            func_name = "str_join"
        self.write(f"environment.checked_concat({func_name}, (")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write("))")


def _check_str_format(template: str, args: tuple, kwargs: dict) -> None:
    """``'{:>999999999}'.format(1)`` or ``('{0}' * 300000).format(big)``: bound the spec widths
    and the number of fields times the largest argument."""
    fields = 0
    for _literal, field, spec, _conversion in string.Formatter().parse(template):
        if field is None:
            continue
        fields += 1
        if spec and "{" in spec:
            for value in (*args, *kwargs.values()):
                check_width(value, "formatted value")
        elif spec:
            check_format_spec(spec)
    largest = max((text_size(v) for v in (*args, *kwargs.values())), default=0)
    check_chars(len(template) + fields * largest, "formatted text")


def _arg(args: tuple, kwargs: dict, index: int, name: str, default: Any) -> Any:
    return args[index] if len(args) > index else kwargs.get(name, default)


def _check_filter(name: str, value: Any, args: tuple, kwargs: dict) -> Any:
    """Per-filter size checks; returns the (possibly materialised) value to pass on."""
    if name == "join":
        return check_join(value, str(_arg(args, kwargs, 0, "d", "")))
    if name == "center":
        check_width(_arg(args, kwargs, 0, "width", 80), "centred text")
    elif name == "indent":
        width = _arg(args, kwargs, 0, "width", 4)
        text = str(value)
        if isinstance(width, int):
            check_chars(len(text) + width * (text.count("\n") + 1), "indented text")
    elif name == "replace":
        count = _arg(args, kwargs, 2, "count", None)
        check_replace(str(value), str(_arg(args, kwargs, 0, "old", "")), str(_arg(args, kwargs, 1, "new", "")),
                      count if isinstance(count, int) else -1)
    elif name == "format" and isinstance(value, str):
        check_printf(value, kwargs if kwargs else tuple(args))
    elif name in ("batch", "slice"):
        check_width(_arg(args, kwargs, 0, "linecount" if name == "batch" else "slices", 1), f"{name} size")
    return value


def _counted_filter(env: BoundedSandbox, name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    offset = 1 if getattr(func, "jinja_pass_arg", None) is not None else 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if len(args) > offset:
            value = args[offset]
            env.loop_tick(1 + (len(value) if isinstance(value, (list, tuple, dict, set, range)) else 0))
            value = _check_filter(name, value, args[offset + 1:], kwargs)
            args = (*args[:offset], value, *args[offset + 1:])
        return func(*args, **kwargs)

    return update_wrapper(wrapper, func)


def _bounded_lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:  # noqa: A002
    check_chars(int(n) * int(max) * 12, "lorem ipsum")
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


class BoundedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with a step budget and size checks (see the module doc)."""

    code_generator_class = _BoundedCodeGenerator
    intercepted_binops = frozenset({"*", "+", "**", "%"})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.filters = {name: _counted_filter(self, name, f) for name, f in self.filters.items()}
        self.globals["lipsum"] = _bounded_lipsum

    def loop_tick(self, steps: int = 1) -> None:
        budget = _BUDGET.get()
        if budget is None:
            return
        budget.left -= steps
        if budget.left < 0:
            raise TemplateLimitError(f"the template ran more than {MAX_TEMPLATE_STEPS:,} steps "
                                     f"(loop iterations, calls and lookups); nested loops?")

    def counted(self, iterable: Any) -> Any:
        for item in iterable:
            self.loop_tick()
            yield item

    def checked_concat(self, join: Callable[[Any], str], parts: tuple) -> str:
        check_chars(sum(text_size(p) for p in parts), "text")
        return join(parts)

    def getattr(self, obj: Any, attribute: str) -> Any:
        self.loop_tick(LOOKUP_STEPS)  # ``loop.index`` & co. cost more than the iteration itself
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        self.loop_tick(LOOKUP_STEPS)
        return super().getitem(obj, argument)

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N805,B902
        __self.loop_tick(MACRO_CALL_STEPS if isinstance(__obj, Macro) else 1)
        if isinstance(getattr(__obj, "__self__", None), str):  # str methods, and Markup's wrappers
            args = __self._check_str_method(__obj.__self__, getattr(__obj, "__name__", ""), args, kwargs)
        return super().call(__context, __obj, *args, **kwargs)

    @staticmethod
    def _check_str_method(text: str, name: str, args: tuple, kwargs: dict) -> tuple:
        if name in _PADDING_METHODS and args:
            check_width(args[0], "padded text")
        elif name == "expandtabs":
            size = _arg(args, kwargs, 0, "tabsize", 8)
            if isinstance(size, int):
                check_chars(len(text) + text.count("\t") * size, "text")
        elif name == "replace" and len(args) >= 2:
            check_replace(text, str(args[0]), str(args[1]), args[2] if len(args) > 2 else -1)
        elif name == "join" and args:
            return (check_join(args[0], text), *args[1:])
        return args

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        formatter = super().wrap_str_format(value)
        if formatter is None:
            return None
        template = value.__self__

        def checked(*args: Any, **kwargs: Any) -> str:
            if value.__name__ == "format_map" and args and isinstance(args[0], dict):
                _check_str_format(template, (), args[0])
            else:
                _check_str_format(template, args, kwargs)
            return formatter(*args, **kwargs)

        return update_wrapper(checked, formatter)


# -- rendering ---------------------------------------------------------------------------------

_ENVS = {False: BoundedSandbox(undefined=Undefined, autoescape=False),
         True: BoundedSandbox(undefined=Undefined, autoescape=True)}
_COMPILED: OrderedDict[tuple[bool, str], Template] = OrderedDict()
_COMPILED_LOCK = threading.Lock()
_CACHE_SIZE = 128


def _compile(source: str, escape_html: bool) -> Template:
    key = (escape_html, source)
    with _COMPILED_LOCK:
        found = _COMPILED.get(key)
        if found is not None:
            _COMPILED.move_to_end(key)
            return found
    compiled = _ENVS[escape_html].from_string(source)
    with _COMPILED_LOCK:
        _COMPILED[key] = compiled
        while len(_COMPILED) > _CACHE_SIZE:
            _COMPILED.popitem(last=False)
    return compiled


def render_bounded(source: str, values: dict[str, Any], *, escape_html: bool = False,
                   max_steps: int = MAX_TEMPLATE_STEPS, max_chars: int = MAX_TEMPLATE_CHARS) -> str:
    """Render ``source`` with ``values`` under the step budget, streaming the output and stopping
    as soon as it passes ``max_chars``. Raises ``TemplateLimitError`` or Jinja's own errors."""
    if len(source) > max_chars:
        raise TemplateLimitError(f"the template is {len(source):,} characters long (the limit is {max_chars:,})")
    token = _BUDGET.set(_Budget(max_steps))
    try:
        chunks, size = [], 0
        for chunk in _compile(source, escape_html).generate(**values):
            size += len(chunk)
            if size > max_chars:
                raise TemplateLimitError(f"rendered text exceeds {max_chars:,} characters")
            chunks.append(chunk)
        return "".join(chunks)
    finally:
        _BUDGET.reset(token)
