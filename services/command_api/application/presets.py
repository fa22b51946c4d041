"""Preset commands: save a run's inputs and credential references (given, or copied from a past
run), change, delete, and run them.

Inputs are checked against the graph version when saved (names and types) and again, merged with
the request's, when run (required inputs too), so a preset that no longer fits its graph fails
with AutoGPT's ``node_errors`` instead of starting a run that cannot work. A preset whose graph was
deleted cannot run (404). Credentials hold references only: whatever else a client sends is dropped
before anything is recorded.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from schemas.events.library import PresetCreated
from services.command_api.application.executions import ExecutionCommands, credential_references
from services.command_api.application.graphs import GraphCommands
from services.domain.errors import InvalidCommand, PayloadTooLarge
from services.domain.graphs.run_inputs import check_inputs
from services.domain.library.preset import Preset
from services.domain.library.shapes import preset_view
from services.infra.appending import decide_and_append
from services.infra.auth import User
from services.infra.eventstore import EventStore
from services.infra.store_contract import EventTooLarge, NewEvent, utcnow


def _view(preset: Preset) -> dict[str, Any]:
    return preset_view(preset_id=preset.preset_id, user_id=preset.user_id or "", graph_id=preset.graph_id,
                       graph_version=preset.graph_version, name=preset.name, description=preset.description,
                       inputs=preset.inputs, credentials=preset.credentials, is_active=preset.is_active,
                       from_execution_id=preset.from_execution_id, created_at=preset.created_at,
                       updated_at=preset.updated_at, webhook_id=preset.webhook_id)


class PresetCommands:
    def __init__(self, store: EventStore, graphs: GraphCommands, executions: ExecutionCommands) -> None:
        self.store = store
        self.graphs = graphs
        self.executions = executions
        # called with (user, preset) once a delete is recorded (a trigger preset's webhook is unbound)
        self.after_delete: list[Callable[[User, Preset], None]] = []

    def load(self, preset_id: str) -> Preset:
        events = self.store.read_stream(uuid.UUID(preset_id))
        return Preset.from_events(preset_id, [(e.decode(), e.occurred_at) for e in events])

    def owned(self, user: User, preset_id: str) -> Preset:
        preset = self.load(preset_id)
        preset.require_owner(user.id)
        return preset

    def _append(self, preset: Preset, events: list) -> None:
        now = utcnow()
        try:
            self.store.append([NewEvent(uuid.UUID(preset.preset_id), preset.stream_version + i + 1, event,
                                        user_id=preset.user_id, occurred_at=now) for i, event in enumerate(events)])
        except EventTooLarge as exc:
            raise PayloadTooLarge(f"Preset too large: it encodes to {exc.size} bytes, over the limit of "
                                  f"{exc.limit} bytes") from None
        for event in events:
            preset.apply(event, now)

    # -- commands -----------------------------------------------------------------------------

    def create(self, user: User, *, graph_id: str, graph_version: int, name: str, description: str,
               inputs: dict[str, Any], credentials: dict[str, Any], is_active: bool,
               from_execution_id: str | None = None, webhook_id: str | None = None,
               preset_id: str | None = None) -> dict[str, Any]:
        """``webhook_id``: a trigger preset (its id chosen by the webhook's setup, which bound it
        first), whose inputs are its trigger node's configuration, checked against the trigger
        block by that setup, not the graph's inputs."""
        body = self.graphs.version_for_run(user, graph_id, graph_version)
        if webhook_id is None:
            check_inputs(body, inputs, for_run=False)
        preset = Preset(preset_id or str(uuid.uuid4()))
        self._append(preset, [PresetCreated(
            user_id=user.id, graph_id=graph_id, graph_version=body.version, name=name, description=description,
            inputs=inputs, credentials=credential_references(credentials), is_active=is_active,
            from_execution_id=from_execution_id, webhook_id=webhook_id)])
        return _view(preset)

    def create_from_run(self, user: User, *, graph_execution_id: str, name: str, description: str,
                        is_active: bool) -> dict[str, Any]:
        """The run's graph version, inputs and credential references, under the given name."""
        run = self.executions.owned_state(user, None, graph_execution_id)
        return self.create(user, graph_id=run.graph_id, graph_version=run.graph_version, name=name,
                           description=description, inputs=dict(run.inputs or {}),
                           credentials=dict(run.credentials_inputs or {}), is_active=is_active,
                           from_execution_id=graph_execution_id)

    def update(self, user: User, preset_id: str, **changes: Any) -> dict[str, Any]:
        def decide(preset: Preset) -> dict[str, Any]:
            preset.require_owner(user.id)
            if changes.get("inputs") is not None:
                check_inputs(self.graphs.version_for_run(user, preset.graph_id, preset.graph_version),
                             changes["inputs"], for_run=False)
            if changes.get("credentials") is not None:
                changes["credentials"] = credential_references(changes["credentials"])
            events = preset.update(**changes)
            if events:
                self._append(preset, events)
            return _view(preset)

        return decide_and_append(lambda: self.load(preset_id), decide)

    def delete(self, user: User, preset_id: str) -> None:
        def decide(preset: Preset) -> Preset:
            preset.require_owner(user.id)
            self._append(preset, preset.delete())
            return preset

        deleted = decide_and_append(lambda: self.load(preset_id), decide)
        for hook in self.after_delete:
            hook(user, deleted)

    def for_run(self, user: User, preset_id: str, graph_id: str, graph_version: int, inputs: dict[str, Any],
                credentials: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The run's inputs and credentials: the preset's with the request's laid over them, checked
        against the version that will run (``preset_id`` on execute names the graph and version)."""
        preset = self.owned(user, preset_id)
        if preset.graph_id != graph_id:
            raise InvalidCommand(f"Preset #{preset_id} is for graph #{preset.graph_id}, not #{graph_id}")
        return self._merged(user, preset, graph_version, inputs, credentials)

    def _merged(self, user: User, preset: Preset, graph_version: int, inputs: dict[str, Any],
                credentials: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        merged_inputs, merged_credentials = preset.merged(inputs, credentials)
        body = self.graphs.version_for_run(user, preset.graph_id, graph_version)
        if preset.webhook_id is None:  # a trigger preset's inputs are its trigger's: the run refuses it
            check_inputs(body, merged_inputs, for_run=True)
        return merged_inputs, merged_credentials

    def execute(self, user: User, preset_id: str, inputs: dict[str, Any],
                credentials: dict[str, Any]) -> dict[str, Any]:
        preset = self.owned(user, preset_id)
        merged_inputs, merged_credentials = self._merged(user, preset, preset.graph_version, inputs, credentials)
        return self.executions.execute(user, preset.graph_id, preset.graph_version, merged_inputs,
                                       merged_credentials, preset_id=preset_id)

    def view(self, user: User, preset_id: str) -> dict[str, Any]:
        return _view(self.owned(user, preset_id))
