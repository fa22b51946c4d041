"""AutoGPT's sample exported agents (``../shared/autogpt/agents``, beside the checkout), which a few
tests import unchanged. A checkout alone does not have them: those tests skip, saying so; the
AutoGPT-format graphs written in the tests themselves cover the same shapes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

AGENTS = Path(__file__).resolve().parents[2] / "shared" / "autogpt" / "agents"
ABSENT = f"the AutoGPT sample agents are not beside this checkout ({AGENTS})"


def samples() -> list[Path]:
    """Every sample agent file (none without the corpus)."""
    return sorted(AGENTS.glob("*.json")) if AGENTS.is_dir() else []


def sample(name: str) -> dict[str, Any]:
    """One sample agent's JSON; skips the calling test when the corpus is absent."""
    path = AGENTS / name
    if not path.is_file():
        pytest.skip(ABSENT)
    return json.loads(path.read_text())
