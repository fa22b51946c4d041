"""One notification as an email: subject, text and HTML bodies, and safe headers.

Bodies come from two templates in ``templates/``, rendered by Jinja2's sandboxed environment (the
data holds user-chosen text such as agent names and outputs); the HTML one escapes everything.
Headers are never built from raw user input: the recipient was validated when the user set it and
is parsed again here, the subject has control characters removed and is cut short, and the rest
are our own values. ``email.policy.SMTP`` refuses any header value with a line break besides.
"""

from __future__ import annotations

import functools
import re
from email import errors, policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined
from jinja2.sandbox import SandboxedEnvironment

from schemas.events.notifications import NotificationType
from services.domain.credits.ledger import dollars
from services.domain.notifications.links import unsubscribe_token

TEMPLATES = Path(__file__).parent / "templates"
MAX_SUBJECT_CHARS = 150
# C0 and C1 controls and the Unicode separators: everything str.splitlines breaks on (NEL, \x85, too),
# which the email policy would refuse in a header value.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]+")
# RFC 5322 line limit: long URLs in headers stay readable instead of being RFC 2047 encoded.
POLICY = policy.SMTP.clone(max_line_length=998)


class BadAddress(ValueError):
    """The stored address cannot be put in a header (never expected: addresses are validated)."""


@functools.cache
def _environments() -> tuple[SandboxedEnvironment, SandboxedEnvironment]:
    def make(autoescape: bool) -> SandboxedEnvironment:
        env = SandboxedEnvironment(loader=FileSystemLoader(TEMPLATES), autoescape=autoescape,
                                   undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
        env.globals["money"] = lambda amount: dollars(int(amount or 0))
        return env

    return make(False), make(True)


def header_text(value: str, limit: int = MAX_SUBJECT_CHARS) -> str:
    """User text fit for a header: one line, no control characters, bounded."""
    text = _CONTROL.sub(" ", value).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def subject(notification_type: str, data: dict[str, Any]) -> str:
    agent = str(data.get("agent_name", "your agent"))
    if notification_type == NotificationType.AGENT_RUN:
        text = f"Your agent {agent} finished: {data.get('status', 'ended')}"
    elif notification_type == NotificationType.LOW_BALANCE:
        text = f"Your agentloom balance is low: {dollars(int(data.get('current_balance', 0)))}"
    elif notification_type == NotificationType.ZERO_BALANCE:
        text = f"You are out of credits: {agent} could not run"
    elif notification_type == NotificationType.BLOCK_EXECUTION_FAILED:
        text = f"A block failed in {agent}"
    elif notification_type == NotificationType.AGENT_APPROVED:
        text = f"Your agent {agent} is approved and in the store"
    elif notification_type == NotificationType.AGENT_REJECTED:
        text = f"Your agent {agent} was not approved for the store"
    elif notification_type == NotificationType.REVIEW_REQUESTED:
        text = f"Your agent {agent} is waiting for your review"
    else:
        text = f"agentloom: {notification_type}"
    return header_text(text)


def unsubscribe_url(public_url: str, secret: str, user_id: str) -> str:
    return f"{public_url.rstrip('/')}/api/email/unsubscribe?token={unsubscribe_token(secret, user_id)}"


def compose(*, notification_id: str, notification_type: str, data: dict[str, Any], user_id: str, to: str,
            name: str | None, sender: str, public_url: str, secret: str) -> EmailMessage:
    text_env, html_env = _environments()
    link = unsubscribe_url(public_url, secret, user_id)
    context = {"type": str(notification_type), "data": data, "name": header_text(name or "", 100),
               "unsubscribe_url": link}
    message = EmailMessage(policy=POLICY)
    message["Subject"] = subject(notification_type, data)
    message["From"] = sender
    message["To"] = _address(to)
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = f"<{notification_id}@agentloom>"
    message["List-Unsubscribe"] = f"<{link}>"
    message["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    message["X-Agentloom-Notification"] = f"{notification_type} {notification_id}"
    message.set_content(text_env.get_template("notification.txt.j2").render(context))
    message.add_alternative(html_env.get_template("notification.html.j2").render(context), subtype="html")
    return message


def _address(value: str) -> Address:
    if _CONTROL.search(value) or "," in value or "<" in value:
        raise BadAddress("address holds characters a header cannot carry")
    local, sep, domain = value.rpartition("@")
    if not sep or not local or not domain:
        raise BadAddress("not an email address")
    try:
        return Address(addr_spec=value)
    except (ValueError, IndexError, errors.HeaderParseError) as exc:
        raise BadAddress(str(exc)) from None
