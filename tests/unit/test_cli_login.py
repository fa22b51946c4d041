"""``agentloom login`` keeps the API address and token for the REST commands, readable by its owner only;
flags and environment win over it."""

import stat

import pytest

from services.cli.api_client import Api, config_path, save_login
from services.cli.time_travel import _node_inputs, _pair


def test_login_is_stored_for_its_owner_and_flags_and_environment_win(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    monkeypatch.delenv("AGENTLOOM_URL", raising=False)
    monkeypatch.delenv("AGENTLOOM_TOKEN", raising=False)
    path = save_login("https://loom.example/", "tok-1")
    assert path == config_path() and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Api.resolve() == Api("https://loom.example", "tok-1")
    monkeypatch.setenv("AGENTLOOM_TOKEN", "tok-env")
    assert Api.resolve().token == "tok-env"
    assert Api.resolve("http://other:1", "tok-flag") == Api("http://other:1", "tok-flag")


def test_inputs_are_json_or_plain_words_and_bad_ones_are_named():
    assert _pair("a=41") == ("a", 41) and _pair("s=hello") == ("s", "hello")
    assert _node_inputs(["n1.b=2", "n1.c=[1]"]) == {"n1": {"b": 2, "c": [1]}}
    with pytest.raises(ValueError, match="NAME=JSON"):
        _pair("novalue")
    with pytest.raises(ValueError, match="NODE_ID.PIN"):
        _node_inputs(["nodot=1"])
