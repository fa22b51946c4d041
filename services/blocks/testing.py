"""Runs a block's own ``test_input``/``test_output`` examples: the block conformance check.

An expected value may be a literal (compared with ==), a type (isinstance) or a predicate.
Outputs must match in exact sequence, pin and value, as in AutoGPT's block test.
"""

from __future__ import annotations

from typing import Any

from services.domain.blocks.base import Block, RunContext


def _matches(expected: Any, actual: Any) -> bool:
    if isinstance(expected, type):
        return isinstance(actual, expected)
    if callable(expected) and not isinstance(expected, type):
        return bool(expected(actual))
    return expected == actual


async def run_block_examples(block_cls: type[Block], ctx: RunContext | None = None) -> list[tuple[str, Any]]:
    """Run every example input; return the outputs, raising AssertionError on a mismatch."""
    block = block_cls()
    for name, replacement in (block_cls.test_mock or {}).items():
        setattr(block, name, replacement)
    inputs = block_cls.test_input if isinstance(block_cls.test_input, list) else [block_cls.test_input]
    produced: list[tuple[str, Any]] = []
    for data in inputs:
        async for pin, value in block.execute(dict(data), ctx or RunContext()):
            produced.append((pin, value))
    expected = list(block_cls.test_output)
    assert len(produced) == len(expected), (
        f"{block_cls.__name__}: expected {len(expected)} outputs, got {len(produced)}: {produced!r}")
    for i, ((pin, value), (exp_pin, exp_value)) in enumerate(zip(produced, expected)):
        assert pin == exp_pin, f"{block_cls.__name__} output #{i}: pin {pin!r} != {exp_pin!r}"
        assert _matches(exp_value, value), (
            f"{block_cls.__name__} output #{i} on {pin!r}: {value!r} does not match {exp_value!r}")
    return produced
