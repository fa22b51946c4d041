"""Large values out of line: a content-addressed blob table in PostgreSQL, and the references
events carry instead of the values.

Why: every recorded event is bounded (``max_event_bytes``, see ``eventstore``) so it always fits
a Kafka message; a node output above ``inline_value_bytes`` is written here and the event holds a
small reference. Each blob row is keyed by ``(owner_id, sha256)`` of the value's JSON, so the
same value routed to three places (the output, the successor's input, its queued input) is one
row, and an insert is idempotent (a node re-run after a crash writes the same row again).

**The reference** is a one-key object ``{"__agentloom_blob_ref__": {"sha256": hex, "size": n}}``.
It is unambiguous, and user input cannot forge one that reads anyone else's data, because:

1. a reference only ever stands in a *value position*: a whole output value, a whole value on an
   input pin, a whole entry of a node's (or a child run's) input. Readers resolve those
   positions only, never anything nested inside a value;
2. the writer puts every value at a value position that is an object containing the marker key
   out of line, whatever its size (``must_go_out_of_line``). So an inline object with that key
   in a value position can only be a reference the executor wrote; a user's look-alike comes
   back as the user wrote it. The command API refuses execute inputs with the key (the one
   value position it records), so nothing reaches a value position unchecked;
3. a reference names no owner: it is always resolved against the owner of the execution it is
   recorded in (the stream's user), ``WHERE owner_id = %s``. Even a forged digest can only read
   the reader's own blobs, never another user's (and a digest of someone else's content is
   not even an oracle: their rows are invisible).

A blob commits before the event that references it (the executor awaits ``put`` before it hands
the event to the writer), so a reader never meets a reference without its row. A row whose
reference is somehow unresolvable is left as the reference (visible, never silently dropped).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

import orjson

BLOB_KEY = "__agentloom_blob_ref__"

_SELECT = "SELECT sha256, data FROM blobs WHERE owner_id = %s AND sha256 = ANY(%s)"
_INSERT = ("INSERT INTO blobs (owner_id, sha256, size, data) VALUES (%s, %s, %s, %s) "
           "ON CONFLICT (owner_id, sha256) DO NOTHING")


# A response resolves at most this many bytes of out-of-line values; positions past it keep their
# reference. Why: one stored 16 MiB value can stand in thousands of positions (a static link feeding
# a loop), and filling each of them would make one GET serialise gigabytes. The executor resolves
# without a budget (it needs every value, and holds each blob once).
READ_BUDGET_BYTES = 64 * 1024 * 1024


# -- the representation ----------------------------------------------------------------------

def digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def reference(sha256: str, size: int) -> dict[str, Any]:
    return {BLOB_KEY: {"sha256": sha256, "size": size}}


def is_reference(value: Any) -> bool:
    if not (isinstance(value, dict) and len(value) == 1 and BLOB_KEY in value):
        return False
    inner = value[BLOB_KEY]
    return (isinstance(inner, dict) and isinstance(inner.get("sha256"), str) and len(inner["sha256"]) == 64
            and isinstance(inner.get("size"), int))


def reference_sha(value: dict[str, Any]) -> str:
    return value[BLOB_KEY]["sha256"]


def reference_size(value: dict[str, Any]) -> int:
    return value[BLOB_KEY]["size"]


def looks_like_reference(value: Any) -> bool:
    """An object carrying the marker key (a real reference or a look-alike)."""
    return isinstance(value, dict) and BLOB_KEY in value


def must_go_out_of_line(value: Any, encoded_size: int, inline_bytes: int) -> bool:
    return encoded_size > inline_bytes or looks_like_reference(value)


# -- resolving many references at once ---------------------------------------------------------

class Refs:
    """Value positions holding references, gathered from any shape, then filled from one fetch.

    ``slot(container, key)`` notes ``container[key]`` if it is a reference; ``pair`` does the same
    for a ``(name, value)`` tuple stored at ``container[key]``. ``fill`` replaces them in place,
    counting every filled position's size against ``budget`` (None: no bound); a position past
    the budget keeps its reference, visible to the reader, never silently dropped."""

    def __init__(self, budget: int | None = None) -> None:
        self._slots: list[tuple[Any, Any, dict[str, Any], bool]] = []
        self.budget = budget

    def __bool__(self) -> bool:
        return bool(self._slots)

    def slot(self, container: Any, key: Any) -> bool:
        value = container[key]
        if is_reference(value):
            self._slots.append((container, key, value, False))
            return True
        return False

    def pair(self, container: Any, key: Any) -> bool:
        value = container[key][1]
        if is_reference(value):
            self._slots.append((container, key, value, True))
            return True
        return False

    def each(self, container: Any) -> None:
        """Every entry of a dict or list (a dict of input values, a list of outputs)."""
        if isinstance(container, dict):
            for key in list(container):
                self.slot(container, key)
        elif isinstance(container, list):
            for index in range(len(container)):
                self.slot(container, index)

    def shas(self) -> set[str]:
        return {reference_sha(ref) for _c, _k, ref, _p in self._slots}

    def fill(self, blobs: dict[str, bytes]) -> list[tuple[Any, dict[str, Any]]]:
        """Replace every noted reference whose blob was found (one decoded object per digest,
        shared by all its positions); returns ``(value, reference)`` for each value put in place."""
        decoded: dict[str, Any] = {}
        placed = []
        spent = 0
        for container, key, ref, is_pair in self._slots:
            sha = reference_sha(ref)
            if sha not in blobs:
                continue
            spent += reference_size(ref)
            if self.budget is not None and spent > self.budget:
                continue
            if sha not in decoded:
                decoded[sha] = orjson.loads(blobs[sha])
            value = decoded[sha]
            container[key] = (container[key][0], value) if is_pair else value
            placed.append((value, ref))
        return placed

    async def resolve(self, store: BlobStore, owner_id: str) -> list[tuple[Any, dict[str, Any]]]:
        if not self._slots:
            return []
        return self.fill(await store.get(owner_id, self.shas()))

    def resolve_sync(self, datastore, owner_id: str) -> list[tuple[Any, dict[str, Any]]]:
        if not self._slots:
            return []
        return self.fill(fetch_sync(datastore, owner_id, self.shas()))


# -- storage ----------------------------------------------------------------------------------

class BlobStore:
    """The blob table through an async psycopg pool (autocommit connections)."""

    def __init__(self, pool) -> None:
        self.pool = pool

    async def put(self, owner_id: str, blobs: dict[str, bytes]) -> None:
        """Store blobs (digest -> bytes) in one transaction; already-stored ones are kept."""
        if not blobs:
            return
        async with self.pool.connection() as conn, conn.transaction(), conn.cursor() as cur:
            await cur.executemany(_INSERT, [(owner_id, sha, len(data), data) for sha, data in blobs.items()])

    async def get(self, owner_id: str, shas: Iterable[str]) -> dict[str, bytes]:
        """The owner's blobs among ``shas`` (digest -> bytes); other owners' rows never match."""
        wanted = sorted(set(shas))
        if not wanted:
            return {}
        async with self.pool.connection() as conn, conn.cursor() as cur:
            await cur.execute(_SELECT, (owner_id, wanted))
            rows = await cur.fetchall()
        return {_col(row, "sha256", 0): bytes(_col(row, "data", 1)) for row in rows}


def fetch_sync(datastore, owner_id: str, shas: Iterable[str]) -> dict[str, bytes]:
    """The same read for synchronous callers, through eventsourcing's ``PostgresDatastore``."""
    wanted = sorted(set(shas))
    if not wanted:
        return {}
    schema = getattr(datastore, "schema", "") or ""
    sql = _SELECT.replace("FROM blobs", f'FROM "{schema}".blobs') if schema else _SELECT
    with datastore.get_connection() as conn, conn.cursor() as cur:
        cur.execute(sql, (owner_id, wanted))
        rows = cur.fetchall()
    return {_col(row, "sha256", 0): bytes(_col(row, "data", 1)) for row in rows}


def _col(row: Any, name: str, index: int) -> Any:
    return row[name] if isinstance(row, dict) else row[index]
