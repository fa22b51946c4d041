"""Pure helpers of the store's read side: the builders of AutoGPT's shapes, the ILIKE escaping, the
submission stats and who sees an unapproved version."""

from __future__ import annotations

from datetime import UTC, datetime

from services.domain.store.shapes import (
    NO_PROFILE,
    StoreAgent,
    StoreAgentDetails,
    changelog_entry,
    search_result,
    store_agent_details,
    store_agent_view,
)
from services.query_api.read_models.patterns import contains as like
from services.query_api.read_models.store import Viewer, submission_stats

AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def test_versions_are_text_sorted_as_text_and_deduplicated():
    details = store_agent_details(
        listing_version_id="v", slug="s", fields={"name": "N", "image_urls": ["a", "b"]}, creator=None,
        creator_avatar=None, runs=3, rating=4, approved=[(10, 2), (2, 2), (1, 1)], graph_id="g", last_updated=AT,
        active_version_id="v", has_approved_version=True, changelog=None)
    assert details["versions"] == ["1", "10", "2"] and details["graph_versions"] == ["1", "2"]
    assert details["creator"] == NO_PROFILE and details["creator_avatar"] == "" and details["agent_video"] == ""
    assert details["agent_image"] == ["a", "b"] and details["rating"] == 4.0 and isinstance(details["rating"], float)
    StoreAgentDetails.model_validate(details)


def test_a_card_and_its_search_result():
    card = store_agent_view(slug="s", name="N", image="", creator="c", creator_avatar=None, sub_heading="sub",
                            description="d", runs=1, rating=0, graph_id="g")
    StoreAgent.model_validate(card)
    assert card["creator_avatar"] == "" and card["rating"] == 0.0
    result = search_result(card, listing_version_id="lv", rank=0.5, updated_at=AT)
    assert (result["content_id"], result["lexical_score"], result["combined_score"], result["semantic_score"]) == (
        "lv", 0.5, 0.5, None)
    assert result["searchable_text"] == "N sub d" and result["updated_at"] == AT.isoformat()


def test_changelog_entry_without_a_summary():
    assert changelog_entry(3, None, AT) == {"version": "3", "changes_summary": "No changes recorded",
                                            "date": AT.isoformat()}


def test_like_takes_wildcards_literally():
    assert like("100%") == "%100\\%%"
    assert like("a_b") == "%a\\_b%"
    assert like("back\\slash") == "%back\\\\slash%"


def test_submission_stats_count_runs_once_per_listing_and_weight_ratings():
    rows = [{"listing_id": "L1", "runs": 5, "status": "APPROVED", "review_count": 2, "review_avg": 3.0},
            {"listing_id": "L1", "runs": 5, "status": "PENDING", "review_count": 0, "review_avg": 0.0},
            {"listing_id": "L2", "runs": 1, "status": "REJECTED", "review_count": 1, "review_avg": 5.0}]
    assert submission_stats(rows) == {"total": 3, "approved": 1, "pending": 1, "total_runs": 6,
                                      "average_rating": round(11 / 3, 4)}
    assert submission_stats([])["average_rating"] is None


def test_only_the_creator_and_admins_see_unapproved_versions():
    assert Viewer("alice").sees("alice") and not Viewer("bob").sees("alice")
    assert Viewer("root", is_admin=True).sees("alice")



def test_page_cache_keeps_the_latest_pages_for_a_while(monkeypatch):
    from services.query_api.read_models import store

    clock = [100.0]
    monkeypatch.setattr(store.time, "monotonic", lambda: clock[0])
    cache = store.PageCache(size=2, ttl_s=30)
    pages = [store.Page(generation=g, hits=[], total=g) for g in range(3)]
    cache.put("a", pages[0])
    cache.put("b", pages[1])
    assert cache.get("a") is pages[0]  # "a" used last: "b" goes first
    cache.put("c", pages[2])
    assert (cache.get("a"), cache.get("b"), cache.get("c")) == (pages[0], None, pages[2])
    cache.put("a", pages[1])  # a newer page replaces the old one
    assert cache.get("a") is pages[1]
    clock[0] += 31
    assert cache.get("a") is None and cache.get("c") is None
