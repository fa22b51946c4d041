"""Block pricing: what running a block costs, decided from its input before it runs (COMPAT §2.7).

A block may have several ``BlockCost`` entries; the first whose ``cost_filter`` matches the node's
input wins. Filters name *platform-provided* ("system") credentials, so a run with the user's own
API key matches no entry and costs nothing: the user pays their provider, not us.

Matching follows AutoGPT exactly:
- a dict filter matches a dict input when each of its keys matches the input's value for that key,
  recursively (so the filter is a subset of the input; extra input keys do not matter);
- a falsy filter value matches a falsy or missing input value, using Python truthiness, so None,
  "", a missing key (and also 0, False, [] and {}) are all alike;
- anything else must be equal.

Only RUN costs are used. SECOND and BYTE costs are computed from run time and data size, which are
both 0 when the charge is taken (before execution), so they cost 0 there.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from enum import StrEnum
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class BlockCostType(StrEnum):
    RUN = "run"  # a fixed amount per run
    BYTE = "byte"  # amount per byte of data
    SECOND = "second"  # amount per second of run time


class BlockCost(BaseModel):
    model_config = ConfigDict(frozen=True)

    cost_amount: int
    cost_filter: dict[str, Any] = Field(default_factory=dict)
    cost_type: BlockCostType = BlockCostType.RUN


CostTable = Mapping[str, Sequence[BlockCost]]


def cost_filter_matches(cost_filter: Any, input_data: Any) -> bool:
    """Whether ``cost_filter`` selects ``input_data`` (AutoGPT's matching rules, see module doc)."""
    if not isinstance(cost_filter, dict) or not isinstance(input_data, dict):
        return cost_filter == input_data
    for key, wanted in cost_filter.items():
        actual = input_data.get(key)
        if not wanted and not actual:
            continue  # falsy equals falsy, including a missing key
        if not actual or not cost_filter_matches(wanted, actual):
            return False
    return True


def block_usage_cost(block_id: str, input_data: Mapping[str, Any], cost_table: CostTable | None = None,
                     *, data_size: float = 0, run_time: float = 0) -> tuple[int, dict[str, Any]]:
    """The cost of one run of ``block_id`` with this input, and the filter that decided it.

    The filter is what the USAGE entry records as its ``input``; ``(0, {})`` when nothing matches.
    """
    table = COST_TABLE if cost_table is None else cost_table
    entries = table.get(block_id, ())
    if not entries:
        return 0, {}
    data = priced_input(block_id, input_data)
    if data is None:
        return 0, {}
    for cost in entries:
        if not cost_filter_matches(cost.cost_filter, data):
            continue
        if cost.cost_type is BlockCostType.RUN:
            amount = cost.cost_amount
        elif cost.cost_type is BlockCostType.SECOND:
            amount = int(run_time * cost.cost_amount)
        else:
            amount = int(data_size * cost.cost_amount)
        return amount, dict(cost.cost_filter)
    return 0, {}


def priced_input(block_id: str, input_data: Mapping[str, Any]) -> dict[str, Any] | None:
    """The input a price is decided on: as the block will actually run it (validated, defaults
    filled in, a prefixed model name normalised). Matching the raw input instead would let
    ``"model": null`` or ``"openai/gpt-4o"`` run a priced model for free. None when the block
    would refuse the input: it will not run, so it costs nothing."""
    from services.domain.blocks.base import BlockInputError
    from services.domain.blocks.registry import get_block

    block = get_block(block_id)
    if block is None:
        return dict(input_data)
    try:
        return block().parse_input(dict(input_data)).model_dump(mode="json")
    except BlockInputError:
        return None


def block_costs(block_id: str, cost_table: CostTable | None = None) -> list[dict[str, Any]]:
    """The ``costs`` list shown for a block by ``GET /api/blocks``."""
    table = COST_TABLE if cost_table is None else cost_table
    return [cost.model_dump(mode="json") for cost in table.get(block_id, ())]


# -- the default table --------------------------------------------------------------------------

# The AI blocks: priced per model when the platform's own key pays (AutoGPT's LLM_COST); a user's
# own key matches no entry, so it costs nothing.
LLM_BLOCK_IDS = (
    "1f292d4a-41a4-4977-9684-7c8d560b9f91",  # AITextGeneratorBlock
    "ed55ac19-356e-4243-a6cb-bc599e9b716f",  # AIStructuredResponseGeneratorBlock
    "32a87eab-381e-4dd4-bdb8-4c47151be35a",  # AIConversationBlock
    "a0a69be1-4528-491c-a85a-a4ab6873e3f0",  # AITextSummarizerBlock
    "9c0b0450-d199-458b-a731-072189dd6593",  # AIListGeneratorBlock
    "553ec5b8-6c45-4299-8d75-b394d05f72ff",  # AIConditionBlock
)
LLM_BLOCK_ID = LLM_BLOCK_IDS[0]


def _llm_costs() -> list[BlockCost]:
    from services.domain.integrations.system import SYSTEM_CREDENTIALS, system_meta
    from services.domain.llm.models import MODELS

    return [BlockCost(cost_amount=info.cost, cost_filter={"model": model, "credentials": system_meta(info.provider)})
            for model, info in MODELS.items() if info.provider in SYSTEM_CREDENTIALS and info.provider != "ollama"]


# Core blocks are free: only blocks calling paid external services with platform credentials
# appear here.
COST_TABLE: dict[str, list[BlockCost]] = {block_id: _llm_costs() for block_id in LLM_BLOCK_IDS}


def cost_table_with(extra: Mapping[str, Sequence[Mapping[str, Any]]]) -> dict[str, list[BlockCost]]:
    """The built-in table plus a deployment's prices (``AGENTLOOM_BLOCK_COSTS``); a deployment's
    entries for a block come first, so they win over the built-in ones."""
    table = {block_id: list(costs) for block_id, costs in COST_TABLE.items()}
    for block_id, costs in extra.items():
        table[block_id] = [BlockCost.model_validate(c) for c in costs] + table.get(block_id, [])
    return table


@lru_cache(maxsize=1)
def block_catalogue() -> list[dict[str, Any]]:
    """``GET /api/blocks`` (and the external API's ``/blocks``): every enabled block in AutoGPT's
    block dict shape, with its prices."""
    from services.domain.blocks.registry import enabled_blocks

    items = []
    for block in sorted(enabled_blocks(), key=lambda b: b.name()):
        item = block.to_dict()
        item.pop("disabled", None)
        item["costs"] = block_costs(block.id)
        items.append(item)
    return items
