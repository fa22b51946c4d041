"""bench/hops.py: how an event's time splits into commit, relay and projection hops."""

from datetime import UTC, datetime, timedelta

from bench.hops import Event, Sample, event_hops, summarise

T0 = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)


def at(ms: float) -> datetime:
    return T0 + timedelta(milliseconds=ms)


def samples() -> list[Sample]:
    # head, published, applied on partitions 0 and 1, sampled every 2 ms
    rows = [(0, 5, 5, {0: 5, 1: 3}), (2, 7, 5, {0: 5, 1: 3}), (4, 7, 7, {0: 5, 1: 3}),
            (6, 9, 7, {0: 5, 1: 7}), (8, 9, 9, {0: 5, 1: 9})]
    return [Sample(at(ms), head, published, applied) for ms, head, published, applied in rows]


def test_each_hop_ends_at_the_first_sample_that_shows_it_done():
    hops = event_hops(Event(7, at(1), "NodeCompleted"), 1, samples())
    assert hops == {"commit": 1.0, "relay": 2.0, "project": 2.0}


def test_the_partition_decides_when_an_event_is_applied():
    assert event_hops(Event(7, at(1), "NodeCompleted"), 0, samples()) is None  # partition 0 never gets there
    assert event_hops(Event(9, at(5), "ExecutionCompleted"), 1, samples()) == {"commit": 1.0, "relay": 2.0,
                                                                                "project": 0.0}


def test_a_hop_never_ends_before_it_starts():
    # made at 3 ms but already in the 0 ms sample's head (sampler clock ahead): the hop is 0, not negative
    hops = event_hops(Event(5, at(3), "NodeQueued"), 0, samples())
    assert hops == {"commit": 0.0, "relay": 0.0, "project": 0.0}


def test_unseen_events_are_reported_as_such():
    assert event_hops(Event(10, at(0), "NodeQueued"), 1, samples()) is None


def test_summary_has_each_hop_and_the_total():
    figures = summarise([{"commit": 1.0, "relay": 2.0, "project": 3.0}, {"commit": 3.0, "relay": 2.0, "project": 1.0}])
    assert figures["commit_p50_ms"] == 2.0
    assert figures["total_p50_ms"] == 6.0
    assert set(figures) == {f"{h}_{q}_ms" for h in ("commit", "relay", "project", "total") for q in ("p50", "p90")}
