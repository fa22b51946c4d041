"""Rotating the credentials keyring against the real store: add a key, re-seal, drop the old key."""

from __future__ import annotations

import pytest

from services.command_api.app import CommandServices
from services.command_api.application.credentials import reencrypt_all
from services.common import db
from services.common.auth import User
from services.common.integrations.crypto import SecretDecryptionError, generate_key

OLD = f"old:{generate_key()}"
NEW = f"new:{generate_key()}"


def services_with(settings, keys: list[str]) -> CommandServices:
    return CommandServices(settings.model_copy(update={"credentials_keys": keys}))


def test_add_key_reencrypt_then_drop_the_old_one(settings):
    db.migrate(settings)
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
