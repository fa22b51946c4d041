"""AutoGPT's execution response shapes (GraphExecutionMeta, NodeExecutionResult, …) from a
folded ``ExecutionState``. The projector's read models produce the same shapes from SQL rows."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from services.domain.blocks.base import BlockType
from services.domain.blocks.registry import all_blocks
from services.domain.executions.state import ExecutionState, NodeExec


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def output_block_ids() -> set[str]:
    return {bid for bid, cls in all_blocks().items() if cls.block_type == BlockType.OUTPUT}


def execution_meta(state: ExecutionState) -> dict[str, Any]:
    return {
        "id": state.id, "user_id": state.user_id, "graph_id": state.graph_id, "graph_version": state.graph_version,
        "inputs": state.inputs, "credential_inputs": state.credentials_inputs or None,
        "nodes_input_masks": state.nodes_input_masks or None,
        "preset_id": state.preset_id, "status": state.status, "started_at": iso(state.started_at),
        "ended_at": iso(state.ended_at), "is_shared": False, "share_token": None, "is_dry_run": False,
        "stats": state.stats.model_dump() if state.stats else None,
        "parent_graph_exec_id": state.parent_execution_id,
    }


def node_result(state: ExecutionState, ne: NodeExec) -> dict[str, Any]:
    return {
        "user_id": state.user_id, "graph_id": state.graph_id, "graph_version": state.graph_version,
        "graph_exec_id": state.id, "node_exec_id": ne.id, "node_id": ne.node_id, "block_id": ne.block_id,
        "status": ne.status, "input_data": ne.input_data if ne.input_data is not None else dict(ne.pins),
        "output_data": ne.output_data(), "add_time": iso(ne.add_time), "queue_time": iso(ne.queue_time),
        "start_time": iso(ne.start_time), "end_time": iso(ne.end_time), "stats": ne.stats or None,
    }


def execution_with_nodes(state: ExecutionState) -> dict[str, Any]:
    nodes = sorted(state.node_execs.values(), key=lambda ne: ne.added_seq)
    return {**execution_meta(state), "outputs": state.graph_outputs(output_block_ids()),
            "node_executions": [node_result(state, ne) for ne in nodes]}
