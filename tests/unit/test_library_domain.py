"""The library's pure rules: entry ids, the entry aggregate, the folder tree, presets, run inputs
and the run figures."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from schemas.graph import GraphVersionBody, StoredNode
from services.domain.errors import ConflictError, InvalidCommand, NotFoundError
from services.domain.graphs.rules import GraphValidationError
from services.domain.graphs.run_inputs import check_inputs, input_errors
from services.domain.library.agent import GraphFacts, LibraryAgent
from services.domain.library.folders import FolderTree
from services.domain.library.ids import graph_of_library_agent, library_agent_id
from services.domain.library.preset import Preset
from services.domain.library.shapes import folder_tree, run_figures

INPUT = "c0a8e994-ebf1-4a9c-a4d8-89d09c86741b"
NOW = datetime(2026, 12, 2, tzinfo=UTC)
G = str(uuid.uuid4())
OWN = GraphFacts(exists=True, owner_id="alice", versions=frozenset({1, 2}), active_version=2)


def test_an_entry_id_names_the_graph_for_its_owner_only():
    graph = str(uuid.uuid4())
    entry = library_agent_id("alice", graph)
    assert graph_of_library_agent("alice", entry) == graph and str(entry) != graph
    assert library_agent_id("alice", graph) == entry  # stable
    assert graph_of_library_agent("bob", entry) != graph  # bob unmasks to a graph he does not have
    assert library_agent_id("bob", graph) != entry


def _fold(agent: LibraryAgent, events) -> LibraryAgent:
    for event in events:
        agent.apply(event, NOW)
    return agent


def test_entry_follows_the_active_version_until_pinned():
    agent = LibraryAgent("alice", G)
    assert agent.graph_version(OWN) == 2
    _fold(agent, agent.update(OWN, graph_version=1))
    assert (agent.graph_version(OWN), agent.auto_update_version) == (1, False)
    assert agent.update(OWN, graph_version=1) == []  # nothing changes, nothing recorded
    _fold(agent, agent.update(OWN, auto_update_version=True))
    assert (agent.graph_version(OWN), agent.pinned_version) == (2, None)
    with pytest.raises(NotFoundError):
        agent.update(OWN, graph_version=7)
    with pytest.raises(InvalidCommand):
        agent.update(OWN, graph_version=1, auto_update_version=True)


def test_entry_visibility_archive_and_deletion():
    agent = LibraryAgent("alice", G)
    agent.require_visible(OWN)
    with pytest.raises(NotFoundError):
        LibraryAgent("bob", G).require_visible(OWN)  # not bob's graph
    gone = GraphFacts(exists=False, owner_id="alice", versions=frozenset({1}), active_version=1)
    agent.require_visible(gone)  # a deleted graph's entry is still there, archived
    assert agent.archived(gone) and not agent.archived(OWN)
    with pytest.raises(ConflictError):
        agent.update(gone, is_archived=False)
    _fold(agent, agent.move("f1"))
    with pytest.raises(NotFoundError):
        agent.require_visible(OWN, frozenset({"f1"}))  # its folder was deleted
    _fold(agent, agent.delete())
    with pytest.raises(NotFoundError):
        agent.require_visible(OWN)


def test_settings_merge_and_normalise():
    agent = LibraryAgent("alice", G)
    assert agent.set_settings({"human_in_the_loop_safe_mode": True}) == []  # the default already
    _fold(agent, agent.set_settings({"sensitive_action_safe_mode": True, "unknown": 1}))
    assert agent.settings == {"human_in_the_loop_safe_mode": True, "sensitive_action_safe_mode": True}


def _tree() -> FolderTree:
    return FolderTree("alice")


def _create(tree: FolderTree, name: str, parent: str | None = None) -> str:
    event = tree.create(name, parent, None, None)[0]
    tree.apply(event, NOW)
    return event.folder_id


def test_folder_depth_names_and_cycles():
    tree = _tree()
    chain = [_create(tree, "1")]
    for level in range(2, 6):
        chain.append(_create(tree, str(level), chain[-1]))
    with pytest.raises(InvalidCommand, match="depth of 5"):
        tree.create("6", chain[-1], None, None)
    with pytest.raises(ConflictError):
        tree.create("1", None, None, None)
    tree.create("1", chain[0], None, None)  # the same name under another parent is fine
    with pytest.raises(ConflictError, match="itself"):
        tree.move(chain[0], chain[0])
    with pytest.raises(ConflictError, match="descendant"):
        tree.move(chain[0], chain[3])
    other = _create(tree, "other")
    with pytest.raises(InvalidCommand):
        tree.move(chain[0], other)  # carries five levels under a root folder: six
    for event in tree.move(chain[2], other):  # three levels under a root folder: five
        tree.apply(event, NOW)
    assert tree.depth(chain[4]) == 4 and tree.height(other) == 4
    with pytest.raises(NotFoundError):
        tree.move(chain[0], str(uuid.uuid4()))


def test_concurrent_loop_is_refused_on_the_reloaded_tree():
    tree = _tree()
    a, b = _create(tree, "a"), _create(tree, "b")
    first, second = tree.move(a, b), tree.move(b, a)  # both decided on the same version
    tree.apply(first[0], NOW)  # the first wins the append; the second reloads and decides again
    assert second  # it was allowed on the stale tree ...
    with pytest.raises(ConflictError):
        tree.move(b, a)  # ... and is refused on the fresh one


def test_deleting_a_folder_takes_its_subtree():
    tree = _tree()
    top = _create(tree, "top")
    mid = _create(tree, "mid", top)
    leaf = _create(tree, "leaf", mid)
    keep = _create(tree, "keep")
    event = tree.delete(mid)[0]
    assert event.folder_ids == [mid, leaf]
    tree.apply(event, NOW)
    assert set(tree.folders) == {top, keep} and tree.deleted == {mid, leaf}
    with pytest.raises(NotFoundError):
        tree.update(leaf, name="x", icon=None, color=None)


def test_folder_tree_nests_and_keeps_orphans_as_roots():
    flat = [{"id": "a", "parent_id": None}, {"id": "b", "parent_id": "a"}, {"id": "c", "parent_id": "gone"}]
    nested = folder_tree(flat)
    assert [n["id"] for n in nested] == ["a", "c"] and [n["id"] for n in nested[0]["children"]] == ["b"]


def test_preset_merge_request_wins_key_by_key():
    preset = Preset("p", user_id="alice", inputs={"a": 1, "b": 2}, credentials={"c": {"id": "x"}})
    assert preset.merged({"b": 3, "d": 4}, None) == ({"a": 1, "b": 3, "d": 4}, {"c": {"id": "x"}})
    assert preset.update(name=preset.name, inputs={"a": 1, "b": 2}) == []
    with pytest.raises(NotFoundError):
        preset.require_owner("bob")


def _body() -> GraphVersionBody:
    return GraphVersionBody(id=str(uuid.uuid4()), version=1, name="g", nodes=[
        StoredNode(id="n1", block_id=INPUT, input_default={"name": "topic"}),
        StoredNode(id="n2", block_id=INPUT, input_default={"name": "tone", "value": "calm"})], links=[])


def test_run_inputs_fit_the_graph():
    body = _body()
    assert input_errors(body, {"topic": "x"}, for_run=True) == {}
    assert input_errors(body, {}, for_run=False) == {}  # a partial preset may be saved
    assert input_errors(body, {}, for_run=True) == {"n1": {"value": "This field is required"}}
    assert input_errors(body, {"nope": 1}, for_run=False) == {"inputs": {"nope": "The graph has no input named 'nope'"}}
    with pytest.raises(GraphValidationError) as refused:
        check_inputs(body, {"nope": 1}, for_run=True)
    assert set(refused.value.node_errors) == {"inputs", "n1"}


def test_run_figures_follow_autogpt_formulas():
    recent = [{"status": "COMPLETED", "stats": {"correctness_score": 0.5}, "created_at": NOW - timedelta(days=1)},
              {"status": "FAILED", "stats": None, "created_at": NOW - timedelta(days=2)},
              {"status": "COMPLETED", "stats": {"correctness_score": 1}, "created_at": NOW - timedelta(days=9)}]
    figures = run_figures(3, 2, NOW, recent, NOW)
    assert (figures["status"], figures["success_rate"], figures["new_output"]) == ("ERROR", 66.67, True)
    assert figures["avg_correctness_score"] == 0.75 and figures["execution_count"] == 3
    assert run_figures(0, 0, None, [], NOW)["success_rate"] is None
    queued = [{"status": "QUEUED", "stats": None, "created_at": NOW}, {"status": "RUNNING", "stats": None,
                                                                      "created_at": NOW}]
    assert run_figures(2, 0, NOW, queued, NOW)["status"] == "WAITING"
    assert run_figures(1, 0, NOW, queued[1:], NOW)["status"] == "HEALTHY"
    old = [{"status": "COMPLETED", "stats": None, "created_at": NOW - timedelta(days=8)}]
    assert run_figures(1, 1, NOW, old, NOW)["new_output"] is False
