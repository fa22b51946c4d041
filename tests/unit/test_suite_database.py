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
