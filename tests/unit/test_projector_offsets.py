"""The projector commits each applied batch's own offsets, for the partitions it still owns."""

from types import SimpleNamespace

from aiokafka import TopicPartition

from services.projector.runner import _commit


class _Consumer:
    def __init__(self, owned):
        self.owned = set(owned)

    def assignment(self):
        return self.owned


class _Checkpoints:
    def __init__(self):
        self.commits = []

    async def commit(self, consumer, offsets):
        self.commits.append(dict(offsets))


def _records(*offsets):
    return [SimpleNamespace(offset=o) for o in offsets]


async def test_a_batch_commits_its_last_offset_plus_one_per_owned_partition():
    a, b, gone = (TopicPartition("t", p) for p in (0, 1, 2))
    checkpoints = _Checkpoints()
    await _commit(_Consumer({a, b}), checkpoints, {a: _records(4, 5, 6), b: _records(10), gone: _records(3)})
    assert checkpoints.commits == [{a: 7, b: 11}]


async def test_nothing_owned_commits_nothing():
    checkpoints = _Checkpoints()
    await _commit(_Consumer(set()), checkpoints, {TopicPartition("t", 0): _records(1)})
    assert checkpoints.commits == []
