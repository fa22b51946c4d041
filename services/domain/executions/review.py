"""Human review of a node, both halves (pure): which nodes wait for their owner, and what a
decision may say.

A node waits for review before it runs when its block is HumanInTheLoop, or when the graph marks
the node ``metadata.requires_human_review: true``, and in both cases only while the graph's
``human_in_the_loop_safe_mode`` is on (AutoGPT's setting, default on). A node whose block's effect
must not happen twice (``Block.safe_to_repeat``) and that a crash interrupted inside its block waits
too, as "outcome unknown", whatever the setting: nobody knows whether the effect happened.

The reviewer sees the node's resolved input (a HumanInTheLoop block's ``data``). A decision:

- kind ``review``, approved: the node runs; ``reviewed_data``, when the review is editable, takes
  the place of what was shown (the ``data`` pin, or the whole input of a marked node);
- kind ``review``, rejected: a marked node fails with the message; a HumanInTheLoop block yields
  ``rejected_data`` instead, as in AutoGPT, so the graph can branch on it;
- kind ``outcome_unknown``, approved: the node runs again;
- kind ``outcome_unknown``, rejected: the node is marked done, ``reviewed_data`` (an object of
  output pin to value, or nothing) being its outputs.

The run resumes when its last waiting review is decided (``ExecutionResumed`` in the same append).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from schemas.events.executions import ExecutionResumed, NodeReviewed
from services.domain.errors import ConflictError, InvalidCommand
from services.domain.executions.state import ExecutionState, NodeExec
from services.domain.executions.status import ExecutionStatus
from services.domain.graphs.review_nodes import (  # noqa: F401 - the review vocabulary, in one import
    HUMAN_IN_THE_LOOP_BLOCK_ID,
    INSTRUCTIONS_KEY,
    is_human_in_the_loop,
    wants_review,
)

MAX_INSTRUCTIONS = 2000
MAX_MESSAGE = 2000
MAX_DECISIONS = 100  # per action request
_MISSING = object()


def request_terms(block_id: str, metadata: dict[str, Any],
                  input_data: dict[str, Any] | None) -> tuple[str | None, bool]:
    """``(instructions, editable)`` of a node's review."""
    data = input_data or {}
    if is_human_in_the_loop(block_id):
        name = data.get("name")
        return (str(name)[:MAX_INSTRUCTIONS] or None) if name else None, data.get("editable", True) is not False
    instructions = metadata.get(INSTRUCTIONS_KEY)
    return (str(instructions)[:MAX_INSTRUCTIONS] if instructions else None), True


def review_payload(block_id: str, input_data: Any) -> Any:
    """What the reviewer sees: a HumanInTheLoop block's ``data``, else the node's whole input."""
    if is_human_in_the_loop(block_id) and isinstance(input_data, dict):
        return input_data.get("data")
    return input_data


@dataclass(frozen=True)
class Decision:
    node_exec_id: str
    approved: bool
    reviewed_data: Any = _MISSING
    message: str | None = None
    auto_approve_future: bool = False

    @property
    def edits(self) -> bool:
        return self.reviewed_data is not _MISSING


def decide(state: ExecutionState, decisions: list[Decision], reviewer: str) -> list:
    """The events that record ``decisions`` on ``state``'s waiting nodes (all of them or none).
    Refuses (409) when the run is not waiting for review or a node is not waiting (decided
    already, or not a review of this run)."""
    if state.status != ExecutionStatus.REVIEW:
        raise ConflictError(f"Execution {state.id} is not waiting for review (it is {state.status})")
    events: list = []
    decided: set[str] = set()
    for d in decisions:
        ne = state.node_execs.get(d.node_exec_id)
        if ne is None or not ne.awaiting_review or d.node_exec_id in decided:
            raise ConflictError(f"Node execution {d.node_exec_id} is not waiting for review")
        decided.add(d.node_exec_id)
        events.append(_reviewed(ne, d, reviewer))
    if not [ne for ne in state.awaiting_review() if ne.id not in decided]:
        events.append(ExecutionResumed())
    return events


def _reviewed(ne: NodeExec, d: Decision, reviewer: str) -> NodeReviewed:
    request = ne.review_request
    assert request is not None
    message = d.message
    if message is not None and len(message) > MAX_MESSAGE:
        raise InvalidCommand(f"message is longer than {MAX_MESSAGE} characters")
    data = d.reviewed_data if d.edits else None
    if request.kind == "outcome_unknown":
        if d.edits and not d.approved and not (data is None or _is_outputs(data)):
            raise InvalidCommand(f"reviewed_data of node execution {ne.id} must be an object of output pin to value "
                                 "(the outputs it is marked done with)")
        edited = d.edits and not d.approved
    else:
        if d.edits and not request.editable:
            raise InvalidCommand(f"The review of node execution {ne.id} is not editable")
        if d.edits and not is_human_in_the_loop(ne.block_id) and not isinstance(data, dict):
            raise InvalidCommand(f"reviewed_data of node execution {ne.id} must be an object (the node's input)")
        edited = d.edits and data != review_payload(ne.block_id, ne.input_data)
    return NodeReviewed(node_exec_id=ne.id, approved=d.approved, reviewed_data=data if edited else None,
                        was_edited=edited, message=message, auto_approve_future=d.auto_approve_future and d.approved,
                        reviewed_by=reviewer)


def _is_outputs(data: Any) -> bool:
    return isinstance(data, dict) and all(isinstance(k, str) and k for k in data)
