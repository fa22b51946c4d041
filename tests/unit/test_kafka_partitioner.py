"""The producer's partitioner sends every key where Kafka's default partitioner does (murmur2), so
the executor's ownership check and other Kafka clients agree with the relay; only the hash is remembered."""

from __future__ import annotations

import uuid

from aiokafka.partitioner import DefaultPartitioner

from services.infra.kafka import partition_for_key


def test_every_key_goes_where_the_default_partitioner_sends_it():
    default = DefaultPartitioner()
    for count in (1, 2, 3, 8, 12):
        partitions = list(range(count))
        for _ in range(300):
            key = str(uuid.uuid4()).encode()
            assert partition_for_key(key, partitions, partitions) == default(key, partitions, partitions)
            assert partition_for_key(key, partitions, partitions) == default(key, partitions, partitions)  # cached


def test_a_remembered_hash_follows_a_new_partition_count():
    key = str(uuid.uuid4()).encode()
    for count in (2, 8, 3):
        partitions = list(range(count))
        assert partition_for_key(key, partitions, partitions) == DefaultPartitioner()(key, partitions, partitions)


def test_a_record_without_a_key_goes_to_an_available_partition():
    assert {partition_for_key(None, [0, 1, 2], [1]) for _ in range(20)} == {1}
