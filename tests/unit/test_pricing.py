"""Block pricing: cost_filter matching and first-match-wins cost lookup (COMPAT §2.7)."""

from __future__ import annotations

import pytest

from services.domain.credits.pricing import (
    COST_TABLE,
    LLM_BLOCK_ID,
    LLM_BLOCK_IDS,
    BlockCost,
    BlockCostType,
    block_costs,
    block_usage_cost,
    cost_filter_matches,
)

SYSTEM_OPENAI_CREDENTIALS_ID = "53c25cb8-e3ee-465c-a4d1-e75a4c899c2a"  # AutoGPT's "Use Credits for OpenAI"
SYSTEM_CREDS = {"id": SYSTEM_OPENAI_CREDENTIALS_ID, "provider": "openai", "type": "api_key", "title": "OpenAI"}
USER_CREDS = {"id": "5b7c0a9e-user-key", "provider": "openai", "type": "api_key", "title": "My key"}


# -- matching -----------------------------------------------------------------------------------


def test_dict_filter_is_a_recursive_subset():
    data = {"model": "gpt-4o", "prompt": "hi", "credentials": {"id": "x", "provider": "openai", "title": "t"}}
    assert cost_filter_matches({}, data)
    assert cost_filter_matches({"model": "gpt-4o"}, data)
    assert cost_filter_matches({"model": "gpt-4o", "credentials": {"id": "x"}}, data)
    assert cost_filter_matches({"credentials": {"id": "x", "provider": "openai"}}, data)
    assert not cost_filter_matches({"credentials": {"id": "y"}}, data)
    assert not cost_filter_matches({"credentials": {"id": "x", "type": "oauth2"}}, data)
    assert not cost_filter_matches({"model": "gpt-4o-mini"}, data)
    assert not cost_filter_matches({"extra": "value"}, data)


@pytest.mark.parametrize("wanted", [None, "", 0, False, [], {}])
@pytest.mark.parametrize("data", [{}, {"k": None}, {"k": ""}, {"k": 0}])
def test_falsy_equals_falsy_including_a_missing_key(wanted, data):
    assert cost_filter_matches({"k": wanted}, data)


def test_falsy_does_not_equal_truthy():
    assert not cost_filter_matches({"k": None}, {"k": "set"})
    assert not cost_filter_matches({"k": ""}, {"k": 1})
    assert not cost_filter_matches({"k": "set"}, {})
    assert not cost_filter_matches({"k": "set"}, {"k": None})
    assert not cost_filter_matches({"k": {"id": "x"}}, {"k": {}})


def test_empty_dict_filter_value_matches_any_dict():
    assert cost_filter_matches({"k": {}}, {"k": {"a": 1}})


def test_non_dicts_must_be_equal():
    assert cost_filter_matches("a", "a")
    assert not cost_filter_matches("a", "b")
    assert cost_filter_matches({"n": 3}, {"n": 3})
    assert not cost_filter_matches({"n": 3}, {"n": 4})
    assert cost_filter_matches({"l": [1, 2]}, {"l": [1, 2]})
    assert not cost_filter_matches({"l": [1]}, {"l": [1, 2]})  # lists are compared, not subsets
    assert not cost_filter_matches({"k": {"id": "x"}}, {"k": "x"})  # a dict never equals a string
    assert not cost_filter_matches({"k": "x"}, {"k": {"id": "x"}})


# -- cost lookup --------------------------------------------------------------------------------


def test_first_match_wins():
    table = {"blk": [BlockCost(cost_amount=5, cost_filter={"mode": "fast"}),
                     BlockCost(cost_amount=2, cost_filter={}),
                     BlockCost(cost_amount=9, cost_filter={"mode": "fast"})]}
    assert block_usage_cost("blk", {"mode": "fast"}, table) == (5, {"mode": "fast"})
    assert block_usage_cost("blk", {"mode": "slow"}, table) == (2, {})


def test_unknown_or_unmatched_block_is_free():
    table = {"blk": [BlockCost(cost_amount=5, cost_filter={"mode": "fast"})]}
    assert block_usage_cost("other", {"mode": "fast"}, table) == (0, {})
    assert block_usage_cost("blk", {"mode": "slow"}, table) == (0, {})


def test_second_and_byte_costs_are_zero_before_execution():
    table = {"s": [BlockCost(cost_amount=4, cost_type=BlockCostType.SECOND)],
             "b": [BlockCost(cost_amount=4, cost_type=BlockCostType.BYTE)]}
    assert block_usage_cost("s", {}, table) == (0, {})
    assert block_usage_cost("b", {}, table) == (0, {})
    assert block_usage_cost("s", {}, table, run_time=2.6) == (10, {})
    assert block_usage_cost("b", {}, table, data_size=3) == (12, {})


def test_returned_filter_is_a_copy():
    table = {"blk": [BlockCost(cost_amount=1, cost_filter={"a": "b"})]}
    _, matched = block_usage_cost("blk", {"a": "b"}, table)
    matched["a"] = "changed"
    assert table["blk"][0].cost_filter == {"a": "b"}


# -- the default table --------------------------------------------------------------------------


@pytest.mark.parametrize("model,cost", [("gpt-4o", 3), ("gpt-4o-mini", 1), ("gpt-4-turbo", 10), ("o3-mini", 2),
                                        ("gpt-5.2-2025-12-11", 6)])
def test_llm_with_system_credentials_is_charged(model, cost):
    amount, matched = block_usage_cost(LLM_BLOCK_ID, {"model": model, "prompt": "x", "credentials": SYSTEM_CREDS})
    assert amount == cost
    assert matched == {"model": model, "credentials": {"id": SYSTEM_OPENAI_CREDENTIALS_ID,
                                                       "provider": "openai", "type": "api_key"}}


def test_llm_with_user_credentials_is_free():
    assert block_usage_cost(LLM_BLOCK_ID, {"model": "gpt-4o", "credentials": USER_CREDS}) == (0, {})
    assert block_usage_cost(LLM_BLOCK_ID, {"model": "gpt-4o"}) == (0, {})
    assert block_usage_cost(LLM_BLOCK_ID, {"model": "unpriced", "credentials": SYSTEM_CREDS}) == (0, {})


def test_anthropic_system_credentials_priced_per_model():
    creds = {"id": "24e5d942-d9e3-4798-8151-90143ee55629", "provider": "anthropic", "type": "api_key"}
    assert block_usage_cost(LLM_BLOCK_ID, {"model": "claude-opus-4-1-20250805", "prompt": "x",
                                           "credentials": creds})[0] == 21


def test_default_model_is_priced_when_left_unset():
    """A node that leaves ``model`` at the block default runs (and pays for) that model."""
    amount, matched = block_usage_cost(LLM_BLOCK_ID, {"prompt": "x", "credentials": SYSTEM_CREDS})
    assert amount == 6 and matched["model"] == "gpt-5.2-2025-12-11"


def test_price_follows_the_input_the_block_runs_with():
    """Tricks that change the raw input but not what runs must not make a priced model free."""
    assert block_usage_cost(LLM_BLOCK_ID, {"model": None, "prompt": "x", "credentials": SYSTEM_CREDS})[0] == 6
    assert block_usage_cost(LLM_BLOCK_ID, {"model": "openai/gpt-4o", "prompt": "x",
                                           "credentials": SYSTEM_CREDS})[0] == 3
    # Input the block refuses never runs, so it costs nothing.
    assert block_usage_cost(LLM_BLOCK_ID, {"model": "gpt-4o", "credentials": SYSTEM_CREDS}) == (0, {})


def test_only_ai_blocks_have_costs():
    assert set(COST_TABLE) == set(LLM_BLOCK_IDS)
    assert block_costs("any-core-block") == []
    assert {"cost_amount": 3, "cost_type": "run",
            "cost_filter": {"model": "gpt-4o", "credentials": {"id": SYSTEM_OPENAI_CREDENTIALS_ID,
                                                               "provider": "openai", "type": "api_key"}}} \
        in block_costs(LLM_BLOCK_ID)
