"""Trigger webhook commands: set one up with its preset, accept deliveries, end it.

Exactly once per delivery, in two writes that a retry heals: the delivery is recorded first, in a
stream of its own whose id is derived from the sender's idempotency key (a repeat is that stream's
version conflict, so it records nothing), naming the presets it runs; then one run per preset is
queued under an id derived from the delivery and the preset (``ExecutionCommands.execute``
returns the recorded run when asked again). A crash between the two is healed by the sender's
retry with the same key, and every repeat answers with the same run ids.

A webhook ends (ingress 404) when its last preset is deleted, when its graph is deleted (the
graph's index of webhooks, read by the delete's hook), or, as a backstop, when a delivery finds
that the graph version no longer runs for the webhook's owner.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson

from schemas.events.integrations import GraphWebhookAdded, WebhookDeliveryReceived
from services.command_api.application.executions import ExecutionCommands
from services.command_api.application.graphs import GraphCommands
from services.command_api.application.presets import PresetCommands
from services.domain.blocks.registry import get_block
from services.domain.errors import InvalidCommand, NotFoundError, PayloadTooLarge
from services.domain.integrations import webhook as rules
from services.domain.integrations.triggers import trigger_node
from services.domain.integrations.webhook import Delivery, Webhook
from services.domain.integrations.webhook_shapes import webhook_view
from services.domain.library.preset import Preset
from services.infra.appending import decide_and_append
from services.infra.auth import AuthError, User
from services.infra.blobs import BLOB_KEY, looks_like_reference
from services.infra.eventstore import EventStore
from services.infra.store_contract import ConcurrencyConflict, EventTooLarge, NewEvent

# Trigger blocks that can be set up here, by id, and the provider their webhooks belong to. Only
# manual webhooks: nothing is registered with a provider, the user hands the URL to the sender.
PROVIDERS = {"8fa8c167-2002-47ce-aba8-97572fc5d387": rules.GENERIC_PROVIDER}


class WebhookCommands:
    def __init__(self, store: EventStore, graphs: GraphCommands, presets: PresetCommands,
                 executions: ExecutionCommands, *, public_url: str) -> None:
        self.store = store
        self.graphs = graphs
        self.presets = presets
        self.executions = executions
        self.public_url = public_url

    def load(self, webhook_id: str) -> Webhook:
        events = self.store.read_stream(uuid.UUID(webhook_id))
        return Webhook.from_events(webhook_id, [(e.decode(), e.occurred_at) for e in events])

    def _append(self, webhook: Webhook, events: list) -> None:
        if events:
            self.store.append([NewEvent(uuid.UUID(webhook.webhook_id), webhook.stream_version + i + 1, event,
                                        user_id=webhook.user_id) for i, event in enumerate(events)])

    # -- setup --------------------------------------------------------------------------------

    def setup_trigger(self, user: User, *, name: str, description: str, graph_id: str, graph_version: int,
                      trigger_config: dict[str, Any], agent_credentials: dict[str, Any]) -> dict[str, Any]:
        """A new webhook and a preset bound to it; the answer is the only place the secret is shown."""
        body = self.graphs.version_for_run(user, graph_id, graph_version)
        node = trigger_node(body)
        if node is None:
            raise InvalidCommand(f"Graph #{graph_id} does not have a webhook node")
        provider = PROVIDERS.get(node.block_id)
        if provider is None:
            raise InvalidCommand(f"Graph #{graph_id}'s trigger block cannot be set up here: only "
                                 f"{', '.join(sorted(PROVIDERS.values()))} triggers can")
        config = _trigger_config(node.block_id, trigger_config)
        webhook_id, preset_id, secret = str(uuid.uuid4()), str(uuid.uuid4()), rules.new_secret()
        registered = Webhook.register(user_id=user.id, provider=provider, graph_id=graph_id,
                                      graph_version=body.version, trigger_node_id=node.id, secret=secret,
                                      preset_id=preset_id)
        index = rules.graph_webhooks_stream_id(graph_id)
        stream = uuid.UUID(webhook_id)

        def record(index_version: int) -> None:
            self.store.append([
                *(NewEvent(stream, i + 1, event, user_id=user.id) for i, event in enumerate(registered)),
                NewEvent(index, index_version + 1, GraphWebhookAdded(webhook_id=webhook_id, user_id=user.id),
                         user_id=user.id)])

        decide_and_append(lambda: self.store.stream_version(index), record)
        preset = self.presets.create(user, graph_id=graph_id, graph_version=body.version, name=name,
                                     description=description, inputs=config, credentials=agent_credentials,
                                     is_active=True, webhook_id=webhook_id, preset_id=preset_id)
        webhook = self.load(webhook_id)
        preset["webhook"] = webhook_view(webhook_id=webhook_id, user_id=user.id, provider=provider,
                                         base_url=self.public_url, secret=secret,
                                         secret_header=rules.SECRET_HEADER, is_active=webhook.active,
                                         created_at=webhook.created_at)
        return preset

    def ping(self, user: User, webhook_id: str) -> bool:
        """AutoGPT asks the provider to send a ping and waits for it; a manual webhook has no
        provider to ask, so, as AutoGPT answers for such webhooks, ``False``: nothing was sent."""
        self.load(webhook_id).require_owner(user.id)
        return False

    # -- ending -------------------------------------------------------------------------------

    def _deactivate(self, webhook_id: str, reason: str) -> None:
        def decide(webhook: Webhook) -> None:
            self._append(webhook, webhook.deactivate(reason))

        decide_and_append(lambda: self.load(webhook_id), decide)

    def end_for_graph(self, user: User, graph_id: str) -> None:
        """``GraphCommands.after_delete``: every webhook that would start the deleted graph."""
        events = [e.decode() for e in self.store.read_stream(rules.graph_webhooks_stream_id(graph_id))]
        for webhook_id in rules.graph_webhook_ids(events):
            self._deactivate(webhook_id, rules.GRAPH_DELETED)

    def end_for_unpublished(self, owner_id: str, graph_id: str, graph_version: int) -> None:
        """``StoreCommands.after_unpublish``: other users' webhooks on a graph version the store no
        longer publishes end with the decision (the owner's own stay)."""
        events = [e.decode() for e in self.store.read_stream(rules.graph_webhooks_stream_id(graph_id))]
        for webhook_id in rules.graph_webhook_ids(events):
            webhook = self.load(webhook_id)
            if webhook.active and webhook.user_id != owner_id and webhook.graph_version == graph_version:
                self._deactivate(webhook_id, rules.GRAPH_UNAVAILABLE)

    def preset_deleted(self, user: User, preset: Preset) -> None:
        """``PresetCommands.after_delete``: the preset leaves its webhook, which ends with its last one."""
        if preset.webhook_id is None:
            return

        def decide(webhook: Webhook) -> None:
            self._append(webhook, webhook.unbind(preset.preset_id, rules.PRESET_DELETED))

        decide_and_append(lambda: self.load(preset.webhook_id or ""), decide)

    # -- ingress ------------------------------------------------------------------------------

    def ingest(self, provider: str, webhook_id: str, *, secret: str | None, idempotency_key: str | None,
               body: bytes) -> dict[str, Any]:
        """Accept one delivery (or answer a repeat as the first was answered)."""
        webhook = self.load(webhook_id)
        webhook.require_live(provider)
        if not webhook.secret_matches(secret):
            raise AuthError(f"Missing or wrong webhook secret (send it in the {rules.SECRET_HEADER} header)")
        payload = parse_payload(body)
        owner = User(id=webhook.user_id or "")
        try:  # the backstop: a graph version that no longer runs for the owner ends the webhook
            self.graphs.version_for_run(owner, webhook.graph_id, webhook.graph_version)
        except NotFoundError:
            self._deactivate(webhook_id, rules.GRAPH_UNAVAILABLE)
            raise NotFoundError(f"Webhook #{webhook_id} not found") from None
        delivery = self._record(webhook, rules.delivery_stream_id(webhook_id, idempotency_key), payload,
                                idempotency_key)
        assert delivery.received is not None
        queued = [self._run(owner, webhook, delivery.received, preset_id, run_id)
                  for preset_id, run_id in zip(delivery.received.preset_ids, delivery.run_ids(), strict=True)]
        return {"webhook_id": webhook_id, "delivery_id": str(delivery.delivery_id),
                "execution_ids": [run_id for run_id in queued if run_id is not None]}

    def _load_delivery(self, delivery_id: uuid.UUID) -> Delivery:
        events = self.store.read_stream(delivery_id)
        first = events[0].decode() if events else None
        return Delivery(delivery_id, first if isinstance(first, WebhookDeliveryReceived) else None)

    def _record(self, webhook: Webhook, delivery_id: uuid.UUID, payload: dict[str, Any],
                idempotency_key: str | None) -> Delivery:
        recorded = self._load_delivery(delivery_id)
        if recorded.recorded:
            return recorded  # a repeat: the first delivery's payload and presets, whatever this one sent
        event = Delivery.accept(webhook_id=webhook.webhook_id, payload=payload, idempotency_key=idempotency_key,
                                preset_ids=[p for p in webhook.preset_ids if self._runnable(webhook, p)])
        try:
            self.store.append([NewEvent(delivery_id, 1, event, user_id=webhook.user_id)])
        except ConcurrencyConflict:
            return self._load_delivery(delivery_id)  # the same key, recorded by a concurrent request
        except EventTooLarge as exc:
            raise PayloadTooLarge(f"Webhook payload too large: the delivery encodes to {exc.size} bytes, over "
                                  f"the limit of {exc.limit} bytes") from None
        return Delivery(delivery_id, event)

    def _runnable(self, webhook: Webhook, preset_id: str) -> bool:
        preset = self.presets.load(preset_id)
        return preset.user_id == webhook.user_id and not preset.deleted and preset.is_active

    def _run(self, owner: User, webhook: Webhook, received: WebhookDeliveryReceived, preset_id: str,
             run_id: uuid.UUID) -> str | None:
        """The preset's run for this delivery: the recorded one, else queued now (None: the preset
        was deleted before its run was ever queued, so it never runs)."""
        if self.executions.recorded(owner, run_id) is not None:
            return str(run_id)
        preset = self.presets.load(preset_id)
        if preset.deleted or preset.user_id != owner.id:
            return None
        mask = {webhook.trigger_node_id: {**preset.inputs, "payload": received.payload}}
        meta = self.executions.execute(owner, preset.graph_id, preset.graph_version, {}, preset.credentials,
                                       preset_id=preset_id, execution_id=run_id, nodes_input_masks=mask)
        return str(meta["id"])


def parse_payload(body: bytes) -> dict[str, Any]:
    """The delivery's JSON object: bounded (413) and an object (400), as the trigger block takes."""
    if len(body) > rules.MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge(f"Webhook payload exceeds the limit of {rules.MAX_PAYLOAD_BYTES} bytes")
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError:
        raise InvalidCommand("The webhook body must be a JSON object") from None
    if not isinstance(payload, dict):
        raise InvalidCommand("The webhook body must be a JSON object")
    if looks_like_reference(payload):  # the whole payload is one value position of the run's node input
        raise InvalidCommand(f"The webhook body may not hold the reserved key {BLOB_KEY!r}")
    return payload


def _trigger_config(block_id: str, trigger_config: dict[str, Any]) -> dict[str, Any]:
    """The trigger node's saved inputs: what its block takes, less the payload a delivery brings."""
    if "payload" in trigger_config:
        raise InvalidCommand("trigger_config may not hold a payload: each delivery brings its own")
    block = get_block(block_id)
    assert block is not None
    unknown = sorted(set(trigger_config) - block.input_fields())
    if unknown:
        raise InvalidCommand(f"The trigger block takes no input named {unknown[0][:100]!r}")
    try:
        block.Input.model_validate(trigger_config)
    except ValueError as exc:
        raise InvalidCommand(f"trigger_config does not fit the trigger block: {str(exc)[:300]}") from None
    return dict(trigger_config)
