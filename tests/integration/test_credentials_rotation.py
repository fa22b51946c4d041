"""Rotating the credentials keyring against the real store: add a key, re-seal, drop the old key."""

from __future__ import annotations

import pytest

from services.command_api.app import CommandServices
from services.command_api.application.credentials import reencrypt_all
from services.domain.integrations.crypto import SecretDecryptionError, generate_key
from services.infra.auth import User
from services.infra.migrations import migrate

OLD = f"old:{generate_key()}"
NEW = f"new:{generate_key()}"


def services_with(settings, keys: list[str]) -> CommandServices:
    return CommandServices(settings.model_copy(update={"credentials_keys": keys}))


def test_add_key_reencrypt_then_drop_the_old_one(settings):
    migrate(settings)
    before = services_with(settings, [OLD])
    try:
        kept = before.credentials_commands.create(User(id="alice"), "openai", api_key="sk-kept", title="a",
                                                  expires_at=None)
        gone = before.credentials_commands.create(User(id="alice"), "groq", api_key="sk-gone", title="b",
                                                  expires_at=None)
        before.credentials_commands.delete(User(id="alice"), "groq", gone["id"])
    finally:
        before.datastore.close()

    rotated = services_with(settings, [NEW, OLD])
    new_only = services_with(settings, [NEW])
    try:
        assert rotated.credentials_reader.resolve("alice", kept["id"]).bearer() == "sk-kept"
        with pytest.raises(SecretDecryptionError, match="not in the keyring"):
            new_only.credentials_reader.resolve("alice", kept["id"])
        assert reencrypt_all(rotated.credentials_commands) == (1, 1)  # the deleted one is left alone
        assert reencrypt_all(rotated.credentials_commands) == (0, 1)  # idempotent
        assert new_only.credentials_reader.resolve("alice", kept["id"]).bearer() == "sk-kept"
        assert new_only.credentials_reader.resolve("bob", kept["id"]) is None
    finally:
        rotated.datastore.close()
        new_only.datastore.close()


async def test_the_executor_resolves_only_the_owners_live_unexpired_credentials(settings):
    """Run-time resolution (after the execute-time checks): a credential deleted or expired since the
    run was queued, or someone else's, fails the node with a message and never yields a key."""
    from services.blocks.llm import AITextGeneratorBlock
    from services.infra.credentials_resolver import CredentialsUnavailable, NodeCredentials

    migrate(settings)
    services = services_with(settings, [OLD])
    try:
        commands, resolve = services.credentials_commands, NodeCredentials(services.credentials_reader)
        live = commands.create(User(id="alice"), "openai", api_key="sk-live", title=None, expires_at=None)
        expired = commands.create(User(id="alice"), "openai", api_key="sk-old", title=None, expires_at=1)
        deleted = commands.create(User(id="alice"), "openai", api_key="sk-del", title=None, expires_at=None)
        commands.delete(User(id="alice"), "openai", deleted["id"])

        def node_input(meta):
            return {"model": "gpt-4o", "prompt": "x", "credentials": {k: meta[k] for k in ("id", "provider", "type")}}

        got = await resolve("alice", AITextGeneratorBlock, node_input(live))
        assert got["credentials"].bearer() == "sk-live" and not got["credentials"].is_system
        for user, meta, message in [("bob", live, "unknown credentials"), ("alice", deleted, "unknown credentials"),
                                    ("alice", expired, "have expired")]:
            with pytest.raises(CredentialsUnavailable, match=message):
                await resolve(user, AITextGeneratorBlock, node_input(meta))
        with pytest.raises(CredentialsUnavailable, match="type/provider mismatch"):
            await resolve("alice", AITextGeneratorBlock, node_input({**live, "provider": "groq"}))
        assert await resolve("alice", AITextGeneratorBlock, {"model": "gpt-4o", "prompt": "x"}) == {}
    finally:
        services.datastore.close()
