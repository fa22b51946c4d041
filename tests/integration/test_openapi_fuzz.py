"""A bounded schemathesis run over ``/openapi.json`` (audit F6: 5xx and undocumented status codes).

The in-process stack (real PostgreSQL, real broker, relays, projector, one executor) serves the
gateway app on a free port; schemathesis's CLI runs against it as a subprocess with a fixed seed,
a small example budget and a time cap, authenticated both ways (a bearer token for ``/api`` and an
API key holding every permission for ``/external-api``). Any finding fails the test with the
report: a 5xx, a status code the operation does not document, a body or content type that breaks
the documented response. Nothing is excluded: ``/stop`` only waits for executions that exist and
the fuzzer, without links between operations, never has the id of one.
"""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest

from schemas.events.apikeys import ApiKeyPermission

SEED = 20261201
CHECKS = "not_a_server_error,status_code_conformance,response_schema_conformance,content_type_conformance"
MAX_EXAMPLES = 12
MAX_TIME_S = 60
# Operations anyone may call: health, and the email's unsubscribe link (its signed token is the credential).
UNAUTHENTICATED = {"/health", "/health/live", "/health/ready", "/api/email/unsubscribe",
                   "/api/public/shared/{share_token}"}


def test_every_operation_documents_its_refusals():
    """Without a server: every authenticated operation lists 401, and every operation with a body
    lists what the body middleware answers (400, 413), from the one table in services/infra/http_errors.py."""
    from services import gateway
    from services.infra.settings import Settings

    app = gateway.create_app(Settings(local_mode=True, DATABASE_URL="postgresql://unused@127.0.0.1/unused"),
                             background=[])
    missing = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            codes = set(operation["responses"])
            needed = (({"401"} if path not in UNAUTHENTICATED else set())
                      | ({"400", "413"} if "requestBody" in operation else set()))
            if needed - codes:
                missing.append(f"{method.upper()} {path}: {sorted(needed - codes)}")
    assert not missing, missing


def schemathesis_cli() -> Path:
    path = Path(sys.executable).with_name("schemathesis")
    if not path.exists():
        pytest.fail("schemathesis is not installed: pip install -e '.[test]'")
    return path


async def test_openapi_fuzz_finds_no_server_error_or_undocumented_answer(stack, tmp_path):
    user = "fuzz-user"
    async with stack.client(user) as client:
        created = await client.post("/api/api-keys", json={"name": "fuzz", "permissions": [
            p.value for p in ApiKeyPermission]})
        assert created.status_code == 200, created.text
        api_key = created.json()["plain_text_key"]
    env = {**os.environ, "SCHEMATHESIS_HOOKS": "", "NO_COLOR": "1"}
    proc = await asyncio.create_subprocess_exec(
        str(schemathesis_cli()), "run", f"{stack.base_url}/openapi.json",
        "-H", f"Authorization: Bearer {stack.token(user)}", "-H", f"X-API-Key: {api_key}",
        "--checks", CHECKS, "--seed", str(SEED), "--max-examples", str(MAX_EXAMPLES),
        "--max-time", str(MAX_TIME_S), "--workers", "1", "--request-timeout", "20",
        "--phases", "examples,coverage,fuzzing", "--generation-database", "none", "--no-color",
        "--report-dir", str(tmp_path / "report"),
        cwd=tmp_path, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT)
    out, _ = await asyncio.wait_for(proc.communicate(), timeout=MAX_TIME_S + 60)
    text = out.decode(errors="replace")
    print(text[-4_000:])  # the summary, shown with -s
    assert proc.returncode == 0, text[-12_000:]
