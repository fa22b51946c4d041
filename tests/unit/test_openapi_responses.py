"""Every operation of the combined app documents the body of its success answer (``/openapi.json``
lists a response schema for every 2xx that has a body), from the routes' declared response models."""

from __future__ import annotations

from services import gateway
from services.infra.settings import Settings


def _openapi() -> dict:
    app = gateway.create_app(Settings(local_mode=True, DATABASE_URL="postgresql://unused@127.0.0.1/unused"),
                             background=[])
    return app.openapi()


def test_every_success_answer_with_a_body_has_a_schema():
    missing = []
    operations = 0
    for path, methods in _openapi()["paths"].items():
        for method, operation in methods.items():
            operations += 1
            for code, response in operation["responses"].items():
                if not code.startswith("2") or code == "204":
                    continue
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if not schema:  # FastAPI writes ``{}`` for a route without a response model
                    missing.append(f"{method.upper()} {path} {code}")
    assert operations > 30
    assert not missing, missing


def test_no_operation_answers_success_without_saying_which():
    for path, methods in _openapi()["paths"].items():
        for method, operation in methods.items():
            assert any(code.startswith("2") for code in operation["responses"]), f"{method.upper()} {path}"
