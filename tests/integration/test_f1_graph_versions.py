"""Audit F1: a graph version above 2^31-1 made the projector crash-loop forever, so every user's
reads went stale. Now the API bounds versions (and refuses a new version past the bound), the
read models hold bigint versions, and the largest values the API accepts project fine."""

from __future__ import annotations

from services.infra import db
from tests.integration.helpers import eventually
from tests.integration.stack import running_stack
from tests.integration.test_executions_api import sample_graph

INT4_MAX = 2**31 - 1
INT64_MAX, INT64_MIN = 2**63 - 1, -(2**63)


def _open_dead_letters(settings) -> int:
    with db.connect(settings, autocommit=True) as conn:
        return conn.execute("SELECT count(*) FROM dead_letters WHERE status IN ('parked', 'retry')").fetchone()[0]


async def test_f1_reproduction_put_past_int4_is_refused_and_reads_go_on(settings, user_ids):
    async with running_stack(settings) as stack:
        async with stack.client(user_ids["carol"]) as carol, stack.client(user_ids["alice"]) as alice:
            # The report: POST at 2147483647 (fine), then PUT -> 2147483648 killed the projector.
            created = await carol.post("/api/graphs", json={"graph": {**sample_graph(), "version": INT4_MAX}})
            assert created.status_code == 200, created.text
            gid = created.json()["id"]
            assert created.json()["version"] == INT4_MAX
            r = await carol.put(f"/api/graphs/{gid}", json=sample_graph())
            assert r.status_code == 409, r.text
            assert "highest version" in r.json()["detail"]
            r = await carol.get(f"/api/graphs/{gid}")
            assert r.status_code == 200 and r.json()["version"] == INT4_MAX

            # Another user's new graph is visible at once (after the report's PUT it was a 404).
            other = (await alice.post("/api/graphs", json={"graph": sample_graph()})).json()["id"]
            r = await alice.get(f"/api/graphs/{other}")
            assert r.status_code == 200, r.text
            assert (await alice.get("/health")).status_code == 200
            assert _open_dead_letters(settings) == 0


async def test_f1_versions_above_int4_are_refused_at_the_edge(settings, user_ids):
    async with running_stack(settings, projector=False) as stack:
        async with stack.client(user_ids["carol"]) as carol:
            for field in ("version", "forked_from_version"):
                r = await carol.post("/api/graphs", json={"graph": {**sample_graph(), field: INT4_MAX + 1}})
                assert 400 <= r.status_code < 500 and r.status_code != 404, (field, r.status_code, r.text)
            r = await carol.post("/api/graphs", json={"graph": {**sample_graph(), "version": 576699258576}})
            assert r.status_code == 422, r.text  # the fuzzer's value
            gid = (await carol.post("/api/graphs", json={"graph": sample_graph()})).json()["id"]
            r = await carol.put(f"/api/graphs/{gid}/versions/active", json={"active_graph_version": INT4_MAX + 1})
            assert 400 <= r.status_code < 500, r.text


async def test_f1_largest_accepted_numbers_pass_through_every_projection(settings, user_ids):
    """Every numeric field the API takes, at the largest value it accepts, reaches the read
    models and reads back unchanged (graphs, executions, node executions, credits, credentials)."""
    user = user_ids["carol"]
    async with running_stack(settings, executors=1) as stack:
        async with stack.client(user) as carol, stack.client("root", admin=True) as root:
            graph = sample_graph()
            graph["nodes"][3]["input_default"] = {"data": {"max": INT64_MAX, "min": INT64_MIN}}
            body = {**graph, "version": INT4_MAX, "forked_from_version": INT4_MAX}
            created = await carol.post("/api/graphs", json={"graph": body})
            assert created.status_code == 200, created.text
            gid = created.json()["id"]

            run = await carol.post(f"/api/graphs/{gid}/execute/{INT4_MAX}",
                                   json={"inputs": {"input_1": INT64_MAX, "input_2": INT64_MIN}})
            assert run.status_code == 200, run.text
            done = await stack.wait_terminal(carol, gid, run.json()["id"], timeout=30)
            assert done["status"] == "COMPLETED", done
            assert done["graph_version"] == INT4_MAX
            assert done["inputs"] == {"input_1": INT64_MAX, "input_2": INT64_MIN}
            outputs = [n["output_data"] for n in done["node_executions"]]
            assert any(f"{INT64_MAX}, {INT64_MIN}" in str(o) for o in outputs), outputs

            # The ledger caps a balance at 2^31-1: grant exactly what takes it there.
            balance = (await carol.get("/api/credits")).json()["credits"]
            r = await root.post("/api/credits/admin/add_credits",
                                json={"user_id": user, "amount": INT4_MAX - balance, "comments": "max"})
            assert r.status_code == 200, r.text
            r = await carol.post("/api/integrations/openai/credentials",
                                 json={"api_key": "sk-test-max", "title": "max", "expires_at": 2**53})
            assert r.status_code == 201, r.text
            cred_id = r.json()["id"]

            fetched = (await carol.get(f"/api/graphs/{gid}", params={"version": INT4_MAX})).json()
            assert fetched["version"] == INT4_MAX and fetched["forked_from_version"] == INT4_MAX
            stored = next(n for n in fetched["nodes"] if n["id"] == graph["nodes"][3]["id"] or
                          n["input_default"].get("data"))
            assert stored["input_default"]["data"] == {"max": INT64_MAX, "min": INT64_MIN}

            async def granted():
                txs = (await carol.get("/api/credits/transactions")).json()
                return [t for t in txs.get("transactions", []) if t.get("running_balance") == INT4_MAX]

            assert await eventually(granted, timeout=10, message="the grant is projected")
            creds = (await carol.get("/api/integrations/credentials")).json()
            assert any(c["id"] == cred_id for c in creds), creds
            with db.connect(settings, autocommit=True) as conn:
                row = conn.execute("SELECT expires_at FROM rm_credentials WHERE credentials_id = %s",
                                   (cred_id,)).fetchone()
            assert row == (2**53,)
            assert (await carol.get("/health")).status_code == 200
            assert _open_dead_letters(settings) == 0
