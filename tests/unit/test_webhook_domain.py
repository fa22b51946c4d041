"""The Webhook aggregate, its derived ids and the triggered-graph rule (pure)."""

from __future__ import annotations

import uuid
from types import SimpleNamespace

import pytest

from schemas.events.base import decode_payload
from schemas.events.integrations import WebhookDeactivated, WebhookPresetBound, WebhookPresetUnbound
from schemas.events.library import PresetCreated
from services.domain.errors import InvalidCommand, NotFoundError
from services.domain.integrations import webhook as rules
from services.domain.integrations.triggers import TRIGGERED_DIRECTLY, require_delivery, trigger_node
from services.domain.integrations.webhook import Webhook, secret_digest

TRIGGER = "8fa8c167-2002-47ce-aba8-97572fc5d387"
OUTPUT = "363ae599-353e-4804-937e-b2ee3cef3da4"


def _webhook(secret: str = "s3cret", presets=("p1",)) -> Webhook:
    events = Webhook.register(user_id="alice", provider=rules.GENERIC_PROVIDER, graph_id="g", graph_version=1,
                              trigger_node_id="hook", secret=secret, preset_id=presets[0])
    events += [WebhookPresetBound(preset_id=p) for p in presets[1:]]
    return Webhook.from_events("w", [(e, None) for e in events])


def test_a_registered_webhook_is_active_and_keeps_only_the_secrets_digest():
    webhook = _webhook("s3cret")
    assert webhook.active and webhook.user_id == "alice" and webhook.preset_ids == ["p1"]
    assert webhook.secret_sha256 == secret_digest("s3cret") != "s3cret" and webhook.stream_version == 2
    assert webhook.secret_matches("s3cret")
    for wrong in ("s3cre", "s3cret ", "", None):
        assert not webhook.secret_matches(wrong)


def test_new_secrets_have_256_bits_and_never_repeat():
    secrets = {rules.new_secret() for _ in range(100)}
    assert len(secrets) == 100 and all(len(s) >= 43 for s in secrets)


def test_ingress_finds_only_a_live_webhook_of_its_provider_and_owners_only_see_theirs():
    webhook = _webhook()
    webhook.require_live(rules.GENERIC_PROVIDER)
    webhook.require_owner("alice")
    with pytest.raises(NotFoundError):
        webhook.require_live("github")
    with pytest.raises(NotFoundError):
        webhook.require_owner("bob")
    with pytest.raises(NotFoundError):
        Webhook("missing").require_live(rules.GENERIC_PROVIDER)
    webhook.apply(WebhookDeactivated(reason=rules.GRAPH_DELETED))
    with pytest.raises(NotFoundError):
        webhook.require_live(rules.GENERIC_PROVIDER)
    assert webhook.deactivate(rules.GRAPH_DELETED) == []  # terminal, recorded once
    webhook.require_owner("alice")  # the owner still finds it (ping)


def test_unbinding_the_last_preset_deactivates_the_webhook():
    webhook = _webhook(presets=("p1", "p2"))
    assert webhook.unbind("p1", rules.PRESET_DELETED) == [WebhookPresetUnbound(preset_id="p1", reason="preset_deleted")]
    webhook.apply(WebhookPresetUnbound(preset_id="p1", reason="preset_deleted"))
    assert webhook.unbind("nope", rules.PRESET_DELETED) == []
    assert webhook.unbind("p2", rules.PRESET_DELETED) == [
        WebhookPresetUnbound(preset_id="p2", reason="preset_deleted"), WebhookDeactivated(reason="preset_deleted")]


def test_derived_ids_make_a_repeat_the_same_stream_and_the_same_run():
    webhook_id = str(uuid.uuid4())
    assert rules.delivery_stream_id(webhook_id, "k") == rules.delivery_stream_id(webhook_id, "k")
    assert rules.delivery_stream_id(webhook_id, "k") != rules.delivery_stream_id(webhook_id, "k2")
    assert rules.delivery_stream_id(webhook_id, "k") != rules.delivery_stream_id(str(uuid.uuid4()), "k")
    assert rules.delivery_stream_id(webhook_id, None) != rules.delivery_stream_id(webhook_id, None)  # no key: random
    delivery = rules.delivery_stream_id(webhook_id, "k")
    assert rules.delivery_run_id(delivery, "p1") == rules.delivery_run_id(delivery, "p1")
    assert rules.delivery_run_id(delivery, "p1") != rules.delivery_run_id(delivery, "p2")
    index = rules.graph_webhooks_stream_id
    assert index("g") == index("g") != index("h")


def _graph(*nodes) -> SimpleNamespace:
    return SimpleNamespace(nodes=[SimpleNamespace(id=i, block_id=b, input_default=d) for i, b, d in nodes])


def test_a_triggered_graph_runs_only_with_a_payload_on_its_trigger_node():
    graph = _graph(("out", OUTPUT, {"name": "x"}), ("hook", TRIGGER, {}))
    assert trigger_node(graph).id == "hook"
    assert trigger_node(_graph(("out", OUTPUT, {}))) is None
    for masks in (None, {}, {"out": {"payload": {}}}, {"hook": {"constants": {}}}):
        with pytest.raises(InvalidCommand) as refused:
            require_delivery(graph, masks)
        assert refused.value.detail == TRIGGERED_DIRECTLY
    require_delivery(graph, {"hook": {"payload": {"a": 1}}})
    require_delivery(_graph(("out", OUTPUT, {})), None)


def test_preset_created_v1_upcasts_to_no_webhook():
    payload = {"user_id": "u", "graph_id": "g", "graph_version": 1, "name": "n"}
    assert decode_payload(PresetCreated.TYPE, 1, payload) == PresetCreated(**payload, webhook_id=None)
