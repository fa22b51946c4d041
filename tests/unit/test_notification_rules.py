"""The notifications domain: which events call for which notification (``derive``), the ledger's
"since the last top-up" marker, signed unsubscribe links, the Notification aggregate and the
daily mail cap. Pure: runs are built by folding real execution events."""

from __future__ import annotations

import base64
import uuid
from datetime import UTC, date, datetime

import pytest

from schemas.events.credits import CreditsSpent
from schemas.events.executions import (
    ExecutionCompleted,
    ExecutionFailed,
    ExecutionQueued,
    ExecutionStarted,
    ExecutionStats,
    ExecutionTerminated,
    NodeCompleted,
    NodeFailed,
    NodeOutput,
    NodeQueued,
    NodeStarted,
)
from schemas.events.notifications import (
    EmailDeliveryFailed,
    EmailQuotaUsed,
    EmailSent,
    EmailSkipped,
    EmailSkipReason,
    NotificationRead,
    NotificationRecorded,
    NotificationType,
)
from schemas.graph import GraphVersionBody
from services.domain.credits.ledger import Decision, Ledger, ledger_stream_id
from services.domain.errors import NotFoundError
from services.domain.executions.state import ExecutionState
from services.domain.notifications import derive, links
from services.domain.notifications.ids import mail_day_id, notification_id
from services.domain.notifications.mail_day import MailDay
from services.domain.notifications.notification import MAX_ERROR_CHARS, Notification
from tests.stories.builders import INPUT_BLOCK, OUTPUT_BLOCK

USER = "user-1"
RUN = str(uuid.uuid4())
GRAPH = str(uuid.uuid4())
AT = datetime(2025, 3, 1, 12, tzinfo=UTC)
URL = "https://app.example/"
THRESHOLD = 500
SECRET = "s" * 40
BLOCK_NAMES = {"calc-block": "CalculatorBlock", "http-block": "SendWebRequestBlock"}


def block_name(block_id: str) -> str:
    return BLOCK_NAMES.get(block_id, block_id)


# -- LOW_BALANCE --------------------------------------------------------------------------------


def spend(before: int, after: int) -> CreditsSpent:
    return CreditsSpent(transaction_key=f"node-{before}-{after}", amount=after - before, running_balance=after)


def low(before: int, after: int) -> derive.Derived | None:
    return derive.low_balance(spend(before, after), user_id=USER, ledger_stream_id="ledger-1", version=7,
                              threshold=THRESHOLD, public_url=URL)


@pytest.mark.parametrize("before, after", [(600, 499), (500, 499), (500, 0), (THRESHOLD, THRESHOLD - 1)])
def test_low_balance_fires_on_the_spend_that_crosses_below_the_threshold(before, after):
    found = low(before, after)
    assert found is not None
    assert found.notification_type is NotificationType.LOW_BALANCE and found.user_id == USER
    assert (found.source_context, found.source_stream_id, found.source_version) == ("credits", "ledger-1", 7)
    assert found.data == {"current_balance": after, "threshold": THRESHOLD,
                          "billing_page_link": "https://app.example/profile/credits"}


@pytest.mark.parametrize("before, after", [
    (600, 500),   # lands exactly on the threshold: not below it
    (900, 501),   # stays above
    (499, 100),   # already below before the spend
    (500, 500),   # nothing spent
])
def test_low_balance_is_silent_for_a_spend_that_does_not_cross(before, after):
    assert low(before, after) is None


# -- AGENT_RUN and BLOCK_EXECUTION_FAILED --------------------------------------------------------


def graph(name: str = "Summariser") -> GraphVersionBody:
    return GraphVersionBody(id=GRAPH, version=3, name=name)


def queued(**fields) -> ExecutionQueued:
    return ExecutionQueued(user_id=USER, graph_id=GRAPH, graph_version=3, graph=fields.pop("graph", graph()),
                           **fields)


def output(node_exec_id: str, name: str, value) -> list:
    """An OUTPUT node execution that ran with ``value`` (what the run's outputs are read from)."""
    return [NodeQueued(node_exec_id=node_exec_id, node_id="n-out", block_id=OUTPUT_BLOCK,
                       input_data={"name": name, "value": value}),
            NodeStarted(node_exec_id=node_exec_id),
            NodeOutput(node_exec_id=node_exec_id, pin="output", value=value, seq=0),
            NodeCompleted(node_exec_id=node_exec_id)]


def failing(node_exec_id: str, node_id: str, block_id: str, error: str) -> list:
    return [NodeQueued(node_exec_id=node_exec_id, node_id=node_id, block_id=block_id, input_data={}),
            NodeStarted(node_exec_id=node_exec_id),
            NodeFailed(node_exec_id=node_exec_id, error=error)]


STATS = ExecutionStats(cost=42, duration=1.23456, node_exec_count=5)


def fold(*events) -> ExecutionState:
    return ExecutionState.from_events(RUN, [(event, AT) for event in events])


def ended(*events) -> list[derive.Derived]:
    return derive.run_ended(fold(*events), out_of_credits=False, block_names=block_name)


@pytest.mark.parametrize("end, status", [
    (ExecutionCompleted(stats=STATS), "COMPLETED"),
    (ExecutionFailed(error="boom", stats=STATS), "FAILED"),
    (ExecutionTerminated(stats=STATS), "TERMINATED"),
])
def test_a_top_level_run_that_ended_is_one_agent_run_notification(end, status):
    events = [queued(), ExecutionStarted(), *output("o1", "summary", "short text"), end]
    (found,) = ended(*events)
    assert found.notification_type is NotificationType.AGENT_RUN and found.user_id == USER
    assert (found.source_context, found.source_stream_id, found.source_version) == ("executions", RUN, len(events))
    assert found.data == {
        "agent_name": "Summariser", "graph_id": GRAPH, "graph_version": 3, "execution_id": RUN, "status": status,
        "credits_used": 42, "execution_time": 1.235, "node_count": 5,
        "outputs": [{"name": "summary", "value": "short text"}],
    }


def test_an_unnamed_graph_is_called_untitled():
    (found,) = ended(queued(graph=graph(name="")), ExecutionCompleted(stats=STATS))
    assert found.data["agent_name"] == "Untitled agent"


def test_a_child_run_notifies_nothing():
    child = queued(parent_execution_id=str(uuid.uuid4()), parent_node_exec_id="ne-parent")
    assert ended(child, ExecutionStarted(), *failing("f1", "n1", "calc-block", "x"),
                 ExecutionFailed(error="x", stats=STATS)) == []


@pytest.mark.parametrize("upto", [1, 2, 6])  # queued, started, a node failed: none has ended
def test_a_run_not_yet_ended_notifies_nothing(upto):
    events = [queued(), ExecutionStarted(), *failing("f1", "n1", "calc-block", "x"), *output("o1", "y", 1)]
    assert ended(*events[:upto]) == []


def test_failed_nodes_are_one_notification_naming_the_first():
    events = [queued(), ExecutionStarted(),
              *failing("f1", "n-calc", "calc-block", "division by zero"),
              *output("o1", "y", 1),
              *failing("f2", "n-http", "http-block", "timeout"),
              *failing("f3", "n-calc", "calc-block", "again"),
              ExecutionFailed(error="3 nodes failed", stats=STATS)]
    run, failed = ended(*events)
    assert run.notification_type is NotificationType.AGENT_RUN
    assert failed.notification_type is NotificationType.BLOCK_EXECUTION_FAILED
    assert failed.data == {
        "agent_name": "Summariser", "block_name": "CalculatorBlock", "block_id": "calc-block",
        "error_message": "division by zero", "graph_id": GRAPH, "node_id": "n-calc", "execution_id": RUN,
        "failed_node_count": 3,
    }
    # the same source event, another type: two distinct notification ids
    assert notification_id(run.notification_type, "executions", RUN, len(events)) != notification_id(
        failed.notification_type, failed.source_context, failed.source_stream_id, failed.source_version)
    assert failed.source_version == run.source_version == len(events)


def test_a_long_node_error_is_cut():
    _, failed = ended(queued(), *failing("f1", "n1", "calc-block", "e" * 5000), ExecutionFailed(error="x", stats=STATS))
    assert failed.data["error_message"] == "e" * derive.MAX_ERROR_CHARS


def test_a_run_out_of_credits_notifies_the_run_but_not_its_failed_node():
    state = fold(queued(), ExecutionStarted(), *failing("f1", "n1", "calc-block", "Insufficient balance"),
                 ExecutionFailed(error="Insufficient balance", stats=STATS, out_of_credits=True))
    found = derive.run_ended(state, out_of_credits=True, block_names=block_name)
    assert [d.notification_type for d in found] == [NotificationType.AGENT_RUN]


def test_failed_for_credits_reads_the_flag():
    assert derive.failed_for_credits(ExecutionFailed(error="x", stats=STATS, out_of_credits=True))
    assert not derive.failed_for_credits(ExecutionFailed(error="x", stats=STATS))
    assert not derive.failed_for_credits(ExecutionCompleted(stats=STATS))


def test_output_values_are_bounded():
    big = "x" * 10_000
    nested = {"rows": ["y" * 100] * 50}
    events = [queued(), *output("o-big", "big", big), *output("o-nested", "nested", nested),
              *output("o-small", "small", {"k": 1}), *output("o-num", "num", 7)]
    events += [e for i in range(30) for e in output(f"o-{i}", "many", i)]
    (found,) = ended(*events, ExecutionCompleted(stats=STATS))
    outputs = found.data["outputs"]
    assert len(outputs) == derive.MAX_OUTPUTS
    by_name = {o["name"]: o["value"] for o in outputs}
    assert isinstance(by_name["big"], str) and len(by_name["big"]) <= derive.MAX_VALUE_CHARS + 1
    assert by_name["big"].startswith("xxx") and by_name["big"].endswith("…")
    assert isinstance(by_name["nested"], str) and by_name["nested"].startswith('{"rows":["yyy')
    assert len(by_name["nested"]) <= derive.MAX_VALUE_CHARS + 1
    assert by_name["small"] == {"k": 1} and by_name["num"] == 7  # small values stay as they are
    assert [o["value"] for o in outputs if o["name"] == "many"] == list(range(derive.MAX_OUTPUTS - 4))


def test_describe_value_is_applied_before_bounding():
    (found,) = derive.run_ended(fold(queued(), *output("o1", "blob", {"ref": 1}), ExecutionCompleted(stats=STATS)),
                                out_of_credits=False, block_names=block_name,
                                describe_value=lambda value: "(a stored value of 9 bytes)")
    assert found.data["outputs"] == [{"name": "blob", "value": "(a stored value of 9 bytes)"}]


def test_only_output_blocks_make_outputs():
    events = [queued(), NodeQueued(node_exec_id="i1", node_id="n-in", block_id=INPUT_BLOCK,
                                   input_data={"name": "x", "value": "secret input"}),
              NodeCompleted(node_exec_id="i1"), ExecutionCompleted(stats=STATS)]
    (found,) = ended(*events)
    assert found.data["outputs"] == []


# -- ZERO_BALANCE and the ledger's last credit ----------------------------------------------------


def record(ledger: Ledger, decision: Decision) -> Ledger:
    for event in decision.events:
        ledger.apply(event)
    return ledger


def zero(ledger: Ledger) -> uuid.UUID:
    found = derive.zero_balance(user_id=USER, ledger_stream_id=str(ledger_stream_id(USER)),
                                last_credit_version=ledger.last_credit_version, balance=ledger.balance,
                                agent_name="Summariser", shortfall=0, public_url=URL)
    assert found.notification_type is NotificationType.ZERO_BALANCE
    assert (found.source_context, found.source_stream_id) == ("credits", str(ledger_stream_id(USER)))
    assert found.data == {"agent_name": "Summariser", "current_balance": ledger.balance, "shortfall": 0,
                          "billing_page_link": "https://app.example/profile/credits"}
    return notification_id(found.notification_type, found.source_context, found.source_stream_id,
                           found.source_version)


def test_zero_balance_is_one_notification_per_top_up_period():
    ledger = record(Ledger(USER), Ledger(USER).grant(100, "welcome"))
    record(ledger, ledger.spend(100, "node-1"))
    first = zero(ledger)
    record(ledger, ledger.spend(0, "node-2"))  # nothing recorded, still the same period
    assert zero(ledger) == first  # a second refusal in the same period: the same notification
    record(ledger, ledger.top_up(500, "cs_1"))
    record(ledger, ledger.spend(500, "node-3"))
    after_top_up = zero(ledger)
    assert after_top_up != first
    record(ledger, ledger.grant(50, "bonus"))
    record(ledger, ledger.spend(50, "node-4"))
    assert zero(ledger) not in (first, after_top_up)


def test_last_credit_version_follows_credits_added_and_ignores_spends():
    ledger = Ledger(USER)
    assert ledger.last_credit_version == 0
    record(ledger, ledger.grant(1000, "g-1"))                       # v1
    assert ledger.last_credit_version == 1
    record(ledger, ledger.spend(10, "s-1"))                         # v2
    record(ledger, ledger.spend(10, "s-2"))                         # v3
    assert ledger.last_credit_version == 1
    record(ledger, ledger.top_up(500, "cs_1"))                      # v4
    assert ledger.last_credit_version == 4
    record(ledger, ledger.refund(100, "re_1", top_up_key="cs_1"))   # v5: takes credits away
    record(ledger, ledger.spend(10, "s-3"))                         # v6
    assert ledger.last_credit_version == 4
    record(ledger, ledger.grant(1000, "g-1"))                       # a repeated key records nothing
    assert ledger.last_credit_version == 4
    record(ledger, ledger.monthly_refill(100, date(2025, 3, 1)))    # v7: above target, grants 0
    assert ledger.stream_version == 7 and ledger.last_credit_version == 4
    record(ledger, ledger.grant(5, "g-2"))                          # v8
    assert ledger.last_credit_version == 8


def test_last_credit_version_is_the_same_when_folded_from_a_snapshot():
    ledger = Ledger(USER, usage_key_window=3)
    history = []
    for make in [lambda lg: lg.grant(1000, "g-1"), lambda lg: lg.top_up(500, "cs_1"),
                 *[lambda lg, i=i: lg.spend(10, f"s-{i}") for i in range(6)]]:
        decision = make(ledger)
        history += decision.events
        record(ledger, decision)
    assert ledger.last_credit_version == 2
    snapshot = ledger.snapshot()
    record(ledger, Decision(snapshot, None))
    tail = []
    for make in (lambda lg: lg.spend(5, "after-1"), lambda lg: lg.spend(5, "after-2")):
        decision = make(ledger)
        tail += decision.events
        record(ledger, decision)
    full = Ledger.from_events(USER, [*history, *snapshot, *tail], usage_key_window=3)
    fast = Ledger.from_events(USER, [*snapshot, *tail], usage_key_window=3)
    assert full.last_credit_version == fast.last_credit_version == ledger.last_credit_version == 2
    decision = fast.top_up(100, "cs_2")
    record(fast, decision)
    assert fast.last_credit_version == fast.stream_version == len(history) + 1 + len(tail) + 1


# -- unsubscribe links --------------------------------------------------------------------------


@pytest.mark.parametrize("user_id", ["user-1", "google-oauth2|1234", "a:b:c", "ünïcødé", "x" * 300])
def test_a_token_round_trips(user_id):
    token = links.unsubscribe_token(SECRET, user_id)
    assert "=" not in token and "\n" not in token
    assert links.verify_unsubscribe_token(SECRET, token) == user_id


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _tampered(token: str) -> str:
    middle = len(token) // 2
    return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1:]


GOOD = links.unsubscribe_token(SECRET, USER)


@pytest.mark.parametrize("token", [
    pytest.param(_tampered(GOOD), id="tampered"),
    pytest.param(GOOD[:-2], id="truncated"),
    pytest.param(GOOD[:10], id="truncated-short"),
    pytest.param("", id="empty"),
    pytest.param("!!!!", id="not-base64"),
    pytest.param("not a token at all", id="not-base64-words"),
    pytest.param("ééééééé", id="non-ascii"),
    pytest.param(GOOD[:8] + "!!!!" + GOOD[8:], id="junk-inside"),
    pytest.param(GOOD[:8] + "\n\t.." + GOOD[8:], id="whitespace-inside"),
    pytest.param(links.unsubscribe_token("another secret of forty characters......", USER), id="other-secret"),
    pytest.param(_b64(f"{USER}:".encode()), id="no-signature"),
    pytest.param(_b64(b":" + GOOD.encode()), id="no-user"),
    pytest.param(_b64(USER.encode()), id="no-separator"),
    pytest.param(_b64(b"\xff\xfe:abc"), id="not-utf8"),
    pytest.param(_b64(f"{USER}:é".encode()), id="non-ascii-signature"),
    pytest.param(_b64(f"{USER}:{'é' * 64}".encode()), id="non-ascii-signature-long"),
    pytest.param(GOOD + "A" * 1000, id="overlong"),
])
def test_a_bad_token_gives_none(token):
    assert links.verify_unsubscribe_token(SECRET, token) is None


def test_a_genuine_token_over_the_bound_is_refused_too():
    token = links.unsubscribe_token(SECRET, "u" * 800)
    assert len(token) > links.MAX_TOKEN_CHARS
    assert links.verify_unsubscribe_token(SECRET, token) is None


def test_only_one_spelling_of_a_token_is_accepted():
    """Base64's spare bits in the last character do not make other valid spellings."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    accepted = [c for c in alphabet if links.verify_unsubscribe_token(SECRET, GOOD[:-1] + c) is not None]
    assert accepted == [GOOD[-1]]


# -- the Notification aggregate -----------------------------------------------------------------


def note(*later, user_id: str = USER) -> Notification:
    recorded = NotificationRecorded(user_id=user_id, notification_type=NotificationType.AGENT_RUN,
                                    data={"agent_name": "a"}, source_context="executions", source_stream_id=RUN,
                                    source_version=9)
    return Notification.from_events("n-1", [(e, AT) for e in (recorded, *later)])


def decide(aggregate: Notification, events: list) -> list:
    for event in events:
        aggregate.apply(event, AT)
    return events


def test_a_fresh_notification_is_pending():
    n = note()
    assert n.exists and n.user_id == USER and n.created_at == AT and n.stream_version == 1
    assert not n.email_done and n.email_attempts == 0 and n.read_at is None


def test_only_the_owner_can_mark_it_read_and_only_once():
    n = note()
    with pytest.raises(NotFoundError):
        n.mark_read("someone-else")
    with pytest.raises(NotFoundError):
        Notification("n-missing").mark_read(USER)
    assert decide(n, n.mark_read(USER)) == [NotificationRead()]
    assert n.read_at == AT
    assert n.mark_read(USER) == []
    with pytest.raises(NotFoundError):  # read or not, a stranger is still told it does not exist
        n.mark_read("someone-else")


def test_delivery_failures_end_in_giving_up_at_max_attempts():
    n = note()
    assert decide(n, n.delivery_failed("421 try later", 3)) == [EmailDeliveryFailed(attempt=1, error="421 try later")]
    assert decide(n, n.delivery_failed("", 3)) == [EmailDeliveryFailed(attempt=2, error="delivery failed")]
    assert not n.email_done and n.email_attempts == 2 and n.email_error == "delivery failed"
    assert decide(n, n.delivery_failed("x" * 5000, 3)) == [
        EmailDeliveryFailed(attempt=3, error="x" * MAX_ERROR_CHARS), EmailSkipped(reason=EmailSkipReason.GAVE_UP)]
    assert n.email_done and n.skip_reason is EmailSkipReason.GAVE_UP
    assert n.delivery_failed("again", 3) == [] and n.sent("<m>") == [] and n.skip(EmailSkipReason.DISABLED) == []


def test_a_send_after_failures_counts_the_attempt():
    n = note(EmailDeliveryFailed(attempt=1, error="e"))
    assert decide(n, n.sent("<n-1@agentloom>")) == [EmailSent(message_id="<n-1@agentloom>", attempt=2)]
    assert n.email_done and n.message_id == "<n-1@agentloom>"
    assert n.sent("<other>") == [] and n.skip(EmailSkipReason.DAILY_LIMIT) == [] and n.delivery_failed("e", 9) == []


def test_a_skip_is_final():
    n = note()
    assert decide(n, n.skip(EmailSkipReason.DISABLED)) == [EmailSkipped(reason=EmailSkipReason.DISABLED)]
    assert n.sent("<m>") == [] and n.skip(EmailSkipReason.NO_ADDRESS) == [] and n.delivery_failed("e", 1) == []
    assert n.skip_reason is EmailSkipReason.DISABLED


def test_max_attempts_of_one_gives_up_at_the_first_failure():
    n = note()
    assert n.delivery_failed("e", 1) == [EmailDeliveryFailed(attempt=1, error="e"),
                                         EmailSkipped(reason=EmailSkipReason.GAVE_UP)]


# -- the daily mail cap -------------------------------------------------------------------------


def take(day: MailDay, nid: str, limit: int) -> bool:
    allowed, events = day.take(nid, limit)
    for event in events:
        day.apply(event)
    return allowed


def test_mail_day_allows_up_to_the_cap_and_a_holder_again():
    day = MailDay(USER, "2025-03-01")
    allowed, events = day.take("n-1", 2)
    assert allowed and events == [EmailQuotaUsed(user_id=USER, day="2025-03-01", notification_id="n-1")]
    day.apply(events[0])
    assert take(day, "n-2", 2)
    assert day.take("n-3", 2) == (False, [])
    assert day.take("n-1", 2) == (True, [])  # a retried delivery keeps its place, records nothing
    assert day.used == 2 and day.stream_version == 2


def test_mail_day_folds_what_was_recorded():
    recorded = [EmailQuotaUsed(user_id=USER, day="2025-03-01", notification_id=n) for n in ("a", "b", "c")]
    day = MailDay.from_events(USER, "2025-03-01", recorded)
    assert day.used == 3 and day.stream_version == 3
    assert day.take("d", 3) == (False, []) and day.take("b", 3) == (True, [])
    assert take(day, "d", 4)  # a raised cap lets one more through


def test_a_daily_limit_of_zero_allows_nothing():
    assert MailDay(USER, "2025-03-01").take("n-1", 0) == (False, [])


def test_mail_day_streams_are_per_user_and_day():
    assert mail_day_id(USER, "2025-03-01") == mail_day_id(USER, "2025-03-01")
    assert len({mail_day_id(USER, "2025-03-01"), mail_day_id(USER, "2025-03-02"),
                mail_day_id("user-2", "2025-03-01")}) == 3
