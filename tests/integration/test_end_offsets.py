"""The relay's repeated look at a topic's end offsets: one consumer kept open, fresh metadata on
every look, so a broker that came back empty is seen as empty. Against the real broker."""

import pytest
from aiokafka.errors import KafkaError

from services.infra.kafka import EndOffsetReader, ensure_topics, make_producer, topic_end_offsets
from tests.integration.helpers import eventually


async def _publish(settings, topic: str, n: int) -> None:
    producer = make_producer(settings)
    await producer.start()
    try:
        for i in range(n):  # one record per request: the local broker's end offsets are exact then
            await (await producer.send(topic, key=f"k{i}".encode(), value=b"v"))
    finally:
        await producer.stop()


async def test_one_consumer_answers_every_look_and_sees_a_broker_that_came_back_empty(settings, broker):
    if broker.proc is None:
        pytest.skip("needs the local broker to restart it")
    await ensure_topics(settings, ("graphs",))
    topic = settings.topic("graphs")
    await _publish(settings, topic, 5)
    reader = EndOffsetReader(settings)
    try:
        first = await reader.end_offsets(topic)
        assert sum(first.values()) == 5
        assert first == await topic_end_offsets(settings, topic)
        consumer = reader._consumer
        await _publish(settings, topic, 2)
        assert sum((await reader.end_offsets(topic)).values()) == 7
        assert reader._consumer is consumer  # no new consumer per look

        broker.restart()

        async def empty() -> bool:
            try:
                return sum((await reader.end_offsets(topic)).values()) == 0
            except (KafkaError, OSError, TimeoutError):  # while the broker comes back
                return False

        await eventually(empty, timeout=40, message="the reader sees the emptied broker")
    finally:
        await reader.close()
