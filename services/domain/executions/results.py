"""AutoGPT's ``GraphExecutionResult``: a run's outputs and each node execution's input and output,
as the external API's results route and ``GET /api/executions/{id}/results`` answer it (pure)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from services.domain.executions.state import ExecutionState
from services.domain.executions.status import ExecutionStatus
from services.domain.executions.views import state_outputs


class NodeExecutionIO(BaseModel):
    node_id: str
    input: Any  # the node's ``value`` input when it has one (AutoGPT unwraps it), else every input
    output: dict[str, list[Any]]


class GraphExecutionResult(BaseModel):
    """The graph outputs as ``[{name: value}]`` once the run COMPLETED (``null`` otherwise), and
    each node execution's input and outputs, in the order they arrived."""

    execution_id: str
    status: str
    output: list[dict[str, Any]] | None
    nodes: list[NodeExecutionIO]


def execution_results(state: ExecutionState) -> dict[str, Any]:
    nodes = sorted(state.node_execs.values(), key=lambda ne: ne.added_seq)
    output = None
    if state.status == ExecutionStatus.COMPLETED:
        output = [{name: value} for name, values in state_outputs(state).items() for value in values]
    return {"execution_id": state.id, "status": state.status, "output": output,
            "nodes": [{"node_id": ne.node_id, "input": _node_input(ne.input_data, ne.pins),
                       "output": ne.output_data()} for ne in nodes]}


def _node_input(input_data: dict[str, Any] | None, pins: dict[str, Any]) -> Any:
    data = input_data if input_data is not None else dict(pins)
    return data.get("value", data)
