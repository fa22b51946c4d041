"""Where emails go: an SMTP server, or, with none configured, a local Maildir.

SMTP goes through aiosmtplib (async, maintained, STARTTLS and implicit TLS). The Maildir is the
standard format any mail client reads (``mutt -f``, Thunderbird, Python's ``mailbox``), so a
developer running ``agentloom up`` sees exactly what would have been sent. Either transport raises
``DeliveryError`` for a failure worth retrying.
"""

from __future__ import annotations

import asyncio
import mailbox
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib

from services.infra.settings import Settings, data_dir


class DeliveryError(Exception):
    """The message was not accepted; the mailer retries it later."""


class SmtpTransport:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.description = f"SMTP {settings.smtp_host}:{settings.smtp_port} ({settings.smtp_security})"

    async def send(self, message: EmailMessage) -> None:
        s = self.settings
        try:
            await aiosmtplib.send(
                message, hostname=s.smtp_host, port=s.smtp_port, timeout=s.smtp_timeout_s,
                username=s.smtp_username or None, password=s.smtp_password.get_secret_value() or None,
                use_tls=s.smtp_security == "tls", start_tls=s.smtp_security == "starttls")
        except (aiosmtplib.SMTPException, OSError, TimeoutError) as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}"[:300]) from None


class MaildirTransport:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.description = f"Maildir {path}"

    async def send(self, message: EmailMessage) -> None:
        try:
            await asyncio.to_thread(self._add, message)
        except OSError as exc:
            raise DeliveryError(f"Maildir: {exc}"[:300]) from None

    def _add(self, message: EmailMessage) -> None:
        box = mailbox.Maildir(self.path, create=True)
        box.add(message)


def mail_path(settings: Settings) -> Path:
    return Path(settings.mail_dir) if settings.mail_dir else data_dir() / "mail"


def transport_for(settings: Settings) -> SmtpTransport | MaildirTransport:
    return SmtpTransport(settings) if settings.smtp_host else MaildirTransport(mail_path(settings))
