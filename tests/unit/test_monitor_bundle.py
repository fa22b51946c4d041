"""The run monitor's bundle: served at ``/`` and ``/assets/…`` without shadowing the API, and the
committed ``services/monitor/static`` is exactly what its sources build to (when Node is here)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient

from services.monitor.serve import STATIC, mount_monitor

UI = Path(__file__).resolve().parents[2] / "services" / "monitor" / "ui"


def _app() -> FastAPI:
    app = FastAPI()
    router = APIRouter()

    @router.get("/api/graphs")
    def graphs() -> list:
        return []

    @router.get("/health")
    def health() -> dict:
        return {"status": "ok"}

    app.include_router(router)
    mount_monitor(app)
    return app


def _assets() -> list[Path]:
    return sorted(p for p in (STATIC / "assets").iterdir() if p.is_file())


def test_the_index_and_its_assets_are_served_with_their_types():
    client = TestClient(_app())
    index = client.get("/")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")
    assert index.content == (STATIC / "index.html").read_bytes()
    # the page holding a token runs only its own scripts and is never framed (the browser tests run under it)
    policy = index.headers["content-security-policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-eval" not in policy
    assert "<script>" not in index.text  # no inline script for the policy to refuse
    names = [p.name for p in _assets()]
    assert any(n.endswith(".js") for n in names) and any(n.endswith(".css") for n in names), names
    for name in names:  # every file index.html names is there
        assert f"/assets/{name}" in index.text or not name.endswith((".js", ".css"))
    for path in _assets():
        answer = client.get(f"/assets/{path.name}")
        assert answer.status_code == 200
        assert answer.content == path.read_bytes()
        if path.suffix == ".js":
            assert answer.headers["content-type"].startswith("text/javascript")
        if path.suffix == ".css":
            assert answer.headers["content-type"].startswith("text/css")


def test_the_api_is_not_shadowed_and_nothing_outside_the_assets_is_served():
    app = _app()
    client = TestClient(app)
    assert client.get("/api/graphs").json() == []
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/api/nothing-here").status_code == 404  # no SPA fallback
    assert client.get("/graphs/x").status_code == 404
    for escape in ("/assets/../serve.py", "/assets/%2e%2e/serve.py", "/assets/..%2Fserve.py", "/assets/missing.js"):
        assert client.get(escape).status_code == 404, escape
    paths = app.openapi()["paths"]
    assert "/" not in paths and not any(p.startswith("/assets") for p in paths)  # out of the schema


def test_the_gateway_serves_the_monitor():
    from services.gateway import create_app
    from services.infra.settings import Settings

    app = create_app(Settings(local_mode=True, DATABASE_URL="postgresql://unused@127.0.0.1/unused"), background=[])
    served = {getattr(r, "path", None) for r in app.routes}
    assert {"/", "/assets/{name:path}", "/health"} <= served
    assert "/" not in app.openapi()["paths"]


def _npm(*args: str, timeout: int) -> None:
    done = subprocess.run(["npm", *args], cwd=UI, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"npm {' '.join(args)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"


def _lock_installed() -> bool:
    """node_modules holds what package-lock.json pins (npm writes its copy of the lock there)."""
    installed = UI / "node_modules" / ".package-lock.json"
    return installed.is_file() and installed.stat().st_mtime >= (UI / "package-lock.json").stat().st_mtime


@pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                    reason="Node.js (node and npm) is not on PATH: the committed bundle cannot be rebuilt to compare")
def test_the_committed_bundle_is_what_the_sources_build(tmp_path):
    if not _lock_installed():
        _npm("ci", "--no-audit", "--no-fund", timeout=600)  # once; node_modules is gitignored and kept
    out = tmp_path / "static"
    _npm("exec", "--no", "--", "vite", "build", "--outDir", str(out), "--emptyOutDir", "--logLevel", "error",
         timeout=120)
    built = {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}
    committed = {p.relative_to(STATIC).as_posix(): p.read_bytes() for p in sorted(STATIC.rglob("*")) if p.is_file()}
    assert sorted(built) == sorted(committed), "rebuild: cd services/monitor/ui && npm ci && npm run build"
    stale = [name for name in built if built[name] != committed[name]]
    assert not stale, f"{stale} differ from a fresh build: cd services/monitor/ui && npm ci && npm run build"
