"""A projector killed with SIGKILL mid-stream and restarted leaves the read models exactly as a
full rebuild from the store makes them."""

import asyncio

from services.projector.rebuild import rebuild
from tests.integration.helpers import eventually
from tests.integration.processes import ServiceProcess
from tests.integration.stack import running_stack
from tests.integration.test_executions_api import sample_graph
from tests.integration.test_rebuild_and_subgraphs import snapshot


async def test_projector_killed_mid_batch(settings, tmp_path):
    async with running_stack(settings, projector=False, executors=1) as stack:
        projector = ServiceProcess("projector", settings, tmp_path).start()
        try:
            async with stack.client("alice") as alice:
                gid = (await alice.post("/api/graphs", json={"graph": sample_graph()})).json()["id"]
                runs = await asyncio.gather(*(
                    alice.post(f"/api/graphs/{gid}/execute/1", json={"inputs": {"input_1": str(i), "input_2": "x"}})
                    for i in range(30)))
                await asyncio.sleep(1.0)
                projector.kill9()
                projector = ServiceProcess("projector", settings, tmp_path).start()
                for r in runs:
                    done = await stack.wait_terminal(alice, gid, r.json()["id"], timeout=90)
                    assert done["status"] == "COMPLETED", projector.log()

            async def caught_up():
                async with stack.client("alice") as client:
                    await client.get("/api/executions")  # waits on the read fence
                return True

            await eventually(caught_up)
            projector.stop()
            before = await asyncio.to_thread(snapshot, settings)
            assert len(before["rm_executions"]) == 30
            await rebuild(settings)
            after = await asyncio.to_thread(snapshot, settings)
            for table in before:
                assert after[table] == before[table], table
        finally:
            projector.kill9()
