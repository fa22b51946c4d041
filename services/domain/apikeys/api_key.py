"""The ApiKey aggregate: one key's owner, permissions and status (ACTIVE, SUSPENDED, REVOKED).

Pure: state is folded from recorded events; each decision returns the new events to record. Its
stream id is ``uuid5(namespace, lookup_id)`` (``services.domain.apikeys.material.stream_id_for``), which is
also the key's public id, so authentication loads a presented key with one stream read.

Only the owner may change a key; anyone else is told it does not exist. REVOKED is terminal;
SUSPENDED keys can still be revoked. Repeating a command that is already in effect records
nothing, so a retried request is harmless.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from schemas.events.apikeys import (
    ApiKeyCreated,
    ApiKeyPermission,
    ApiKeyPermissionsChanged,
    ApiKeyRevoked,
    ApiKeySuspended,
)
from schemas.events.base import Event
from services.domain.errors import ConflictError, InvalidCommand, NotFoundError

ACTIVE, SUSPENDED, REVOKED = "ACTIVE", "SUSPENDED", "REVOKED"
MAX_NAME_CHARS = 100
MAX_DESCRIPTION_CHARS = 1000
ALL_PERMISSIONS = [p.value for p in ApiKeyPermission]


def parse_permissions(values: list[str]) -> list[ApiKeyPermission]:
    """Known permission names, de-duplicated in the given order (400 naming any unknown one)."""
    unknown = [v for v in values if v not in ALL_PERMISSIONS]
    if unknown:
        raise InvalidCommand(f"Unknown permission(s) {', '.join(repr(u[:40]) for u in unknown[:5])}; "
                             f"expected any of {', '.join(ALL_PERMISSIONS)}")
    return [ApiKeyPermission(v) for v in dict.fromkeys(values)]


def clean_name(name: str) -> str:
    name = name.strip()
    if not name:
        raise InvalidCommand("API key name must not be empty")
    if len(name) > MAX_NAME_CHARS:
        raise InvalidCommand(f"API key name must be at most {MAX_NAME_CHARS} characters")
    return name


@dataclass
class ApiKey:
    key_id: str
    user_id: str | None = None
    user_email: str | None = None
    name: str = ""
    description: str | None = None
    permissions: list[ApiKeyPermission] = field(default_factory=list)
    head: str = ""
    tail: str = ""
    lookup_id: str = ""
    key_hash: str = ""
    status: str = ACTIVE
    created_at: datetime | None = None
    revoked_at: datetime | None = None
    stream_version: int = 0

    # -- folding ------------------------------------------------------------------------------

    @classmethod
    def from_events(cls, key_id: str, events: list[tuple[Event, datetime | None]]) -> ApiKey:
        key = cls(key_id)
        for event, at in events:
            key.apply(event, at)
        return key

    def apply(self, event: Event, at: datetime | None = None) -> None:
        self.stream_version += 1
        if isinstance(event, ApiKeyCreated):
            self.user_id, self.user_email, self.name = event.user_id, event.user_email, event.name
            self.description, self.permissions = event.description, list(event.permissions)
            self.head, self.tail, self.lookup_id, self.key_hash = (event.head, event.tail, event.lookup_id,
                                                                   event.key_hash)
            self.status, self.created_at = ACTIVE, at
        elif isinstance(event, ApiKeyRevoked):
            self.status, self.revoked_at = REVOKED, at
        elif isinstance(event, ApiKeySuspended):
            self.status = SUSPENDED
        elif isinstance(event, ApiKeyPermissionsChanged):
            self.permissions = list(event.permissions)

    # -- decisions ----------------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        return self.user_id is not None

    @property
    def usable(self) -> bool:
        return self.exists and self.status == ACTIVE

    def allows(self, permission: ApiKeyPermission) -> bool:
        return permission in self.permissions

    def require_owner(self, user_id: str) -> None:
        if not self.exists or self.user_id != user_id:
            raise NotFoundError(f"API key #{self.key_id} not found")

    @staticmethod
    def create(*, user_id: str, user_email: str | None, name: str, description: str | None,
               permissions: list[str], head: str, tail: str, lookup_id: str, key_hash: str) -> list[Event]:
        if description is not None and len(description) > MAX_DESCRIPTION_CHARS:
            raise InvalidCommand(f"API key description must be at most {MAX_DESCRIPTION_CHARS} characters")
        return [ApiKeyCreated(user_id=user_id, user_email=user_email, name=clean_name(name),
                              description=description, permissions=parse_permissions(permissions),
                              head=head, tail=tail, lookup_id=lookup_id, key_hash=key_hash)]

    def revoke(self, user_id: str) -> list[Event]:
        self.require_owner(user_id)
        return [] if self.status == REVOKED else [ApiKeyRevoked()]

    def suspend(self, user_id: str) -> list[Event]:
        self.require_owner(user_id)
        if self.status == REVOKED:
            raise ConflictError(f"API key #{self.key_id} is revoked and cannot be suspended")
        return [] if self.status == SUSPENDED else [ApiKeySuspended()]

    def change_permissions(self, user_id: str, permissions: list[str]) -> list[Event]:
        self.require_owner(user_id)
        if self.status == REVOKED:
            raise ConflictError(f"API key #{self.key_id} is revoked; its permissions cannot change")
        wanted = parse_permissions(permissions)
        return [] if wanted == self.permissions else [ApiKeyPermissionsChanged(permissions=wanted)]
