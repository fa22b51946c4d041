"""Audit F10: a client-chosen credential id was the stream id, so another user's id answered 409
"Can not re-create existing credentials #<id>" (an existence oracle, and a way to squat ids).
Client ids are now namespaced by user."""

import uuid


async def test_f10_another_users_credential_id_reveals_nothing(stack, user_ids):
    async with stack.client(user_ids["alice"]) as alice, stack.client(user_ids["bob"]) as bob:
        created = await alice.post("/api/integrations/openai/credentials",
                                   json={"type": "api_key", "api_key": "sk-ALICESECRET", "title": "alice's"})
        assert created.status_code == 201, created.text
        alice_id = created.json()["id"]

        r = await bob.post("/api/integrations/openai/credentials",
                           json={"type": "api_key", "api_key": "sk-bob", "id": alice_id})
        assert r.status_code == 201, r.text  # exactly what a never-used id answers
        bob_id = r.json()["id"]
        assert bob_id != alice_id and alice_id not in r.text

        fresh = await bob.post("/api/integrations/openai/credentials",
                               json={"type": "api_key", "api_key": "sk-bob", "id": str(uuid.uuid4())})
        assert fresh.status_code == 201

        # alice's credential is untouched and still hers alone; bob's is his
        mine = await alice.get(f"/api/integrations/openai/credentials/{alice_id}")
        assert mine.status_code == 200 and mine.json()["title"] == "alice's"
        assert (await bob.get(f"/api/integrations/openai/credentials/{alice_id}")).status_code == 404
        assert (await bob.get(f"/api/integrations/openai/credentials/{bob_id}")).status_code == 200

        # the same client id twice is still a conflict, for its own user
        again = await bob.post("/api/integrations/openai/credentials",
                               json={"type": "api_key", "api_key": "sk-bob", "id": alice_id})
        assert again.status_code == 409
        assert alice_id not in again.text
