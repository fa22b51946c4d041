"""Every enabled block yields exactly its own test_output for its test_input."""

import asyncio

import pytest

from services.domain.blocks.base import RunContext
from services.domain.blocks.registry import all_blocks
from services.blocks.testing import run_block_examples
from tests.unit.fakes import MemoryKeyValueStore

BLOCKS = sorted(all_blocks().values(), key=lambda b: b.__name__)


@pytest.mark.parametrize("block_cls", BLOCKS, ids=lambda b: b.__name__)
def test_block_examples(block_cls):
    if not block_cls.test_output and not block_cls.test_input:
        pytest.fail(f"{block_cls.__name__} has no test_input/test_output examples")
    ctx = RunContext(kv_store=MemoryKeyValueStore())
    asyncio.run(run_block_examples(block_cls, ctx))


def test_block_ids_unique_and_valid():
    blocks = all_blocks()
    assert len(blocks) == len({b.id for b in blocks.values()})
