"""Who may do what: one place for the access decorators and per-object checks.

Pages: anonymous → login redirect with `next=`; a logged-in user without the role in *this*
pilot → 403. Unknown pilot → 404. API: a Bearer key reaches only its own pilot (401 without a
valid key, 403 for another pilot's slug).
"""
from __future__ import annotations

import functools
import hashlib
from typing import Callable

import sqlalchemy as sa
from flask import abort, g, request
from flask_login import current_user

from pilot.extensions import db, login_manager
from pilot.models import ApiKey, Membership, Pilot
from pilot.models.base import utcnow
from pilot.models.pilots import ROLE_RANK


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
    if getattr(user, "is_admin", False):
        return True
    membership = membership_for(user, pilot)
    return membership is not None and membership.has_role(role)


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


def api_key_required(view: Callable) -> Callable:
    """Ingestion endpoints: a valid Bearer key; g.pilot is the key's pilot."""

    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        key = api_key_from_request()
        if key is None:
            abort(401, description="Missing or invalid API key: send 'Authorization: Bearer <pilot key>'.")
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
                abort(401, description="Missing or invalid API key: send 'Authorization: Bearer <pilot key>'.")
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
            abort(401, description="Missing or invalid API key: send 'Authorization: Bearer <pilot key>'.")
        if key.pilot.slug != kwargs["slug"]:
            abort(403, description="This API key belongs to another pilot.")
        g.api_key, g.pilot = key, key.pilot
        return view(*args, **kwargs)

    return wrapped
