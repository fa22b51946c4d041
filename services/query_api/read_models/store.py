"""Store queries over the ``rm_store_*`` tables (migration 018): public listings and creators,
the caller's profile, submissions and unpublished graphs, the admin's view, downloads.

Visibility: the public sees listings with an approved active version and approved listing versions
only. A pending, rejected or withdrawn version is seen by its creator and by admins (``Viewer``),
nobody else; to them it does not exist (None, so 404).

Search is PostgreSQL full text: ``websearch_to_tsquery`` (it accepts any input, quotes and operators
included, without a syntax error) over the listing's search vector, ranked by ``ts_rank``. Every
user input is a bound parameter; ILIKE patterns are escaped.
"""

from __future__ import annotations

import time
import weakref
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, Literal

from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from services.domain.graphs.export import strip_for_export
from services.domain.graphs.model import graph_meta
from services.domain.store.listing import EDITABLE as FIELDS
from services.domain.store.shapes import (
    admin_listing_view,
    changelog_entry,
    creator_details,
    downloaded_agent,
    profile_view,
    search_result,
    store_agent_details,
    store_agent_view,
    submission_view,
    unpublished_agent_view,
)
from services.projector.names import PROJECTION_NAME
from services.query_api.read_models.patterns import contains

AgentSort = Literal["rating", "runs", "name", "updated_at", "recent"]  # "recent" is the name of updated_at
CreatorSort = Literal["agent_rating", "agent_runs", "num_agents"]
AGENT_SORTS = {
    "rating": "l.rating DESC",
    "runs": "l.runs DESC",
    "name": "l.name ASC",
    "updated_at": "l.updated_at DESC",
    "recent": "l.updated_at DESC",
}
CREATOR_SORTS = {
    "agent_rating": "c.agent_rating DESC",
    "agent_runs": "c.agent_runs DESC",
    "num_agents": "c.num_agents DESC",
}
TOP_CATEGORIES = 5


@dataclass(frozen=True)
class Viewer:
    """Who reads: their own and (for an admin) every unapproved version is visible to them."""

    user_id: str
    is_admin: bool = False

    def sees(self, owner_id: str) -> bool:
        return self.is_admin or self.user_id == owner_id


def _fields(row: dict[str, Any]) -> dict[str, Any]:
    return {name: row[name] for name in FIELDS}


def _profile(row: dict[str, Any]) -> dict[str, Any]:
    return profile_view(username=row["username"], name=row["name"], description=row["description"],
                        avatar_url=row["avatar_url"], links=row["links"] or [], is_featured=row["is_featured"])


# -- public listings ----------------------------------------------------------------------------
#
# A page is picked in two steps: which listings, in which order, and how many match (the costly
# part: a full-text search ranks every match), then their cards by id. The first step reads only
# what the store log writes, so its answer is kept per query with the *store generation* it was
# read at: the sum of the projector's positions in the store log's partitions, committed in the same
# transaction as every store read-model change, so the tables cannot change while it stays the same.
# A kept page is used when the statement reading the cards (after the request's fence) finds the
# generation unchanged, so it is never older than the fence asks. The cards are always read fresh
# (their runs come from the executions log), and so is every runs-sorted page. Entries also expire
# after ``PAGE_TTL_S``, for changes no position records (an operator retrying a parked event).

PAGE_CACHE_SIZE = 4096
PAGE_TTL_S = 30.0

_GENERATION = ("SELECT coalesce(sum(position), 0) FROM projection_partitions "
               "WHERE projection = %(projection)s AND log = 'store'")

_PAGE = """
SELECT ({generation}) AS generation, h.*
FROM (SELECT 1) one LEFT JOIN (
    SELECT l.listing_id{rank}, count(*) OVER () AS total
    FROM rm_store_listings l
    WHERE l.has_approved_version{filters}
    ORDER BY {order}, l.listing_id
    LIMIT %(limit)s OFFSET %(offset)s) h ON true
"""
_COUNT = "SELECT count(*) AS total FROM rm_store_listings l WHERE l.has_approved_version{filters}"
# The generation and the cards in one statement (one snapshot); a row even without a card.
_CARDS = f"""
SELECT ({_GENERATION}) AS generation, c.*
FROM (SELECT 1) one LEFT JOIN (
    SELECT l.listing_id, l.graph_id, l.slug, l.name, l.sub_heading, l.description, l.image, l.runs, l.rating,
           l.active_version_id, l.updated_at, p.username, p.avatar_url
    FROM rm_store_listings l LEFT JOIN rm_store_profiles p ON p.user_id = l.owner_id
    WHERE l.listing_id = ANY(%(ids)s::uuid[]) AND l.has_approved_version) c ON true
"""  # noqa: S608 - fixed text


@dataclass(frozen=True)
class Page:
    generation: int
    hits: list[tuple[Any, float | None]]  # (listing id, rank) in page order
    total: int


class PageCache:
    """The latest page per query, least recently used out first, each for ``ttl_s`` at most."""

    def __init__(self, size: int = PAGE_CACHE_SIZE, ttl_s: float = PAGE_TTL_S) -> None:
        self.size, self.ttl_s = size, ttl_s
        self.entries: OrderedDict[tuple, tuple[float, Page]] = OrderedDict()

    def get(self, key: tuple) -> Page | None:
        found = self.entries.get(key)
        if found is None or time.monotonic() - found[0] > self.ttl_s:
            return None
        self.entries.move_to_end(key)
        return found[1]

    def put(self, key: tuple, page: Page) -> None:
        self.entries[key] = (time.monotonic(), page)
        self.entries.move_to_end(key)
        while len(self.entries) > self.size:
            self.entries.popitem(last=False)


_page_caches: weakref.WeakKeyDictionary[AsyncConnectionPool, PageCache] = weakref.WeakKeyDictionary()


def _card(row: dict[str, Any]) -> dict[str, Any]:
    return store_agent_view(slug=row["slug"], name=row["name"], image=row["image"], creator=row["username"],
                            creator_avatar=row["avatar_url"], sub_heading=row["sub_heading"],
                            description=row["description"], runs=row["runs"], rating=row["rating"],
                            graph_id=str(row["graph_id"]))


def _page_query(*, featured: bool, creator: str | None, category: str | None, search: str | None,
                sorted_by: str | None) -> tuple[str, str, dict[str, Any]]:
    """The page's SQL, its filters alone (for a count) and their parameters."""
    filters, params = [], {"projection": PROJECTION_NAME}
    if featured:
        filters.append("l.featured")
    if creator:
        filters.append("l.owner_id IN (SELECT user_id FROM rm_store_profiles "
                       "WHERE lower(username) = lower(%(creator)s))")
        params["creator"] = creator
    if category:
        filters.append("EXISTS (SELECT 1 FROM unnest(l.categories) c WHERE lower(c) = lower(%(category)s))")
        params["category"] = category
    rank, order = ", NULL::real AS rank", AGENT_SORTS.get(sorted_by or "", "l.updated_at DESC")
    if search:
        filters.append("l.search @@ websearch_to_tsquery('english', %(q)s)")
        rank = ", ts_rank(l.search, websearch_to_tsquery('english', %(q)s)) AS rank"
        order = "rank DESC, l.updated_at DESC"
        params["q"] = search
    where = "".join(f" AND {f}" for f in filters)
    return _PAGE.format(generation=_GENERATION, rank=rank, filters=where, order=order), where, params


async def _read_page(cur, sql: str, where: str, params: dict[str, Any]) -> Page:
    await cur.execute(sql, params)
    rows = await cur.fetchall()
    hits = [(r["listing_id"], r["rank"]) for r in rows if r["listing_id"] is not None]
    total = int(rows[0]["total"] or 0)
    if not hits and params["offset"]:  # past the last page: the window count came with no row
        await cur.execute(_COUNT.format(filters=where), params)
        total = int((await cur.fetchone())["total"])
    return Page(int(rows[0]["generation"]), hits, total)


async def _cards(pool: AsyncConnectionPool, *, featured: bool, creator: str | None, category: str | None,
                 search: str | None, sorted_by: str | None, limit: int,
                 offset: int) -> tuple[list[dict[str, Any]], int]:
    """Rows of approved listings (each with its ``rank``, None without a search) and the number
    matching; a search ranks by relevance and ignores ``sorted_by`` (as AutoGPT does)."""
    sql, where, params = _page_query(featured=featured, creator=creator, category=category, search=search,
                                     sorted_by=sorted_by)
    params.update(limit=limit, offset=offset)
    cache = _page_caches.setdefault(pool, PageCache())
    key = (featured, creator, category, search, sorted_by, limit, offset)
    keep = not (sorted_by == "runs" and not search)  # a runs-sorted order reads the executions log
    page = cache.get(key) if keep else None
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        if page is None:
            page = await _read_page(cur, sql, where, params)
        rows: list[dict[str, Any]] = []
        if page.hits or keep:
            await cur.execute(_CARDS, {"projection": PROJECTION_NAME, "ids": [str(i) for i, _ in page.hits]})
            rows = await cur.fetchall()
            if int(rows[0]["generation"]) != page.generation:  # the store moved on: pick the page again
                page = await _read_page(cur, sql, where, params)
                await cur.execute(_CARDS, {"projection": PROJECTION_NAME, "ids": [str(i) for i, _ in page.hits]})
                rows = await cur.fetchall()
        if keep:
            cache.put(key, page)
    cards = {r["listing_id"]: r for r in rows if r["listing_id"] is not None}
    return [{**cards[listing], "rank": rank} for listing, rank in page.hits if listing in cards], page.total


async def list_agents(pool: AsyncConnectionPool, **query: Any) -> tuple[list[dict[str, Any]], int]:
    """``StoreAgent`` cards and the total (see ``_cards`` for the parameters)."""
    rows, total = await _cards(pool, **query)
    return [_card(r) for r in rows], total


async def search_agents(pool: AsyncConnectionPool, query: str, *, limit: int,
                        offset: int) -> tuple[list[dict[str, Any]], int]:
    """``UnifiedSearchResult``s of store agents (the only content type agentloom searches)."""
    rows, total = await _cards(pool, featured=False, creator=None, category=None, search=query, sorted_by=None,
                               limit=limit, offset=offset)
    return [search_result(_card(r), listing_version_id=str(r["active_version_id"]), rank=float(r["rank"]),
                          updated_at=r["updated_at"]) for r in rows], total


# -- one listing version's details --------------------------------------------------------------

_VERSION = """
SELECT v.*, l.slug, l.runs, l.rating, l.active_version_id, l.has_approved_version, p.username, p.avatar_url
FROM rm_store_listing_versions v
JOIN rm_store_listings l ON l.listing_id = v.listing_id
LEFT JOIN rm_store_profiles p ON p.user_id = v.owner_id
"""

_APPROVED = ("SELECT version, graph_version, changes_summary, submitted_at FROM rm_store_listing_versions "
             "WHERE listing_id = %s AND status = 'APPROVED' AND NOT withdrawn ORDER BY version DESC")


_BY_SLUG = _VERSION + """
WHERE l.listing_id = (
    SELECT l2.listing_id FROM rm_store_listings l2 JOIN rm_store_profiles p2 ON p2.user_id = l2.owner_id
    WHERE lower(p2.username) = lower(%(username)s) AND l2.slug = lower(%(slug)s)
    ORDER BY l2.has_approved_version DESC, l2.created_at LIMIT 1)
  AND (v.listing_version_id = l.active_version_id OR l.active_version_id IS NULL)
ORDER BY v.withdrawn, v.version DESC LIMIT 1
"""  # noqa: S608 - fixed text


def _visible(row: dict[str, Any] | None, viewer: Viewer) -> bool:
    if row is None:
        return False
    return (row["status"] == "APPROVED" and not row["withdrawn"]) or viewer.sees(row["owner_id"])


async def _details(cur, row: dict[str, Any], changelog: bool) -> dict[str, Any]:
    await cur.execute(_APPROVED, (row["listing_id"],))
    approved = await cur.fetchall()
    return store_agent_details(
        listing_version_id=str(row["listing_version_id"]), slug=row["slug"], fields=_fields(row),
        creator=row["username"], creator_avatar=row["avatar_url"], runs=row["runs"], rating=row["rating"],
        approved=[(a["version"], a["graph_version"]) for a in approved], graph_id=str(row["graph_id"]),
        last_updated=row["submitted_at"],
        active_version_id=str(row["active_version_id"]) if row["active_version_id"] else None,
        has_approved_version=row["has_approved_version"],
        changelog=[changelog_entry(a["version"], a["changes_summary"], a["submitted_at"]) for a in approved]
        if changelog else None)


async def agent_by_slug(pool: AsyncConnectionPool, username: str, slug: str, viewer: Viewer, *,
                        changelog: bool = False) -> dict[str, Any] | None:
    """The listing's active version; for its creator or an admin, while none is approved, its newest
    version still in the store."""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_BY_SLUG, {"username": username, "slug": slug})
        row = await cur.fetchone()
        if row is None or not (row["has_approved_version"] or viewer.sees(row["owner_id"])):
            return None
        return await _details(cur, row, changelog)


async def version_row(pool: AsyncConnectionPool, listing_version_id: str, viewer: Viewer,
                      *, any_status: bool = False) -> dict[str, Any] | None:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_VERSION + "WHERE v.listing_version_id = %s", (listing_version_id,))
        row = await cur.fetchone()
    return row if row is not None and (any_status or _visible(row, viewer)) else None


async def agent_by_version(pool: AsyncConnectionPool, listing_version_id: str,
                           viewer: Viewer) -> dict[str, Any] | None:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_VERSION + "WHERE v.listing_version_id = %s", (listing_version_id,))
        row = await cur.fetchone()
        if not _visible(row, viewer):
            return None
        return await _details(cur, row, changelog=False)


async def _graph_model(cur, graph_id, version: int) -> dict[str, Any] | None:
    await cur.execute(
        "SELECT v.model, v.meta, v.version, g.active_version, g.user_id FROM rm_graph_versions v "
        "JOIN rm_graphs g ON g.graph_id = v.graph_id WHERE v.graph_id = %s AND v.version = %s", (graph_id, version))
    return await cur.fetchone()


async def version_graph_meta(pool: AsyncConnectionPool, listing_version_id: str,
                             viewer: Viewer) -> dict[str, Any] | None:
    """``GraphMeta`` of the graph version a visible listing version publishes."""
    row = await version_row(pool, listing_version_id, viewer)
    if row is None:
        return None
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        graph = await _graph_model(cur, row["graph_id"], row["graph_version"])
    if graph is None:
        return None
    meta = dict(graph["meta"] or graph["model"])
    meta["is_active"] = graph["version"] == graph["active_version"]
    return graph_meta(meta)


async def download(pool: AsyncConnectionPool, listing_version_id: str, viewer: Viewer, *,
                   any_status: bool = False) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """``(DownloadedAgentData, version row)``: the graph version exported as its owner would export
    it (sub-graphs the owner's), secrets stripped; ``any_status`` for the admin's download."""
    from services.query_api.read_models.graphs import get_version

    row = await version_row(pool, listing_version_id, viewer, any_status=any_status)
    if row is None:
        return None
    model = await get_version(pool, row["owner_id"], str(row["graph_id"]), int(row["graph_version"]))
    if model is None:
        return None
    return downloaded_agent(_fields(row), strip_for_export(model)), row


# -- creators -----------------------------------------------------------------------------------

_CREATORS = """
WITH c AS (
    SELECT owner_id, count(*) AS num_agents, coalesce(sum(runs), 0) AS agent_runs,
           coalesce(avg(rating), 0)::float8 AS agent_rating
    FROM rm_store_listings WHERE has_approved_version GROUP BY owner_id)
SELECT p.*, coalesce(c.num_agents, 0) AS num_agents, coalesce(c.agent_runs, 0) AS agent_runs,
       coalesce(c.agent_rating, 0) AS agent_rating,
       ARRAY(SELECT cat FROM rm_store_listings l, unnest(l.categories) cat
             WHERE l.owner_id = p.user_id AND l.has_approved_version
             GROUP BY cat ORDER BY count(*) DESC, cat LIMIT {top}) AS top_categories,
       count(*) OVER () AS total
FROM rm_store_profiles p {join} c ON c.owner_id = p.user_id
WHERE true{filters}
ORDER BY {order}, lower(p.username), p.user_id
LIMIT %(limit)s OFFSET %(offset)s
"""


async def _window_total(cur, rows: list[dict[str, Any]], sql: str, params: dict[str, Any], offset: int) -> int:
    """The total a page's ``count(*) OVER ()`` column carries; a page past the end has no row to
    carry it, so the query is counted again without its outer ORDER BY and LIMIT (the outer
    ORDER BY starts a line, an inner one does not)."""
    if rows or not offset:
        return int(rows[0]["total"]) if rows else 0
    unordered = sql.rsplit("\nORDER BY", 1)[0]
    await cur.execute(f"SELECT count(*) AS total FROM ({unordered}) t", params)  # noqa: S608 - our own SQL
    return int((await cur.fetchone())["total"])


def _creator(row: dict[str, Any]) -> dict[str, Any]:
    return creator_details(_profile(row), num_agents=row["num_agents"], agent_runs=row["agent_runs"],
                           agent_rating=row["agent_rating"], top_categories=row["top_categories"])


async def list_creators(pool: AsyncConnectionPool, *, featured: bool, search: str | None, sorted_by: str | None,
                        limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
    """Creators with at least one approved listing (default: by username)."""
    filters, params = [], {"limit": limit, "offset": offset}
    if featured:
        filters.append("p.is_featured")
    if search:
        filters.append("(p.username ILIKE %(like)s OR p.name ILIKE %(like)s OR p.description ILIKE %(like)s)")
        params["like"] = contains(search)
    sql = _CREATORS.format(top=TOP_CATEGORIES, join="JOIN", filters="".join(f" AND {f}" for f in filters),
                           order=CREATOR_SORTS.get(sorted_by or "", "lower(p.username) ASC"))
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, params)
        rows = await cur.fetchall()
        total = await _window_total(cur, rows, sql, params, offset)
    return [_creator(r) for r in rows], total


async def creator(pool: AsyncConnectionPool, username: str) -> dict[str, Any] | None:
    """Any creator with a profile (figures 0 without an approved listing)."""
    sql = _CREATORS.format(top=TOP_CATEGORIES, join="LEFT JOIN", filters=" AND lower(p.username) = lower(%(u)s)",
                           order="p.updated_at DESC")
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(sql, {"u": username, "limit": 1, "offset": 0})
        row = await cur.fetchone()
    return _creator(row) if row else None


async def profile(pool: AsyncConnectionPool, user_id: str) -> dict[str, Any] | None:
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute("SELECT * FROM rm_store_profiles WHERE user_id = %s", (user_id,))
        row = await cur.fetchone()
    return _profile(row) if row else None


# -- the caller's submissions and unpublished graphs --------------------------------------------

_SUBMISSIONS = """
SELECT v.*, l.slug, l.runs, coalesce(r.n, 0) AS review_count, coalesce(r.avg, 0) AS review_avg
FROM rm_store_listing_versions v
JOIN rm_store_listings l ON l.listing_id = v.listing_id
LEFT JOIN LATERAL (SELECT count(*) AS n, avg(score)::float8 AS avg FROM rm_store_reviews rv
                   WHERE rv.listing_version_id = v.listing_version_id) r ON true
"""


def _submission(row: dict[str, Any], *, admin: bool = False) -> dict[str, Any]:
    return submission_view(
        listing_id=str(row["listing_id"]), user_id=row["owner_id"], slug=row["slug"],
        listing_version_id=str(row["listing_version_id"]), listing_version=row["version"],
        graph_id=str(row["graph_id"]), graph_version=int(row["graph_version"]), fields=_fields(row),
        submitted_at=row["submitted_at"], status=row["status"], reviewed_at=row["reviewed_at"],
        reviewer_id=row["reviewer_id"], review_comments=row["review_comments"], run_count=int(row["runs"]),
        review_count=int(row["review_count"]), review_avg_rating=float(row["review_avg"]),
        internal_comments=row["internal_comments"], admin=admin)


def submission_stats(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``SubmissionStats`` over every submission still in the store: runs per listing counted once,
    the mean score weighted by each version's review count (None without any review)."""
    reviews = sum(int(r["review_count"]) for r in rows)
    weighted = sum(float(r["review_avg"]) * int(r["review_count"]) for r in rows)
    runs = {str(r["listing_id"]): int(r["runs"]) for r in rows}
    return {"total": len(rows), "approved": sum(r["status"] == "APPROVED" for r in rows),
            "pending": sum(r["status"] == "PENDING" for r in rows), "total_runs": sum(runs.values()),
            "average_rating": round(weighted / reviews, 4) if reviews else None}


async def submissions(pool: AsyncConnectionPool, user_id: str, *, limit: int,
                      offset: int) -> tuple[list[dict[str, Any]], int, dict[str, Any]]:
    """The caller's submissions not withdrawn, newest first, their total and the stats."""
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_SUBMISSIONS + "WHERE v.owner_id = %s AND NOT v.withdrawn "
                          "ORDER BY v.submitted_at DESC, v.version DESC", (user_id,))
        rows = await cur.fetchall()
    return [_submission(r) for r in rows[offset:offset + limit]], len(rows), submission_stats(rows)


_UNPUBLISHED = """
SELECT g.graph_id, v.version, v.name, v.meta, g.updated_at, count(*) OVER () AS total
FROM rm_graphs g
JOIN rm_graph_versions v ON v.graph_id = g.graph_id AND v.version = coalesce(g.active_version, g.latest_version)
WHERE g.user_id = %(user_id)s AND NOT g.deleted
  AND NOT EXISTS (SELECT 1 FROM rm_store_listing_versions s WHERE s.graph_id = g.graph_id AND NOT s.withdrawn)
ORDER BY g.updated_at DESC, g.graph_id
LIMIT %(limit)s OFFSET %(offset)s
"""


async def unpublished(pool: AsyncConnectionPool, user_id: str, *, limit: int,
                      offset: int) -> tuple[list[dict[str, Any]], int]:
    """The caller's graphs (not deleted) with no listing version in the store in any status,
    at their active version, most recently changed first."""
    params = {"user_id": user_id, "limit": limit, "offset": offset}
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(_UNPUBLISHED, params)
        rows = await cur.fetchall()
        total = await _window_total(cur, rows, _UNPUBLISHED, params, offset)
    agents = [unpublished_agent_view(
        graph_id=str(r["graph_id"]), graph_version=r["version"], name=r["name"],
        description=(r["meta"] or {}).get("description") or "", last_edited=r["updated_at"],
        recommended_schedule_cron=(r["meta"] or {}).get("recommended_schedule_cron")) for r in rows]
    return agents, total


# -- admin --------------------------------------------------------------------------------------


async def admin_listings(pool: AsyncConnectionPool, *, status: str | None, search: str | None, limit: int,
                         offset: int) -> tuple[list[dict[str, Any]], int]:
    """Every listing, newest first, with its versions still in the store (newest first); ``status``
    keeps listings with some version in it, ``search`` matches the slug or any version's texts."""
    filters, params = [], {"limit": limit, "offset": offset}
    if status:
        filters.append("EXISTS (SELECT 1 FROM rm_store_listing_versions s WHERE s.listing_id = l.listing_id "
                       "AND NOT s.withdrawn AND s.status = %(status)s)")
        params["status"] = status
    if search:
        filters.append("(l.slug ILIKE %(like)s OR EXISTS (SELECT 1 FROM rm_store_listing_versions s "
                       "WHERE s.listing_id = l.listing_id AND NOT s.withdrawn AND (s.name ILIKE %(like)s "
                       "OR s.description ILIKE %(like)s OR s.sub_heading ILIKE %(like)s)))")
        params["like"] = contains(search)
    where = "".join(f" AND {f}" for f in filters)
    async with pool.connection() as conn, conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(f"SELECT count(*) AS n FROM rm_store_listings l WHERE true{where}", params)  # noqa: S608
        total = int((await cur.fetchone())["n"])
        await cur.execute(f"SELECT l.* FROM rm_store_listings l WHERE true{where} "  # noqa: S608
                          "ORDER BY l.created_at DESC, l.listing_id LIMIT %(limit)s OFFSET %(offset)s", params)
        listings = await cur.fetchall()
        versions: dict[str, list[dict[str, Any]]] = {}
        if listings:
            await cur.execute(_SUBMISSIONS + "WHERE v.listing_id = ANY(%s::uuid[]) AND NOT v.withdrawn "
                              "ORDER BY v.version DESC", ([str(r["listing_id"]) for r in listings],))
            for row in await cur.fetchall():
                versions.setdefault(str(row["listing_id"]), []).append(_submission(row, admin=True))
    return [admin_listing_view(
        listing_id=str(r["listing_id"]), graph_id=str(r["graph_id"]), slug=r["slug"],
        active_listing_version_id=str(r["active_version_id"]) if r["active_version_id"] else None,
        has_approved_version=r["has_approved_version"], is_featured=r["featured"], creator_email=None,
        versions=versions.get(str(r["listing_id"]), [])) for r in listings], total
