"""The bounded Jinja sandbox (audit F3): work and sizes are limited *while* a template renders.

Each hostile template here rendered (slowly, or by allocating gigabytes) in Jinja's plain
``ImmutableSandboxedEnvironment``; the bounded sandbox refuses it quickly with a message naming
the limit, and ordinary templates render exactly as before.
"""

from __future__ import annotations

import time
import tracemalloc

import pytest
from jinja2.sandbox import ImmutableSandboxedEnvironment

from services.blocks.sandbox.environment import render_bounded
from services.blocks.sandbox.limits import MAX_TEMPLATE_CHARS, TemplateLimitError

NESTED_LOOPS = "{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}done"


def refused(source: str, values: dict | None = None, *, within_s: float = 10.0) -> str:
    """The render fails with a limit error, well before the worker's wall-clock limit would
    matter (a generous bound: the test machine is shared)."""
    started = time.monotonic()
    with pytest.raises(TemplateLimitError) as caught:
        render_bounded(source, values or {})
    assert time.monotonic() - started < within_s
    return str(caught.value)


def test_f3_nested_loops_stop_at_the_step_budget():
    assert "steps" in refused(NESTED_LOOPS)


def test_the_plain_sandbox_runs_nested_loops_unbounded():
    """The gap being closed: Jinja's own sandbox lets 10^10 iterations start (shown with 10^6)."""
    small = NESTED_LOOPS.replace("10000", "1000")
    assert ImmutableSandboxedEnvironment().from_string(small).render() == "done"
    assert "steps" in refused(small.replace("1000", "1001", 1))  # 1,001,000 iterations > 1,000,000


def test_f3_string_multiplication_is_refused_before_allocating():
    tracemalloc.start()
    try:
        message = refused("{{ 'x' * 10**10 }}")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert "10,000,000,000 characters" in message
    assert peak < 20 * 1024 * 1024  # nowhere near the 10 GB the product would take


@pytest.mark.parametrize("source, words", [
    ("{% for i in range(100000) %}{% for j in range(100000) if false %}{% endfor %}{% endfor %}", "steps"),
    ("{% for x in xs recursive %}{% if loop.depth < 5 %}{{ loop(xs) }}{% endif %}{% endfor %}", "steps"),
    ("{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}{{ f(30) }}", "steps"),
    ("{{ (range(100000)|list) * 100 }}", "items"),
    ("{{ (['x' * 100000] * 1000)|join }}", "characters"),
    ("{{ ('x' * 600000) + ('y' * 600000) }}", "characters"),
    ("{% set ns = namespace(s='x' * 100000) %}{% for i in range(20) %}{% set ns.s = ns.s ~ ns.s %}{% endfor %}",
     "characters"),
    ("{{ 10 ** 100000 }}", "integer"),
    ("{{ 'x'|center(999999999) }}", "characters"),
    ("{{ 'a\nb'|indent(999999999) }}", "characters"),
    ("{{ '%0999999999d' % 1 }}", "characters"),
    ("{{ '%*d' % (999999999, 1) }}", "characters"),
    ("{{ '{:>999999999}'.format(1) }}", "characters"),
    ("{{ ('{0}' * 300000).format('y' * 100) }}", "characters"),
    ("{{ 'abc'.replace('', 'x' * 1000000) }}", "characters"),
    ("{{ 'abc'|replace('', 'x' * 1000000) }}", "characters"),
    ("{{ 'a'.ljust(999999999) }}", "characters"),
    ("{{ (('x' * 999)|safe).replace('', 'y' * 999999) }}", "characters"),  # Markup's own methods
    ("{{ ''.join(['x' * 100000] * 100) }}", "characters"),
    ("{{ range(1)|batch(999999999, 'x')|list }}", "characters"),
    ("{{ lipsum(10**7) }}", "characters"),
    ("{% for i in range(100000) %}{{ 'abcdefghij!' }}{% endfor %}", "exceeds"),
])
def test_amplification_is_refused(source, words):
    assert words in refused(source, {"xs": list(range(100))})


def test_output_cap_is_counted_while_streaming():
    """The output limit stops rendering on the chunk that passes it, not after the whole text."""
    started = time.monotonic()
    with pytest.raises(TemplateLimitError, match="exceeds"):
        render_bounded("{% for i in range(100000) %}{{ 'y' * 100000 }}{% endfor %}", {})
    assert time.monotonic() - started < 10.0  # 10^10 characters were asked for


@pytest.mark.parametrize("source, values, expected", [
    ("{{hello}}, {{ world }} {{name}}", {"hello": "Hello", "world": "World!", "name": "Alice"}, "Hello, World! Alice"),
    ("{% for item in list %}{{ item }}{% endfor %}", {"list": ["Hello", " World!"]}, "Hello World!"),
    ("[{{ a }}|{{ missing }}]", {"a": "x"}, "[x|]"),
    ("{{ '%s-%d' % ('a', 3) }} {{ 'a' ~ 1 }} {{ xs|join(',') }} {{ '{}!'.format('hi') }}", {"xs": [1, 2]},
     "a-3 a1 1,2 hi!"),
    ("{% for x in xs if x > 1 %}{{ loop.index }}{{ x }}{% else %}none{% endfor %}", {"xs": [1, 2, 3]}, "1223"),
    ("{{ ('x' * 1000)|length }}{{ (range(3)|list) * 2 }}", {}, "1000[0, 1, 2, 0, 1, 2]"),
])
def test_ordinary_templates_render_as_before(source, values, expected):
    assert render_bounded(source, values) == expected
    assert ImmutableSandboxedEnvironment().from_string(source).render(**values) == expected


def test_the_budget_is_per_render():
    source = "{% for i in range(900) %}{% for j in range(1000) %}{% endfor %}{% endfor %}ok"  # 901,800 steps
    assert [render_bounded(source, {}) for _ in range(3)] == ["ok"] * 3


def test_escape_html_and_the_largest_allowed_output():
    assert render_bounded("{{ tag }}", {"tag": "<b>"}, escape_html=True) == "&lt;b&gt;"
    assert len(render_bounded("{{ 'x' * n }}", {"n": MAX_TEMPLATE_CHARS})) == MAX_TEMPLATE_CHARS
