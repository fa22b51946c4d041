"""Human review through the real runner and planner, in memory: a node that waits pauses the run
(REVIEW, nothing running), a decision resumes it where it paused, and a node whose unrepeatable
effect a crash interrupted asks instead of running again."""

import uuid

import pytest

from schemas.events.executions import (
    ExecutionPausedForReview,
    ExecutionStarted,
    NodeEffectBegun,
    NodeQueued,
    NodeReviewRequested,
    NodeStarted,
)
from services.domain.blocks.base import RunContext
from services.domain.errors import ConflictError, InvalidCommand
from services.domain.executions import review
from services.domain.executions.views import execution_with_nodes
from services.executor.runner import ExecutionRunner
from tests.unit.executor_harness import MemoryWriter, build_graph, queued_state

INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"
HITL = review.HUMAN_IN_THE_LOOP_BLOCK_ID
CALC = "b1ab9b19-67a6-406d-abf5-2dba76d00c79"
HTTP = "6595ae1f-b924-42cb-9a41-551a0611c4b4"


def link(src, sink, source_name, sink_name):
    return {"source_id": src, "sink_id": sink, "source_name": source_name, "sink_name": sink_name}


async def drive(state, *, safe_mode=True, writer=None):
    writer = writer or MemoryWriter()

    async def safe_mode_of(user_id, graph_id):
        return safe_mode

    runner = ExecutionRunner(state, writer, context_factory=lambda s, ne: RunContext(
        user_id=s.user_id, graph_id=s.graph_id, graph_exec_id=s.id, node_id=ne.node_id, node_exec_id=ne.id),
        node_timeout_s=10, max_node_executions=100, safe_mode=safe_mode_of)
    status = await runner.run()
    return status, writer


def decide(state, *decisions):
    for event in review.decide(state, list(decisions), reviewer="u"):
        state.apply(event)


def hitl_graph(editable=True):
    return build_graph([
        {"id": "in", "block_id": INPUT, "input_default": {"name": "post"}},
        {"id": "h", "block_id": HITL, "input_default": {"name": "the post", "editable": editable}},
        {"id": "ok", "block_id": OUTPUT, "input_default": {"name": "approved"}},
        {"id": "no", "block_id": OUTPUT, "input_default": {"name": "rejected"}},
    ], [link("in", "h", "result", "data"), link("h", "ok", "approved_data", "value"),
        link("h", "no", "rejected_data", "value")])


def outputs(state):
    return execution_with_nodes(state)["outputs"]


async def test_a_review_pauses_the_run_and_approval_with_an_edit_resumes_it_where_it_paused():
    body, ids = hitl_graph()
    state = queued_state(body, {"post": "draft"})
    status, writer = await drive(state)
    assert status == "REVIEW"
    kinds = [type(e).__name__ for _v, e in writer.events]
    assert kinds[-1] == "ExecutionPausedForReview" and "NodeReviewRequested" in kinds
    waiting, = state.awaiting_review()
    assert waiting.node_id == ids["h"] and waiting.review_request.instructions == "the post"
    assert not [ne for ne in state.node_execs.values() if ne.node_id in (ids["ok"], ids["no"])]
    assert (await drive(state))[0] == "REVIEW"  # a drive before the decision changes nothing

    decide(state, review.Decision(waiting.id, approved=True, reviewed_data="final", message="good"))
    assert state.status == "RUNNING"
    status, writer = await drive(state)
    assert status == "COMPLETED"
    assert outputs(state) == {"approved": ["final"]}
    hitl = state.node_execs[waiting.id]
    assert hitl.output_data() == {"approved_data": ["final"], "review_message": ["good"]}
    assert hitl.attempts == 1  # asked before it started: the review did not count as an attempt


async def test_rejecting_a_human_in_the_loop_block_yields_the_rejected_data():
    body, _ = hitl_graph()
    state = queued_state(body, {"post": "draft"})
    await drive(state)
    waiting, = state.awaiting_review()
    decide(state, review.Decision(waiting.id, approved=False, message="off topic"))
    assert (await drive(state))[0] == "COMPLETED"
    assert outputs(state) == {"rejected": ["draft"]}


async def test_a_rejected_marked_node_fails_with_the_message_and_nothing_downstream_runs():
    body, ids = build_graph([
        {"id": "in", "block_id": INPUT, "input_default": {"name": "x"}},
        {"id": "c", "block_id": CALC, "input_default": {"operation": "Add", "b": 1},
         "metadata": {"requires_human_review": True, "review_instructions": "check the sum"}},
        {"id": "out", "block_id": OUTPUT, "input_default": {"name": "result"}},
    ], [link("in", "c", "result", "a"), link("c", "out", "result", "value")])
    state = queued_state(body, {"x": 1})
    assert (await drive(state))[0] == "REVIEW"
    waiting, = state.awaiting_review()
    assert waiting.review_request.instructions == "check the sum"
    with pytest.raises(InvalidCommand):  # a marked node's edit is its whole input, an object
        review.decide(state, [review.Decision(waiting.id, approved=True, reviewed_data=5)], reviewer="u")
    decide(state, review.Decision(waiting.id, approved=False, message="wrong numbers"))
    assert (await drive(state))[0] == "COMPLETED"  # a failed node does not fail the run (AutoGPT)
    calc = state.node_execs[waiting.id]
    assert calc.status == "FAILED" and calc.error == "Rejected by the reviewer: wrong numbers"
    assert outputs(state) == {}


async def test_an_approved_edit_of_a_marked_node_runs_it_on_the_edited_input():
    body, _ = build_graph([
        {"id": "c", "block_id": CALC, "input_default": {"operation": "Add", "a": 1, "b": 1},
         "metadata": {"requires_human_review": True}},
        {"id": "out", "block_id": OUTPUT, "input_default": {"name": "result"}},
    ], [link("c", "out", "result", "value")])
    state = queued_state(body)
    await drive(state)
    waiting, = state.awaiting_review()
    decide(state, review.Decision(waiting.id, approved=True,
                                  reviewed_data={"operation": "Multiply", "a": 6, "b": 7}))
    assert (await drive(state))[0] == "COMPLETED"
    assert outputs(state) == {"result": [42]}


async def test_with_safe_mode_off_nothing_waits():
    body, _ = hitl_graph()
    state = queued_state(body, {"post": "draft"})
    assert (await drive(state, safe_mode=False))[0] == "COMPLETED"
    assert outputs(state) == {"approved": ["draft"]}


async def test_decisions_are_refused_unless_the_run_waits_for_them():
    body, _ = hitl_graph(editable=False)
    state = queued_state(body, {"post": "draft"})
    with pytest.raises(ConflictError):
        review.decide(state, [review.Decision(str(uuid.uuid4()), approved=True)], reviewer="u")
    await drive(state)
    waiting, = state.awaiting_review()
    with pytest.raises(InvalidCommand):
        review.decide(state, [review.Decision(waiting.id, approved=True, reviewed_data="x")], reviewer="u")
    with pytest.raises(ConflictError):  # the same node twice in one request
        review.decide(state, [review.Decision(waiting.id, approved=True)] * 2, reviewer="u")
    decide(state, review.Decision(waiting.id, approved=True))
    with pytest.raises(ConflictError):  # decided already: the run is no longer waiting
        review.decide(state, [review.Decision(waiting.id, approved=True)], reviewer="u")


async def test_a_stop_while_waiting_terminates_the_waiting_node():
    body, _ = hitl_graph()
    state = queued_state(body, {"post": "draft"})
    await drive(state)
    waiting, = state.awaiting_review()
    from schemas.events.executions import ExecutionStopRequested

    state.apply(ExecutionStopRequested(requested_by="u"))
    assert (await drive(state))[0] == "TERMINATED"
    assert state.node_execs[waiting.id].status == "TERMINATED"


def interrupted_post(method="POST"):
    """A run whose HTTP node had begun its effect when the executor died."""
    body, ids = build_graph([
        {"id": "h", "block_id": HTTP, "input_default": {"url": "https://api.example.com/orders", "method": method}},
        {"id": "out", "block_id": OUTPUT, "input_default": {"name": "response"}},
    ], [link("h", "out", "response", "value")])
    state = queued_state(body)
    ne_id = str(uuid.uuid4())
    for event in (ExecutionStarted(), NodeQueued(node_exec_id=ne_id, node_id=ids["h"], block_id=HTTP,
                                                 input_data={"url": "https://api.example.com/orders",
                                                             "method": method}),
                  NodeStarted(node_exec_id=ne_id), NodeEffectBegun(node_exec_id=ne_id)):
        state.apply(event)
    return state, ne_id


async def test_an_interrupted_post_asks_instead_of_running_twice_and_can_be_marked_done():
    state, ne_id = interrupted_post()
    status, writer = await drive(state)
    assert status == "REVIEW"
    request = next(e for _v, e in writer.events if isinstance(e, NodeReviewRequested))
    assert request.kind == "outcome_unknown"
    assert isinstance(writer.events[-1][1], ExecutionPausedForReview)
    assert not [e for _v, e in writer.events if isinstance(e, NodeStarted)]  # not run again
    with pytest.raises(InvalidCommand):
        review.decide(state, [review.Decision(ne_id, approved=False, reviewed_data=["not", "pins"])], reviewer="u")
    decide(state, review.Decision(ne_id, approved=False, reviewed_data={"response": {"order": 7}}))
    assert (await drive(state))[0] == "COMPLETED"
    ne = state.node_execs[ne_id]
    assert ne.status == "COMPLETED" and ne.stats.get("marked_done_by_reviewer")
    assert outputs(state) == {"response": [{"order": 7}]}


async def test_an_interrupted_get_runs_again_as_before():
    state, ne_id = interrupted_post(method="GET")
    state.node_execs[ne_id].effect_begun = False  # a GET never records the mark
    status, writer = await drive(state)
    assert not [e for _v, e in writer.events if isinstance(e, NodeReviewRequested)]
    assert status in ("COMPLETED",)


def test_only_post_and_patch_are_unsafe_to_repeat():
    from services.blocks.http import SendWebRequestBlock

    unsafe = {m for m in ("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD")
              if not SendWebRequestBlock.safe_to_repeat({"method": m})}
    assert unsafe == {"POST", "PATCH"}
    assert not SendWebRequestBlock.safe_to_repeat({})  # the block's default method is POST


async def test_auto_approve_future_approves_later_reviews_of_the_node_in_this_run():
    body, _ = hitl_graph()
    state = queued_state(body, {"post": "draft"})
    await drive(state)
    waiting, = state.awaiting_review()
    decide(state, review.Decision(waiting.id, approved=True, auto_approve_future=True))
    assert waiting.node_id in state.auto_approved
    again = str(uuid.uuid4())  # the node runs once more in this run (as in a loop)
    state.apply(NodeQueued(node_exec_id=again, node_id=waiting.node_id, block_id=HITL,
                           input_data={"data": "second", "name": "the post"}))
    status, writer = await drive(state)
    assert status == "COMPLETED"
    assert not [e for _v, e in writer.events if isinstance(e, NodeReviewRequested)]
    assert sorted(outputs(state)["approved"]) == ["draft", "second"]


def test_review_payload_is_the_data_of_a_human_in_the_loop_block():
    assert review.review_payload(HITL, {"data": {"a": 1}, "name": "x"}) == {"a": 1}
    assert review.review_payload(CALC, {"a": 1}) == {"a": 1}
