"""The CLI's side of the REST API: where it is, who the caller is, and one call with a clear error.

The address and token come from ``--url``/``--token``, else ``AGENTLOOM_URL``/``AGENTLOOM_TOKEN``,
else what ``agentloom login`` stored (``$XDG_CONFIG_HOME/agentloom/cli.json``, readable by its
owner only), else the local stack (``http://127.0.0.1:8006`` and a token signed with this
installation's development secret for the user ``cli``)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

DEFAULT_URL = "http://127.0.0.1:8006"
LOCAL_USER = "cli"


class ApiError(Exception):
    """The API refused (its ``status`` and ``detail``), or could not be reached (``status`` None).
    Printed as ``agentloom: <status> <detail>``."""

    def __init__(self, status: int | None, detail: str) -> None:
        super().__init__(f"{status} {detail}" if status is not None else detail)
        self.status = status
        self.detail = detail


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "agentloom" / "cli.json"


def save_login(url: str, token: str) -> Path:
    path = config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as file:
        json.dump({"url": url.rstrip("/"), "token": token}, file)
    return path


def _stored() -> dict[str, str]:
    try:
        data = json.loads(config_path().read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


@dataclass
class Api:
    url: str
    token: str
    timeout_s: float = 30.0

    @classmethod
    def resolve(cls, url: str | None = None, token: str | None = None) -> Api:
        stored = _stored()
        url = url or os.environ.get("AGENTLOOM_URL") or stored.get("url") or DEFAULT_URL
        token = token or os.environ.get("AGENTLOOM_TOKEN") or stored.get("token") or _local_token()
        return cls(url.rstrip("/"), token)

    def call(self, method: str, path: str, *, json_body: Any = None, params: dict | None = None) -> Any:
        try:
            response = httpx.request(method, f"{self.url}{path}", json=json_body, params=params,
                                     headers={"Authorization": f"Bearer {self.token}"}, timeout=self.timeout_s)
        except httpx.HTTPError as exc:
            raise ApiError(None, f"cannot reach {self.url} ({exc or type(exc).__name__}); "
                                 "is the stack running (`agentloom up`)?") from None
        if response.status_code >= 400:
            try:
                body = response.json()
                detail = body.get("detail", body) if isinstance(body, dict) else body
            except ValueError:
                detail = response.text[:300] or response.reason_phrase
            raise ApiError(response.status_code, _text(detail))
        try:
            return response.json() if response.content else None
        except ValueError:
            raise ApiError(response.status_code, f"{self.url} answered {path} with something other than JSON; "
                                                 "is that an agentloom API?") from None

    def ws_url(self) -> str:
        """The WebSocket endpoint (``/ws?token=…``, AutoGPT's protocol) on the same host."""
        base = self.url.replace("https://", "wss://", 1).replace("http://", "ws://", 1)
        return f"{base}/ws?token={quote(self.token, safe='')}"


def _text(detail: Any) -> str:
    return detail if isinstance(detail, str) else json.dumps(detail)


def _local_token() -> str:
    from services.infra.auth import issue_token
    from services.infra.settings import load_settings

    return issue_token(load_settings(local_default=True), LOCAL_USER)
