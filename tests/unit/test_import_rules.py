"""The layering holds in the code, and the check fails on each kind of broken rule."""

from __future__ import annotations

import pytest

from tests.unit.import_rules import closure, import_graph, package_cycles, violations


def test_the_code_keeps_every_import_rule():
    assert violations(import_graph()) == []


def test_the_walk_sees_lazy_and_relative_imports():
    graph = import_graph()
    # ``cli.main`` imports the supervisor inside a function; the walk must still see it
    assert any(t.startswith("services.dev") for t in graph["services.cli.main"])
    assert "schemas.events.base" in closure(graph, "schemas.events.graphs")


GOOD = {
    "schemas.events": {"pydantic"},
    "services.domain.graphs.graph": {"schemas.events", "services.domain.errors"},
    "services.domain.errors": set(),
    "services.infra.eventstore": {"eventsourcing.postgres", "services.domain.errors"},
    "services.query_api.app": {"services.infra.db"},
    "services.infra.db": {"psycopg"},
    "services.command_api.app": {"services.infra.eventstore"},
    "services.dev.local_stack": {"services.infra.db"},
    "services.docsgen.event_docs": {"schemas.events"},
}


def test_a_good_graph_passes():
    assert violations(GOOD) == []


@pytest.mark.parametrize("module, target, rule", [
    ("schemas.events", "services.domain.errors", "schemas import nothing from services"),
    ("services.domain.graphs.graph", "services.infra.db", "the domain imports only schemas and itself"),
    ("services.domain.graphs.graph", "httpx", "the domain does no I/O"),
    ("services.query_api.app", "services.command_api.app", "the query API imports no command"),
    ("services.infra.db", "services.infra.eventstore", "the query API imports no command, executor or eventsourcing"),
    ("services.command_api.app", "services.dev.local_stack", "no app factory imports dev tooling"),
    ("services.infra.db", "services.docsgen.event_docs", "nothing at run time imports the doc generators"),
])
def test_each_broken_rule_is_reported(module, target, rule):
    bad = {name: set(targets) for name, targets in GOOD.items()}
    bad[module].add(target)
    found = violations(bad)
    assert any(rule in line for line in found), found
    assert violations(GOOD) == []  # the copy was changed, not the original


def test_a_cycle_between_packages_is_reported():
    bad = {name: set(targets) for name, targets in GOOD.items()}
    bad["services.domain.credits.ledger"] = {"services.domain.graphs.graph"}
    bad["services.domain.graphs.graph"].add("services.domain.credits.ledger")
    assert package_cycles(bad) == [["services.domain.credits", "services.domain.graphs"]]
    assert any("import cycle" in line for line in violations(bad))
