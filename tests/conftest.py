"""Shared fixtures: the real PostgreSQL server and a real Kafka-protocol broker.

PostgreSQL: ``AGENTLOOM_TEST_DATABASE_URL``, else the server on 127.0.0.1:5432 (database
``test``), else an embedded PostgreSQL started for the session (``services/dev/suite_database.py``;
under pytest-xdist only the first worker uses the local server, the others an embedded one each);
each test gets its own schema. Broker: ``KAFKA_BOOTSTRAP_SERVERS`` if set, else one
Tansu broker started for the session; each test gets its own topic prefix. Under ``CI=true`` a
missing service fails the run instead of skipping.
"""

from __future__ import annotations

import os
import uuid

import psycopg
import pytest
from pydantic import SecretStr

from services.dev import suite_database
from services.dev.local_broker import free_port, start_broker
from services.infra.settings import SYSTEM_KEY_FIELDS, Settings, data_dir

# pytest-xdist's workers start with COLUMNS=80 and LINES=24 set (a run without workers has neither);
# the CLI tests read what the commands print to a pipe, which is only wide when COLUMNS is unset.
for _name in ("COLUMNS", "LINES"):
    os.environ.pop(_name, None)


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="session")
def database_url():
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    url, failure = suite_database.pick(os.environ.get("AGENTLOOM_TEST_DATABASE_URL"), worker=worker)
    if failure is not None:
        _unavailable(f"PostgreSQL not reachable at {url}: {failure}")
    if url != suite_database.EMBEDDED:
        yield url
        return
    try:
        server, url = suite_database.start_embedded(suite_database.embedded_data_dir(data_dir(), worker))
    except Exception as exc:  # noqa: BLE001 - reported as skip/fail below
        _unavailable(f"no PostgreSQL on 127.0.0.1:5432 and the embedded one did not start: {exc}")
    with server:
        yield url


@pytest.fixture(scope="session")
def broker():
    """Bootstrap address of a real broker; yields a handle that can restart the local one."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield BrokerHandle(external, None)
        return
    port = free_port()
    try:
        proc = start_broker(port)
    except Exception as exc:  # noqa: BLE001 - reported as skip/fail below
        _unavailable(f"could not start the local Tansu broker: {exc}")
    handle = BrokerHandle(f"127.0.0.1:{port}", proc, port)
    yield handle
    handle.stop()


class BrokerHandle:
    def __init__(self, bootstrap: str, proc, port: int | None = None) -> None:
        self.bootstrap = bootstrap
        self.proc = proc
        self.port = port

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def restart(self) -> None:
        """Kill and restart the local broker: it comes back empty, as after a crash."""
        assert self.proc is not None, "cannot restart an external broker"
        self.stop()
        self.proc = start_broker(self.port)


def isolated_settings(database_url: str, bootstrap: str, **overrides) -> Settings:
    """Settings with a schema and topic prefix of their own."""
    suffix = uuid.uuid4().hex[:10]
    # Platform provider keys only when a test asks: never a developer's real OPENAI_API_KEY & co.
    no_system_keys = {name: SecretStr("") for name in SYSTEM_KEY_FIELDS.values() if name not in overrides}
    # Local mode: the tests sign with the public development secrets (processes.py passes it on).
    overrides.setdefault("local_mode", True)
    # A killed consumer's partitions move after 3 s instead of 10: the kill -9 tests wait that long.
    overrides.setdefault("kafka_session_timeout_ms", 3_000)
    overrides.setdefault("read_fence_timeout_s", 5.0)
    # Stopping an executor does not wait for its running nodes (the drain tests set a deadline):
    # test stacks stop with long nodes still running, and each would hold its teardown that long.
    overrides.setdefault("executor_drain_s", 0.0)
    # The notifier's consumers fetch with the executor's short wait: on Tansu a long one delays each
    # notification hop by it, and the notifier tests wait for two hops.
    overrides.setdefault("kafka_background_fetch_max_wait_ms", 20)
    return Settings(DATABASE_URL=database_url, KAFKA_BOOTSTRAP_SERVERS=bootstrap, db_schema=f"t_{suffix}",
                    topic_prefix=f"t{suffix}", topic_partitions=4, **no_system_keys, **overrides)


def drop_schema(database_url: str, schema: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def settings(database_url, broker) -> Settings:
    s = isolated_settings(database_url, broker.bootstrap)
    yield s
    drop_schema(database_url, s.db_schema)


@pytest.fixture(scope="module")
def module_settings(database_url, broker) -> Settings:
    s = isolated_settings(database_url, broker.bootstrap)
    yield s
    drop_schema(database_url, s.db_schema)


@pytest.fixture
def user_ids():
    """Fresh user ids per test, so tests sharing a stack never see each other's data."""
    suffix = uuid.uuid4().hex[:8]
    return {name: f"{name}-{suffix}" for name in ("alice", "bob", "carol")}
