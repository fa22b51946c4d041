"""Every enabled block yields exactly its own test_output for its test_input, and every block with
external effects has a dry-run output a dry run can yield."""

import asyncio
from typing import Any

import pytest

from services.blocks.testing import dry_run_problems, run_block_examples
from services.domain.blocks.base import Block, BlockSchemaOutput, RunContext
from services.domain.blocks.registry import all_blocks, index_blocks
from tests.unit.fakes import MemoryKeyValueStore

BLOCKS = sorted(all_blocks().values(), key=lambda b: b.__name__)


@pytest.mark.parametrize("block_cls", BLOCKS, ids=lambda b: b.__name__)
def test_block_examples(block_cls):
    if not block_cls.test_output and not block_cls.test_input:
        pytest.fail(f"{block_cls.__name__} has no test_input/test_output examples")
    ctx = RunContext(kv_store=MemoryKeyValueStore())
    asyncio.run(run_block_examples(block_cls, ctx))


# Families that reach outside the process: HTTP, every model-provider block, durable key/value state.
# A block is simulated in a dry run exactly when it is in one of these (a new family that reaches
# out must be added here, and a pure one must not set ``external_effects``).
EXTERNAL_FAMILIES = {"services.blocks.http", "services.blocks.llm", "services.blocks.llm_lists",
                     "services.blocks.ai_condition", "services.blocks.persistence"}


def test_blocks_with_external_effects_are_exactly_the_outside_families():
    external = {cls.__name__ for cls in BLOCKS if cls.external_effects}
    assert external == {cls.__name__ for cls in BLOCKS if cls.__module__ in EXTERNAL_FAMILIES}
    assert {"SendWebRequestBlock", "AITextGeneratorBlock", "AIConditionBlock", "PersistInformationBlock",
            "RetrieveInformationBlock", "AIListGeneratorBlock"} <= external
    assert not {"CalculatorBlock", "FillTextTemplateBlock", "AgentExecutorBlock", "AgentOutputBlock"} & external


@pytest.mark.parametrize("block_cls", [cls for cls in BLOCKS if cls.external_effects], ids=lambda b: b.__name__)
def test_every_block_with_external_effects_has_a_concrete_dry_run_output(block_cls):
    assert dry_run_problems(block_cls) == []
    simulated = asyncio.run(_simulate(block_cls))
    assert simulated == block_cls.dry_run_output()


async def _simulate(block_cls):
    """The block's simulation on its first example input (validated as for a real run)."""
    data = block_cls.test_input[0] if isinstance(block_cls.test_input, list) else block_cls.test_input
    block = block_cls()
    block.run = None  # a dry run never runs the block
    return [pair async for pair in block.simulate(dict(data), RunContext())]


def test_the_dry_run_contract_check_names_what_is_wrong():
    class Output(BlockSchemaOutput):
        response: Any = None

    class LeakyBlock(Block):
        id = "5c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
        external_effects = True
        test_output = [("response", str), ("nope", 1), ("error", "x"), ("response", {"tags": {"a"}})]

    LeakyBlock.Output = Output
    assert dry_run_problems(LeakyBlock) == [
        "output #0 on 'response': <class 'str'> is not a concrete value",
        "output #1: 'nope' is not an output pin of the block (pins: ['response'])",
        "output #2: 'error' is not an output pin of the block (pins: ['response'])",
        "output #3 on 'response': {'tags': {'a'}} is not JSON (Type is not JSON serializable: "
        "set)"]
    assert dry_run_problems(type("EmptyBlock", (Block,), {"id": LeakyBlock.id, "external_effects": True})) == [
        "no dry-run output"]
    assert dry_run_problems(type("PureBlock", (Block,), {"id": LeakyBlock.id, "test_output": [("x", str)]})) == []


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
