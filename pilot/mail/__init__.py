"""Sending email over SMTP (PILOT_SMTP_* settings): invites and alerts. Called from worker jobs."""
from __future__ import annotations

import smtplib
from email.message import EmailMessage
from typing import Iterable, Mapping


class MailNotConfigured(RuntimeError):
    """PILOT_SMTP_HOST is not set: there is no server to send through."""


def smtp_configured(config: Mapping) -> bool:
    return bool(config.get("SMTP_HOST"))


def send_email(config: Mapping, to: Iterable[str], subject: str, body: str) -> None:
    """Send one plain-text message; raises MailNotConfigured or the SMTP error (the caller retries)."""
    if not smtp_configured(config):
        raise MailNotConfigured("SMTP is not configured (set PILOT_SMTP_HOST).")
    recipients = [address for address in to if address]
    if not recipients:
        raise ValueError("no recipients")
    message = EmailMessage()
    message["From"] = config.get("SMTP_FROM") or "pilot@localhost"
    message["To"] = ", ".join(recipients)
    message["Subject"] = subject.replace("\r", " ").replace("\n", " ")[:200]
    message.set_content(body)
    with smtplib.SMTP(config["SMTP_HOST"], int(config.get("SMTP_PORT") or 25), timeout=20) as smtp:
        if config.get("SMTP_STARTTLS"):
            smtp.starttls()
        if config.get("SMTP_USER"):
            smtp.login(config["SMTP_USER"], config.get("SMTP_PASSWORD") or "")
        smtp.send_message(message)
