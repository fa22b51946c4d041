"""AutoGPT-format agents the tests import unchanged: the team's own fixtures (``tests/fixtures/autogpt``,
always there) and AutoGPT's sample exported agents (``../shared/autogpt/agents``, beside the checkout).

A checkout alone does not have the samples: tests of a sample skip, saying so, and each has a twin on
a fixture of the same shape that always runs: the full GraphModel export (nodes carrying their links,
credentials_input_schema) of an LLM agent, an older export (``is_template``, ``subgraphs``, bare
nodes), the builder's one-node starting point, and a text pipeline that runs with no key."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

AGENTS = Path(__file__).resolve().parents[2] / "shared" / "autogpt" / "agents"
ABSENT = f"the AutoGPT sample agents are not beside this checkout ({AGENTS})"


FIXTURES = Path(__file__).resolve().parent / "fixtures" / "autogpt"


def fixtures() -> list[Path]:
    """The team's own AutoGPT-format agents."""
    return sorted(FIXTURES.glob("*.json"))


def fixture(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


def samples() -> list[Path]:
    """Every sample agent file (none without the corpus)."""
    return sorted(AGENTS.glob("*.json")) if AGENTS.is_dir() else []


def sample(name: str) -> dict[str, Any]:
    """One sample agent's JSON; skips the calling test when the corpus is absent."""
    path = AGENTS / name
    if not path.is_file():
        pytest.skip(ABSENT)
    return json.loads(path.read_text())
