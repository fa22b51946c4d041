"""Which PostgreSQL the suite uses (``services/dev/suite_database.py``): a named one as it is, else
the local server when it answers, else the embedded one."""

from services.dev import suite_database as t


def test_a_named_database_is_used_even_when_it_does_not_answer():
    assert t.pick("postgresql://x@h/db", lambda url: None) == ("postgresql://x@h/db", None)
    assert t.pick("postgresql://x@h/db", lambda url: "refused") == ("postgresql://x@h/db", "refused")


def test_the_local_server_when_it_answers_else_the_embedded_one():
    assert t.pick(None, lambda url: None) == (t.DEFAULT_TEST_DB, None)
    asked = []
    assert t.pick("", lambda url: asked.append(url) or "connection refused") == (t.EMBEDDED, None)
    assert asked == [t.DEFAULT_TEST_DB]


def test_only_the_first_parallel_worker_uses_the_local_server():
    """A default server's 100 connections hold one worker's stacks, not two."""
    assert t.pick(None, lambda url: None, worker="gw0") == (t.DEFAULT_TEST_DB, None)
    assert t.pick(None, lambda url: None, worker="gw1") == (t.EMBEDDED, None)
    assert t.pick("postgresql://x@h/db", lambda url: None, worker="gw1") == ("postgresql://x@h/db", None)


def test_each_worker_has_an_embedded_data_folder_of_its_own(tmp_path):
    folders = {t.embedded_data_dir(tmp_path, w) for w in ("", "gw0", "gw1")}
    assert len(folders) == 3 and t.embedded_data_dir(tmp_path) == tmp_path / "test-postgres"
