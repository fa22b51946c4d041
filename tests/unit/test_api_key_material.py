"""API key material (generation, lookup id, keyed hash) and the ApiKey aggregate's rules."""

from __future__ import annotations

import base64
import uuid

import pytest

from schemas.events.apikeys import (
    ApiKeyCreated,
    ApiKeyPermission,
    ApiKeyPermissionsChanged,
    ApiKeyRevoked,
    ApiKeySuspended,
)
from services.domain.apikeys import material
from services.domain.apikeys.api_key import ACTIVE, REVOKED, SUSPENDED, ApiKey
from services.domain.errors import ConflictError, InvalidCommand, NotFoundError

SECRET = "test-secret"


# -- key material ------------------------------------------------------------------------------

def test_generated_key_shape_and_parts():
    keys = material.generate(SECRET)
    assert keys.plain.startswith("agpt_") and len(keys.plain) == 48
    raw = keys.plain[len("agpt_"):]
    assert len(base64.urlsafe_b64decode(raw + "=")) == 32  # 256 random bits
    assert keys.head == keys.plain[:8] and keys.tail == keys.plain[-8:]
    assert len(keys.lookup_id) == 16 and keys.lookup_id not in keys.plain  # derived, not copied
    assert material.lookup_id_of(keys.plain) == keys.lookup_id
    assert keys.key_hash == material.keyed_hash(SECRET, keys.plain) and len(keys.key_hash) == 64
    assert keys.plain not in repr(keys) and keys.lookup_id not in repr(keys)


def test_keys_are_unique():
    plains = {material.generate(SECRET).plain for _ in range(200)}
    assert len(plains) == 200


def test_hash_is_keyed_and_checked_in_full():
    keys = material.generate(SECRET)
    assert material.matches(SECRET, keys.plain, keys.key_hash)
    assert not material.matches("another-secret", keys.plain, keys.key_hash)
    tampered = keys.plain[:-1] + ("A" if keys.plain[-1] != "A" else "B")
    assert not material.matches(SECRET, tampered, keys.key_hash)


@pytest.mark.parametrize("presented", [None, "", "agpt_", "agpt_short", "nope_" + "a" * 43, "agpt_" + "a" * 44,
                                       "agpt_" + "a" * 42 + "!", "Bearer agpt_" + "a" * 43,
                                       "agpt_" + "a" * 43 + "\n"])
def test_malformed_keys_have_no_lookup_id(presented):
    assert material.lookup_id_of(presented) is None


def test_stream_id_is_stable_per_lookup_id():
    assert material.stream_id_for("abc") == material.stream_id_for("abc")
    assert material.stream_id_for("abc") != material.stream_id_for("abd")
    assert isinstance(material.stream_id_for("abc"), uuid.UUID)


# -- the aggregate -----------------------------------------------------------------------------

def created(user_id="alice", permissions=("IDENTITY", "READ_GRAPH")) -> ApiKey:
    events = ApiKey.create(user_id=user_id, user_email=f"{user_id}@example.com", name=" my key ", description="d",
                           permissions=list(permissions), head="agpt_abc", tail="xyz12345", lookup_id="L" * 16,
                           key_hash="h" * 64)
    return ApiKey.from_events("k1", [(e, None) for e in events])


def test_create_validates_and_normalises():
    key = created(permissions=["IDENTITY", "READ_GRAPH", "IDENTITY"])
    assert key.name == "my key" and key.status == ACTIVE and key.usable
    assert key.permissions == [ApiKeyPermission.IDENTITY, ApiKeyPermission.READ_GRAPH]
    assert key.allows(ApiKeyPermission.IDENTITY) and not key.allows(ApiKeyPermission.EXECUTE_GRAPH)
    with pytest.raises(InvalidCommand, match="Unknown permission.*'FLY'"):
        created(permissions=["IDENTITY", "FLY"])
    for bad_name in ["", "   ", "x" * 101]:
        with pytest.raises(InvalidCommand, match="name"):
            ApiKey.create(user_id="a", user_email=None, name=bad_name, description=None, permissions=[],
                          head="h", tail="t", lookup_id="l", key_hash="k")


def test_only_the_owner_can_change_a_key():
    key = created()
    for decide in (lambda: key.revoke("bob"), lambda: key.suspend("bob"),
                   lambda: key.change_permissions("bob", ["IDENTITY"])):
        with pytest.raises(NotFoundError):
            decide()
    with pytest.raises(NotFoundError):
        ApiKey("missing").revoke("alice")


def test_suspend_revoke_and_permissions():
    key = created()
    assert key.change_permissions("alice", ["READ_GRAPH", "IDENTITY"]) == [
        ApiKeyPermissionsChanged(permissions=[ApiKeyPermission.READ_GRAPH, ApiKeyPermission.IDENTITY])]
    assert key.change_permissions("alice", ["IDENTITY", "READ_GRAPH"]) == []  # already so: nothing recorded
    assert key.suspend("alice") == [ApiKeySuspended()]
    key.apply(ApiKeySuspended())
    assert key.status == SUSPENDED and not key.usable
    assert key.suspend("alice") == []
    assert key.revoke("alice") == [ApiKeyRevoked()]
    key.apply(ApiKeyRevoked())
    assert key.status == REVOKED and not key.usable
    assert key.revoke("alice") == []
    with pytest.raises(ConflictError):
        key.suspend("alice")
    with pytest.raises(ConflictError):
        key.change_permissions("alice", ["IDENTITY"])


def test_created_event_never_holds_the_plain_key():
    assert set(ApiKeyCreated.model_fields) == {"user_id", "user_email", "name", "description", "permissions",
                                               "head", "tail", "lookup_id", "key_hash"}
