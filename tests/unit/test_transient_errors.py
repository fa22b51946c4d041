"""Which failures a consumer retries and which it parks: one rule for every consumer."""

import psycopg
from eventsourcing import persistence as es_persistence

from services.executor.poison import is_transient
from services.infra.deadletters import is_transient_db_error
from services.infra.store_contract import ConcurrencyConflict
from services.projector.quarantine import is_transient as projector_is_transient


def _server_error(sqlstate: str) -> psycopg.Error:
    err = type("ServerError", (psycopg.DatabaseError,), {"sqlstate": sqlstate})
    return err("boom")


def test_connection_trouble_is_transient_and_bad_data_is_not():
    assert is_transient_db_error(OSError("connection reset"))
    assert is_transient_db_error(psycopg.OperationalError("server closed the connection"))
    assert is_transient_db_error(_server_error("40P01"))  # deadlock detected
    assert is_transient_db_error(_server_error("57P01"))  # admin shutdown
    assert not is_transient_db_error(_server_error("22003"))  # numeric value out of range
    assert not is_transient_db_error(_server_error("23514"))  # check violation
    assert not is_transient_db_error(ValueError("bad payload"))


def test_eventsourcing_wrappers_are_judged_by_what_they_wrap():
    assert is_transient_db_error(es_persistence.OperationalError("pool timeout"))
    wrapped = es_persistence.DataError("wrapped")
    wrapped.__cause__ = _server_error("22003")
    assert not is_transient_db_error(wrapped)
    wrapped_conn = es_persistence.DatabaseError("wrapped")
    wrapped_conn.__cause__ = OSError("reset")
    assert is_transient_db_error(wrapped_conn)


def test_executor_and_projector_share_the_rule():
    for exc in (_server_error("22003"), _server_error("08006"), OSError("x"), ValueError("y")):
        assert projector_is_transient(exc) == is_transient_db_error(exc)
    assert is_transient(ConcurrencyConflict("lost the race"))
    assert is_transient(TimeoutError())
    assert not is_transient(_server_error("22003"))  # a data error is poison for the executor too

