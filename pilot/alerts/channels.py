"""Where alerts go: a pilot's email and webhook channels, and delivering one alert to one channel.

A webhook POSTs JSON from the server to the channel's URL; the body is signed with HMAC-SHA256 under
the channel's secret (header `X-Pilot-Signature: sha256=<hex>`) and carries a Slack-compatible `text`.
Each attempt is recorded on an AlertDelivery; a failed attempt raises so the worker retries it with
backoff, and the delivery is `failed` once its last attempt failed.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any, Mapping
from urllib.parse import urlsplit

import sqlalchemy as sa
from email_validator import EmailNotValidError, validate_email
from sqlalchemy import orm as so

from pilot import audit
from pilot.access import belongs_to
from pilot.alerts.services import METRICS, describe
from pilot.mail import send_email, smtp_configured
from pilot.models import AlertChannel, AlertDelivery, AlertEvent, AlertRule, Pilot, User
from pilot.models.base import utcnow

SIGNATURE_HEADER = "X-Pilot-Signature"
MAX_EMAILS = 20
WEBHOOK_TIMEOUT_S = 10


class ChannelError(ValueError):
    """A channel that cannot be accepted; the message names the field."""


@dataclass
class NewChannel:
    channel: AlertChannel
    secret: str  # shown to the lead once


def sign(secret: str, body: bytes) -> str:
    """The signature header's value for a body: `sha256=` and the hex HMAC-SHA256."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _clean_emails(text: str) -> str:
    addresses = [part.strip() for part in text.replace(";", ",").replace("\n", ",").split(",") if part.strip()]
    if not addresses:
        raise ChannelError("target: give at least one email address")
    if len(addresses) > MAX_EMAILS:
        raise ChannelError(f"target: at most {MAX_EMAILS} email addresses")
    cleaned = []
    for address in addresses:
        try:
            cleaned.append(validate_email(address, check_deliverability=False).normalized)
        except EmailNotValidError:
            raise ChannelError(f"target: '{address[:100]}' is not an email address") from None
    return ", ".join(cleaned)


def _clean_url(text: str) -> str:
    url = text.strip()
    if any(ord(char) < 33 for char in url) or len(url) > 2000:
        raise ChannelError("target: the URL has spaces or control characters, or is longer than 2000 characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ChannelError("target: the webhook URL must start with http:// or https:// and name a host")
    return url


def add_channel(session: so.Session, pilot: Pilot, actor: User | None, *, kind: str, target: str) -> NewChannel:
    """Validate and add an enabled channel, audited (without the secret); the caller commits."""
    if kind == "email":
        target = _clean_emails(target or "")
        secret = ""
    elif kind == "webhook":
        target = _clean_url(target or "")
        secret = secrets.token_hex(32)
    else:
        raise ChannelError("kind must be email or webhook")
    channel = AlertChannel(pilot_id=pilot.id, kind=kind, target=target, secret=secret, enabled=True,
                           created_by_id=actor.id if actor is not None else None)
    session.add(channel)
    session.flush()
    audit.record(session, "alert.channel_add", actor=actor, pilot=pilot, target_type="alert_channel",
                 target_id=channel.id, after={"kind": kind, "target": channel.display_target})
    return NewChannel(channel, secret)


def get_channel(session: so.Session, pilot: Pilot, channel_id: int) -> AlertChannel:
    channel = session.get(AlertChannel, channel_id)
    if not belongs_to(channel, pilot):
        raise ChannelError("No such alert channel in this pilot.")
    return channel


def remove_channel(session: so.Session, pilot: Pilot, channel_id: int, actor: User | None) -> None:
    channel = get_channel(session, pilot, channel_id)
    audit.record(session, "alert.channel_remove", actor=actor, pilot=pilot, target_type="alert_channel",
                 target_id=channel.id, before={"kind": channel.kind, "target": channel.display_target})
    session.delete(channel)


def channels_for(session: so.Session, pilot: Pilot) -> list[AlertChannel]:
    return list(session.scalars(sa.select(AlertChannel).where(AlertChannel.pilot_id == pilot.id)
                                .order_by(AlertChannel.id)))


FINISHED_DELIVERY_STATUSES = ("sent", "failed")  # "pending" is still being tried


def working_channels(session: so.Session, pilot: Pilot) -> int:
    """Enabled channels whose most recent finished delivery (test or real) succeeded. A channel
    that worked once and has failed since is broken: an alert sent now would reach nobody."""
    newest_finished = (
        sa.select(sa.func.max(AlertDelivery.id))
        .where(AlertDelivery.pilot_id == pilot.id, AlertDelivery.status.in_(FINISHED_DELIVERY_STATUSES))
        .group_by(AlertDelivery.channel_id)
    )
    return session.scalar(
        sa.select(sa.func.count(AlertChannel.id))
        .join(AlertDelivery, AlertDelivery.channel_id == AlertChannel.id)
        .where(AlertChannel.pilot_id == pilot.id, AlertChannel.enabled.is_(True),
               AlertDelivery.id.in_(newest_finished), AlertDelivery.status == "sent")
    ) or 0


def last_outcomes(session: so.Session, pilot: Pilot) -> dict[int, AlertDelivery]:
    """Each channel's newest delivery, for the page."""
    newest = (sa.select(sa.func.max(AlertDelivery.id)).where(AlertDelivery.pilot_id == pilot.id)
              .group_by(AlertDelivery.channel_id))
    return {d.channel_id: d for d in session.scalars(sa.select(AlertDelivery).where(AlertDelivery.id.in_(newest)))}


def recent_deliveries(session: so.Session, pilot: Pilot, limit: int = 20) -> list[AlertDelivery]:
    return list(session.scalars(
        sa.select(AlertDelivery).where(AlertDelivery.pilot_id == pilot.id)
        .options(so.selectinload(AlertDelivery.channel)).order_by(AlertDelivery.id.desc()).limit(limit)))


def deliveries_for_event(session: so.Session, event: AlertEvent) -> list[AlertDelivery]:
    """One pending delivery per enabled channel of the event's pilot (caller commits, then dispatches)."""
    rows = [AlertDelivery(pilot_id=event.pilot_id, channel_id=channel_id, event_id=event.id, status="pending")
            for channel_id in session.scalars(sa.select(AlertChannel.id).where(
                AlertChannel.pilot_id == event.pilot_id, AlertChannel.enabled.is_(True)))]
    session.add_all(rows)
    session.flush()
    return rows


def test_delivery(session: so.Session, pilot: Pilot, channel_id: int, actor: User | None) -> AlertDelivery:
    """A pending test delivery to one channel, audited (caller commits, then dispatches)."""
    channel = get_channel(session, pilot, channel_id)
    delivery = AlertDelivery(pilot_id=pilot.id, channel_id=channel.id, is_test=True, status="pending")
    session.add(delivery)
    session.flush()
    audit.record(session, "alert.test", actor=actor, pilot=pilot, target_type="alert_channel", target_id=channel.id)
    return delivery


def alert_content(session: so.Session, delivery: AlertDelivery, public_url: str) -> dict[str, Any]:
    """What a delivery says: rule, value, threshold, window, and the link to the evidence."""
    pilot = session.get(Pilot, delivery.pilot_id)
    evidence = f"{public_url.rstrip('/')}/pilots/{pilot.slug}/readiness#alerts"
    if delivery.is_test or delivery.event_id is None:
        text = f"Test alert from Pilot for {pilot.name}: this channel works."
        return {"test": True, "pilot": pilot.slug, "text": f"{text} {evidence}", "summary": text,
                "evidence_url": evidence}
    event = session.get(AlertEvent, delivery.event_id)
    rule = session.get(AlertRule, event.rule_id)
    return {"test": False, "pilot": pilot.slug, "rule": rule.metric, "rule_label": METRICS.get(rule.metric, rule.metric),
            "value": event.value, "threshold": rule.threshold, "window_hours": rule.window_hours,
            "value_text": describe(rule.metric, event.value), "threshold_text": describe(rule.metric, rule.threshold),
            "triggered_at": event.triggered_at.isoformat() + "Z", "summary": event.message,
            "text": f"[{pilot.name}] {event.message} Evidence: {evidence}", "evidence_url": evidence}


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A webhook answers; it does not send the server on to another address."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):
        raise urllib.error.HTTPError(req.full_url, code, f"redirect to {newurl[:200]} refused", headers, fp)


_OPENER = urllib.request.build_opener(_NoRedirects)


def _send_webhook(channel: AlertChannel, content: dict[str, Any]) -> None:
    payload = {**content, "text": _slack_escape(content["text"])}
    body = json.dumps(payload, sort_keys=True).encode()
    request = urllib.request.Request(channel.target, data=body, method="POST", headers={
        "Content-Type": "application/json", "User-Agent": "Pilot-Alerts", SIGNATURE_HEADER: sign(channel.secret, body)})
    try:
        with _OPENER.open(request, timeout=WEBHOOK_TIMEOUT_S) as response:
            response.read(1024)
    except urllib.error.HTTPError as error:
        raise RuntimeError(f"HTTP {error.code} from the webhook") from None
    except (urllib.error.URLError, OSError) as error:
        raise RuntimeError(f"could not reach the webhook: {getattr(error, 'reason', error)}") from None


def _send_email(config: Mapping, channel: AlertChannel, content: dict[str, Any]) -> None:
    if content["test"]:
        subject, body = f"[Pilot] Test alert ({content['pilot']})", f"{content['summary']}\n\n{content['evidence_url']}\n"
    else:
        subject = f"[Pilot] {content['rule_label']} above threshold ({content['pilot']})"
        body = (f"{content['summary']}\n\nRule: {content['rule']} ({content['rule_label']})\n"
                f"Value: {content['value_text']}\nThreshold: {content['threshold_text']}\n"
                f"Window: last {content['window_hours']} h\nFired at: {content['triggered_at']}\n\n"
                f"Evidence: {content['evidence_url']}\n\nThis alert fires again only after the metric has recovered.\n")
    if not smtp_configured(config):
        raise RuntimeError("SMTP is not configured (PILOT_SMTP_HOST)")
    send_email(config, channel.target.split(", "), subject, body)


def deliver(session: so.Session, delivery_id: int, config: Mapping, max_attempts: int) -> AlertDelivery | None:
    """Make one attempt at a delivery and record it (commits). Raises when it failed and attempts
    remain, so the worker retries; after the last one the delivery stays `failed`."""
    delivery = session.get(AlertDelivery, delivery_id)
    if delivery is None or delivery.status == "sent":
        return delivery  # gone, or already delivered: a retry never sends twice
    channel = session.get(AlertChannel, delivery.channel_id)
    delivery.attempts += 1
    try:
        content = alert_content(session, delivery, config.get("PUBLIC_URL", "http://127.0.0.1:5000"))
        if channel.kind == "webhook":
            _send_webhook(channel, content)
        else:
            _send_email(config, channel, content)
    except Exception as error:  # noqa: BLE001  every failure is recorded on the delivery, whatever it is
        delivery.error = str(error)[:1000]
        delivery.status = "failed" if delivery.attempts >= max_attempts else "pending"
        session.commit()
        if delivery.status == "pending":
            raise
        return delivery
    delivery.status, delivery.error, delivery.delivered_at = "sent", "", utcnow()
    session.commit()
    return delivery
