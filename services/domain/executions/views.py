"""AutoGPT's execution response shapes (GraphExecutionMeta, NodeExecutionResult, graph outputs),
built in one place. The command side, audit and the WebSocket build them from a folded
``ExecutionState``; the query API builds them from read-model rows. Both go through the same
three builders below, so a field can never differ between a REST read and a pushed update.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from services.domain.blocks.base import BlockType
from services.domain.blocks.registry import all_blocks
from services.domain.executions.state import ExecutionState, NodeExec
from services.domain.executions.status import TERMINAL_STATUSES


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def output_block_ids() -> set[str]:
    return {bid for bid, cls in all_blocks().items() if cls.block_type == BlockType.OUTPUT}


def meta_view(*, id: str, user_id: str, graph_id: str, graph_version: int, inputs: Any,  # noqa: A002 - AutoGPT's field
              credential_inputs: Any, nodes_input_masks: Any, preset_id: str | None, status: str,
              started_at: datetime | None, ended_at: datetime | None, stats: Any,
              parent_execution_id: str | None, is_dry_run: bool,
              share_token: str | None = None) -> dict[str, Any]:
    """AutoGPT's ``GraphExecutionMeta``."""
    return {
        "id": id, "user_id": user_id, "graph_id": graph_id, "graph_version": graph_version,
        "inputs": inputs, "credential_inputs": credential_inputs, "nodes_input_masks": nodes_input_masks,
        "preset_id": preset_id, "status": status, "started_at": iso(started_at), "ended_at": iso(ended_at),
        "is_shared": share_token is not None, "share_token": share_token, "is_dry_run": is_dry_run, "stats": stats,
        "parent_graph_exec_id": parent_execution_id,
    }


def node_view(meta: dict[str, Any], *, node_exec_id: str, node_id: str, block_id: str, status: str,
              input_data: Any, output_data: Any, add_time: datetime | None, queue_time: datetime | None,
              start_time: datetime | None, end_time: datetime | None, stats: Any) -> dict[str, Any]:
    """AutoGPT's ``NodeExecutionResult`` of a node execution of the run ``meta`` describes."""
    return {
        "user_id": meta["user_id"], "graph_id": meta["graph_id"], "graph_version": meta["graph_version"],
        "graph_exec_id": meta["id"], "node_exec_id": node_exec_id, "node_id": node_id, "block_id": block_id,
        "status": status, "input_data": input_data, "output_data": output_data, "add_time": iso(add_time),
        "queue_time": iso(queue_time), "start_time": iso(start_time), "end_time": iso(end_time),
        "stats": stats or None,
    }


def graph_outputs(nodes: Iterable[tuple[str, str, Any]]) -> dict[str, list[Any]]:
    """The run's outputs by name from its ``(block_id, status, input_data)`` node executions: every
    ended OUTPUT node contributes its ``value`` under its ``name``, in node order."""
    outputs: dict[str, list[Any]] = {}
    output_blocks = output_block_ids()
    for block_id, status, data in nodes:
        if block_id in output_blocks and status in TERMINAL_STATUSES and data and isinstance(data.get("name"), str):
            outputs.setdefault(data["name"], []).append(data.get("value"))
    return outputs


def state_outputs(state: ExecutionState) -> dict[str, list[Any]]:
    """``graph_outputs`` of a folded run."""
    return graph_outputs((ne.block_id, ne.status, ne.input_data) for ne in state.node_execs.values())


def execution_meta(state: ExecutionState) -> dict[str, Any]:
    return meta_view(
        id=state.id, user_id=state.user_id, graph_id=state.graph_id, graph_version=state.graph_version,
        inputs=state.inputs, credential_inputs=state.credentials_inputs or None,
        nodes_input_masks=state.nodes_input_masks or None, preset_id=state.preset_id, status=state.status,
        started_at=state.started_at, ended_at=state.ended_at,
        stats=state.stats.model_dump() if state.stats else None, parent_execution_id=state.parent_execution_id,
        is_dry_run=state.is_dry_run, share_token=state.share_token)


def node_result(state: ExecutionState, ne: NodeExec, meta: dict[str, Any] | None = None) -> dict[str, Any]:
    return node_view(
        meta or {"id": state.id, "user_id": state.user_id, "graph_id": state.graph_id,
                 "graph_version": state.graph_version},
        node_exec_id=ne.id, node_id=ne.node_id, block_id=ne.block_id, status=ne.status,
        input_data=ne.input_data if ne.input_data is not None else dict(ne.pins), output_data=ne.output_data(),
        add_time=ne.add_time, queue_time=ne.queue_time, start_time=ne.start_time, end_time=ne.end_time,
        stats=ne.stats)


def execution_with_nodes(state: ExecutionState) -> dict[str, Any]:
    nodes = sorted(state.node_execs.values(), key=lambda ne: ne.added_seq)
    meta = execution_meta(state)
    return {**meta, "outputs": state_outputs(state),
            "node_executions": [node_result(state, ne, meta) for ne in nodes]}
