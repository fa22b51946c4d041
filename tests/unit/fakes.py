"""In-memory stand-ins for block ports (pure unit tests only; integration tests use Postgres)."""

from typing import Any


class MemoryKeyValueStore:
    def __init__(self) -> None:
        self.data: dict[tuple[str, str], Any] = {}

    async def get(self, user_id: str, key: str) -> Any:
        return self.data.get((user_id, key))

    async def set(self, user_id: str, key: str, value: Any) -> None:
        self.data[(user_id, key)] = value
