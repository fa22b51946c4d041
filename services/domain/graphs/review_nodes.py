"""Which nodes of a graph wait for human review before they run (pure; the whole review flow is
``services.domain.executions.review``): a HumanInTheLoop block's, and any node whose metadata
says ``requires_human_review: true``, both only while the graph's ``human_in_the_loop_safe_mode``
is on. A graph with such a node reports ``has_human_in_the_loop``."""

from __future__ import annotations

from typing import Any

REVIEW_FLAG = "requires_human_review"  # node metadata: this node waits for review before it runs
INSTRUCTIONS_KEY = "review_instructions"  # node metadata: what the reviewer is told
HUMAN_IN_THE_LOOP_BLOCK_ID = "8b2a7b3c-6e9d-4a5f-8c1b-2e3f4a5b6c7d"


def is_human_in_the_loop(block_id: str) -> bool:
    return block_id == HUMAN_IN_THE_LOOP_BLOCK_ID


def wants_review(block_id: str, metadata: dict[str, Any]) -> bool:
    """Whether a node of this block with this metadata waits for review (while safe mode is on)."""
    return is_human_in_the_loop(block_id) or metadata.get(REVIEW_FLAG) is True
