"""Which credentials a graph needs and how a run's credentials reach its nodes (pure)."""

from __future__ import annotations

import pytest

from schemas.graph import GraphInput
from services.domain.graphs.credentials import (
    credentials_errors,
    credentials_input_schema,
    node_credentials_masks,
)
from services.domain.integrations.credentials import CredentialsMeta
from tests.corpus import fixture, sample

TEXT_GENERATOR = "1f292d4a-41a4-4977-9684-7c8d560b9f91"
CONDITION = "553ec5b8-6c45-4299-8d75-b394d05f72ff"
OPENAI = {"id": "c-openai", "provider": "openai", "type": "api_key", "title": "mine"}
ANTHROPIC = {"id": "c-anthropic", "provider": "anthropic", "type": "api_key", "title": "mine"}


def llm_graph(*models: str, credentials: dict | None = None) -> GraphInput:
    nodes = [{"id": f"n{i}", "block_id": TEXT_GENERATOR,
              "input_default": {"model": m, "prompt": "hi", **({"credentials": credentials} if credentials else {})}}
             for i, m in enumerate(models)]
    return GraphInput.model_validate({"name": "g", "nodes": nodes, "links": []})


def lookup(owned: dict[str, dict]):
    return lambda cred_id: CredentialsMeta.model_validate(owned[cred_id]) if cred_id in owned else None


@pytest.mark.parametrize("load", [lambda: fixture("python_function_agent.json"),
                                  lambda: sample("agent_516d813b-d1bc-470f-add7-c63a4b2c2bad.json")],
                         ids=["fixture", "autogpt-sample"])
def test_ai_function_sample_schema_matches_autogpt_export(load):
    exported = load()
    ours = credentials_input_schema(GraphInput.model_validate(exported))
    theirs = exported["credentials_input_schema"]
    assert list(ours["properties"]) == list(theirs["properties"]) == ["openai_api_key_credentials"]
    assert ours["required"] == theirs["required"]
    prop, their_prop = (ours["properties"]["openai_api_key_credentials"],
                        theirs["properties"]["openai_api_key_credentials"])
    for key in ("credentials_provider", "credentials_types", "discriminator", "discriminator_values", "required"):
        assert prop[key] == their_prop[key], key
    assert prop["properties"]["provider"]["const"] == "openai"
    # Every model AutoGPT maps is known here, to the same provider.
    assert their_prop["discriminator_mapping"].items() <= prop["discriminator_mapping"].items()


def test_models_of_one_provider_share_an_input_and_providers_split():
    schema = credentials_input_schema(llm_graph("gpt-4o", "o3-mini", "claude-3-haiku-20240307"))
    assert sorted(schema["properties"]) == ["anthropic_api_key_credentials", "openai_api_key_credentials"]
    assert schema["properties"]["openai_api_key_credentials"]["discriminator_values"] == ["gpt-4o", "o3-mini"]


def test_a_node_left_at_the_default_model_needs_that_models_provider():
    g = GraphInput.model_validate({"name": "g", "nodes": [
        {"id": "c", "block_id": CONDITION, "input_default": {"input_value": 1, "condition": "is odd"}}], "links": []})
    assert list(credentials_input_schema(g)["properties"]) == ["openai_api_key_credentials"]


def test_run_credentials_become_node_masks():
    g = llm_graph("gpt-4o", "o3-mini", "claude-3-haiku-20240307")
    masks = node_credentials_masks(g, {"openai_api_key_credentials": OPENAI, "unrelated": ANTHROPIC})
    assert masks == {"n0": {"credentials": OPENAI}, "n1": {"credentials": OPENAI}}
    assert node_credentials_masks(g, {}) == {}


def test_credential_checks_use_autogpts_messages():
    g = llm_graph("gpt-4o", "claude-3-haiku-20240307")
    owned = lookup({"c-openai": OPENAI, "c-anthropic": ANTHROPIC})
    assert credentials_errors(g, {}, owned) == {
        "n0": {"credentials": "These credentials are required"},
        "n1": {"credentials": "These credentials are required"}}
    masks = {"n0": {"credentials": OPENAI}, "n1": {"credentials": {**OPENAI, "id": "someone-elses"}}}
    assert credentials_errors(g, masks, owned) == {"n1": {"credentials": "Unknown credentials #someone-elses"}}
    masks = {"n0": {"credentials": ANTHROPIC}, "n1": {"credentials": ANTHROPIC}}
    assert credentials_errors(g, masks, owned) == {"n0": {"credentials": "Invalid credentials: type/provider mismatch"}}
    masks = {"n0": {"credentials": {**OPENAI, "provider": "anthropic"}}, "n1": {"credentials": ANTHROPIC}}
    assert credentials_errors(g, masks, owned)["n0"]["credentials"] == "Invalid credentials: type/provider mismatch"
    bad = credentials_errors(g, {"n0": {"credentials": {"id": "x"}}, "n1": {"credentials": ANTHROPIC}}, owned)
    assert bad["n0"]["credentials"].startswith("Invalid credentials: ")


def test_node_input_credentials_count_and_optional_ones_may_be_missing():
    owned = lookup({"c-openai": OPENAI})
    assert credentials_errors(llm_graph("gpt-4o", credentials=OPENAI), {}, owned) == {}
    optional = GraphInput.model_validate({"name": "g", "nodes": [
        {"id": "n", "block_id": TEXT_GENERATOR, "input_default": {"model": "gpt-4o", "prompt": "x"},
         "metadata": {"credentials_optional": True}}], "links": []})
    assert credentials_errors(optional, {}, owned) == {}
    assert credentials_input_schema(optional)["required"] == []
