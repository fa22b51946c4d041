"""Which notifications an event calls for, and what they say (pure).

The rules, each keyed by the event that triggers it so the notification is derived once:

- **AGENT_RUN**: a top-level run ended (completed, failed or terminated). Child runs of an
  AgentExecutor node are part of their parent's run and notify nothing.
- **BLOCK_EXECUTION_FAILED**: a top-level run ended with failed nodes, except when it failed for
  lack of credits (that is ZERO_BALANCE). One per run, naming the first node that failed and how
  many did, so a run with a thousand failing nodes is one notification, not a thousand.
- **LOW_BALANCE**: a spend took the balance from at or above the threshold to below it. Spends of
  one ledger are recorded one after another, each with its running balance, so exactly one spend
  crosses per fall however many run concurrently; a top-up and a new fall cross again.
- **ZERO_BALANCE**: a run failed because a node could not be paid for, or was refused up front for
  a zero balance. Keyed by the ledger's latest credit-adding entry, so it is sent once until the
  next top-up or grant, whichever process noticed it.
- **REVIEW_REQUESTED** (agentloom's): a run paused for human review; keyed by its
  ``ExecutionPausedForReview``, so each pause notifies once. It names the waiting node executions
  (at most ``MAX_OUTPUTS``) so the owner can go straight to them.
- **AGENT_APPROVED** / **AGENT_REJECTED**: an admin reviewed a listing version; the listing's
  creator hears of it. Keyed by the ``ListingVersionReviewed`` (its listing stream and version), so
  reversing a decision later notifies again, once. Built from the listing folded up to that review
  and the creator's profile as it stood then, so a replay derives the same data.

Payloads follow AutoGPT's ``*Data`` models; an output summary is bounded so a notification stays a
small event whatever the run produced.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson

from schemas.events.credits import CreditsSpent
from schemas.events.executions import ExecutionFailed
from schemas.events.notifications import NotificationType
from schemas.events.store import ListingVersionReviewed
from services.domain.executions.state import ExecutionState
from services.domain.executions.status import ExecutionStatus
from services.domain.executions.views import state_outputs
from services.domain.store.listing import Listing

MAX_OUTPUTS = 20           # outputs listed in an AGENT_RUN summary
MAX_VALUE_CHARS = 300      # characters of one output value shown
MAX_ERROR_CHARS = 500
# Ours, as AutoGPT's "AutoGPT Admin" / "admin@autogpt.co": a review whose admin has no name or email.
REVIEWER_NAME = "agentloom admin"
REVIEWER_EMAIL = "admin@agentloom.local"


@dataclass(frozen=True)
class Derived:
    """A notification to record: for whom, of which type, with what, caused by which event."""

    user_id: str
    notification_type: NotificationType
    data: dict[str, Any]
    source_context: str
    source_stream_id: str
    source_version: int


def billing_link(public_url: str) -> str:
    return f"{public_url.rstrip('/')}/profile/credits"


def low_balance(spent: CreditsSpent, *, user_id: str, ledger_stream_id: str, version: int, threshold: int,
                public_url: str) -> Derived | None:
    before = spent.running_balance - spent.amount  # amount is negative
    if not before >= threshold > spent.running_balance:
        return None
    data = {"current_balance": spent.running_balance, "billing_page_link": billing_link(public_url),
            "threshold": threshold}
    return Derived(user_id, NotificationType.LOW_BALANCE, data, "credits", ledger_stream_id, version)


def zero_balance(*, user_id: str, ledger_stream_id: str, last_credit_version: int, balance: int,
                 agent_name: str, shortfall: int, public_url: str) -> Derived:
    """Sourced from the ledger's latest credit-adding entry: one per top-up period."""
    data = {"agent_name": agent_name, "current_balance": balance, "shortfall": shortfall,
            "billing_page_link": billing_link(public_url)}
    return Derived(user_id, NotificationType.ZERO_BALANCE, data, "credits", ledger_stream_id, last_credit_version)


def agent_name(state: ExecutionState) -> str:
    return (state.graph.name if state.graph is not None else "") or "Untitled agent"


def run_ended(state: ExecutionState, *, out_of_credits: bool, block_names: Callable[[str], str],
              describe_value: Callable[[Any], Any] = lambda value: value) -> list[Derived]:
    """AGENT_RUN and, for failed nodes, BLOCK_EXECUTION_FAILED, for a folded run that just ended
    (``out_of_credits``: its ``ExecutionFailed`` said so). ``describe_value`` turns a stored value
    (e.g. a blob reference) into what a summary shows."""
    if not state.is_terminal or state.parent_execution_id is not None:
        return []
    stats = state.stats
    out = [Derived(state.user_id, NotificationType.AGENT_RUN, {
        "agent_name": agent_name(state), "graph_id": state.graph_id, "graph_version": state.graph_version,
        "execution_id": state.id, "status": str(state.status),
        "credits_used": stats.cost if stats else 0,
        "execution_time": round(stats.duration, 3) if stats else 0.0,
        "node_count": stats.node_exec_count if stats else 0,
        "outputs": _outputs_summary(state, describe_value),
    }, "executions", state.id, state.version)]
    failed = sorted((ne for ne in state.node_execs.values() if ne.status == ExecutionStatus.FAILED),
                    key=lambda ne: ne.added_seq)
    if failed and not out_of_credits:
        first = failed[0]
        out.append(Derived(state.user_id, NotificationType.BLOCK_EXECUTION_FAILED, {
            "agent_name": agent_name(state), "block_name": block_names(first.block_id), "block_id": first.block_id,
            "error_message": (first.error or "")[:MAX_ERROR_CHARS], "graph_id": state.graph_id,
            "node_id": first.node_id, "execution_id": state.id, "failed_node_count": len(failed),
        }, "executions", state.id, state.version))
    return out


def review_requested(state: ExecutionState) -> Derived | None:
    """REVIEW_REQUESTED for a folded run that just paused for review."""
    waiting = state.awaiting_review()
    if state.status != ExecutionStatus.REVIEW or not waiting:
        return None
    return Derived(state.user_id, NotificationType.REVIEW_REQUESTED, {
        "agent_name": agent_name(state), "graph_id": state.graph_id, "graph_version": state.graph_version,
        "execution_id": state.id, "pending_count": len(waiting),
        "reviews": [{"node_exec_id": ne.id, "node_id": ne.node_id,
                     "kind": ne.review_request.kind if ne.review_request else "review"}
                    for ne in waiting[:MAX_OUTPUTS]],
    }, "executions", state.id, state.version)


def listing_reviewed(listing: Listing, review: ListingVersionReviewed, *, version: int, reviewed_at: datetime,
                     creator_username: str | None, reviewer_name: str | None, reviewer_email: str | None,
                     public_url: str) -> Derived | None:
    """AGENT_APPROVED or AGENT_REJECTED for ``listing``'s creator; ``listing`` is folded up to and
    including ``review`` (stream ``version``). Only the external comments are shown: the internal
    ones are for admins. Usernames and slugs are URL-safe by their formats (``store.rules``) and a
    graph id is a UUID, so the links take them as they are. Without a username (never expected: a
    submission needs a profile) the approval links the marketplace itself."""
    listed = listing.versions.get(review.listing_version_id)
    if listing.user_id is None or listed is None:
        return None
    base = public_url.rstrip("/")
    data: dict[str, Any] = {
        "agent_name": listed.fields.get("name") or "Untitled agent", "graph_id": listed.graph_id,
        "graph_version": listed.graph_version, "reviewer_name": reviewer_name or REVIEWER_NAME,
        "reviewer_email": reviewer_email or REVIEWER_EMAIL, "comments": review.comments,
        "reviewed_at": reviewed_at.isoformat(),
    }
    if review.approved:
        data["store_url"] = (f"{base}/marketplace/agent/{creator_username}/{listing.slug}" if creator_username
                             else f"{base}/marketplace")
        kind = NotificationType.AGENT_APPROVED
    else:
        data["resubmit_url"] = f"{base}/build?flowID={listed.graph_id}"
        kind = NotificationType.AGENT_REJECTED
    return Derived(listing.user_id, kind, data, "store", listing.listing_id, version)


def failed_for_credits(event: object) -> bool:
    return isinstance(event, ExecutionFailed) and event.out_of_credits


def _outputs_summary(state: ExecutionState, describe_value: Callable[[Any], Any]) -> list[dict[str, Any]]:
    summary: list[dict[str, Any]] = []
    for name, values in state_outputs(state).items():
        for value in values:
            if len(summary) >= MAX_OUTPUTS:
                return summary
            summary.append({"name": name, "value": _bounded(describe_value(value))})
    return summary


def _bounded(value: Any) -> Any:
    """The value itself when small, else its JSON text cut to ``MAX_VALUE_CHARS``."""
    if isinstance(value, (int, float, bool)) or value is None:
        return value
    if isinstance(value, str):
        return value if len(value) <= MAX_VALUE_CHARS else value[:MAX_VALUE_CHARS] + "…"
    text = orjson.dumps(value, default=str).decode()
    return value if len(text) <= MAX_VALUE_CHARS else text[:MAX_VALUE_CHARS] + "…"

