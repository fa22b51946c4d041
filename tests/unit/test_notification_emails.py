"""A notification as an email (``services.notifier.emails``): user text never makes a header,
bodies escape what they must, and the headers a mail client acts on are ours."""

from __future__ import annotations

import re
from email import message_from_bytes, policy
from urllib.parse import parse_qs, urlsplit

import pytest

from schemas.events.notifications import NotificationType
from services.domain.notifications.links import verify_unsubscribe_token
from services.notifier import emails

SECRET = "k" * 40
USER = "user-1"
NOTIFICATION = "0b7e4a4c-3c8f-5d4e-9a61-2f0c8e1d7b35"


def run_data(agent_name: str = "Summariser", outputs: list | None = None) -> dict:
    return {"agent_name": agent_name, "graph_id": "g", "graph_version": 1, "execution_id": "run-1",
            "status": "COMPLETED", "credits_used": 125, "execution_time": 2.5, "node_count": 4,
            "outputs": outputs if outputs is not None else [{"name": "summary", "value": "done"}]}


def review_data(approved: bool = True, comments: str = "Nice work") -> dict:
    link = ({"store_url": "https://app.example/marketplace/agent/alice/summariser"} if approved
            else {"resubmit_url": "https://app.example/build?flowID=g"})
    return {"agent_name": "Summariser", "graph_id": "g", "graph_version": 3, "reviewer_name": "Ada",
            "reviewer_email": "ada@example.com", "comments": comments, "reviewed_at": "2026-12-01T09:00:00+00:00",
            **link}


def compose(data: dict | None = None, *, notification_type: str = NotificationType.AGENT_RUN,
            to: str = "alice@example.com", name: str | None = "Alice"):
    return emails.compose(notification_id=NOTIFICATION, notification_type=notification_type,
                          data=data if data is not None else run_data(), user_id=USER, to=to, name=name,
                          sender="agentloom <noreply@agentloom.local>", public_url="https://app.example/",
                          secret=SECRET)


def header_lines(message) -> list[bytes]:
    raw = message.as_bytes()
    head = raw.split(b"\r\n\r\n", 1)[0] if b"\r\n\r\n" in raw else raw.split(b"\n\n", 1)[0]
    return re.split(rb"\r?\n", head)


def bodies(message) -> tuple[str, str]:
    return (message.get_body(("plain",)).get_content(), message.get_body(("html",)).get_content())


@pytest.mark.parametrize("evil", [
    "Evil\r\nBcc: evil@x",
    "Evil\nBcc: evil@x",
    "Evil\rBcc: evil@x",
    "Evil\x85Bcc: evil@x",      # NEL: a line break to str.splitlines and to the email policy
    "Evil\u2028Bcc: evil@x",
    "Evil\x0bBcc: evil@x\x0c",
    "Evil\r\n\r\nBcc: evil@x",  # an attempt to end the headers early
])
def test_an_agent_name_cannot_add_a_header(evil):
    message = compose(run_data(agent_name=evil))
    subject = str(message["Subject"])
    assert "\r" not in subject and "\n" not in subject and "\x85" not in subject and "\u2028" not in subject
    assert subject.startswith("Your agent Evil") and "Bcc: evil@x" in subject  # kept, as text, on one line
    assert message["Bcc"] is None and message.get_all("Bcc") is None
    lines = header_lines(message)
    assert not any(line.lower().startswith(b"bcc:") for line in lines)
    assert sum(1 for line in lines if line.lower().startswith(b"subject:")) == 1
    # and the message as a mail server parses it back
    parsed = message_from_bytes(message.as_bytes(), policy=policy.SMTP)
    assert parsed["Bcc"] is None and parsed["To"] == "alice@example.com"


def test_a_long_agent_name_gives_a_bounded_subject():
    message = compose(run_data(agent_name="A" * 5000))
    assert len(str(message["Subject"])) <= emails.MAX_SUBJECT_CHARS
    assert str(message["Subject"]).endswith("…")


@pytest.mark.parametrize("notification_type, data, expected", [
    (NotificationType.AGENT_RUN, run_data(), "Your agent Summariser finished: COMPLETED"),
    (NotificationType.LOW_BALANCE, {"current_balance": 250, "threshold": 500, "billing_page_link": "https://b"},
     "Your agentloom balance is low: $2.5"),
    (NotificationType.ZERO_BALANCE, {"agent_name": "Summariser", "current_balance": 0, "shortfall": 0,
                                     "billing_page_link": "https://b"},
     "You are out of credits: Summariser could not run"),
    (NotificationType.BLOCK_EXECUTION_FAILED, {"agent_name": "Summariser", "block_name": "CalculatorBlock",
                                               "block_id": "b", "error_message": "boom", "graph_id": "g",
                                               "node_id": "n", "execution_id": "run-1", "failed_node_count": 2},
     "A block failed in Summariser"),
    (NotificationType.AGENT_APPROVED, review_data(), "Your agent Summariser is approved and in the store"),
    (NotificationType.AGENT_REJECTED, review_data(approved=False),
     "Your agent Summariser was not approved for the store"),
])
def test_every_type_renders(notification_type, data, expected):
    message = compose(data, notification_type=notification_type)
    assert str(message["Subject"]) == expected
    text, html = bodies(message)
    assert text.startswith("Hello Alice,") and "Hello Alice," in html


@pytest.mark.parametrize("address", [
    "alice@example.com\r\nBcc: evil@x",
    "alice@example.com\nBcc: evil@x",
    "alice@example.com\x85Bcc: evil@x",
    "alice@example.com,evil@x",
    "alice@example.com, evil@x",
    "<alice@example.com>",
    "Alice <alice@example.com>",
    "alice@example.com>",
    "alice>@example.com",
    "alice@b@example.com",
    "no-at-sign",
    "@example.com",
    "alice@",
    "",
])
def test_a_recipient_a_header_cannot_carry_is_refused(address):
    with pytest.raises(emails.BadAddress):
        compose(to=address)


def test_the_html_body_escapes_user_text_and_the_text_body_shows_it():
    script = "<script>alert('x')</script>"
    message = compose(run_data(agent_name="<b>Bold</b> & co", outputs=[{"name": "<i>o</i>", "value": script}]),
                      name="<img src=x onerror=alert(1)>")
    text, html = bodies(message)
    assert "<script>" not in html and "&lt;script&gt;" in html
    assert "<b>Bold</b>" not in html and "&lt;b&gt;Bold&lt;/b&gt; &amp; co" in html
    assert "<img" not in html and "<i>o</i>" not in html
    assert script in text and "<b>Bold</b> & co" in text and "<i>o</i>: " in text


def test_message_id_and_the_unsubscribe_link():
    message = compose()
    assert message["Message-ID"] == f"<{NOTIFICATION}@agentloom>"
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message["X-Agentloom-Notification"] == f"AGENT_RUN {NOTIFICATION}"
    unsubscribe = str(message["List-Unsubscribe"])
    assert unsubscribe.startswith("<") and unsubscribe.endswith(">")
    url = urlsplit(unsubscribe[1:-1])
    assert (url.scheme, url.netloc, url.path) == ("https", "app.example", "/api/email/unsubscribe")
    (token,) = parse_qs(url.query)["token"]
    assert verify_unsubscribe_token(SECRET, token) == USER
    assert verify_unsubscribe_token("another secret, forty characters long...", token) is None
    text, html = bodies(message)
    assert unsubscribe[1:-1] in text and unsubscribe[1:-1] in html


def test_headers_are_one_line_each_and_bodies_are_multipart():
    message = compose()
    assert message.get_content_type() == "multipart/alternative"
    assert message["To"] == "alice@example.com" and message["From"] == "agentloom <noreply@agentloom.local>"
    assert all(len(line) <= 998 for line in header_lines(message))
    text, _ = bodies(message)
    assert "Credits used:  $1.25" in text and "Nodes run:     4" in text and "summary: done" in text


def test_without_a_name_the_greeting_is_plain():
    text, html = bodies(compose(name=None))
    assert text.startswith("Hello,")


def test_header_text_removes_every_line_break_python_knows():
    breaks = "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"
    text = emails.header_text("a" + breaks.join("bcdefghijkl") + "z")
    assert len(text.splitlines()) == 1


def test_an_approval_links_the_listing_and_quotes_the_reviewer():
    text, html = bodies(compose(review_data(comments="Nice <b>work</b>"),
                                notification_type=NotificationType.AGENT_APPROVED))
    for body in (text, html):
        assert "Summariser" in body and "version 3" in body and "Ada" in body
        assert "https://app.example/marketplace/agent/alice/summariser" in body
    assert "Nice <b>work</b>" in text and "Nice &lt;b&gt;work&lt;/b&gt;" in html and "<b>work" not in html


def test_a_rejection_links_the_builder_and_leaves_out_empty_comments():
    text, html = bodies(compose(review_data(approved=False, comments=""),
                                notification_type=NotificationType.AGENT_REJECTED))
    for body in (text, html):
        assert "was not approved" in body and "https://app.example/build?flowID=g" in body
        assert "comments" not in body
