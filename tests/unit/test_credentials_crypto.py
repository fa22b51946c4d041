"""The keyring sealing credential secrets at rest: round trips, rotation, tampering, binding."""

from __future__ import annotations

import pytest

from services.domain.integrations.crypto import Keyring, SecretDecryptionError, generate_key
from services.infra.settings import LOCAL_CREDENTIALS_KEY, Settings

OLD = f"old:{generate_key()}"
NEW = f"new:{generate_key()}"


def test_round_trip_and_ciphertext_names_its_key():
    ring = Keyring.parse([OLD])
    sealed = ring.encrypt("sk-secret", bound_to="cred-1|alice")
    assert sealed.startswith("v1:old:") and "sk-secret" not in sealed
    assert ring.decrypt(sealed, bound_to="cred-1|alice") == "sk-secret"
    assert ring.encrypt("sk-secret", bound_to="cred-1|alice") != sealed  # fresh nonce each time


def test_rotation_old_ciphertexts_still_open_new_ones_use_the_first_key():
    before = Keyring.parse([OLD]).encrypt("sk-1", bound_to="c|u")
    rotated = Keyring.parse([NEW, OLD])
    assert rotated.decrypt(before, bound_to="c|u") == "sk-1"
    after = rotated.encrypt("sk-2", bound_to="c|u")
    assert rotated.key_id_of(after) == "new"
    assert Keyring.parse([NEW]).decrypt(after, bound_to="c|u") == "sk-2"
    with pytest.raises(SecretDecryptionError, match="not in the keyring"):
        Keyring.parse([NEW]).decrypt(before, bound_to="c|u")


def test_tampered_or_rebound_ciphertext_does_not_open():
    ring = Keyring.parse([OLD])
    sealed = ring.encrypt("sk-secret", bound_to="cred-1|alice")
    with pytest.raises(SecretDecryptionError):
        ring.decrypt(sealed, bound_to="cred-1|bob")  # copied into another user's credential
    flipped = sealed[:-2] + ("A" if sealed[-2] != "A" else "B") + sealed[-1]
    with pytest.raises(SecretDecryptionError):
        ring.decrypt(flipped, bound_to="cred-1|alice")
    with pytest.raises(SecretDecryptionError):
        ring.decrypt("garbage", bound_to="cred-1|alice")


@pytest.mark.parametrize("entries,message", [
    ([], "empty"), (["nokey"], "must be"), (["k:c2hvcnQ"], "32 bytes"), (["k:%%%"], "base64url"), ([OLD, OLD], "twice"),
])
def test_bad_keyrings_are_refused_with_a_message(entries, message):
    with pytest.raises(ValueError, match=message):
        Keyring.parse(entries)


def test_local_development_key_refused_outside_local_mode():
    common = {"jwt_secret": "x" * 40, "api_key_secret": "y" * 40}
    with pytest.raises(ValueError, match="AGENTLOOM_CREDENTIALS_KEYS"):
        Settings(local_mode=False, **common)
    assert Settings(local_mode=False, credentials_keys=[NEW], **common).credentials_keys == [NEW]
    assert Keyring.parse([LOCAL_CREDENTIALS_KEY]).active == "local-dev"


def test_cli_keygen_prints_a_usable_keyring_entry(capsys):
    from services.cli.main import main

    assert main(["credentials", "keygen"]) == 0
    entry = capsys.readouterr().out.strip()
    ring = Keyring.parse([entry])
    assert ring.decrypt(ring.encrypt("x", bound_to="b"), bound_to="b") == "x"
