"""People who can log in."""
from __future__ import annotations

from datetime import datetime
from typing import Optional

import sqlalchemy as sa
from flask import current_app, has_app_context
from flask_login import UserMixin
from sqlalchemy import orm as so
from werkzeug.security import check_password_hash, generate_password_hash

from pilot.extensions import db
from pilot.models.base import utcnow


class User(UserMixin, db.Model):
    __tablename__ = "user"

    id: so.Mapped[int] = so.mapped_column(primary_key=True)
    email: so.Mapped[str] = so.mapped_column(sa.String(254), unique=True)
    name: so.Mapped[str] = so.mapped_column(sa.String(200), default="")
    password_hash: so.Mapped[str] = so.mapped_column(sa.String(256))
    is_admin: so.Mapped[bool] = so.mapped_column(default=False)
    is_active_account: so.Mapped[bool] = so.mapped_column(default=True)
    created_at: so.Mapped[datetime] = so.mapped_column(default=utcnow)
    last_seen_at: so.Mapped[Optional[datetime]]
    # Part of the session cookie's user id: bumping it (logout, password change) ends every
    # session issued before, even a copied cookie.
    session_version: so.Mapped[int] = so.mapped_column(default=0, server_default="0")

    memberships: so.Mapped[list["Membership"]] = so.relationship(  # noqa: F821
        back_populates="user", foreign_keys="Membership.user_id"
    )

    def set_password(self, password: str) -> None:
        """Store a salted scrypt hash; the password itself is never kept. (Tests may pick a
        cheaper method through PASSWORD_HASH_METHOD to keep the suite fast.)"""
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
        if self.password_hash:  # a change, not the first password: sign out every session
            self.end_sessions()
        self.password_hash = generate_password_hash(password, method=method)

    def end_sessions(self) -> None:
        """Invalidate every session cookie issued to this user so far."""
        self.session_version = (self.session_version or 0) + 1

    def get_id(self) -> str:
        """Flask-Login keeps this in the session: "<id>:<session version>"."""
        return f"{self.id}:{self.session_version or 0}"

    def check_password(self, password: str) -> bool:
        return check_password_hash(self.password_hash, password)

    @property
    def is_active(self) -> bool:  # Flask-Login refuses inactive accounts
        return self.is_active_account

    def __repr__(self) -> str:
        return f"<User {self.email}>"
