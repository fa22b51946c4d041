"""The HumanInTheLoop block (AutoGPT's id and pins): the run pauses until its owner decides.

The block itself only turns the decision into outputs. Pausing is the executor's job: while the
graph's ``human_in_the_loop_safe_mode`` is on (the default), a node of this block is not run when
it is ready; it asks for a review (``NodeReviewRequested``, payload ``data``), the run goes to
REVIEW once nothing else runs, and ``POST /api/review/action`` decides it. The node then runs
with the decision in ``ctx.review``. With safe mode off no review is asked and the data is
approved as it is.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from services.domain.blocks.base import (
    Block,
    BlockCategory,
    BlockSchemaInput,
    BlockSchemaOutput,
    BlockType,
    RunContext,
    SchemaField,
)
from services.domain.graphs.review_nodes import HUMAN_IN_THE_LOOP_BLOCK_ID


class HumanInTheLoopBlock(Block):
    id = HUMAN_IN_THE_LOOP_BLOCK_ID
    description = ("Pauses the run until you review the data: approve it (edited if you like) or reject it. "
                   "The approved or rejected data leaves on its own pin, so the graph can branch on the decision.")
    categories = frozenset({BlockCategory.BASIC})
    block_type = BlockType.HUMAN_IN_THE_LOOP

    class Input(BlockSchemaInput):
        data: Any = SchemaField(description="The data to review.")
        name: str = SchemaField(default="", description="What is being reviewed, shown to the reviewer.")
        editable: bool = SchemaField(default=True, description="Whether the reviewer may change the data.")

    class Output(BlockSchemaOutput):
        approved_data: Any = SchemaField(description="The data (as edited by the reviewer) when approved.")
        rejected_data: Any = SchemaField(description="The data when rejected.")
        review_message: str = SchemaField(description="The reviewer's message, if any.")

    test_input = {"data": {"title": "Launch post"}, "name": "blog post"}
    test_output = [("approved_data", {"title": "Launch post"}), ("review_message", "")]

    async def run(self, input_data: Any, ctx: RunContext) -> AsyncIterator[tuple[str, Any]]:
        review = ctx.review
        if review is None:  # no review was asked: safe mode is off
            yield "approved_data", input_data.data
            yield "review_message", ""
            return
        data = review.reviewed_data if review.was_edited and input_data.editable else input_data.data
        yield ("approved_data" if review.approved else "rejected_data"), data
        yield "review_message", review.message or ""
