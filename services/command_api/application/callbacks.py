"""Completion-webhook commands for an API key's owner: register, change, delete, read.

Every decision is made on the owner's callbacks stream at the version loaded (the cap of
``MAX_CALLBACKS_PER_USER`` included), so concurrent registrations cannot pass it. The URL must
pass the same outbound policy as the SendWebRequest block (``services.blocks.net_policy``): its
host is resolved here and every address checked, so a metadata, private or loopback destination is
refused at once with a 400. The notifier checks again on every attempt (DNS can change).

The signing secret is made here (``secrets.token_urlsafe(32)``), answered once, and recorded only
as keyring ciphertext bound to the callback and its owner.
"""

from __future__ import annotations

import logging
import secrets
import socket
import uuid
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from services.blocks.net_policy import BlockedDestinationError, choose_address, parse_ip, refused, split_url
from services.domain.callbacks import rules
from services.domain.callbacks.callbacks import UNCHANGED, Callback, UserCallbacks
from services.domain.callbacks.ids import secret_binding, user_callbacks_id
from services.domain.callbacks.shapes import webhook_view
from services.domain.errors import InvalidCommand
from services.domain.integrations.crypto import Keyring
from services.infra.appending import decide_and_append
from services.infra.auth import User
from services.infra.eventstore import EventStore
from services.infra.store_contract import NewEvent, utcnow

log = logging.getLogger(__name__)
Resolver = Callable[[str, int], list[str]]


def system_resolve(host: str, port: int) -> list[str]:
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        log.info("webhook destination refused: could not resolve %s: %s", host, exc)
        raise InvalidCommand(refused(host)) from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


def check_destination(url: str, allow_hosts: Iterable[str], resolve: Resolver = system_resolve) -> None:
    """The outbound policy at registration: InvalidCommand (400) naming only the host."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises on a port that is not a number in range
    except ValueError:
        raise InvalidCommand("url is not a valid URL") from None
    if parts.username is not None or parts.password is not None:
        raise InvalidCommand("url may not carry a user name or password")
    try:
        _scheme, host, port = split_url(url)
        addresses = [host] if parse_ip(host) is not None else resolve(host, port)
        choose_address(host, addresses, allow_hosts)
    except BlockedDestinationError as exc:
        log.info("webhook destination refused: %s", exc.detail)
        raise InvalidCommand(f"{exc} (webhooks may only call public addresses)") from None


class CallbackCommands:
    def __init__(self, store: EventStore, keyring: Keyring, *, allow_hosts: Iterable[str] = (),
                 resolve: Resolver = system_resolve) -> None:
        self.store = store
        self.keyring = keyring
        self.allow_hosts = tuple(allow_hosts)
        self.resolve = resolve

    def load(self, user_id: str) -> UserCallbacks:
        events = self.store.read_stream(user_callbacks_id(user_id))
        return UserCallbacks.from_events(user_id, [(e.decode(), e.occurred_at) for e in events])

    def _append(self, state: UserCallbacks, events: list) -> None:
        if not events:
            return
        now = utcnow()
        self.store.append([NewEvent(user_callbacks_id(state.user_id), state.stream_version + i + 1, event,
                                    user_id=state.user_id, occurred_at=now) for i, event in enumerate(events)])
        for event in events:
            state.apply(event, now)

    # -- commands -------------------------------------------------------------------------------

    def create(self, user: User, *, url: str, events: list[str], graph_id: str | None,
               description: str | None) -> dict[str, Any]:
        url = rules.check_url(url)
        rules.check_events(events)
        rules.check_description(description)
        check_destination(url, self.allow_hosts, self.resolve)
        callback_id = str(uuid.uuid4())
        secret = secrets.token_urlsafe(32)
        sealed = self.keyring.encrypt(secret, bound_to=secret_binding(callback_id, user.id))

        def record(state: UserCallbacks) -> UserCallbacks:
            self._append(state, state.register(callback_id, url=url, events=events, graph_id=graph_id,
                                               description=description, secret_ciphertext=sealed))
            return state

        state = decide_and_append(lambda: self.load(user.id), record)
        return {**webhook_view(state.get(callback_id)), "secret": secret}

    def update(self, user: User, callback_id: str, *, url=UNCHANGED, events=UNCHANGED, graph_id=UNCHANGED,
               description=UNCHANGED, enabled=UNCHANGED) -> dict[str, Any]:
        if url is not UNCHANGED:
            if url is None:
                raise InvalidCommand("url may not be null")
            url = rules.check_url(url)
            self.load(user.id).get(callback_id)  # another user's id is 404 before any DNS lookup
            check_destination(url, self.allow_hosts, self.resolve)

        def record(state: UserCallbacks) -> UserCallbacks:
            self._append(state, state.update(callback_id, url=url, events=events, graph_id=graph_id,
                                             description=description, enabled=enabled))
            return state

        return webhook_view(decide_and_append(lambda: self.load(user.id), record).get(callback_id))

    def delete(self, user: User, callback_id: str) -> None:
        def record(state: UserCallbacks) -> None:
            self._append(state, state.delete(callback_id))

        decide_and_append(lambda: self.load(user.id), record)

    # -- reads (from the stream: strongly consistent) -------------------------------------------

    def owned(self, user: User, callback_id: str) -> Callback:
        return self.load(user.id).get(callback_id)

    def view(self, user: User, callback_id: str) -> dict[str, Any]:
        return webhook_view(self.owned(user, callback_id))

    def list(self, user: User) -> list[dict[str, Any]]:
        return [webhook_view(c) for c in self.load(user.id).callbacks.values()]
