"""Who may do what: one place for the access decorators and per-object checks.

Pages: anonymous → login redirect with `next=`; a logged-in user without the role in *this*
pilot → 403. Unknown pilot → 404. API: a Bearer key reaches only its own pilot (401 without a
valid key, 403 for another pilot's slug).
"""
from __future__ import annotations

import functools
import hashlib
import hmac
from typing import Callable
from urllib.parse import urlsplit

import sqlalchemy as sa
from flask import abort, current_app, g, request
from flask_login import current_user
from werkzeug.exceptions import TooManyRequests
from werkzeug.routing import IntegerConverter

from pilot.extensions import db, login_manager
from pilot.models import ApiKey, Flag, Membership, Pilot, Report, User
from pilot.models.base import utcnow
from pilot.models.pilots import ROLE_RANK

MAX_ID = 2**63 - 1  # the largest BIGINT: a bigger id would make the database raise, not find nothing


def parse_id(value: object) -> int | None:
    """A database id from a query string or form; None for anything that cannot be one."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 19:
        return None
    number = int(value)
    return number if 0 < number <= MAX_ID else None


class IdConverter(IntegerConverter):
    """The app's `<int:…>` URL converter: digits up to MAX_ID, so a 30-digit id is a 404, not a 500."""

    def __init__(self, map, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits, min, max, signed)


def get_pilot_or_404(slug: str) -> Pilot:
    pilot = db.session.scalar(sa.select(Pilot).where(Pilot.slug == slug))
    if pilot is None:
        abort(404, description="No such pilot.")
    return pilot


def membership_for(user, pilot: Pilot) -> Membership | None:
    """The user's live membership in the pilot (removed and paused members have none)."""
    if not getattr(user, "is_authenticated", False):
        return None
    return db.session.scalar(
        sa.select(Membership).where(
            Membership.pilot_id == pilot.id,
            Membership.user_id == user.id,
            Membership.status == "active",
        )
    )


def user_has_role(user, pilot: Pilot, role: str) -> bool:
    """Admins have every role; others need a membership at `role` or above in this pilot."""
    if role not in ROLE_RANK:
        return False
    if getattr(user, "is_admin", False):
        return True
    membership = membership_for(user, pilot)
    return membership is not None and membership.has_role(role)


def is_admin(user) -> bool:
    """An administrator: creates pilots and users, and has every role in every pilot."""
    return bool(getattr(user, "is_authenticated", False) and getattr(user, "is_admin", False))


def is_lead(user, pilot: Pilot) -> bool:
    """A lead of this pilot (or an admin): manages members, rules, prompts, keys; decides escalations."""
    return user_has_role(user, pilot, "lead")


def is_team(user, pilot: Pilot) -> bool:
    """The pilot's team — reviewers and leads (or an admin): sees every participant's data."""
    return user_has_role(user, pilot, "reviewer")


def belongs_to(obj, pilot: Pilot) -> bool:
    """The object is a row of this pilot (None belongs nowhere): services refuse another
    pilot's interaction or report as if it did not exist."""
    return obj is not None and pilot is not None and obj.pilot_id == pilot.id


def scoped(session, model, object_id: int | None, pilot: Pilot):
    """The `model` row with this id *in this pilot*, or None: another pilot's row is treated
    exactly like a missing one, so ids never leak across pilots. For services (no abort)."""
    found = session.get(model, object_id) if object_id is not None else None
    return found if belongs_to(found, pilot) else None


def scoped_or_404(model, object_id: int | None, pilot: Pilot, description: str | None = None):
    """scoped() for views: a row of another pilot is the same 404 as a missing one."""
    found = scoped(db.session, model, object_id, pilot)
    if found is None:
        abort(404, description=description or f"No such {model.__name__.lower()} in this pilot.")
    return found


def may_decide(flag, actor_is_lead: bool) -> bool:
    """Escalated flags wait for a lead; everything else any reviewer may decide."""
    return actor_is_lead is True or not flag.escalated


def may_see_screenshot(user, report, pilot: Pilot) -> bool:
    """A report's screenshot is for its reporter and the pilot's team, nobody else."""
    if report.pilot_id != pilot.id:
        return False
    membership = membership_for(user, pilot)
    is_reporter = membership is not None and report.membership_id == membership.id
    return is_reporter or is_team(user, pilot)


def may_handle_report(user, report, pilot: Pilot) -> bool:
    """The pilot's team answers a participant's report (sets its status, e.g. handles a report of
    harm listed in the review queue); the reporter and anyone outside the team do not."""
    return report.pilot_id == pilot.id and is_team(user, pilot)


def may_see_unlinked_reports(user, pilot: Pilot) -> bool:
    """Reports of harm tied to no interaction (no flag can carry them) are for the pilot's team,
    in the review queue; participants see only their own reports, on their own page."""
    return is_team(user, pilot)


def safe_next_url(target: str | None, default: str | None = None) -> str | None:
    """Only same-site relative paths: `next=` must never send a user to another site; anything
    else is `default`. The one check for every `next`/`back` a form or link carries."""
    if not target or any(ch <= " " or ch == "\x7f" for ch in target):
        return default  # browsers drop tabs and newlines, so "/\t/evil.example" would become "//evil.example"
    target = target.replace("\\", "/")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return default
    return target


def pilot_leads(session, pilot: Pilot) -> list:
    """The pilot's active leads (accounts), in a stable order: the people who may sign."""
    return list(session.scalars(
        sa.select(User).join(Membership, Membership.user_id == User.id)
        .where(Membership.pilot_id == pilot.id, Membership.status == "active", Membership.role == "lead")
        .order_by(User.name, User.email, User.id)
    ))


def may_sign_report(session, user, pilot: Pilot) -> bool:
    """A signature is a lead's own word: only an active lead of *this* pilot signs. Unlike every
    other right, being an admin is not enough (an admin signs only where they are a lead)."""
    return any(lead.id == getattr(user, "id", None) for lead in pilot_leads(session, pilot))


def minimum_signers(session, pilot: Pilot) -> int:
    """The fewest lead signatures a report of this pilot may need: 2 once it has two or more
    leads (no one lead signs a launch alone, whatever the setting says), else 1."""
    return 2 if len(pilot_leads(session, pilot)) >= 2 else 1


def may_leave(membership: Membership) -> bool:
    """Only participants leave (and erase their data) themselves; a reviewer or lead asks a lead."""
    return membership.role == "participant"


def can(action: str, obj=None) -> bool:
    """The current user's right to `action` on `obj`, for templates (one rule per action, no role
    logic in templates). Unknown actions and wrong object types are refused: it fails closed."""
    rule = _RULES.get(action)
    if rule is None or not getattr(current_user, "is_authenticated", False):
        return False
    kind, check = rule
    if kind is not None and not isinstance(obj, kind):
        return False
    cache = g.setdefault("_can_cache", {})
    key = (current_user.get_id(), action, type(obj).__name__, getattr(obj, "id", None),
           getattr(obj, "escalated", None))
    if key not in cache:
        cache[key] = bool(check(current_user, obj))
    return cache[key]


def _decide_rule(user, flag) -> bool:
    pilot = db.session.get(Pilot, flag.pilot_id)
    return pilot is not None and is_team(user, pilot) and may_decide(flag, is_lead(user, pilot))


def _handle_report_rule(user, report) -> bool:
    pilot = db.session.get(Pilot, report.pilot_id)
    return pilot is not None and may_handle_report(user, report, pilot)


def _screenshot_rule(user, report) -> bool:
    pilot = db.session.get(Pilot, report.pilot_id)
    return pilot is not None and may_see_screenshot(user, report, pilot)


# action → (the object type it applies to, or None; the rule). Anything not listed is refused.
_RULES: dict[str, tuple[type | None, Callable]] = {
    "administer": (None, lambda user, _: is_admin(user)),
    "lead": (Pilot, is_lead),
    "participate": (Pilot, lambda user, pilot: user_has_role(user, pilot, "participant")),
    "review": (Pilot, is_team),
    "sign_report": (Pilot, lambda user, pilot: may_sign_report(db.session, user, pilot)),
    "decide_flag": (Flag, _decide_rule),
    "leave": (Membership, lambda user, membership: membership.user_id == user.id and may_leave(membership)),
    "see_screenshot": (Report, _screenshot_rule),
    "handle_report": (Report, _handle_report_rule),
}


def pilot_role_required(role: str) -> Callable:
    """Decorate a view taking `slug`: resolves g.pilot and g.membership, or denies."""
    if role not in ROLE_RANK:
        raise ValueError(f"unknown role {role!r}")

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            if not current_user.is_authenticated:
                return login_manager.unauthorized()
            pilot = get_pilot_or_404(kwargs["slug"])
            if not user_has_role(current_user, pilot, role):
                abort(403, description=f"You need the {role} role in this pilot.")
            g.pilot = pilot
            g.membership = membership_for(current_user, pilot)
            return view(*args, **kwargs)

        return wrapped

    return decorator


def admin_required(view: Callable) -> Callable:
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        if not current_user.is_authenticated:
            return login_manager.unauthorized()
        if not current_user.is_admin:
            abort(403, description="Only administrators can do this.")
        return view(*args, **kwargs)

    return wrapped


def hash_api_key(key: str) -> str:
    """API keys are long random strings, so one SHA-256 is enough to store them safely."""
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_from_request() -> ApiKey | None:
    """The live ApiKey named by `Authorization: Bearer …`, or None."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    key = db.session.scalar(sa.select(ApiKey).where(ApiKey.key_hash == hash_api_key(token.strip())))
    if key is None or key.revoked_at is not None:
        return None
    return key


def touch_api_key(key: ApiKey) -> None:
    """Record last use at most once a minute, so hot ingestion paths don't write every call."""
    now = utcnow()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        key.last_used_at = now


def refuse_bad_api_key() -> None:
    """401 for a missing or wrong key, counted per client address; an address with too many
    failures gets 429 (random keys must not each get a fresh rate-limit bucket). Every API
    decorator below refuses through here, so every API route shares the one per-address count
    (tests/test_api_auth_failures.py walks the url_map to keep it so)."""
    from pilot.throttle import api_auth_failures_per_address

    address = request.remote_addr or "unknown"
    wait = api_auth_failures_per_address.blocked(address)
    if wait is None:
        api_auth_failures_per_address.record(address)
        abort(401, description="Missing or invalid API key: send 'Authorization: Bearer <pilot key>'.")
    raise TooManyRequests(description="Too many requests with a missing or invalid API key from this address: "
                                      "retry after the Retry-After seconds.", retry_after=wait)


def api_key_required(view: Callable) -> Callable:
    """Ingestion endpoints: a valid Bearer key; g.pilot is the key's pilot."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        key = api_key_from_request()
        if key is None:
            refuse_bad_api_key()
        g.api_key = key
        g.pilot = key.pilot
        return view(*args, **kwargs)

    return wrapped


def api_pilot_access(role: str = "reviewer") -> Callable:
    """Read API under /api/v1/pilots/<slug>/…: the pilot's own key, or a logged-in member with `role`."""

    def decorator(view: Callable) -> Callable:
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            key = api_key_from_request()
            if key is not None:
                if key.pilot.slug != kwargs["slug"]:
                    abort(403, description="This API key belongs to another pilot.")
                g.api_key, g.pilot = key, key.pilot
                return view(*args, **kwargs)
            if not current_user.is_authenticated:
                refuse_bad_api_key()
            pilot = get_pilot_or_404(kwargs["slug"])
            if not user_has_role(current_user, pilot, role):
                abort(403, description=f"You need the {role} role in this pilot.")
            g.pilot = pilot
            return view(*args, **kwargs)

        return wrapped

    return decorator


def api_key_for_slug_required(view: Callable) -> Callable:
    """Write API under /api/v1/pilots/<slug>/…: only that pilot's own Bearer key (no session
    cookie, so no cross-site request can use a logged-in browser)."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        key = api_key_from_request()
        if key is None:
            refuse_bad_api_key()
        if key.pilot.slug != kwargs["slug"]:
            abort(403, description="This API key belongs to another pilot.")
        g.api_key, g.pilot = key, key.pilot
        return view(*args, **kwargs)

    return wrapped


LOOPBACK = ("127.0.0.1", "::1")
# A request that passed through a proxy: its address is the proxy's (often loopback), not the caller's.
PROXY_HEADERS = ("X-Forwarded-For", "Forwarded", "X-Real-IP")


def metrics_refusal() -> str | None:
    """Why /metrics is refused to this request, or None when it may be read.

    With PILOT_METRICS_TOKEN set: only `Authorization: Bearer <token>` (constant-time compare).
    Without one: a loopback caller only, and never when the request carries a proxy header (a
    reverse proxy on the same host makes every client look like loopback) nor in production
    (PILOT_ENV=production needs the token)."""
    token = current_app.config.get("METRICS_TOKEN") or ""
    if token:
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(sent.strip().encode(), token.encode()):
            return None
        return "Metrics need the metrics token (PILOT_METRICS_TOKEN) or a loopback address."
    if current_app.config.get("ENV_NAME") == "production":
        return "Metrics need the metrics token (PILOT_METRICS_TOKEN) in production."
    if any(name in request.headers for name in PROXY_HEADERS):
        return "Metrics requested through a proxy need the metrics token (PILOT_METRICS_TOKEN)."
    if request.remote_addr not in LOOPBACK:
        return "Metrics need the metrics token (PILOT_METRICS_TOKEN) or a loopback address."
    return None
