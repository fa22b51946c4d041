"""In-memory collaborators of the handlers other than the store: a keyring, a clock, a rival
writer, and an executor that owns a run. None of them stands in for PostgreSQL or Kafka."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import date
from typing import Any

from schemas.events.executions import ExecutionStats, ExecutionStopRequested, ExecutionTerminated
from services.domain.integrations.crypto import Keyring, generate_key
from services.infra.store_contract import NewEvent


def fresh_keyring() -> Keyring:
    """A keyring of one fresh key (the real AES-GCM keyring: it is pure, only its key is made up)."""
    return Keyring.parse([f"k1:{generate_key()}"])



class Today:
    """The ledger's clock: a date the story sets."""

    def __init__(self, day: date) -> None:
        self.day = day

    def __call__(self) -> date:
        return self.day


class RacingWriter:
    """The store as a command sees it while another process writes the same stream: just before
    the command's first append, ``rival`` records its own events, so the version the command
    loaded is taken and the command has to load and decide again."""

    def __init__(self, store: Any, rival: Callable[[], Any]) -> None:
        self._store = store
        self._rival: Callable[[], Any] | None = rival

    def append(self, events: Sequence[NewEvent]) -> list[int]:
        rival, self._rival = self._rival, None
        if rival is not None:
            rival()
        return self._store.append(events)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._store, name)


class RunOwner:
    """The executor owning one run: once a stop request is recorded, it records the run's end."""

    def __init__(self, store: Any, execution_id: uuid.UUID, timeout_s: float = 10.0) -> None:
        self._store, self._stream, self._timeout_s = store, execution_id, timeout_s
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> RunOwner:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._thread.join(self._timeout_s)

    def _serve(self) -> None:
        deadline = time.monotonic() + self._timeout_s
        while time.monotonic() < deadline:
            recorded = self._store.read_stream(self._stream)
            if any(e.type == ExecutionStopRequested.TYPE for e in recorded):
                self._store.append([NewEvent(self._stream, recorded[-1].stream_version + 1,
                                             ExecutionTerminated(stats=ExecutionStats()))])
                return
            time.sleep(0.01)
