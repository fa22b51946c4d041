"""Runs a block's own ``test_input``/``test_output`` examples: the block conformance check.

An expected value may be a literal (compared with ==), a type (isinstance) or a predicate.
Outputs must match in exact sequence, pin and value, as in AutoGPT's block test. A block with
external effects must also have a dry-run output a dry run can yield (``dry_run_problems``).
"""

from __future__ import annotations

from typing import Any

import orjson

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


def _concrete(value: Any) -> bool:
    """A value a dry run can yield: data, not a type or predicate (inside containers too)."""
    if isinstance(value, type) or callable(value):
        return False
    if isinstance(value, dict):
        return all(_concrete(k) and _concrete(v) for k, v in value.items())
    if isinstance(value, list | tuple | set | frozenset):
        return all(_concrete(v) for v in value)
    return True


def dry_run_problems(block_cls: type[Block]) -> list[str]:
    """What is wrong with a block's dry-run output (empty: fine): a block with external effects
    must yield at least one concrete, JSON-encodable value, on real output pins other than
    ``error`` (which would fail the node, so a dry run could never pass it)."""
    if not block_cls.external_effects:
        return []
    outputs = block_cls.dry_run_output()
    if not outputs:
        return ["no dry-run output"]
    problems = []
    pins = block_cls.output_fields() - {"error"}
    for i, (pin, value) in enumerate(outputs):
        if pin not in pins:
            problems.append(f"output #{i}: {pin!r} is not an output pin of the block (pins: {sorted(pins)})")
        if not _concrete(value):
            problems.append(f"output #{i} on {pin!r}: {value!r} is not a concrete value")
            continue
        try:
            orjson.dumps(value)
        except TypeError as exc:
            problems.append(f"output #{i} on {pin!r}: {value!r} is not JSON ({exc})")
    return problems
