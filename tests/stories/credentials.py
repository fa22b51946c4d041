"""Stories of ``CredentialsCommands``: store a sealed provider key, delete it, and the refusals."""

from __future__ import annotations

import uuid

from schemas.events.integrations import CredentialsDeleted
from services.command_api.application.credentials import CredentialsCommands, stream_id
from services.domain.errors import ConflictError, Forbidden, InvalidCommand, NotFoundError
from services.domain.integrations.system import SYSTEM_CREDENTIALS
from services.infra.credentials_store import CredentialsReader, bound_to
from tests.stories.builders import sealed_credential
from tests.stories.fakes import fresh_keyring
from tests.stories.world import expect

OPENAI_SYSTEM_ID = SYSTEM_CREDENTIALS["openai"][0]


def _commands(world) -> CredentialsCommands:
    store = world.store("integrations")
    return CredentialsCommands(store, CredentialsReader(store, fresh_keyring(), system={}))


def _credential(world, commands: CredentialsCommands, owner, *later, stream: uuid.UUID | None = None) -> uuid.UUID:
    cred = stream or uuid.uuid4()
    world.given(cred, sealed_credential(commands.reader.keyring, cred, owner.id, "sk-stored"), *later,
                user_id=owner.id)
    return cred


class CredentialsStories:
    def test_create_records_the_key_sealed_and_bound_to_its_owner(self, world):
        alice, creds = world.user("alice"), _commands(world)
        meta = world.when(lambda: creds.create(alice, "openai", api_key=" sk-live-123 ", title="mine", expires_at=None))
        [created] = world.then(expect("CredentialsCreated", meta["id"], user_id=alice.id, provider="openai",
                                      type="api_key", title="mine", expires_at=None))
        sealed = created.payload["encrypted_secret"]
        assert "sk-live-123" not in str(created.payload)
        assert creds.reader.keyring.decrypt(sealed, bound_to=bound_to(meta["id"], alice.id)) == "sk-live-123"
        assert meta == {"id": meta["id"], "provider": "openai", "type": "api_key", "title": "mine", "scopes": None,
                        "username": None, "host": None}

    def test_a_client_chosen_id_cannot_be_created_twice(self, world):
        alice, creds, chosen = world.user("alice"), _commands(world), uuid.uuid4()
        _credential(world, creds, alice, stream=stream_id(alice.id, chosen))
        world.refused(ConflictError, lambda: creds.create(alice, "openai", api_key="sk-2", title=None, expires_at=None,
                                                          credentials_id=str(chosen)))

    def test_keys_that_could_never_work_are_refused(self, world):
        alice, creds = world.user("alice"), _commands(world)
        for api_key in ("", "   ", "sk with spaces", "sk-\n-newline"):
            world.refused(InvalidCommand, lambda key=api_key: creds.create(alice, "openai", api_key=key, title=None,
                                                                           expires_at=None))
        world.refused(NotFoundError, lambda: creds.create(alice, "no-such-provider", api_key="k", title=None,
                                                          expires_at=None), match="Unknown provider")

    def test_a_system_credential_id_can_be_neither_created_nor_deleted(self, world):
        alice, creds = world.user("alice"), _commands(world)
        world.refused(Forbidden, lambda: creds.create(alice, "openai", api_key="sk-1", title=None, expires_at=None,
                                                      credentials_id=OPENAI_SYSTEM_ID), match="reserved")
        world.refused(Forbidden, lambda: creds.delete(alice, "openai", OPENAI_SYSTEM_ID), match="System-managed")

    def test_delete_records_the_deletion(self, world):
        alice, creds = world.user("alice"), _commands(world)
        cred = _credential(world, creds, alice)
        assert world.when(lambda: creds.delete(alice, "openai", str(cred))) == {"deleted": True, "revoked": None}
        world.then(expect("CredentialsDeleted", cred))

    def test_a_foreign_deleted_or_other_providers_credential_is_not_found(self, world):
        alice, bob, creds = world.user("alice"), world.user("bob"), _commands(world)
        cred = _credential(world, creds, alice)
        gone = _credential(world, creds, alice, CredentialsDeleted())
        world.refused(NotFoundError, lambda: creds.delete(bob, "openai", str(cred)))
        world.refused(NotFoundError, lambda: creds.delete(alice, "anthropic", str(cred)))
        world.refused(NotFoundError, lambda: creds.delete(alice, "openai", str(gone)))
