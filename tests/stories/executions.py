"""Stories of ``ExecutionCommands``: queue a run (credits, credentials, inputs), stop it, delete it."""

from __future__ import annotations

import uuid

import pytest

from schemas.events.credits import CreditsGranted
from schemas.events.executions import ExecutionCompleted, ExecutionQueued, ExecutionStarted, ExecutionStats
from schemas.events.graphs import GraphCreated
from services.command_api.application.executions import ExecutionCommands, NoCredits, StopTimeout
from services.command_api.application.graphs import GraphCommands
from services.domain.credits.ledger import ledger_stream_id
from services.domain.errors import InvalidCommand, NotFoundError
from services.domain.graphs.rules import GraphValidationError
from services.infra.blobs import BLOB_KEY
from services.infra.credentials_store import CredentialsReader
from services.infra.ledger_service import LedgerService
from tests.stories.builders import (
    OPENAI_CREDENTIALS_INPUT,
    credential_reference,
    graph_body,
    llm_graph_body,
    sealed_credential,
)
from tests.stories.fakes import RunOwner, fresh_keyring
from tests.stories.world import expect


def _commands(world, **options) -> ExecutionCommands:
    """The handler as the command API wires it: graphs, the ledger and credentials from the world."""
    keyring = fresh_keyring()
    return ExecutionCommands(
        world.store("executions"), GraphCommands(world.store("graphs")), ledger=LedgerService(world.store("credits")),
        credentials=CredentialsReader(world.store("integrations"), keyring, system={}), **options)


def _graph(world, owner, body_for=graph_body) -> uuid.UUID:
    gid = uuid.uuid4()
    world.given(gid, GraphCreated(user_id=owner.id, graph=body_for(gid)), user_id=owner.id)
    return gid


def _credits(world, owner, amount: int = 500) -> None:
    world.given(ledger_stream_id(owner.id), CreditsGranted(transaction_key="g-1", amount=amount,
                                                           running_balance=amount), user_id=owner.id)


def _run(world, owner, *events) -> uuid.UUID:
    """A run of one of the owner's graphs, queued and then as far as ``events`` take it."""
    gid, run = _graph(world, owner), uuid.uuid4()
    queued = ExecutionQueued(user_id=owner.id, graph_id=str(gid), graph_version=1, graph=graph_body(gid))
    world.given(run, queued, *events, user_id=owner.id)
    return run


class ExecutionStories:
    def test_a_run_with_credits_queues_the_exact_graph_version(self, world):
        alice, executions = world.user("alice"), _commands(world)
        gid = _graph(world, alice)
        _credits(world, alice)
        meta = world.when(lambda: executions.execute(alice, str(gid), 1, {"x": 5}, {}))
        world.then(expect("ExecutionQueued", meta["id"], user_id=alice.id, graph_id=str(gid), graph_version=1,
                          inputs={"x": 5}, graph={"id": str(gid), "version": 1}))
        assert meta["status"] == "QUEUED"

    def test_a_run_without_credits_is_refused(self, world):
        alice, executions = world.user("alice"), _commands(world)
        gid = _graph(world, alice)
        world.refused(NoCredits, lambda: executions.execute(alice, str(gid), 1, {"x": 5}, {}))

    def test_a_run_of_someone_elses_graph_is_refused(self, world):
        alice, bob, executions = world.user("alice"), world.user("bob"), _commands(world)
        gid = _graph(world, alice)
        _credits(world, bob)
        world.refused(NotFoundError, lambda: executions.execute(bob, str(gid), 1, {}, {}))

    def test_an_input_that_looks_like_a_blob_reference_is_refused(self, world):
        alice, executions = world.user("alice"), _commands(world)
        gid = _graph(world, alice)
        _credits(world, alice)
        world.refused(InvalidCommand, lambda: executions.execute(alice, str(gid), 1, {"x": {BLOB_KEY: "a" * 64}}, {}),
                      match="reserved key")

    def test_a_run_records_only_the_reference_of_the_users_own_credential(self, world):
        alice, executions = world.user("alice"), _commands(world)
        gid, cred = _graph(world, alice, llm_graph_body), uuid.uuid4()
        _credits(world, alice)
        world.given(cred, sealed_credential(fresh_keyring(), cred, alice.id, "sk-stored"), user_id=alice.id)
        pasted = {OPENAI_CREDENTIALS_INPUT: credential_reference(cred, api_key="sk-pasted-into-the-request")}
        meta = world.when(lambda: executions.execute(alice, str(gid), 1, {}, pasted))
        [queued] = world.then(expect("ExecutionQueued", meta["id"], credentials_inputs={
            OPENAI_CREDENTIALS_INPUT: credential_reference(cred)}))
        assert "api_key" not in queued.payload["credentials_inputs"][OPENAI_CREDENTIALS_INPUT]
        assert queued.payload["nodes_input_masks"]["n-llm"]["credentials"]["id"] == str(cred)

    def test_a_run_naming_another_users_credential_is_refused(self, world):
        alice, bob, executions = world.user("alice"), world.user("bob"), _commands(world)
        gid, cred = _graph(world, alice, llm_graph_body), uuid.uuid4()
        _credits(world, alice)
        world.given(cred, sealed_credential(fresh_keyring(), cred, bob.id, "sk-bobs"), user_id=bob.id)
        chosen = {OPENAI_CREDENTIALS_INPUT: credential_reference(cred)}
        error = world.refused(GraphValidationError, lambda: executions.execute(alice, str(gid), 1, {}, chosen))
        assert "n-llm" in error.node_errors

    def test_stop_records_the_request_and_answers_once_the_owner_ended_the_run(self, world):
        alice, executions = world.user("alice"), _commands(world)
        run = _run(world, alice, ExecutionStarted())
        graph_id = world.store("executions").read_stream(run)[0].payload["graph_id"]
        with RunOwner(world.store("executions"), run):
            meta = world.when(lambda: executions.stop(alice, graph_id, str(run)))
        world.then(expect("ExecutionStopRequested", run, requested_by=alice.id), expect("ExecutionTerminated", run))
        assert meta["status"] == "TERMINATED"

    def test_a_stop_no_owner_acts_on_times_out_with_the_request_recorded(self, world):
        alice, executions = world.user("alice"), _commands(world, stop_wait_s=0.1)
        run = _run(world, alice, ExecutionStarted())
        graph_id = world.store("executions").read_stream(run)[0].payload["graph_id"]
        with pytest.raises(StopTimeout):
            world.when(lambda: executions.stop(alice, graph_id, str(run)))
        world.then(expect("ExecutionStopRequested", run, requested_by=alice.id))

    def test_stopping_a_run_that_ended_records_nothing(self, world):
        alice, executions = world.user("alice"), _commands(world)
        run = _run(world, alice, ExecutionStarted(), ExecutionCompleted(stats=ExecutionStats()))
        graph_id = world.store("executions").read_stream(run)[0].payload["graph_id"]
        assert world.when(lambda: executions.stop(alice, graph_id, str(run)))["status"] == "COMPLETED"
        world.then()

    def test_delete_hides_the_run_and_keeps_its_history(self, world):
        alice, executions = world.user("alice"), _commands(world)
        run = _run(world, alice, ExecutionStarted())
        world.when(lambda: executions.delete(alice, str(run)))
        world.then(expect("ExecutionDeleted", run, deleted_by=alice.id))
        assert [e.type for e in world.store("executions").read_stream(run)] == [
            "ExecutionQueued", "ExecutionStarted", "ExecutionDeleted"]

    def test_a_deleted_or_foreign_run_cannot_be_deleted(self, world):
        alice, bob, executions = world.user("alice"), world.user("bob"), _commands(world)
        run = _run(world, alice)
        world.refused(NotFoundError, lambda: executions.delete(bob, str(run)))
        world.when(lambda: executions.delete(alice, str(run)))
        world.refused(NotFoundError, lambda: executions.delete(alice, str(run)))
        world.refused(NotFoundError, lambda: executions.stop(alice, None, str(run)))
