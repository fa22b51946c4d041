"""Audit F11: local mode was the default, so a deployment that forgot AGENTLOOM_LOCAL_MODE=false
sealed credentials with a key published in the source; outside local mode the example env's
placeholders and a 1-character JWT secret were accepted. Now local mode is off unless asked for
(`agentloom up` asks for its children) and `serve` refuses public, placeholder and short secrets,
naming the variable but never its value."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from services.dev import local_stack
from services.infra.settings import (
    LOCAL_API_KEY_SECRET,
    LOCAL_CREDENTIALS_KEY,
    LOCAL_JWT_SECRET,
    Settings,
    load_settings,
)

ROOT = Path(__file__).resolve().parents[2]
STRONG = {"jwt_secret": "j" * 40, "api_key_secret": "a" * 40,
          "credentials_keys": ["k1:" + "A" * 43]}


def example_env() -> dict[str, str]:
    out = {}
    for line in (ROOT / "infra" / "example.env").read_text().splitlines():
        if line and not line.startswith("#") and "=" in line:
            key, _, value = line.partition("=")
            out[key] = value
    return out


@pytest.fixture
def clean_env(monkeypatch, tmp_path):
    for key in list(os.environ):
        if key.startswith("AGENTLOOM_"):
            monkeypatch.delenv(key)
    monkeypatch.setenv("AGENTLOOM_DATA_DIR", str(tmp_path))


def test_f11_local_mode_is_off_by_default_and_the_public_secrets_are_refused(clean_env):
    assert Settings.model_fields["local_mode"].default is False
    with pytest.raises(ValueError) as refused:
        Settings()
    message = str(refused.value)
    for variable in ("AGENTLOOM_JWT_SECRET", "AGENTLOOM_API_KEY_SECRET", "AGENTLOOM_CREDENTIALS_KEYS"):
        assert variable in message
    for value in (LOCAL_JWT_SECRET, LOCAL_API_KEY_SECRET, LOCAL_CREDENTIALS_KEY):
        assert value not in message
    assert Settings(**STRONG).local_mode is False
    assert Settings(local_mode=True).credentials_keys == [LOCAL_CREDENTIALS_KEY]  # a developer's machine


def test_f11_the_example_env_placeholders_are_refused():
    env = example_env()
    placeholders = {"jwt_secret": env["AGENTLOOM_JWT_SECRET"], "api_key_secret": env["AGENTLOOM_API_KEY_SECRET"],
                    "credentials_keys": [env["AGENTLOOM_CREDENTIALS_KEYS"].strip('[]"')]}
    for field, variable in (("jwt_secret", "AGENTLOOM_JWT_SECRET"), ("api_key_secret", "AGENTLOOM_API_KEY_SECRET"),
                            ("credentials_keys", "AGENTLOOM_CREDENTIALS_KEYS")):
        with pytest.raises(ValueError, match=variable) as refused:
            Settings(local_mode=False, **{**STRONG, field: placeholders[field]})
        assert str(placeholders[field]).strip("[]'") not in str(refused.value)


@pytest.mark.parametrize("field,variable", [("jwt_secret", "AGENTLOOM_JWT_SECRET"),
                                            ("api_key_secret", "AGENTLOOM_API_KEY_SECRET")])
def test_f11_short_secrets_are_refused(field, variable):
    for short in ("x", "s" * 31):
        with pytest.raises(ValueError, match=f"{variable} is shorter than 32 bytes"):
            Settings(local_mode=False, **{**STRONG, field: short})
    assert Settings(local_mode=False, **{**STRONG, field: "s" * 32})


def test_f11_a_public_key_jwt_setup_needs_no_shared_secret():
    settings = Settings(local_mode=False, jwt_algorithms=["RS256"], jwt_public_key="-----BEGIN PUBLIC KEY-----",
                        jwt_secret="", api_key_secret="a" * 40, credentials_keys=STRONG["credentials_keys"])
    assert settings.jwt_algorithms == ["RS256"]


def cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "services.cli.main", *args], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=60)


def test_f11_serve_refuses_with_a_clear_message_naming_the_variable(clean_env, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AGENTLOOM_")}
    env["AGENTLOOM_DATA_DIR"] = str(tmp_path)
    env["AGENTLOOM_JWT_SECRET"] = "tiny-secret"
    env["AGENTLOOM_API_KEY_SECRET"] = example_env()["AGENTLOOM_API_KEY_SECRET"]
    result = cli("serve", "relay", env=env)
    assert result.returncode == 2, result.stderr
    assert "configuration refused" in result.stderr and "Traceback" not in result.stderr
    assert "AGENTLOOM_JWT_SECRET is shorter than 32 bytes" in result.stderr
    assert "AGENTLOOM_API_KEY_SECRET holds the placeholder" in result.stderr
    assert "tiny-secret" not in result.stderr and "change-me-to" not in result.stderr

    # `agentloom token` is a local helper: it signs with this installation's development secret
    del env["AGENTLOOM_JWT_SECRET"], env["AGENTLOOM_API_KEY_SECRET"]
    token = cli("token", "--user", "dev", env=env)
    assert token.returncode == 0, token.stderr
    assert token.stdout.count(".") == 2 and (tmp_path / "jwt_secret").exists()


def test_f11_up_runs_its_children_in_local_mode(clean_env, tmp_path, monkeypatch):
    """What `agentloom up` hands its children (the e2e test runs the whole stack this way)."""
    env = local_stack.child_env({"PATH": os.environ.get("PATH", "")})
    assert env["AGENTLOOM_LOCAL_MODE"] == "true"
    assert env["AGENTLOOM_JWT_SECRET"] == (tmp_path / "jwt_secret").read_text().strip()
    explicit = local_stack.child_env({"AGENTLOOM_LOCAL_MODE": "false", "AGENTLOOM_JWT_SECRET": "j" * 40})
    assert explicit["AGENTLOOM_LOCAL_MODE"] == "false" and explicit["AGENTLOOM_JWT_SECRET"] == "j" * 40
    for key in ("AGENTLOOM_LOCAL_MODE", "AGENTLOOM_JWT_SECRET"):
        monkeypatch.setenv(key, env[key])
    assert load_settings().local_mode is True  # what each child builds
