"""The Preset aggregate: saved run inputs and credential references for one graph version (pure).

A preset is started again by hand (``POST /api/library/presets/{id}/execute``), by
``preset_id`` on execute, by schedules, and by the deliveries of its trigger webhook
(``webhook_id``). What a run gets is the preset's values with the request's laid over them key by
key (``merged``): the request wins, as in AutoGPT.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from schemas.events.base import Event
from schemas.events.library import PresetCreated, PresetDeleted, PresetUpdated
from services.domain.errors import NotFoundError


@dataclass
class Preset:
    preset_id: str
    user_id: str | None = None
    graph_id: str = ""
    graph_version: int = 0
    name: str = ""
    description: str = ""
    inputs: dict[str, Any] = field(default_factory=dict)
    credentials: dict[str, Any] = field(default_factory=dict)
    is_active: bool = True
    from_execution_id: str | None = None
    webhook_id: str | None = None  # the trigger webhook whose deliveries run it (setup-trigger)
    deleted: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None
    stream_version: int = 0

    @classmethod
    def from_events(cls, preset_id: str, events: list[tuple[Event, datetime]]) -> Preset:
        preset = cls(preset_id)
        for event, at in events:
            preset.apply(event, at)
        return preset

    def apply(self, event: Event, at: datetime | None = None) -> None:
        self.stream_version += 1
        self.updated_at = at
        if isinstance(event, PresetCreated):
            self.user_id, self.graph_id, self.graph_version = event.user_id, event.graph_id, event.graph_version
            self.name, self.description, self.is_active = event.name, event.description, event.is_active
            self.inputs, self.credentials = dict(event.inputs), dict(event.credentials)
            self.from_execution_id, self.created_at = event.from_execution_id, at
            self.webhook_id = event.webhook_id
        elif isinstance(event, PresetUpdated):
            for name in ("name", "description", "inputs", "credentials", "is_active"):
                value = getattr(event, name)
                if value is not None:
                    setattr(self, name, value)
        elif isinstance(event, PresetDeleted):
            self.deleted = True

    def require_owner(self, user_id: str) -> None:
        if self.user_id is None or self.user_id != user_id or self.deleted:
            raise NotFoundError(f"Preset #{self.preset_id} not found")

    def update(self, **changes: Any) -> list[Event]:
        """Only the given fields that differ from the stored ones are recorded."""
        diff = {k: v for k, v in changes.items() if v is not None and v != getattr(self, k)}
        return [PresetUpdated(**diff)] if diff else []

    def delete(self) -> list[Event]:
        return [PresetDeleted()]

    def merged(self, inputs: dict[str, Any] | None, credentials: dict[str, Any] | None) -> tuple[dict, dict]:
        """The preset's inputs and credentials with the request's laid over them (request wins)."""
        return {**self.inputs, **(inputs or {})}, {**self.credentials, **(credentials or {})}
