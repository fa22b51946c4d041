"""Kafka clients configured the one way agentloom uses them.

Standard Kafka protocol only: consumer groups, keys, headers, manual commits. Idempotent producers
are switched on by configuration where the broker supports them (Apache Kafka); the local Tansu
broker does not, so ordering there relies on aiokafka's one in-flight batch per partition.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError, TopicAlreadyExistsError
from aiokafka.partitioner import DefaultPartitioner, murmur2

from schemas.topics import CONTEXTS
from services.infra.settings import Settings

log = logging.getLogger(__name__)


# What a published record adds to an event's stored state: the envelope's identity fields, the
# key, the ``type`` header and the record framing (a few hundred bytes; generous on purpose).
RECORD_HEADROOM_BYTES = 16 * 1024


# How many bytes of records the producer gathers per partition into one request (aiokafka's default
# is 16 KiB, about 40 events: a 1,000-event batch of the relay took some 25 round trips, one in flight
# per partition at a time; relay section 16.8-17.3k -> 20.1-22.7k events/s). Well under Apache Kafka's
# default message.max.bytes (about 1 MB), which limits a record batch; a record larger than this
# travels in a batch of its own, up to ``record_limit``.
BATCH_BYTES = 256 * 1024


def record_limit(settings: Settings) -> int:
    """The largest record the relay sends: any recorded event (at most ``max_event_bytes``) fits,
    and anything larger is refused by the producer itself, deterministically, before it reaches
    the broker (audit F2)."""
    return settings.max_event_bytes + RECORD_HEADROOM_BYTES


@functools.lru_cache(maxsize=65_536)
def _key_hash(key: bytes) -> int:
    return murmur2(key) & 0x7FFFFFFF


def partition_for_key(key: bytes | None, all_partitions: list[int], available: list[int]) -> int:
    """Kafka's default placement (murmur2 of the key, as the Java client's default partitioner
    places it) with each key's hash remembered: aiokafka computes murmur2 in Python, ~6 us a
    record, and the relay sends many records per stream. A record without a key goes where
    aiokafka's default sends it."""
    if key is None:
        return DefaultPartitioner()(key, all_partitions, available)
    return all_partitions[_key_hash(bytes(key)) % len(all_partitions)]


def make_producer(settings: Settings, *, max_request_size: int | None = None) -> AIOKafkaProducer:
    return AIOKafkaProducer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        partitioner=partition_for_key,
        acks="all",
        enable_idempotence=settings.kafka_idempotent_producer,
        linger_ms=1,
        max_batch_size=BATCH_BYTES,
        request_timeout_ms=15_000,
        max_request_size=max_request_size or record_limit(settings),
    )


async def broker_message_limit(settings: Settings, topic: str, timeout_s: float = 5.0) -> int | None:
    """The broker's record limit for ``topic``: the smaller of the brokers' ``message.max.bytes``
    and the topic's ``max.message.bytes`` (DescribeConfigs). None when the broker cannot tell
    (the local Tansu broker answers without config entries)."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=3000)
    limits: list[int] = []
    try:
        await admin.start()
        cluster = await asyncio.wait_for(admin.describe_cluster(), timeout=timeout_s)
        resources = [ConfigResource(ConfigResourceType.TOPIC, topic, configs={"max.message.bytes": None})]
        resources += [ConfigResource(ConfigResourceType.BROKER, str(b["node_id"]), configs={"message.max.bytes": None})
                      for b in cluster.get("brokers", [])]
        for resource in resources:
            try:
                responses = await asyncio.wait_for(admin.describe_configs([resource]), timeout=timeout_s)
            except (TimeoutError, KafkaError, OSError) as exc:
                log.info("broker cannot describe %s configs (%s)", resource.name, exc)
                continue
            for response in responses:
                for item in response.resources:
                    for entry in item[4]:
                        if entry[0] in ("message.max.bytes", "max.message.bytes") and str(entry[1]).isdigit():
                            limits.append(int(entry[1]))
    except (TimeoutError, KafkaError, OSError) as exc:
        log.info("broker limits unknown (%s)", exc)
    finally:
        try:
            await admin.close()
        except (KafkaError, OSError):
            pass
    return min(limits) if limits else None


def make_consumer(settings: Settings, *topics: str, group_id: str | None, background: bool = False,
                  **kwargs) -> AIOKafkaConsumer:
    """A consumer with manual commits. ``background``: not on a run's critical path (the notifier),
    so it fetches with the longer wait (``kafka_background_fetch_max_wait_ms``) and polls less."""
    wait = settings.kafka_background_fetch_max_wait_ms if background else settings.kafka_fetch_max_wait_ms
    return AIOKafkaConsumer(
        *topics,
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=group_id,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=wait,
        max_partition_fetch_bytes=16 * 1024 * 1024,
        fetch_max_bytes=64 * 1024 * 1024,
        session_timeout_ms=settings.kafka_session_timeout_ms,
        heartbeat_interval_ms=1_000,
        **kwargs,
    )


async def ensure_topics(settings: Settings, contexts: tuple[str, ...] = CONTEXTS) -> None:
    """Create every context topic that is missing (idempotent, safe to race)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [settings.topic(c) for c in contexts if settings.topic(c) not in existing]
        if missing:
            try:
                await admin.create_topics([
                    NewTopic(name, num_partitions=settings.topic_partitions, replication_factor=1)
                    for name in missing])
            except TopicAlreadyExistsError:
                pass
            log.info("created topics %s", missing)
    finally:
        await admin.close()


def _offsets_consumer(settings: Settings) -> AIOKafkaConsumer:
    return AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False,
                            request_timeout_ms=5000)


async def _end_offsets(consumer: AIOKafkaConsumer, topic: str, *, refresh: bool) -> dict[int, int]:
    """``topic``'s high-water marks through a started consumer; ``refresh`` reads the broker's
    metadata first rather than trusting what the consumer knew (a broker may have restarted empty)."""
    if refresh:
        await consumer._client.force_metadata_update()  # noqa: SLF001 - only way to refresh
    partitions = consumer.partitions_for_topic(topic)
    for _ in range(50):
        if partitions:
            break
        await consumer._client.force_metadata_update()  # noqa: SLF001
        partitions = consumer.partitions_for_topic(topic)
        if not partitions:
            await asyncio.sleep(0.1)
    tps = [TopicPartition(topic, p) for p in partitions or ()]
    if not tps:
        return {}
    offsets = await asyncio.wait_for(consumer.end_offsets(tps), timeout=10)
    return {tp.partition: off for tp, off in offsets.items()}


async def topic_end_offsets(settings: Settings, topic: str) -> dict[int, int]:
    """High-water mark of every partition of ``topic`` (empty dict if the topic is unknown)."""
    consumer = _offsets_consumer(settings)
    await consumer.start()
    try:
        return await _end_offsets(consumer, topic, refresh=False)
    finally:
        await consumer.stop()


class EndOffsetReader:
    """``topic_end_offsets`` for a caller that looks again and again (the relay, every few
    seconds per log): one consumer kept open instead of one started per look, which cost a new
    connection, a bootstrap and a metadata round trip each time, on the relay and on the broker.
    Each look still reads fresh metadata. After a failure the next look starts a new consumer."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._consumer: AIOKafkaConsumer | None = None

    async def end_offsets(self, topic: str) -> dict[int, int]:
        if self._consumer is None:
            consumer = _offsets_consumer(self.settings)
            await consumer.start()
            self._consumer = consumer
        try:
            return await _end_offsets(self._consumer, topic, refresh=True)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            with contextlib.suppress(TimeoutError, KafkaError, OSError):  # a broker gone: nothing to close
                await asyncio.wait_for(consumer.stop(), timeout=2.0)


async def wait_for_broker(settings: Settings, timeout_s: float = 60.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout_s
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers, request_timeout_ms=3000)
        try:
            await admin.start()
            await admin.list_topics()
            return
        except (KafkaError, OSError) as exc:
            if asyncio.get_running_loop().time() > deadline:
                raise RuntimeError(f"Kafka at {settings.kafka_bootstrap_servers} not reachable: {exc}") from exc
            await asyncio.sleep(0.5)
        finally:
            await admin.close()


async def recreate_topic(settings: Settings, topic: str) -> None:
    """Delete and create ``topic`` with the configured partitions (only after the broker lost it:
    a client may have auto-created it meanwhile with the broker's default partition count)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        try:
            await admin.delete_topics([topic])
        except KafkaError as exc:
            log.info("delete of %s: %s", topic, exc)
        for _ in range(50):
            try:
                await admin.create_topics([NewTopic(topic, num_partitions=settings.topic_partitions,
                                                    replication_factor=1)])
                return
            except TopicAlreadyExistsError:
                await asyncio.sleep(0.1)
    finally:
        await admin.close()
