"""How psycopg encodes jsonb parameters in every agentloom process (``services/infra/db.py``):
orjson for speed, the stdlib where orjson would refuse a value a user's JSON can hold."""

from __future__ import annotations

import json

from psycopg.types.json import Jsonb

import services.infra.db  # noqa: F401 - sets the process-wide encoder
from services.infra.db import _json_dumps


def _encoded(value) -> object:
    from psycopg.types.json import JsonbDumper

    return json.loads(bytes(JsonbDumper(Jsonb).dump(Jsonb(value))).decode())


def test_ordinary_values_keep_their_value():
    value = {"text": "é\u2028", "n": [1, -2.5, None, True], "nested": {"k": [{}]}}
    assert json.loads(_json_dumps(value)) == value
    assert _encoded(value) == value


def test_values_orjson_refuses_still_encode():
    assert json.loads(_json_dumps({"big": 10**30})) == {"big": 10**30}
    assert json.loads(_json_dumps({1: "a"})) == {"1": "a"}
    assert _encoded({"big": -(10**40)}) == {"big": -(10**40)}
