"""Generates ``docs/events.md``, the public contract of agentloom's Kafka topics.

Why generated: the field tables come straight from the pydantic models in ``schemas/``, so the
document cannot drift from what the relay actually publishes (a unit test compares the committed
file with this output). The models carry no descriptions, so the meaning of each field, which
service records each event and when, and the delivery guarantees are written here, next to the
generator; a field with ``Field(description=...)`` in its model uses that text instead. A unit test
also fails when an event type or field has no note here, so a new event cannot ship undocumented.

Regenerate: ``.venv/bin/python -m services.docsgen.event_docs``.
"""

from __future__ import annotations

import enum
import importlib
import json
import pkgutil
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

import schemas.events
from schemas.envelope import EVENT_ID_NAMESPACE, Envelope, event_id_for
from schemas.events import Event, registered_types
from schemas.topics import CONTEXTS, topic_name

DOCS_PATH = Path(__file__).resolve().parents[2] / "docs" / "events.md"

CONTEXT_NOTES = {
    "apikeys": ("Stream = one API key, id `uuid5(namespace, lookup_id)` (also the key's public id). Recorded "
                "by the command API only: `ApiKeyCreated` first, then any of `ApiKeyPermissionsChanged` / "
                "`ApiKeySuspended`, and `ApiKeyRevoked`, which is always last. The plain key is never recorded, "
                "only its display head/tail, its lookup id and an HMAC-SHA256 of it with a server secret."),
    "graphs": "Stream = one graph id (all its versions). Recorded by the command API only.",
    "executions": ("Stream = one graph execution id. The command API records `ExecutionQueued` and "
                   "`ExecutionStopRequested`; the executor owning the execution records everything else "
                   "while it drives the run. A stream reads: `ExecutionQueued`, `ExecutionStarted`, then "
                   "node events (`NodeInputAdded` / `NodeQueued` → `NodeStarted` → `NodeOutput`* → "
                   "`NodeCompleted` / `NodeFailed` / `NodeTerminated`), then exactly one of "
                   "`ExecutionCompleted` / `ExecutionFailed` / `ExecutionTerminated`, which is always last. "
                   "`ExecutionStopRequested` may come at any point before the end; a run stopped before it "
                   "started has no `ExecutionStarted`."),
    "credits": ("Stream = one user's ledger (uuid5 of the user id). Every balance change is one entry event "
                "carrying its idempotency key, signed amount and the running balance after it; the balance "
                "never goes below zero. The command API records grants (admin, sign-up, monthly refill); "
                "the executor records usage before a priced node runs, keyed `USAGE-{node_exec_id}`. "
                "`LedgerSnapshotTaken` changes nothing: it lets the ledger load from it."),
    "integrations": ("Stream = one user credential (its UUID). Recorded by the command API only: "
                     "`CredentialsCreated` first, then any `CredentialsSecretReencrypted`, and "
                     "`CredentialsDeleted`, which is always last. The API key is never recorded in clear: "
                     "`encrypted_secret` is AES-256-GCM ciphertext naming the keyring key that sealed it, "
                     "bound to the credential id and owner. Trigger webhooks add three more kinds of stream: a "
                     "webhook (a random UUID: `WebhookRegistered`, bound and unbound presets, `WebhookDeactivated` "
                     "last), a delivery (uuid5 of the webhook and the sender's key: `WebhookDeliveryReceived` at "
                     "version 1, so a repeated delivery records nothing) and a graph's webhook index (uuid5 of the "
                     "graph id: `GraphWebhookAdded`)."),
    "users": ("Two streams per user, both uuid5 of the user id: the user (`UserCreated` first, from the "
              "sign-in token on the first `POST /api/auth/user`, then email, name, time zone and notification "
              "preference changes, each carrying the new value) and the user's onboarding (steps completed, "
              "rewards granted, the web app's answers, resets). Recorded by the command API only."),
    "notifications": ("Stream = one notification, id uuid5 of its type and the event that caused it, so it is "
                      "recorded exactly once: `NotificationRecorded` (version 1), then `NotificationRead` and "
                      "what became of its email (`EmailSent`, `EmailDeliveryFailed`*, `EmailSkipped`). A second "
                      "kind of stream, uuid5 of a user and a UTC day, holds one `EmailQuotaUsed` per email "
                      "sent under the user's daily cap. Recorded by the notifier, except `NotificationRead` "
                      "(command API) and ZERO_BALANCE notifications for runs refused up front (command API). "
                      "From the store topic, each `ListingVersionReviewed` records AGENT_APPROVED or "
                      "AGENT_REJECTED for the listing's creator (a reversed decision notifies again, once)."),
    "library": ("Three kinds of stream. A library agent (its id is the graph id masked with a key derived from "
                "the user, so it names the graph for its owner): an entry for the user's own graph exists from "
                "the graph's `GraphCreated` and deleting the graph archives it, so its stream holds only the "
                "user's changes. A user's folder tree (uuid5 of the user id): every folder in one stream. A "
                "preset (a random UUID). All recorded by the command API."),
    "store": ("Streams named after what makes each thing unique, so uniqueness is a stream's optimistic "
              "concurrency: a creator profile (uuid5 of the user id), a username (uuid5 of it, lower case: who "
              "holds it), a listing (uuid5 of its graph id: one listing per graph, with every submitted version, "
              "its reviews, withdrawals and featured flag), a creator's slug (uuid5 of user and slug: the listing "
              "holding it), a listing version's index entry (the version id: its listing), a graph version's "
              "publication (uuid5 of graph id and version: the approved listing versions publishing it, which "
              "is what lets other users read and run exactly that version) and a user's review of a listing "
              "version. All recorded by the command API."),
    "schedules": ("One stream per schedule (a random UUID), the schedule's whole truth: the schedulers keep no job "
                  "store beside it. Each tick is one append at the stream's expected version (`ScheduleFired` or "
                  "`ScheduleTicksSkipped`), so of any number of schedulers exactly one records it; the run a fire "
                  "starts has an id derived from (schedule, tick) (`services/domain/schedules/ids.py`), so queueing "
                  "it again after a crash queues nothing new. Recorded by the command API (users' changes) and the "
                  "scheduler (ticks)."),
    "callbacks": ("Completion webhooks (outbound; not the integrations context's trigger webhooks). Two kinds of "
                  "stream: one user's callbacks (uuid5 of the user id: every registration, change and deletion, so "
                  "the cap of 20 is decided at one version), recorded by the command API; and one delivery (uuid5 "
                  "of the callback and the terminal execution event it reports, so it is scheduled once however "
                  "often that event is consumed), recorded by the notifier: scheduled, then per attempt a claim "
                  "with a lease and its outcome, until it succeeds or is abandoned (docs/callbacks.md)."),
}

# type -> (recorded by, when)
RECORDED: dict[str, tuple[str, str]] = {
    "ApiKeyCreated": ("command API", "`POST /api/api-keys` creates a key (stream version 1)."),
    "ApiKeyRevoked": ("command API", "`DELETE /api/api-keys/{id}`; always the last event of its stream."),
    "ApiKeySuspended": ("command API", "`POST /api/api-keys/{id}/suspend` on an active key."),
    "ApiKeyPermissionsChanged": ("command API", "`PUT /api/api-keys/{id}/permissions` with a different set."),
    "CredentialsCreated": ("command API", "`POST /api/integrations/{provider}/credentials` stores an API key "
                                          "(stream version 1)."),
    "CredentialsSecretReencrypted": ("command API", "`agentloom credentials reencrypt` after a key rotation: "
                                                    "the same secret sealed under the active key."),
    "CredentialsDeleted": ("command API", "`DELETE /api/integrations/{provider}/credentials/{id}`; always the "
                                          "last event of its stream."),
    "CreditsGranted": ("command API", "An admin grant, the sign-up grant or the monthly refill (GRANT)."),
    "CreditsToppedUp": ("command API", "Paid credits, once the payment is settled (TOP_UP)."),
    "CreditsSpent": ("executor", "Before a priced node runs (USAGE); refused, not recorded, when the balance "
                                 "cannot cover it."),
    "CreditsRefunded": ("command API", "Credits of a refunded top-up taken back (REFUND)."),
    "LedgerSnapshotTaken": ("command API; executor", "Every few hundred entries, right after an entry."),
    "GraphCreated": ("command API", "`POST /api/graphs` creates a graph; it is stream version 1."),
    "GraphVersionCreated": ("command API", "`PUT /api/graphs/{id}` records a further full version."),
    "ActiveVersionSet": ("command API", "`PUT /api/graphs/{id}/versions/active` picks the active version."),
    "GraphDeleted": ("command API", "`DELETE /api/graphs/{id}`; always the last event of its stream."),
    "ExecutionQueued": ("command API; executor for sub-graph runs",
                        "`POST /api/graphs/{id}/execute/{version}` queues a run (stream version 1), or an "
                        "AgentExecutor node starts a child run."),
    "ExecutionStarted": ("executor", "The owning executor takes the run up; at most once per execution."),
    "ExecutionStopRequested": ("command API; executor for child runs",
                               "`POST /api/graphs/{id}/executions/{exec_id}/stop`, or a parent run stopping "
                               "its children. Not recorded once the execution has ended."),
    "ExecutionStuckDetected": ("watchdog (scheduler process)", "The run was QUEUED longer than "
                                                               "`stuck_queued_s`, or RUNNING with no event for "
                                                               "`stuck_running_s`; once per status. With "
                                                               "`stuck_fail_runs` its `NodeTerminated` and "
                                                               "`ExecutionFailed` follow in the same append."),
    "ExecutionDeleted": ("command API", "`DELETE /api/executions/{exec_id}`: the owner hides the run from "
                                        "lists and reads (soft delete; the history stays)."),
    "ExecutionBranched": ("command API", "`POST /api/executions/{exec_id}/retry` or `/fork` queued a new run "
                                         "branching off this one; same commit as that run's `ExecutionQueued`."),
    "ExecutionShared": ("command API", "`POST /api/graphs/{id}/executions/{exec_id}/share` on an ended run not "
                                       "shared yet."),
    "ExecutionUnshared": ("command API", "`DELETE /api/graphs/{id}/executions/{exec_id}/share` on a shared run."),
    "NodeInputAdded": ("executor", "A node output was routed over a link to an input pin."),
    "NodeQueued": ("executor", "A node execution has all its inputs (starting nodes: right after "
                               "`ExecutionStarted`)."),
    "NodeStarted": ("executor", "Durably before the block runs; again (attempt + 1) when a new owner resumes "
                                "an interrupted node."),
    "NodeOutput": ("executor", "The block yielded a value; recorded together with the routing it caused."),
    "NodeCompleted": ("executor", "The block finished without error."),
    "NodeFailed": ("executor", "The block raised, yielded `error`, timed out or no longer exists (an "
                               "`error` `NodeOutput` precedes it)."),
    "NodeTerminated": ("executor", "The run stopped or failed while the node execution was queued or running."),
    "NodeEffectBegun": ("executor", "Durably before a block whose effect must not happen twice (an HTTP POST or "
                                    "PATCH) starts; a resumed run that finds it without the node's end asks "
                                    "for review (`outcome_unknown`) instead of running the node again."),
    "NodeReviewRequested": ("executor", "The node waits for its owner's decision (node status REVIEW): a "
                                        "HumanInTheLoop block or a node marked `requires_human_review` while the "
                                        "graph's `human_in_the_loop_safe_mode` is on, or an interrupted node "
                                        "whose effect may have happened (`outcome_unknown`)."),
    "ExecutionPausedForReview": ("executor", "Only nodes waiting for review are left: the run is REVIEW and its "
                                             "executor lets go of it (no slot, no offset) until decisions arrive."),
    "NodeReviewed": ("command API", "`POST /api/review/action` decided the node; it is QUEUED again and runs (or "
                                    "fails, or is marked done) when the run resumes."),
    "ExecutionResumed": ("command API", "Recorded with the decision on the run's last waiting node: the run is "
                                        "RUNNING again and its executor drives it on."),
    "ExecutionCompleted": ("executor", "Every node execution that could run has finished (failed nodes "
                                       "included; see `node_error_count`)."),
    "ExecutionFailed": ("executor", "The run was cut short, e.g. it hit `AGENTLOOM_MAX_NODE_EXECUTIONS`."),
    "ExecutionTerminated": ("executor", "A stop request was honoured; open node executions were terminated first."),
    "UserCreated": ("command API", "The first `POST /api/auth/user` (or any user command) of a new user; "
                                   "stream version 1."),
    "UserEmailChanged": ("command API", "`POST /api/auth/user/email` or `PUT /api/user` with a new address."),
    "UserNameChanged": ("command API", "`PUT /api/user` with a new name."),
    "UserTimezoneSet": ("command API", "`POST /api/auth/user/timezone` or `PUT /api/user` with a new time zone."),
    "NotificationPreferencesSet": ("command API", "`POST /api/auth/user/preferences`, or the unsubscribe link "
                                                  "(`POST /api/email/unsubscribe`), which turns every email off."),
    "OnboardingStepCompleted": ("command API", "`POST /api/onboarding/step?step=` for a step not yet completed."),
    "OnboardingRewarded": ("command API", "Right after the ledger granted a step's reward (configured amounts)."),
    "OnboardingUpdated": ("command API", "`PATCH /api/onboarding` with fields that change."),
    "OnboardingReset": ("command API", "`POST /api/onboarding/reset`."),
    "NotificationRecorded": ("notifier; command API for a run refused for lack of credits",
                             "A run ended, a block failed, the balance crossed the low-balance threshold or "
                             "ran out; stream version 1."),
    "NotificationRead": ("command API", "`POST /api/notifications/{id}/read`, once."),
    "EmailSent": ("notifier", "The SMTP server (or the local mailbox) accepted the email."),
    "EmailSkipped": ("notifier", "No email for this notification: preferences, the daily cap, no address, or "
                                 "every attempt failed."),
    "EmailDeliveryFailed": ("notifier", "One delivery attempt failed; the next follows after a backoff."),
    "EmailQuotaUsed": ("notifier", "One email of a user's daily cap is taken, before it is sent."),
    "LibraryAgentUpdated": ("command API", "`PATCH /api/library/agents/{id}` changes the favourite, archived, "
                                           "version-following or pinned-version fields."),
    "LibraryAgentMoved": ("command API", "`PATCH /api/library/agents/{id}` with `folder_id`, or "
                                         "`POST /api/library/agents/bulk-move`."),
    "LibraryAgentSettingsSet": ("command API", "`PATCH /api/graphs/{id}/settings`, `PATCH` of the entry with "
                                               "`settings`, or a fork keeping its source's settings."),
    "LibraryAgentDeleted": ("command API", "`DELETE /api/library/agents/{id}` (soft)."),
    "FolderCreated": ("command API", "`POST /api/library/folders`."),
    "FolderUpdated": ("command API", "`PATCH /api/library/folders/{id}` with a new name, icon or colour."),
    "FolderMoved": ("command API", "`POST /api/library/folders/{id}/move` under another parent."),
    "FolderDeleted": ("command API", "`DELETE /api/library/folders/{id}`: the folder, its subtree and the agents "
                                     "in them."),
    "PresetCreated": ("command API", "`POST /api/library/presets` (stream version 1)."),
    "PresetUpdated": ("command API", "`PATCH /api/library/presets/{id}` with fields that change."),
    "PresetDeleted": ("command API", "`DELETE /api/library/presets/{id}`; always the last event of its stream."),
    "LibraryAgentAdded": ("command API", "`POST /api/library/agents` with an approved `store_listing_version_id`."),
    "ProfileSaved": ("command API", "`POST /api/store/profile` creates or changes the caller's profile."),
    "UsernameClaimed": ("command API", "A profile takes a username nobody holds (same append as `ProfileSaved`)."),
    "UsernameReleased": ("command API", "The profile took another username (same append as the new claim)."),
    "ListingVersionSubmitted": ("command API", "`POST /api/store/submissions` for a graph version the caller owns."),
    "ListingVersionEdited": ("command API", "`PUT /api/store/submissions/{id}` on a pending version."),
    "ListingVersionReviewed": ("command API", "`POST /api/store/admin/submissions/{id}/review` (admins)."),
    "ListingVersionWithdrawn": ("command API", "`DELETE /api/store/submissions/{id}` (not an approved version), or "
                                               "a newer submission superseding a pending one."),
    "ListingFeaturedSet": ("command API", "`PUT /api/store/admin/listings/{id}/featured` (admins)."),
    "ListingSlugClaimed": ("command API", "A listing's first submission (same append)."),
    "ListingVersionIndexed": ("command API", "Every submission (same append); version 1 of the version's stream."),
    "GraphVersionPublished": ("command API", "An approval (same append as the review)."),
    "GraphVersionUnpublished": ("command API", "Rejecting an approved version (same append as the review)."),
    "StoreReviewSubmitted": ("command API", "`POST /api/store/agents/{username}/{agent_name}/review`."),
    "ScheduleCreated": ("command API", "`POST /api/graphs/{graph_id}/schedules`."),
    "WebhookRegistered": ("command API", "`POST /api/library/presets/setup-trigger`; always version 1 of the "
                                         "webhook's stream."),
    "WebhookPresetBound": ("command API", "The setup's preset is bound (same append as `WebhookRegistered`)."),
    "WebhookPresetUnbound": ("command API", "`DELETE /api/library/presets/{id}` of a bound preset."),
    "WebhookDeactivated": ("command API", "Its last preset or its graph was deleted, an admin rejected the "
                                          "approved store version another user's webhook runs, or a delivery "
                                          "found the graph version no longer runnable; ingress then answers 404."),
    "WebhookDeliveryReceived": ("command API", "An accepted `POST /api/integrations/generic_webhook/webhooks/{id}/"
                                               "ingress`; version 1 of a stream named after the webhook and the "
                                               "delivery's key, so a repeat records nothing."),
    "GraphWebhookAdded": ("command API", "The setup, in the graph's webhook index (uuid5 of the graph id)."),
    "SchedulePaused": ("command API", "`POST /api/schedules/{id}/pause`."),
    "ScheduleResumed": ("command API", "`POST /api/schedules/{id}/resume`."),
    "ScheduleDeleted": ("command API or scheduler", "`DELETE /api/schedules/{id}`; the graph's delete, or an "
                                                    "admin rejecting the approved store version another user's "
                                                    "schedule runs (same command); or a tick finding the graph "
                                                    "version no longer runnable by the user."),
    "ScheduleFired": ("scheduler or command API", "A due tick within the grace period (the scheduler), or "
                                                  "`POST /api/schedules/{id}/run` (manual)."),
    "ScheduleTicksSkipped": ("scheduler", "Due ticks older than the grace period, or older than the latest due "
                                          "tick (same append as its `ScheduleFired`)."),
    "ScheduleRunRefused": ("scheduler or command API", "The platform refused a fired tick's run (zero balance, "
                                                       "invalid inputs or credentials, graph unavailable)."),
    "CallbackRegistered": ("command API", "`POST /external-api/v1/webhooks` (the URL past the outbound policy)."),
    "CallbackUpdated": ("command API", "`PATCH /external-api/v1/webhooks/{id}` with a change."),
    "CallbackDeleted": ("command API", "`DELETE /external-api/v1/webhooks/{id}`."),
    "CallbackDeliveryScheduled": ("notifier", "A run's end (`ExecutionCompleted`/`Failed`/`Terminated`) that one "
                                              "of its owner's callbacks wants (stream version 1)."),
    "CallbackDeliveryAttemptStarted": ("notifier", "Just before an attempt's request: the claim, at the stream's "
                                                   "expected version."),
    "CallbackDeliveryAttempted": ("notifier", "An attempt that got no 2xx (a status, a refused destination, a "
                                              "timeout or connection error)."),
    "CallbackDeliverySucceeded": ("notifier", "The receiver answered 2xx (last event of its stream)."),
    "CallbackDeliveryAbandoned": ("notifier", "Past the retry window, or the callback was deleted or disabled "
                                              "(last event of its stream)."),
}

# Meaning of a field by name; "Type.field" overrides for one type or shared model.
FIELD_NOTES: dict[str, str] = {
    "ExecutionQueued.branched_from": ("the run a retry or fork branches off and where (`at_seq`): nodes it had "
                                      "completed by then with the same block and inputs are taken over, not run "
                                      "(their `NodeCompleted` stats say `reused_from`)"),
    "Branch.execution_id": "the run branched off", "Branch.kind": "`retry` (from its end) or `fork`",
    "Branch.at_seq": "the event of that run the branch starts after",
    "ExecutionBranched.execution_id": "the new run", "ExecutionBranched.kind": "`retry` or `fork`",
    "ExecutionBranched.at_seq": "the event of this run the new one branches off after",
    "ExecutionQueued.source": ("what the caller said started the run (AutoGPT's execute `source`, e.g. "
                               "`library` or `builder`; at most 64 of `A-Za-z0-9_.:-`); none for runs started "
                               "by a schedule, a trigger, a retry or fork, or a parent run"),
    "ExecutionQueued.is_dry_run": ("a dry run: blocks with external effects yield their declared dry-run output "
                                   "instead of running (their node stats say `dry_run: true`), nothing is "
                                   "charged; a sub-graph run of a dry run is one too"),
    "LibraryAgentUpdated.graph_id": "the entry's graph", "LibraryAgentMoved.graph_id": "the entry's graph",
    "LibraryAgentSettingsSet.graph_id": "the entry's graph", "LibraryAgentDeleted.graph_id": "the entry's graph",
    "is_favorite": "shown among the favourites", "is_archived": "hidden from the library's lists",
    "auto_update_version": "the entry follows its graph's active version",
    "LibraryAgentUpdated.graph_version": "pinned version (turns following off)",
    "LibraryAgentMoved.folder_id": "the folder (null: the library's root)",
    "LibraryAgentSettingsSet.settings": "the graph settings after the change "
                                        "(`human_in_the_loop_safe_mode`, `sensitive_action_safe_mode`)",
    "folder_id": "the folder", "FolderDeleted.folder_ids": "the folder and every folder under it, parents first",
    "FolderCreated.name": "folder name (unique among its siblings)", "FolderUpdated.name": "new folder name",
    "parent_id": "parent folder (null: the root)", "icon": "icon name", "color": "colour (`#RRGGBB`)",
    "PresetCreated.graph_id": "graph the preset runs", "PresetCreated.graph_version": "graph version it runs",
    "PresetCreated.name": "preset name", "PresetUpdated.name": "new name",
    "PresetCreated.description": "preset description", "PresetUpdated.description": "new description",
    "PresetCreated.inputs": "saved inputs by input-block name", "PresetUpdated.inputs": "the new inputs (whole map)",
    "PresetCreated.credentials": "saved credential references by input name (`{id, provider, type, title}`)",
    "PresetUpdated.credentials": "the new credential references (whole map)",
    "PresetCreated.is_active": "the preset is active", "PresetUpdated.is_active": "active or not",
    "from_execution_id": "the run whose inputs and credentials were copied, if any",
    "store_listing_version_id": "the approved listing version it was added from",
    "LibraryAgentAdded.graph_id": "the store agent's graph (another user's)",
    "LibraryAgentAdded.graph_version": "the graph version that listing version publishes",
    "ProfileSaved.user_id": "the creator", "ProfileSaved.username": "the username the profile holds",
    "ProfileSaved.name": "display name", "ProfileSaved.description": "about the creator",
    "ProfileSaved.links": "links the creator shows", "avatar_url": "avatar image URL",
    "UsernameClaimed.username": "the username as the creator wrote it", "slug": "the listing's slug (URL name)",
    "listing_version_id": "the listing version (its own UUID)",
    "ListingVersionSubmitted.version": "the listing's version number (from 1)",
    "ListingVersionSubmitted.graph_id": "the creator's graph",
    "ListingVersionSubmitted.graph_version": "the graph version submitted",
    "ListingVersionSubmitted.name": "agent name in the store", "ListingVersionEdited.name": "agent name in the store",
    "ListingVersionSubmitted.description": "agent description", "ListingVersionEdited.description": "agent description",
    "sub_heading": "one-line summary", "categories": "store categories", "image_urls": "image URLs",
    "video_url": "video URL", "agent_output_demo_url": "URL of a demo of the agent's output",
    "changes_summary": "what changed in this version",
    "approved": "approved (else rejected)", "reviewer_id": "the admin who reviewed",
    "ListingVersionReviewed.comments": "comments shown to the creator",
    "internal_comments": "comments for admins only (never shown to the creator)",
    "featured": "shown among featured agents", "set_by": "the admin who set it",
    "ListingSlugClaimed.listing_id": "the listing holding the slug", "ListingVersionIndexed.listing_id": "its listing",
    "StoreReviewSubmitted.listing_id": "the listing reviewed",
    "GraphVersionPublished.graph_id": "the published graph",
    "GraphVersionPublished.graph_version": "the published version",
    "GraphVersionUnpublished.graph_id": "the graph no longer published by that listing version",
    "GraphVersionUnpublished.graph_version": "its version",
    "score": "1 to 5", "StoreReviewSubmitted.comments": "the reviewer's comments",
    "StoreReviewSubmitted.user_id": "the reviewer",
    "UserCreated.user_id": "the user's id (the sign-in token's `sub`)",
    "email": "email address",
    "UserCreated.name": "display name, if any",
    "UserNameChanged.name": "the new display name (null clears it)",
    "timezone": "IANA time zone name, e.g. `Europe/Paris`",
    "preferences": "email on or off per notification type (a type missing from the map is on)",
    "daily_limit": "at most this many notification emails per UTC day",
    "via": "`preferences` (the REST route) or `unsubscribe_link` (the signed link in an email)",
    "step": "AutoGPT's `OnboardingStep` name",
    "changes": "the onboarding fields that changed, by their camelCase names",
    "notification_type": "AutoGPT's `NotificationType` name (AGENT_RUN, LOW_BALANCE, …)",
    "NotificationRecorded.user_id": "whom the notification is for",
    "NotificationRecorded.data": ("the type's payload (AutoGPT's `AgentRunData`, `LowBalanceData`, …; AGENT_APPROVED "
                                  "and AGENT_REJECTED: agent_name, graph_id, graph_version, reviewer_name, "
                                  "reviewer_email, comments (external only), reviewed_at, and store_url or "
                                  "resubmit_url)"),
    "source_context": "context of the event the notification was derived from",
    "source_stream_id": "stream of the event the notification was derived from",
    "source_version": "stream version of the event the notification was derived from",
    "message_id": "the email's `Message-ID` (derived from the notification id: the same on a re-send)",
    "EmailSent.attempt": "the delivery attempt that succeeded, from 1",
    "EmailDeliveryFailed.attempt": "the failed attempt's number, from 1",
    "EmailDeliveryFailed.error": "why the attempt failed",
    "EmailSkipped.reason": "`disabled`, `daily_limit`, `no_address` or `gave_up`",
    "out_of_credits": "the run failed because a node could not be paid for (the balance ran out)",
    "EmailQuotaUsed.user_id": "whose daily cap it counts against",
    "day": "YYYY-MM-DD (UTC) the email counts against",
    "notification_id": "the notification the email is for",
    "CredentialsCreated.user_id": "owner of the credential",
    "CredentialsCreated.provider": "the provider the key is for (AutoGPT's `ProviderName`, e.g. `openai`)",
    "CredentialsCreated.type": "credential type; only `api_key` is stored this way",
    "CredentialsCreated.title": "the owner's name for it",
    "CredentialsCreated.expires_at": "Unix time after which it no longer resolves, if set",
    "encrypted_secret": "`v1:<key id>:<base64url(nonce + AES-256-GCM ciphertext)>` of the API key",
    "ApiKeyCreated.user_id": "owner of the key",
    "ApiKeyCreated.user_email": "the owner's email when the key was created (from the token), if known",
    "ApiKeyCreated.name": "the key's name",
    "ApiKeyCreated.description": "the key's description",
    "ApiKeyCreated.permissions": "what the key may do (AutoGPT's `APIKeyPermission` names)",
    "ApiKeyPermissionsChanged.permissions": "the key's whole new permission set",
    "ApiKeyCreated.head": "first 8 characters of the key (`agpt_…`), for display",
    "ApiKeyCreated.tail": "last 8 characters of the key, for display",
    "ApiKeyCreated.lookup_id": "16 characters of the key's SHA-256: locates its stream when the key is presented",
    "ApiKeyCreated.key_hash": "HMAC-SHA256 (hex) of the whole key with the server's `AGENTLOOM_API_KEY_SECRET`",
    "transaction_key": "idempotency key: the same key twice changes the balance once",
    "amount": "signed credits (1 credit = 1 cent): positive adds, negative removes",
    "running_balance": "the balance right after this entry",
    "reason": "human-readable reason",
    "admin_id": "admin who granted, if any",
    "refill_month": "YYYY-MM of a monthly refill, else null",
    "metadata": "free-form details",
    "top_up_type": "AUTO, MANUAL or UNCATEGORIZED",
    "usage": "what the credits paid for (graph, execution, node, block)",
    "top_up_key": "the top-up this refund takes back from",
    "requested_amount": "credits asked to refund (the deduction may be smaller: balance never < 0)",
    "LedgerSnapshotTaken.user_id": "owner of the ledger",
    "balance": "balance at the snapshot",
    "entry_count": "entries folded into the snapshot",
    "LedgerSnapshotTaken.stream_version": "the snapshot's own stream version",
    "last_refill_month": "YYYY-MM of the latest monthly refill",
    "usage_key_window": "how many recent USAGE keys are remembered for idempotency",
    "entries": "entries whose keys must stay remembered",
    "transaction_type": "GRANT, TOP_UP, USAGE, REFUND or CARD_CHECK",
    "graph_exec_id": "graph execution that used the credits",
    "block": "block name",
    "input": "the price filter that matched the node's input",
    "event_id": "uuid5 of `stream_id:stream_version`: the same for every re-delivery",
    "type": "permanent event type name (same as the `type` header)",
    "class_version": "payload schema version it was recorded with; upcast if below the current one",
    "stream_id": "aggregate id: graph, graph execution, ledger or API key id (also the Kafka key)",
    "stream_version": "1, 2, 3 … within the stream, no gaps: the order and dedup key",
    "position": "position in the context's log (commit order across all its streams; also the `position` header)",
    "occurred_at": "when it was recorded (ISO 8601, UTC)",
    "user_id": "user the event was recorded for (owner / acting user)",
    "GraphCreated.user_id": "owner of the graph",
    "ExecutionQueued.user_id": "user the run belongs to",
    "payload": "the event's fields, tabled below per type",
    "graph": "the full graph version (nodes and links)",
    "is_active": "whether this version became the active one",
    "version": "graph version number",
    "ActiveVersionSet.version": "the newly active version",
    "previous_version": "the version that was active before, if any",
    "version_count": "how many versions the graph had",
    "graph_id": "graph that runs",
    "graph_version": "graph version that runs (its body is in `graph`)",
    "ExecutionQueued.graph": "the exact graph version to run, so the execution is self-contained",
    "inputs": "graph inputs by input-block name",
    "credentials_inputs": "credential references by input name",
    "nodes_input_masks": "per node id, input values that override its defaults and links",
    "preset_id": "preset the run was started from",
    "parent_execution_id": "for a sub-graph run: the parent graph execution",
    "parent_node_exec_id": "for a sub-graph run: the AgentExecutor node execution that started it",
    "resumed": "reserved: true if recorded by a resuming owner (recorded false today)",
    "requested_by": "user who asked for the stop",
    "deleted_by": "user who deleted the execution",
    "node_exec_id": "node execution id (several per node when values arrive repeatedly)",
    "node_id": "node of the graph version",
    "block_id": "block the node runs",
    "pin": "input pin name (`NodeInputAdded`) / output pin name (`NodeOutput`)",
    "value": "the value (any JSON)",
    "created": "this value opened a new (INCOMPLETE) node execution",
    "input_data": "resolved input the block runs with",
    "attempt": "1 on first run; higher when an interrupted node is re-run",
    "NodeStarted.node_number": "its place in the user's count of node executions (every Nth pays the "
                               "surcharge), the same on every attempt; null when nothing is counted "
                               "or the number is kept in the executor's table",
    "seq": "0, 1, 2 … yield order within the node execution",
    "stats": "block stats (`walltime` seconds, cost, `dry_run: true` on a node a dry run simulated, …)",
    "error": "error message",
    "NodeTerminated.reason": "why it was cut short",
    "NodeReviewRequested.kind": "`review` (asked before running) or `outcome_unknown` (interrupted mid-effect)",
    "NodeReviewRequested.instructions": ("what the reviewer is told (a HumanInTheLoop block's `name`, a marked "
                                         "node's `metadata.review_instructions`)"),
    "NodeReviewRequested.editable": "whether the reviewer may change what is shown",
    "ExecutionPausedForReview.pending": "node executions waiting for review",
    "NodeReviewed.approved": "approved (run it) or rejected",
    "NodeReviewed.reviewed_data": ("the reviewer's edit of what was shown; for a rejected `outcome_unknown`, the "
                                   "outputs the node is marked done with"),
    "NodeReviewed.was_edited": "`reviewed_data` differs from what was shown",
    "NodeReviewed.message": "the reviewer's message (a rejected marked node fails with it)",
    "NodeReviewed.auto_approve_future": "later reviews of the same node in this run are approved without asking",
    "NodeReviewed.reviewed_by": "the user who decided",
    "ExecutionShared.share_token": "the link's token (`secrets.token_urlsafe(32)`)",
    "ExecutionShared.shared_by": "the owner", "ExecutionUnshared.unshared_by": "the owner",
    "ExecutionCompleted.stats": "run totals",
    "ExecutionFailed.stats": "run totals",
    "ExecutionTerminated.stats": "run totals",
    "ExecutionStats.cost": "credits spent by all node executions",
    "ExecutionStats.duration": "seconds from start to the terminal event",
    "ExecutionStats.duration_cpu_only": "always 0 today",
    "ExecutionStats.node_exec_time": "seconds spent inside blocks, summed",
    "ExecutionStats.node_exec_time_cpu_only": "always 0 today",
    "ExecutionStats.node_exec_count": "finished node executions (plus blocks' extra steps)",
    "ExecutionStats.node_error_count": "failed node executions",
    "ExecutionStats.error": "the run's error, if it failed",
    "GraphVersionBody.id": "graph id", "name": "graph name", "description": "graph description",
    "instructions": "instructions for users of the graph", "recommended_schedule_cron": "suggested schedule",
    "forked_from_id": "graph this one was forked from", "forked_from_version": "version it was forked from",
    "nodes": "nodes of this version", "links": "links between node pins",
    "StoredNode.id": "node id (server-assigned)", "input_default": "constant inputs", "StoredNode.metadata": "UI data",
    "StoredLink.id": "link id", "source_id": "source node id", "sink_id": "sink node id",
    "source_name": "output pin of the source", "sink_name": "input pin of the sink",
    "is_static": "static link: the latest value is reused by every later execution of the sink",
    "ExecutionStuckDetected.status": "the status it was stuck in (`QUEUED` or `RUNNING`)",
    "idle_s": "seconds since the run's newest event when it was found",
    "deadline_s": "the limit for that status, in seconds",
    "ScheduleCreated.user_id": "owner of the schedule (its runs are theirs)",
    "ScheduleCreated.graph_id": "graph the schedule runs", "ScheduleCreated.graph_version": "graph version it runs",
    "ScheduleCreated.agent_name": "the graph version's name when the schedule was made",
    "ScheduleCreated.name": "schedule name", "cron": "5-field cron expression (minute hour day month weekday)",
    "ScheduleCreated.timezone": "IANA time zone the cron expression is read in",
    "ScheduleCreated.inputs": "run inputs (a preset's merged under the request's)",
    "ScheduleCreated.credentials": "credential references of the runs (ids only, never secrets)",
    "ScheduleCreated.preset_id": "preset whose values were merged in (recorded on each run)",
    "starts_at": "ticks count from this instant (UTC)", "paused_by": "user who paused it",
    "resumed_by": "user who resumed it", "resumed_at": "ticks count again from this instant (UTC)",
    "ScheduleDeleted.reason": "`user`, `graph_deleted` or `graph_unavailable`",
    "ScheduleDeleted.message": "why, in words",
    "tick_at": "the timetable's instant (UTC) this fire stands for (the request's time when manual)",
    "ScheduleFired.execution_id": "id of the run it starts (uuid5 of schedule and tick)",
    "ScheduleRunRefused.execution_id": "the refused fire's run id (no run exists under it)",
    "manual": "started by `POST /api/schedules/{id}/run`, not by the timetable",
    "first_tick_at": "first skipped tick (UTC)", "last_tick_at": "last skipped tick (null when the count was capped)",
    "ScheduleTicksSkipped.count": "ticks skipped (at most 10 000)",
    "count_capped": "more ticks were missed than counted",
    "handled_until": "every tick at or before this instant is handled",
    "ScheduleTicksSkipped.reason": "`missed`: no scheduler ran in time",
    "ScheduleRunRefused.reason": "`insufficient_credits`, `invalid` or `graph_unavailable`",
    "ScheduleRunRefused.message": "the refusal's message, as execute would answer it",
    "CallbackRegistered.callback_id": "the webhook's id", "CallbackUpdated.callback_id": "the webhook's id",
    "CallbackDeleted.callback_id": "the webhook's id", "CallbackRegistered.user_id": "owner (the API key's user)",
    "CallbackRegistered.url": "http(s) URL the deliveries are POSTed to (at most 2048 characters)",
    "CallbackRegistered.events": "some of `execution.completed`, `execution.failed`, `execution.terminated`",
    "CallbackRegistered.graph_id": "only runs of this graph (null: every graph)",
    "CallbackRegistered.description": "the owner's note (at most 500 characters)",
    "secret_ciphertext": "the signing secret sealed with the credentials keyring, bound to webhook and owner",
    "CallbackUpdated.url": "new URL (null: unchanged)", "CallbackUpdated.events": "new events (null: unchanged)",
    "CallbackUpdated.graph_id": "new graph filter (null: unchanged)",
    "clear_graph_id": "the graph filter is removed", "CallbackUpdated.description": "new note (null: unchanged)",
    "CallbackUpdated.enabled": "deliveries on or off (null: unchanged)",
    "CallbackDeliveryScheduled.callback_id": "the webhook told", "CallbackDeliveryScheduled.user_id": "its owner",
    "CallbackDeliveryScheduled.event": "`execution.completed`, `execution.failed` or `execution.terminated`",
    "source_event_id": "envelope id of the run's terminal event",
    "CallbackDeliveryScheduled.execution_id": "the run", "CallbackDeliveryScheduled.graph_id": "its graph",
    "CallbackDeliveryScheduled.graph_version": "its graph version",
    "CallbackDeliveryScheduled.status": "the run's final status", "CallbackDeliveryScheduled.started_at":
        "when the run started", "CallbackDeliveryScheduled.ended_at": "when it ended",
    "CallbackDeliveryScheduled.error": "the run's error, for a failed run (at most 500 characters)",
    "CallbackDeliveryScheduled.url": "the webhook's URL when scheduled (attempts use its current one)",
    "CallbackDeliveryAttemptStarted.attempt": "attempt number (from 1)",
    "lease_until": "nobody else attempts before this instant; after it the attempt is made again",
    "CallbackDeliveryAttempted.attempt": "the attempt that failed",
    "CallbackDeliveryAttempted.status_code": "the receiver's status (null: no answer)",
    "CallbackDeliveryAttempted.error": "why it failed, in words",
    "next_attempt_at": "when the next attempt is due (null: none; abandoned in the same append)",
    "CallbackDeliverySucceeded.attempt": "the attempt that succeeded",
    "CallbackDeliverySucceeded.status_code": "the receiver's 2xx status",
    "CallbackDeliveryAbandoned.attempts": "attempts made",
    "CallbackDeliveryAbandoned.reason": "`expired`, `callback_deleted` or `callback_disabled`",
    "WebhookRegistered.provider": "`generic_webhook`",
    "WebhookRegistered.graph_id": "graph the webhook's deliveries run",
    "WebhookRegistered.graph_version": "graph version they run",
    "trigger_node_id": "the node that receives each delivery's payload",
    "secret_sha256": "hex SHA-256 of the webhook's secret (the secret itself is never recorded)",
    "WebhookPresetBound.preset_id": "preset that now runs on every accepted delivery",
    "WebhookPresetUnbound.preset_id": "preset that no longer runs", "WebhookPresetUnbound.reason": "`preset_deleted`",
    "WebhookDeactivated.reason": "`preset_deleted` (its last preset), `graph_deleted` or `graph_unavailable` "
                                 "(found at ingress)",
    "WebhookDeliveryReceived.webhook_id": "the webhook that received it",
    "WebhookDeliveryReceived.payload": "the posted JSON object",
    "preset_ids": "presets it runs (bound and active when it was accepted)",
    "idempotency_key": "the sender's `Idempotency-Key` (or `X-Delivery-Id`), null if none",
    "GraphWebhookAdded.webhook_id": "a webhook that starts the graph (read by the graph's delete)",
    "PresetCreated.webhook_id": "trigger webhook whose deliveries run the preset (its `inputs` are then the "
                                "trigger node's config)",
}

INTRO = f"""# agentloom public event stream

Generated by `services/docsgen/event_docs.py` from the models in `schemas/`; do not edit by hand
(regenerate with `.venv/bin/python -m services.docsgen.event_docs`). The same contract as AsyncAPI 3.0:
[`asyncapi.json`](asyncapi.json). A readable live feed: [`examples/live_feed.py`](../examples/live_feed.py).

## Topics

| Context | Topic (default prefix) | Key | Headers | Value |
| --- | --- | --- | --- | --- |
{{topics}}

The prefix is `AGENTLOOM_TOPIC_PREFIX` (default `agentloom`): `<prefix>.<context>.events.v1`. The
relay (`services/infra/relay.py`) is the only producer: it tails each context's log in the event
store and publishes every recorded event. Subscribe with your own consumer group; the partition
count (`AGENTLOOM_TOPIC_PARTITIONS`, default 8) is not part of the contract.

## Guarantees

- **Order per stream.** The key is the stream id, so one stream lives on one partition and arrives in
  `stream_version` order (1, 2, 3 …, no gaps). There is no order across streams or across the two
  topics; `position` orders one context's log (commit order) but partitions interleave it.
- **At-least-once.** The relay stores its position only after the broker acknowledged a batch, so a
  crash re-publishes at most that batch; a broker that lost its data gets the whole log again from
  position 0. Deduplicate on `(stream_id, stream_version)`: remember the highest version applied per
  stream and skip anything at or below it. A jump (version > last + 1) means you missed events (for
  example you started at the latest offset): read the resource over REST or replay from the start.
- **Stable ids.** `event_id = uuid5({EVENT_ID_NAMESPACE}, "<stream_id>:<stream_version>")`, so a
  re-delivered event has the same id and can serve as an idempotency key.
- **Versioned payloads.** `payload` is exactly what was recorded, at the `class_version` it was
  recorded with. The tables below show each type's current class version. When a payload changes
  its version is bumped and an upcaster is registered (`schemas/events/base.py`); Python consumers
  call `schemas.events.decode_payload(type, class_version, payload)` to get the current shape,
  others must accept every listed older version. Expect new event types over time: skip a `type`
  you do not know rather than failing.
- **Lag.** An event is on the topic shortly after its store commit (the relay wakes on every commit).

## Envelope (Kafka value)

The value is UTF-8 JSON of the envelope (`schemas/envelope.py`):

{{envelope}}

Example (a `NodeOutput`):

```json
{{example}}
```
"""


def published_types() -> dict[str, type[Event]]:
    """Every event type of a context that has a topic, whatever the caller imported before:
    all ``schemas.events`` modules are imported first, so the output never depends on import order
    (and a context still without a topic, i.e. not in ``CONTEXTS``, is left out)."""
    for module in pkgutil.iter_modules(schemas.events.__path__):
        importlib.import_module(f"schemas.events.{module.name}")
    return {name: cls for name, cls in registered_types().items() if cls.CONTEXT in CONTEXTS}


def type_label(annotation: Any) -> str:
    """A short, language-neutral rendering of a field's annotation."""
    if annotation is Any:
        return "any"
    if annotation is type(None):
        return "null"
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(type_label(a) for a in args)
    if origin is typing.Literal:
        return " \\| ".join(json.dumps(a) for a in args)
    if origin in (dict, list):
        inner = ", ".join(type_label(a) for a in args)
        return f"{'object' if origin is dict else 'list'}[{inner}]"
    names = {str: "string", int: "integer", float: "number", bool: "boolean"}
    if annotation in names:
        return names[annotation]
    if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
        return " \\| ".join(json.dumps(member.value) for member in annotation)
    if isinstance(annotation, type):
        label = {"UUID": "uuid", "datetime": "datetime"}.get(annotation.__name__, annotation.__name__)
        return f"[{label}](#{label.lower()})" if issubclass(annotation, BaseModel) else label
    return str(annotation)


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default is PydanticUndefined else field.default
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    return f"`{json.dumps(value)}`"


def field_note(model_name: str, name: str) -> str:
    """The hand-written meaning of a field (also used by the AsyncAPI generator)."""
    return FIELD_NOTES.get(f"{model_name}.{name}", FIELD_NOTES.get(name, ""))


def _doc(model: type[BaseModel]) -> str:
    """The class docstring as one Markdown paragraph (reST ``code`` becomes `code`)."""
    doc = " ".join((model.__doc__ or "").split()).replace("``", "`")
    return f"{doc}\n\n" if doc else ""


def field_table(model: type[BaseModel]) -> str:
    rows = ["| Field | Type | Default | Meaning |", "| --- | --- | --- | --- |"]
    for name, field in model.model_fields.items():
        note = field.description or field_note(model.__name__, name)
        rows.append(f"| `{name}` | {type_label(field.annotation)} | {_default(field)} | {note} |")
    return "\n".join(rows)


def nested_models(events: list[type[Event]]) -> list[type[BaseModel]]:
    """Non-event models reachable from event fields, in first-seen order."""
    found: list[type[BaseModel]] = []

    def walk(annotation: Any) -> None:
        for arg in (annotation, *typing.get_args(annotation)):
            if isinstance(arg, type) and issubclass(arg, BaseModel) and not issubclass(arg, Event):
                if arg not in found:
                    found.append(arg)
                    for field in arg.model_fields.values():
                        walk(field.annotation)
            elif arg is not annotation:
                walk(arg)

    for event in events:
        for field in event.model_fields.values():
            walk(field.annotation)
    return found


def example_envelope() -> str:
    stream_id = "0b7c4f7e-2d1a-4d57-9a55-3f1f0f4f2a10"
    env = Envelope(event_id=event_id_for(stream_id, 7), type="NodeOutput", class_version=1, stream_id=stream_id,
                   stream_version=7, position=4211, occurred_at="2025-01-01T12:00:00Z", user_id="dev-user",
                   payload={"node_exec_id": "5d0e8a8e-6c1f-4a53-b5a5-0c7f6f2d9b11", "pin": "output",
                            "value": "hello", "seq": 0})
    return json.dumps(env.model_dump(mode="json"), indent=2)


def render_events_markdown() -> str:
    """The whole of ``docs/events.md``."""
    all_types = published_types()
    topics = "\n".join(
        f"| {ctx} | `{topic_name(ctx)}` | stream id (UUID string) | `type`: event type (UTF-8) | JSON envelope |"
        for ctx in CONTEXTS)
    parts = [INTRO.format(topics=topics, envelope=field_table(Envelope), example=example_envelope())]
    for ctx in CONTEXTS:
        events = [cls for cls in all_types.values() if cls.CONTEXT == ctx]
        rows = [f"| [`{c.TYPE}`](#{c.TYPE.lower()}) | {' | '.join(RECORDED.get(c.TYPE, ('?', '?')))} |"
                for c in events]
        parts.append(f"## Context `{ctx}`: topic `{topic_name(ctx)}`\n\n{CONTEXT_NOTES.get(ctx, '')}\n\n"
                     "| Event | Recorded by | When |\n| --- | --- | --- |\n" + "\n".join(rows))
        for cls in events:
            who, when = RECORDED.get(cls.TYPE, ("?", "?"))
            parts.append(f"### {cls.TYPE}\n\n{_doc(cls)}**Recorded by:** {who}. **When:** {when} "
                         f"**Current `class_version`:** {cls.CLASS_VERSION}.\n\n{field_table(cls)}")
    parts.append("## Shared payload types\n\nModels used inside payloads.")
    for model in nested_models(list(all_types.values())):
        parts.append(f"### {model.__name__}\n\n{_doc(model)}{field_table(model)}")
    return "\n\n".join(p.strip() for p in parts) + "\n"


def write(path: Path = DOCS_PATH) -> Path:
    path.write_text(render_events_markdown(), encoding="utf-8")
    return path


if __name__ == "__main__":
    print(f"wrote {write()}")
