"""Stories of ``ApiKeyCommands``: create, suspend, revoke, change permissions, and authentication."""

from __future__ import annotations

import uuid

from schemas.events.apikeys import ApiKeyCreated, ApiKeyRevoked, ApiKeySuspended
from services.command_api.application.api_keys import ApiKeyCommands
from services.domain.apikeys import material
from services.domain.errors import ConflictError, InvalidCommand, NotFoundError
from services.infra.auth import AuthError
from tests.stories.world import expect

SECRET = "story-api-key-secret"


def _commands(world) -> ApiKeyCommands:
    return ApiKeyCommands(world.store("apikeys"), SECRET)


def _key(world, owner, *later, permissions=("EXECUTE_GRAPH",)) -> tuple[uuid.UUID, str]:
    """An API key of ``owner`` as recorded (then ``later`` events): its id and plain text."""
    keys = material.generate(SECRET)
    key_id = material.stream_id_for(keys.lookup_id)
    world.given(key_id, ApiKeyCreated(user_id=owner.id, name="ci", permissions=list(permissions), head=keys.head,
                                      tail=keys.tail, lookup_id=keys.lookup_id, key_hash=keys.key_hash),
                *later, user_id=owner.id)
    return key_id, keys.plain


class ApiKeyStories:
    def test_create_records_the_keyed_hash_and_never_the_key(self, world):
        alice, keys = world.user("alice"), _commands(world)
        key, plain = world.when(lambda: keys.create(alice, " ci ", ["EXECUTE_GRAPH", "READ_GRAPH"], "for CI"))
        [created] = world.then(expect(
            "ApiKeyCreated", key.key_id, user_id=alice.id, name="ci", description="for CI",
            permissions=["EXECUTE_GRAPH", "READ_GRAPH"], head=plain[:8], tail=plain[-8:],
            key_hash=material.keyed_hash(SECRET, plain), lookup_id=material.lookup_id_of(plain)))
        assert plain not in str(created.payload)

    def test_a_key_with_an_unknown_permission_or_no_name_is_refused(self, world):
        alice, keys = world.user("alice"), _commands(world)
        world.refused(InvalidCommand, lambda: keys.create(alice, "ci", ["RULE_THE_WORLD"], None), match="Unknown")
        world.refused(InvalidCommand, lambda: keys.create(alice, "  ", ["IDENTITY"], None), match="name")

    def test_suspend_is_recorded_once(self, world):
        alice, keys = world.user("alice"), _commands(world)
        key_id, _ = _key(world, alice)
        assert world.when(lambda: keys.suspend(alice, str(key_id))).status == "SUSPENDED"
        world.then(expect("ApiKeySuspended", key_id))
        world.when(lambda: keys.suspend(alice, str(key_id)))
        world.then()

    def test_a_suspended_key_can_still_be_revoked_once(self, world):
        alice, keys = world.user("alice"), _commands(world)
        key_id, _ = _key(world, alice, ApiKeySuspended())
        assert world.when(lambda: keys.revoke(alice, str(key_id))).status == "REVOKED"
        world.then(expect("ApiKeyRevoked", key_id))
        world.when(lambda: keys.revoke(alice, str(key_id)))
        world.then()

    def test_a_revoked_key_cannot_be_suspended_or_given_permissions(self, world):
        alice, keys = world.user("alice"), _commands(world)
        key_id, _ = _key(world, alice, ApiKeyRevoked())
        world.refused(ConflictError, lambda: keys.suspend(alice, str(key_id)), match="revoked")
        world.refused(ConflictError, lambda: keys.set_permissions(alice, str(key_id), ["IDENTITY"]), match="revoked")

    def test_permissions_change_only_when_they_differ(self, world):
        alice, keys = world.user("alice"), _commands(world)
        key_id, _ = _key(world, alice)
        world.when(lambda: keys.set_permissions(alice, str(key_id), ["READ_GRAPH", "IDENTITY", "READ_GRAPH"]))
        world.then(expect("ApiKeyPermissionsChanged", key_id, permissions=["READ_GRAPH", "IDENTITY"]))
        world.when(lambda: keys.set_permissions(alice, str(key_id), ["READ_GRAPH", "IDENTITY"]))
        world.then()

    def test_someone_elses_key_looks_missing(self, world):
        alice, bob, keys = world.user("alice"), world.user("bob"), _commands(world)
        key_id, _ = _key(world, alice)
        world.refused(NotFoundError, lambda: keys.revoke(bob, str(key_id)))
        world.refused(NotFoundError, lambda: keys.set_permissions(bob, str(key_id), ["IDENTITY"]))

    def test_only_an_active_key_authenticates(self, world):
        alice, keys = world.user("alice"), _commands(world)
        active_id, active = _key(world, alice)
        _, suspended = _key(world, alice, ApiKeySuspended())
        assert world.when(lambda: keys.authenticate(active)).key_id == str(active_id)
        world.then()
        world.refused(AuthError, lambda: keys.authenticate(suspended), match="suspended")
        world.refused(AuthError, lambda: keys.authenticate(active[:-1] + ("A" if active[-1] != "A" else "B")))
