"""Every enabled block yields exactly its own test_output for its test_input."""

import asyncio

import pytest

from services.blocks.testing import run_block_examples
from services.domain.blocks.base import Block, RunContext
from services.domain.blocks.registry import all_blocks, index_blocks
from tests.unit.fakes import MemoryKeyValueStore

BLOCKS = sorted(all_blocks().values(), key=lambda b: b.__name__)


@pytest.mark.parametrize("block_cls", BLOCKS, ids=lambda b: b.__name__)
def test_block_examples(block_cls):
    if not block_cls.test_output and not block_cls.test_input:
        pytest.fail(f"{block_cls.__name__} has no test_input/test_output examples")
    ctx = RunContext(kv_store=MemoryKeyValueStore())
    asyncio.run(run_block_examples(block_cls, ctx))


def test_the_catalogue_is_keyed_by_each_blocks_own_id():
    blocks = all_blocks()
    assert len(blocks) >= 51
    assert all(cls.id == block_id for block_id, cls in blocks.items())


def _block(name: str, block_id: str) -> type[Block]:
    return type(name, (Block,), {"id": block_id})


def test_the_registry_refuses_a_malformed_or_repeated_id():
    good = _block("GoodBlock", "9b7c6d5e-4f3a-4b2c-9d1e-0f1a2b3c4d5e")
    assert index_blocks([good]) == {good.id: good}
    with pytest.raises(ValueError, match="malformed id"):
        index_blocks([_block("ShoutyBlock", "9B7C6D5E-4F3A-4B2C-9D1E-0F1A2B3C4D5E")])
    with pytest.raises(ValueError, match="duplicate block id"):
        index_blocks([good, _block("TwinBlock", good.id)])
    assert index_blocks([_block("AbstractBase", good.id), good]) == {good.id: good}  # bases are skipped
