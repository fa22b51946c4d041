"""Stories of ``GraphCommands``: create, new version, activate, delete, and their refusals."""

from __future__ import annotations

import uuid

from schemas.events.graphs import GraphCreated, GraphDeleted, GraphVersionCreated
from schemas.graph import MAX_VERSION
from services.command_api.application.graphs import GraphCommands
from services.domain.errors import ConflictError, NotFoundError, PayloadTooLarge
from tests.stories.builders import graph_body, graph_input
from tests.stories.fakes import RacingWriter
from tests.stories.world import expect


def _graph_with_versions(world, owner, count: int) -> uuid.UUID:
    gid = uuid.uuid4()
    world.given(gid, GraphCreated(user_id=owner.id, graph=graph_body(gid, 1)),
                *[GraphVersionCreated(graph=graph_body(gid, v, name=f"v{v}")) for v in range(2, count + 1)],
                user_id=owner.id)
    return gid


class GraphStories:
    def test_create_records_version_1_on_a_stream_of_its_own(self, world):
        alice, graphs = world.user("alice"), GraphCommands(world.store("graphs"))
        created = world.when(lambda: graphs.create(alice, graph_input("first")))
        [event] = world.then(expect("GraphCreated", created["id"], user_id=alice.id, is_active=True,
                                    graph={"id": created["id"], "version": 1, "name": "first"}))
        node_ids = {n["id"] for n in event.payload["graph"]["nodes"]}
        assert len(node_ids) == 2 and node_ids.isdisjoint({"in", "out"})  # the server assigns node ids
        assert event.payload["graph"]["links"][0]["is_static"] is True  # an input block's output is static

    def test_a_graph_over_the_event_size_limit_is_refused(self, world):
        world.store("graphs").max_event_bytes = 4_000
        alice, graphs = world.user("alice"), GraphCommands(world.store("graphs"))
        world.refused(PayloadTooLarge, lambda: graphs.create(alice, graph_input(description="d" * 5_000)),
                      match="over the limit of 4000 bytes")

    def test_update_records_the_next_version(self, world):
        alice, graphs = world.user("alice"), GraphCommands(world.store("graphs"))
        gid = _graph_with_versions(world, alice, 2)
        updated = world.when(lambda: graphs.update(alice, str(gid), graph_input("third", is_active=False)))
        world.then(expect("GraphVersionCreated", gid, is_active=False,
                          graph={"id": str(gid), "version": 3, "name": "third"}))
        assert updated["version"] == 3

    def test_update_of_someone_elses_graph_is_refused(self, world):
        alice, bob, graphs = world.user("alice"), world.user("bob"), GraphCommands(world.store("graphs"))
        gid = _graph_with_versions(world, alice, 1)
        world.refused(NotFoundError, lambda: graphs.update(bob, str(gid), graph_input("mine now")))

    def test_update_past_the_highest_version_is_refused(self, world):
        alice, graphs, gid = world.user("alice"), GraphCommands(world.store("graphs")), uuid.uuid4()
        world.given(gid, GraphCreated(user_id=alice.id, graph=graph_body(gid, MAX_VERSION)), user_id=alice.id)
        world.refused(ConflictError, lambda: graphs.update(alice, str(gid), graph_input()), match="highest version")

    def test_activate_records_the_switch_from_the_active_version(self, world):
        alice, graphs = world.user("alice"), GraphCommands(world.store("graphs"))
        gid = _graph_with_versions(world, alice, 2)
        assert world.when(lambda: graphs.set_active(alice, str(gid), 1)) == {"id": str(gid), "active_graph_version": 1}
        world.then(expect("ActiveVersionSet", gid, version=1, previous_version=2))

    def test_activating_a_version_that_does_not_exist_is_refused(self, world):
        alice, graphs = world.user("alice"), GraphCommands(world.store("graphs"))
        gid = _graph_with_versions(world, alice, 2)
        world.refused(NotFoundError, lambda: graphs.set_active(alice, str(gid), 3), match="v3 not found")

    def test_a_rival_write_makes_the_command_decide_again_on_fresh_state(self, world):
        alice, store = world.user("alice"), world.store("graphs")
        gid = _graph_with_versions(world, alice, 2)

        def rival_records_version_3():
            world.given(gid, GraphVersionCreated(graph=graph_body(gid, 3)), user_id=alice.id)

        graphs = GraphCommands(RacingWriter(store, rival_records_version_3))
        world.when(lambda: graphs.set_active(alice, str(gid), 1))
        world.then(expect("GraphVersionCreated", gid, graph={"version": 3}),
                   expect("ActiveVersionSet", gid, version=1, previous_version=3))

    def test_delete_records_how_many_versions_went(self, world):
        alice, graphs = world.user("alice"), GraphCommands(world.store("graphs"))
        gid = _graph_with_versions(world, alice, 2)
        assert world.when(lambda: graphs.delete(alice, str(gid))) == {"version_counts": 2}
        world.then(expect("GraphDeleted", gid, version_count=2))

    def test_a_deleted_graph_is_gone_for_every_command(self, world):
        alice, graphs = world.user("alice"), GraphCommands(world.store("graphs"))
        gid = _graph_with_versions(world, alice, 1)
        world.given(gid, GraphDeleted(version_count=1), user_id=alice.id)
        world.refused(NotFoundError, lambda: graphs.delete(alice, str(gid)))
        world.refused(NotFoundError, lambda: graphs.set_active(alice, str(gid), 1))
        world.refused(NotFoundError, lambda: graphs.update(alice, str(gid), graph_input()))
