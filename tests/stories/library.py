"""Stories of the library's handlers (``LibraryCommands``, ``FolderCommands``, ``PresetCommands``):
what each command records, what it refuses without writing, and how it decides again after losing a
race."""

from __future__ import annotations

import uuid

import pytest

from schemas.events.executions import ExecutionQueued
from schemas.events.graphs import GraphCreated, GraphDeleted
from schemas.events.library import FolderCreated, LibraryAgentUpdated
from services.command_api.application.executions import ExecutionCommands
from services.command_api.application.folders import FolderCommands
from services.command_api.application.graphs import GraphCommands
from services.command_api.application.library import LibraryCommands
from services.command_api.application.presets import PresetCommands
from services.domain.errors import ConflictError, NotFoundError
from services.domain.graphs.rules import GraphValidationError
from services.domain.library.ids import folder_tree_id, library_agent_id
from services.infra.store_contract import NewEvent
from tests.stories.builders import graph_body
from tests.stories.fakes import RacingWriter
from tests.stories.world import expect


def _library(world, store=None) -> LibraryCommands:
    library = store or world.store("library")
    return LibraryCommands(library, GraphCommands(world.store("graphs")), FolderCommands(library))


def _graph(world, owner) -> uuid.UUID:
    gid = uuid.uuid4()
    world.given(gid, GraphCreated(user_id=owner.id, graph=graph_body(gid)), user_id=owner.id)
    return gid


def _folders(world, owner, *names_and_parents: tuple[str, str, str | None]) -> None:
    world.given(folder_tree_id(owner.id), *[FolderCreated(user_id=owner.id, folder_id=fid, name=name, parent_id=parent)
                                            for fid, name, parent in names_and_parents], user_id=owner.id)


class LibraryStories:
    def test_an_own_graph_is_an_entry_without_an_event_and_a_change_records_one(self, world):
        alice = world.user("alice")
        gid = _graph(world, alice)
        entry_id = library_agent_id(alice.id, gid)
        view = world.when(lambda: _library(world).update(alice, str(entry_id), is_favorite=True))
        world.then(expect("LibraryAgentUpdated", entry_id, user_id=alice.id, graph_id=str(gid), is_favorite=True))
        assert (view["id"], view["graph_id"], view["is_favorite"], view["execution_count"]) == (
            str(entry_id), str(gid), True, 0)
        world.when(lambda: _library(world).update(alice, str(entry_id), is_favorite=True))
        world.then()  # nothing changes, nothing recorded

    def test_another_users_entry_id_is_not_found_and_nothing_is_written(self, world):
        alice, bob = world.user("alice"), world.user("bob")
        entry_id = str(library_agent_id(alice.id, _graph(world, alice)))
        world.refused(NotFoundError, lambda: _library(world).update(bob, entry_id, is_favorite=True))
        world.refused(NotFoundError, lambda: _library(world).fork(bob, entry_id))
        assert world.new_events() == []

    def test_a_lost_race_decides_again_on_the_fresh_entry(self, world):
        alice = world.user("alice")
        gid = _graph(world, alice)
        entry_id = library_agent_id(alice.id, gid)
        rival = lambda: world.store("library").append([NewEvent(  # noqa: E731 - another writer, first
            entry_id, 1, LibraryAgentUpdated(user_id=alice.id, graph_id=str(gid), is_archived=True),
            user_id=alice.id)])
        racing = _library(world, RacingWriter(world.store("library"), rival))
        view = world.when(lambda: racing.update(alice, str(entry_id), is_favorite=True))
        world.then(expect("LibraryAgentUpdated", entry_id, is_archived=True),
                   expect("LibraryAgentUpdated", entry_id, is_favorite=True))
        assert view["is_archived"] and view["is_favorite"]

    def test_deleting_the_graph_archives_the_entry_and_it_cannot_be_unarchived(self, world):
        alice = world.user("alice")
        gid = _graph(world, alice)
        world.given(gid, GraphDeleted(version_count=1), user_id=alice.id)
        entry_id = str(library_agent_id(alice.id, gid))
        world.refused(ConflictError, lambda: _library(world).update(alice, entry_id, is_archived=False))
        world.refused(NotFoundError, lambda: _library(world).set_graph_settings(alice, str(gid), {
            "sensitive_action_safe_mode": True}))

    def test_fork_records_a_new_graph_pointing_back_and_keeps_the_settings(self, world):
        alice = world.user("alice")
        gid = _graph(world, alice)
        library = _library(world)
        library.set_graph_settings(alice, str(gid), {"sensitive_action_safe_mode": True})
        fork = world.when(lambda: library.fork(alice, str(library_agent_id(alice.id, gid))))
        world.then(expect("GraphCreated", fork["graph_id"], user_id=alice.id,
                          graph={"name": "g (copy)", "forked_from_id": str(gid), "forked_from_version": 1}),
                   expect("LibraryAgentSettingsSet", library_agent_id(alice.id, fork["graph_id"]),
                          settings={"human_in_the_loop_safe_mode": True, "sensitive_action_safe_mode": True}))

    def test_a_racing_move_cannot_close_a_loop(self, world):
        alice = world.user("alice")
        a, b = str(uuid.uuid4()), str(uuid.uuid4())
        _folders(world, alice, (a, "a", None), (b, "b", None))
        tree_store = world.store("library")
        rival = lambda: FolderCommands(tree_store).move(alice, a, b)  # noqa: E731 - a into b, first
        racing = FolderCommands(RacingWriter(tree_store, rival))
        with pytest.raises(ConflictError, match="descendant"):
            world.when(lambda: racing.move(alice, b, a))
        world.then(expect("FolderMoved", folder_tree_id(alice.id), folder_id=a, parent_id=b))

    def test_bulk_move_records_one_event_per_own_entry_in_one_append(self, world):
        alice, bob = world.user("alice"), world.user("bob")
        mine = [str(library_agent_id(alice.id, _graph(world, alice))) for _ in range(2)]
        theirs = str(library_agent_id(bob.id, _graph(world, bob)))
        folder = str(uuid.uuid4())
        _folders(world, alice, (folder, "f", None))
        moved = world.when(lambda: _library(world).bulk_move(alice, [*mine, theirs, mine[0]], folder))
        world.then(expect("LibraryAgentMoved", uuid.UUID(mine[0]), folder_id=folder),
                   expect("LibraryAgentMoved", uuid.UUID(mine[1]), folder_id=folder))
        assert [m["id"] for m in moved] == mine and {m["folder_name"] for m in moved} == {"f"}

    def test_deleting_a_folder_hides_the_entries_in_its_subtree(self, world):
        alice = world.user("alice")
        top, sub = str(uuid.uuid4()), str(uuid.uuid4())
        _folders(world, alice, (top, "top", None), (sub, "sub", top))
        entry = str(library_agent_id(alice.id, _graph(world, alice)))
        library = _library(world)
        world.when(lambda: (library.update(alice, entry, folder_id=sub),
                            FolderCommands(world.store("library")).delete(alice, top)))
        world.then(expect("LibraryAgentMoved", uuid.UUID(entry), folder_id=sub),
                   expect("FolderDeleted", folder_tree_id(alice.id), folder_ids=[top, sub]))
        world.refused(NotFoundError, lambda: library.update(alice, entry, is_favorite=True))


def _presets(world) -> PresetCommands:
    graphs = GraphCommands(world.store("graphs"))
    return PresetCommands(world.store("library"), graphs, ExecutionCommands(world.store("executions"), graphs))


class PresetStories:
    def test_a_preset_is_checked_against_its_graph_and_runs_with_the_request_over_it(self, world):
        alice = world.user("alice")
        gid = _graph(world, alice)
        presets = _presets(world)
        world.refused(GraphValidationError, lambda: presets.create(
            alice, graph_id=str(gid), graph_version=1, name="p", description="", inputs={"nope": 1},
            credentials={}, is_active=True))
        saved = world.when(lambda: presets.create(alice, graph_id=str(gid), graph_version=1, name="p",
                                                  description="", inputs={"x": "saved"},
                                                  credentials={"c": {"id": "k", "api_key": "leak", "provider": "p"}},
                                                  is_active=True))
        world.then(expect("PresetCreated", uuid.UUID(saved["id"]), graph_id=str(gid), inputs={"x": "saved"},
                          credentials={"c": {"id": "k", "provider": "p"}}))
        run = world.when(lambda: presets.execute(alice, saved["id"], {"x": "asked"}, {}))
        [queued] = world.then(expect("ExecutionQueued", uuid.UUID(run["id"]), preset_id=saved["id"],
                                     inputs={"x": "asked"}))
        assert "api_key" not in str(queued.payload)

    def test_a_preset_from_a_past_run_copies_its_inputs_and_someone_elses_run_is_not_found(self, world):
        alice, bob = world.user("alice"), world.user("bob")
        gid = _graph(world, alice)
        run_id = uuid.uuid4()
        world.given(run_id, ExecutionQueued(user_id=alice.id, graph_id=str(gid), graph_version=1,
                                            graph=graph_body(gid), inputs={"x": 7}), user_id=alice.id)
        presets = _presets(world)
        world.refused(NotFoundError, lambda: presets.create_from_run(bob, graph_execution_id=str(run_id), name="x",
                                                                      description="", is_active=True))
        saved = world.when(lambda: presets.create_from_run(alice, graph_execution_id=str(run_id), name="again",
                                                           description="", is_active=True))
        world.then(expect("PresetCreated", inputs={"x": 7}, from_execution_id=str(run_id), graph_version=1))
        world.refused(NotFoundError, lambda: presets.execute(bob, saved["id"], {}, {}))

    @pytest.mark.parametrize("missing", ["graph", "preset"])
    def test_a_preset_cannot_run_once_its_graph_or_itself_is_deleted(self, world, missing):
        alice = world.user("alice")
        gid = _graph(world, alice)
        presets = _presets(world)
        saved = presets.create(alice, graph_id=str(gid), graph_version=1, name="p", description="",
                               inputs={"x": 1}, credentials={}, is_active=True)
        if missing == "graph":
            world.given(gid, GraphDeleted(version_count=1), user_id=alice.id)
        else:
            presets.delete(alice, saved["id"])
        world.refused(NotFoundError, lambda: presets.execute(alice, saved["id"], {}, {}))
