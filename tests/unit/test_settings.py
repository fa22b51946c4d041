"""Settings: the production guards that refuse the public local-development secrets."""

from __future__ import annotations

import pytest

from services.infra.settings import LOCAL_API_KEY_SECRET, Settings

PROD_CREDENTIALS_KEY = "k1:" + "A" * 43


def test_default_api_key_secret_refused_outside_local_mode():
    with pytest.raises(ValueError, match="AGENTLOOM_API_KEY_SECRET"):
        Settings(local_mode=False, jwt_secret="x" * 40, api_key_secret=LOCAL_API_KEY_SECRET,
                 credentials_keys=[PROD_CREDENTIALS_KEY])
    assert Settings(local_mode=False, jwt_secret="x" * 40, api_key_secret="y" * 40,
                    credentials_keys=[PROD_CREDENTIALS_KEY]).api_key_secret == "y" * 40


def test_processes_creating_the_local_secret_at_once_all_get_the_one_that_landed_first(tmp_path, monkeypatch):
    """Another process writes its secret between this one's check and its write: this one keeps
    the other's (it overwrote it before, so two processes signed with different secrets)."""
    import secrets

    from services.infra import settings as settings_module

    environ = {"AGENTLOOM_DATA_DIR": str(tmp_path)}
    real = secrets.token_urlsafe

    def other_process_first(n):
        (tmp_path / "jwt_secret").write_text("the-other-process-secret")
        return real(n)

    monkeypatch.setattr(settings_module.secrets, "token_urlsafe", other_process_first)
    assert settings_module.local_secret(environ) == "the-other-process-secret"
    assert [p.name for p in tmp_path.iterdir()] == ["jwt_secret"]  # no candidate left behind
    monkeypatch.setattr(settings_module.secrets, "token_urlsafe", real)
    fresh = tmp_path / "fresh"
    first = settings_module.local_secret({"AGENTLOOM_DATA_DIR": str(fresh)})
    assert settings_module.local_secret({"AGENTLOOM_DATA_DIR": str(fresh)}) == first
    assert (fresh / "jwt_secret").stat().st_mode & 0o777 == 0o600
