"""The graph setting that makes review nodes wait: ``human_in_the_loop_safe_mode``, read from the
owner's library entry (where ``PATCH /api/graphs/{id}/settings`` records it) in the store, not a
read model, so a change made just before a run is seen by it."""

from __future__ import annotations

import asyncio

from services.domain.library.agent import LibraryAgent
from services.domain.library.ids import library_agent_id
from services.domain.library.rules import SETTINGS_DEFAULTS
from services.infra.eventstore import EventStore

SETTING = "human_in_the_loop_safe_mode"


class SafeModeReader:
    def __init__(self, library: EventStore) -> None:
        self.library = library

    async def __call__(self, user_id: str, graph_id: str) -> bool:
        """The setting for ``user_id``'s entry of ``graph_id``; the default (on) without one."""
        events = await asyncio.to_thread(self.library.read_stream, library_agent_id(user_id, graph_id))
        if not events:
            return SETTINGS_DEFAULTS[SETTING]
        agent = LibraryAgent.from_events(user_id, graph_id, [(e.decode(), e.occurred_at) for e in events])
        return bool(agent.settings.get(SETTING, SETTINGS_DEFAULTS[SETTING]))
