"""The notifier process (``agentloom serve notifier``): the recorder, the mailer and the completion
webhooks' deliverer side by side.

They are separate consumer groups on purpose: recording is fast and must keep up with the event
flow, while mail and webhook deliveries wait on outside servers; none may hold another up.
"""

from __future__ import annotations

import asyncio
import logging

from services.blocks.http_connections import close_this_loops_connections
from services.infra.eventstore import EventStore, make_datastore
from services.infra.ledger_service import LedgerService
from services.infra.settings import Settings
from services.notifier.callbacks import CallbackDeliverer
from services.notifier.mailer import Mailer
from services.notifier.recorder import NotificationRecorder
from services.notifier.transports import transport_for

log = logging.getLogger(__name__)
STORES = ("executions", "credits", "users", "notifications", "store", "callbacks")


class NotifierService:
    def __init__(self, settings: Settings, *, transport=None) -> None:
        self.settings = settings
        self.datastore = make_datastore(settings, pool_size=8)
        self.stores = {ctx: EventStore(self.datastore, ctx, max_event_bytes=settings.max_event_bytes)
                       for ctx in STORES}
        self.transport = transport or transport_for(settings)
        self.recorder = NotificationRecorder(settings, self.stores, LedgerService.from_settings(
            self.stores["credits"], settings))
        self.mailer = Mailer(settings, self.stores, self.transport)
        self.callbacks = CallbackDeliverer(settings, self.stores)

    @property
    def ready(self) -> bool:
        return self.recorder.stats.ready and self.mailer.stats.ready and self.callbacks.stats.ready

    def status(self) -> tuple[bool, dict]:
        r, m, c = self.recorder.stats, self.mailer.stats, self.callbacks.stats
        return self.ready, {"recorded": r.recorded, "duplicates": r.duplicates, "sent": m.sent,
                            "skipped": m.skipped, "failed_attempts": m.failed_attempts, "in_flight": m.in_flight,
                            "mail": self.transport.description, "webhooks_succeeded": c.succeeded,
                            "webhook_failed_attempts": c.failed_attempts, "webhooks_abandoned": c.abandoned}

    async def run(self, stop: asyncio.Event) -> None:
        log.info("notifier: mail goes to %s", self.transport.description)
        try:
            await asyncio.gather(self.recorder.run(stop), self.mailer.run(stop), self.callbacks.run(stop))
        finally:
            await close_this_loops_connections()  # the callbacks' kept connections
            self.datastore.close()
