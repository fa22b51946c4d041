"""Views reused while their stream has not moved (``query_api/read_models/stream_views.py``)."""

from services.query_api.read_models.stream_views import StreamView, StreamViews


def test_a_view_is_served_only_to_reads_it_includes():
    views = StreamViews()
    views.put(("alice", "run"), StreamView(7, b"{}", "g"))
    assert views.get(("alice", "run"), 7).version == 7
    assert views.get(("alice", "run"), 5) is not None  # newer than the read needs: still right
    assert views.get(("alice", "run"), 8) is None  # the stream moved: build it again
    assert views.get(("alice", "run"), None) is None  # no fence pinned a version
    assert views.get(("bob", "run"), 1) is None  # keyed by user


def test_an_older_view_never_replaces_a_newer_one_and_the_cache_is_bounded():
    views = StreamViews(max_entries=2, max_bytes=4)
    views.put("a", StreamView(3, b"new", ""))
    views.put("a", StreamView(2, b"old", ""))  # a slower read finishing late
    assert views.get("a", 3).body == b"new"
    views.put("big", StreamView(1, b"12345", ""))  # over max_bytes: not kept
    assert views.get("big", 1) is None
    views.put("b", StreamView(1, b"b", ""))
    assert views.get("a", 3) is not None  # "a" used after "b" was put
    views.put("c", StreamView(1, b"c", ""))  # two at most: the least recently used ("b") goes
    assert views.get("b", 1) is None and views.get("a", 3) is not None and views.get("c", 1) is not None
