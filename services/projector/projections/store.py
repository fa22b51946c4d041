"""Folds the store log into ``rm_store_profiles``, ``rm_store_listings``, ``rm_store_listing_versions``,
``rm_store_reviews`` and ``rm_store_publications``.

Every write comes from the event alone (times are ``occurred_at``). The store's streams (a profile,
a listing, a review, a publication) are projected independently, so whatever a row derives from
several streams is recomputed from the rows at hand whenever one of them changes, never counted up:

- a listing's active version is its approved, not withdrawn version approved last (the listing
  stream's version of the approval orders them, as ``Listing.approvals`` does), and the listing row
  carries that version's texts and search vector (name A, sub-heading and categories B,
  description C);
- its rating and review count are over the reviews of its approved versions, recomputed when a
  review arrives or a version's status changes (a review projected before its version counts from
  the version's approval on);
- its runs are the runs of its graph by other users (``store_runs.py`` keeps them per user), taken
  when the listing row is born and recomputed by every run after that.
The creator's username is joined from ``rm_store_profiles`` at query time.
"""

from __future__ import annotations

from psycopg import AsyncCursor
from psycopg.types.json import Jsonb

from schemas.envelope import Envelope
from schemas.events.store import (
    GraphVersionPublished,
    GraphVersionUnpublished,
    ListingFeaturedSet,
    ListingVersionEdited,
    ListingVersionReviewed,
    ListingVersionSubmitted,
    ListingVersionWithdrawn,
    ProfileSaved,
    StoreReviewSubmitted,
)

TABLES = ("rm_store_profiles", "rm_store_listings", "rm_store_listing_versions", "rm_store_reviews",
          "rm_store_publications")

FIELDS = ("name", "sub_heading", "description", "instructions", "categories", "image_urls", "video_url",
          "agent_output_demo_url", "changes_summary", "recommended_schedule_cron")

SEARCH_VECTOR = ("setweight(to_tsvector('english', coalesce({t}.name, '')), 'A') || "
                 "setweight(to_tsvector('english', coalesce({t}.sub_heading, '')), 'B') || "
                 "setweight(to_tsvector('english', array_to_string(coalesce({t}.categories, '{{}}'), ' ')), 'B') || "
                 "setweight(to_tsvector('english', coalesce({t}.description, '')), 'C')")

_ACTIVE = f"""
UPDATE rm_store_listings l SET
    active_version_id = a.listing_version_id,
    has_approved_version = a.listing_version_id IS NOT NULL,
    name = coalesce(a.name, ''), sub_heading = coalesce(a.sub_heading, ''),
    description = coalesce(a.description, ''), categories = coalesce(a.categories, '{{}}'),
    image = coalesce(a.image_urls[1], ''),
    search = CASE WHEN a.listing_version_id IS NULL THEN ''::tsvector ELSE {SEARCH_VECTOR.format(t="a")} END,
    updated_at = CASE WHEN l.active_version_id IS DISTINCT FROM a.listing_version_id THEN %(at)s
                      ELSE l.updated_at END
FROM (SELECT %(listing_id)s::uuid AS listing_id) k
LEFT JOIN LATERAL (
    SELECT v.* FROM rm_store_listing_versions v
    WHERE v.listing_id = k.listing_id AND v.status = 'APPROVED' AND NOT v.withdrawn
    ORDER BY v.approved_seq DESC LIMIT 1) a ON true
WHERE l.listing_id = k.listing_id
"""  # noqa: S608 - fixed text

_RATING = """
UPDATE rm_store_listings l SET rating = coalesce(s.rating, 0), review_count = s.n
FROM (SELECT avg(r.score)::float8 AS rating, count(*)::int AS n
      FROM rm_store_reviews r JOIN rm_store_listing_versions v ON v.listing_version_id = r.listing_version_id
      WHERE r.listing_id = %(listing_id)s AND v.listing_id = %(listing_id)s
        AND v.status = 'APPROVED' AND NOT v.withdrawn) s
WHERE l.listing_id = %(listing_id)s AND (l.rating, l.review_count) IS DISTINCT FROM (coalesce(s.rating, 0), s.n)
"""


async def _derived(cur: AsyncCursor, listing_id, at) -> None:
    params = {"listing_id": listing_id, "at": at}
    await cur.execute(_ACTIVE, params)
    await cur.execute(_RATING, params)


async def _submitted(cur: AsyncCursor, env: Envelope, event: ListingVersionSubmitted) -> None:
    await cur.execute(
        "INSERT INTO rm_store_listings (listing_id, graph_id, owner_id, slug, runs, created_at, updated_at) "
        "VALUES (%(listing_id)s, %(graph_id)s, %(owner)s, %(slug)s, "
        "(SELECT coalesce(sum(runs), 0) FROM rm_store_graph_runs WHERE graph_id = %(graph_id)s "
        "AND user_id <> %(owner)s), %(at)s, %(at)s) ON CONFLICT (listing_id) DO NOTHING",
        {"listing_id": env.stream_id, "graph_id": event.graph_id, "owner": event.user_id, "slug": event.slug,
         "at": env.occurred_at})
    columns = ", ".join(FIELDS)
    await cur.execute(
        f"INSERT INTO rm_store_listing_versions (listing_version_id, listing_id, owner_id, version, graph_id, "  # noqa: S608
        f"graph_version, {columns}, submitted_at, updated_at) "
        f"VALUES ({', '.join(['%s'] * (len(FIELDS) + 8))}) ON CONFLICT (listing_version_id) DO NOTHING",
        (event.listing_version_id, env.stream_id, event.user_id, event.version, event.graph_id, event.graph_version,
         *(getattr(event, name) for name in FIELDS), env.occurred_at, env.occurred_at))


async def _listing(cur: AsyncCursor, env: Envelope, event) -> None:
    if isinstance(event, ListingVersionSubmitted):
        await _submitted(cur, env, event)
    elif isinstance(event, ListingVersionEdited):
        sets = ", ".join(f"{name} = %s" for name in FIELDS)
        await cur.execute(
            f"UPDATE rm_store_listing_versions SET {sets}, updated_at = %s WHERE listing_version_id = %s",  # noqa: S608
            (*(getattr(event, name) for name in FIELDS), env.occurred_at, event.listing_version_id))
        await _derived(cur, env.stream_id, env.occurred_at)
    elif isinstance(event, ListingVersionReviewed):
        await cur.execute(
            "UPDATE rm_store_listing_versions SET status = %s, approved_seq = %s, reviewed_at = %s, reviewer_id = %s, "
            "review_comments = %s, internal_comments = %s, updated_at = %s WHERE listing_version_id = %s",
            ("APPROVED" if event.approved else "REJECTED", env.stream_version if event.approved else None,
             env.occurred_at, event.reviewer_id, event.comments, event.internal_comments, env.occurred_at,
             event.listing_version_id))
        await _derived(cur, env.stream_id, env.occurred_at)
    elif isinstance(event, ListingVersionWithdrawn):
        await cur.execute("UPDATE rm_store_listing_versions SET withdrawn = true, updated_at = %s "
                          "WHERE listing_version_id = %s", (env.occurred_at, event.listing_version_id))
        await _derived(cur, env.stream_id, env.occurred_at)
    elif isinstance(event, ListingFeaturedSet):
        await cur.execute("UPDATE rm_store_listings SET featured = %s WHERE listing_id = %s",
                          (event.featured, env.stream_id))


async def apply(cur: AsyncCursor, env: Envelope, event) -> None:
    if isinstance(event, ProfileSaved):
        await cur.execute(
            "INSERT INTO rm_store_profiles (user_id, username, name, description, links, avatar_url, created_at, "
            "updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT (user_id) DO UPDATE SET "
            "username = EXCLUDED.username, name = EXCLUDED.name, description = EXCLUDED.description, "
            "links = EXCLUDED.links, avatar_url = EXCLUDED.avatar_url, updated_at = EXCLUDED.updated_at",
            (event.user_id, event.username, event.name, event.description, Jsonb(list(event.links)),
             event.avatar_url, env.occurred_at, env.occurred_at))
    elif isinstance(event, StoreReviewSubmitted):
        await cur.execute(
            "INSERT INTO rm_store_reviews (user_id, listing_version_id, listing_id, score, comments, created_at, "
            "updated_at) VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (user_id, listing_version_id) DO UPDATE "
            "SET score = EXCLUDED.score, comments = EXCLUDED.comments, updated_at = EXCLUDED.updated_at",
            (event.user_id, event.listing_version_id, event.listing_id, event.score, event.comments,
             env.occurred_at, env.occurred_at))
        await cur.execute(_RATING, {"listing_id": event.listing_id})
    elif isinstance(event, GraphVersionPublished):
        await cur.execute(
            "INSERT INTO rm_store_publications (listing_version_id, graph_id, graph_version, published_at) "
            "VALUES (%s, %s, %s, %s) ON CONFLICT (graph_id, graph_version, listing_version_id) DO NOTHING",
            (event.listing_version_id, event.graph_id, event.graph_version, env.occurred_at))
    elif isinstance(event, GraphVersionUnpublished):
        await cur.execute("DELETE FROM rm_store_publications WHERE graph_id = %s AND graph_version = %s "
                          "AND listing_version_id = %s",
                          (event.graph_id, event.graph_version, event.listing_version_id))
    else:
        await _listing(cur, env, event)
