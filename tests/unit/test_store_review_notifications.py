"""AGENT_APPROVED / AGENT_REJECTED (``derive.listing_reviewed``): which notification an admin's
review calls for, for whom, with AutoGPT's data fields. Pure: listings are folded from real store
events, as the notifier folds them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from schemas.events.notifications import NotificationType
from schemas.events.store import ListingVersionReviewed, ListingVersionSubmitted
from services.domain.notifications import derive
from services.domain.notifications.ids import notification_id
from services.domain.store.listing import Listing

T0 = datetime(2026, 12, 1, 9, 0, tzinfo=UTC)
CREATOR = "creator-1"


def submitted(version: int = 1, graph_version: int = 3, name: str = "Summariser") -> ListingVersionSubmitted:
    return ListingVersionSubmitted(user_id=CREATOR, slug="summariser", listing_version_id=f"lv-{version}",
                                   version=version, graph_id="graph-1", graph_version=graph_version, name=name)


def reviewed(version: int = 1, approved: bool = True, comments: str = "Looks good",
             internal: str = "checked the prompts") -> ListingVersionReviewed:
    return ListingVersionReviewed(listing_version_id=f"lv-{version}", approved=approved, reviewer_id="admin-1",
                                  comments=comments, internal_comments=internal)


def derived(events, *, username: str | None = "alice", reviewer_name: str | None = "Ada",
            reviewer_email: str | None = "ada@example.com", public_url: str = "https://app.example/"):
    listing = Listing.from_events("listing-1", [(e, T0 + timedelta(minutes=i)) for i, e in enumerate(events)])
    return derive.listing_reviewed(listing, events[-1], version=len(events),
                                   reviewed_at=T0 + timedelta(minutes=len(events) - 1), creator_username=username,
                                   reviewer_name=reviewer_name, reviewer_email=reviewer_email,
                                   public_url=public_url)


def test_an_approval_tells_the_creator_where_the_agent_is_in_the_store():
    found = derived([submitted(), reviewed()])
    assert found.user_id == CREATOR and found.notification_type == NotificationType.AGENT_APPROVED
    assert found.data == {
        "agent_name": "Summariser", "graph_id": "graph-1", "graph_version": 3, "reviewer_name": "Ada",
        "reviewer_email": "ada@example.com", "comments": "Looks good",
        "reviewed_at": (T0 + timedelta(minutes=1)).isoformat(),
        "store_url": "https://app.example/marketplace/agent/alice/summariser",
    }
    assert (found.source_context, found.source_stream_id, found.source_version) == ("store", "listing-1", 2)


def test_a_rejection_links_the_builder_to_resubmit_and_never_shows_internal_comments():
    found = derived([submitted(), reviewed(approved=False, comments="Needs a description", internal="spammy")])
    assert found.notification_type == NotificationType.AGENT_REJECTED
    assert found.data["resubmit_url"] == "https://app.example/build?flowID=graph-1"
    assert "store_url" not in found.data
    assert found.data["comments"] == "Needs a description"
    assert "spammy" not in str(found.data) and "internal_comments" not in found.data


def test_the_reviewed_version_is_named_not_the_active_one():
    events = [submitted(1, graph_version=1, name="Old name"), reviewed(1),
              submitted(2, graph_version=2, name="New name"), reviewed(2, approved=False)]
    found = derived(events)
    assert found.data["agent_name"] == "New name" and found.data["graph_version"] == 2
    # the first approval, derived from the listing as it stood then, still names the old version
    assert derived(events[:2]).data["agent_name"] == "Old name"


def test_placeholders_for_an_admin_without_name_or_email_and_a_creator_without_username():
    found = derived([submitted(), reviewed()], username=None, reviewer_name=None, reviewer_email=None)
    assert found.data["reviewer_name"] == derive.REVIEWER_NAME == "agentloom admin"
    assert found.data["reviewer_email"] == derive.REVIEWER_EMAIL
    assert found.data["store_url"] == "https://app.example/marketplace"


def test_each_review_is_its_own_notification_and_a_replay_is_the_same_one():
    events = [submitted(), reviewed(), reviewed(approved=False), reviewed()]
    ids = []
    for upto in (2, 3, 4):
        found = derived(events[:upto])
        ids.append(notification_id(found.notification_type, found.source_context, found.source_stream_id,
                                   found.source_version))
        again = derived(events[:upto])
        assert again == found
    assert len(set(ids)) == 3
    assert [derived(events[:n]).notification_type for n in (2, 3, 4)] == [
        NotificationType.AGENT_APPROVED, NotificationType.AGENT_REJECTED, NotificationType.AGENT_APPROVED]


def test_a_review_of_a_version_the_listing_does_not_hold_derives_nothing():
    listing = Listing.from_events("listing-1", [(submitted(), T0)])
    assert derive.listing_reviewed(listing, reviewed(version=9), version=2, reviewed_at=T0,
                                   creator_username="alice", reviewer_name=None, reviewer_email=None,
                                   public_url="https://app.example") is None
    assert derive.listing_reviewed(Listing("empty"), reviewed(), version=1, reviewed_at=T0,
                                   creator_username="alice", reviewer_name=None, reviewer_email=None,
                                   public_url="https://app.example") is None
