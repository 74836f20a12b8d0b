"""Accounts: creating users and checking credentials."""
from __future__ import annotations

import functools

import sqlalchemy as sa
from flask import current_app, has_app_context
from sqlalchemy import orm as so
from werkzeug.security import check_password_hash, generate_password_hash

from pilot.models import User

MIN_PASSWORD_LENGTH = 8


class AccountError(ValueError):
    """A user-facing reason an account could not be created or changed."""


def normalise_email(email: str) -> str:
    return email.strip().lower()


def find_user_by_email(session: so.Session, email: str) -> User | None:
    return session.scalar(sa.select(User).where(User.email == normalise_email(email)))


def create_user(session: so.Session, email: str, password: str, *, name: str = "", is_admin: bool = False) -> User:
    """Add a user; refuses a duplicate email or a short password."""
    email = normalise_email(email)
    if "@" not in email or len(email) > 254:
        raise AccountError(f"'{email}' is not an email address.")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters.")
    if find_user_by_email(session, email) is not None:
        raise AccountError(f"A user with email {email} already exists.")
    user = User(email=email, name=name.strip(), is_admin=is_admin)
    user.set_password(password)
    session.add(user)
    session.flush()
    return user


@functools.lru_cache(maxsize=4)
def _dummy_hash(method: str) -> str:
    return generate_password_hash("not anyone's password", method=method)


def authenticate(session: so.Session, email: str, password: str) -> User | None:
    """The user with these credentials, or None (same answer for unknown email and bad password).

    An unknown email is checked against a dummy hash of the same method, so both answers take
    the same time and the time does not tell which emails have accounts."""
    user = find_user_by_email(session, email)
    if user is None:
        method = current_app.config.get("PASSWORD_HASH_METHOD", "scrypt") if has_app_context() else "scrypt"
        check_password_hash(_dummy_hash(method), password)
        return None
    if not user.check_password(password) or not user.is_active:
        return None
    return user


def change_password(session: so.Session, user: User, new_password: str) -> None:
    """Set a new password; every existing session of the user ends (User.set_password bumps
    its session version)."""
    if len(new_password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"The password must be at least {MIN_PASSWORD_LENGTH} characters.")
    user.set_password(new_password)


USERS_PAGE_ROWS = 500


def newest_users(session: so.Session, limit: int = USERS_PAGE_ROWS) -> list[User]:
    """The newest accounts (the administrators' users page lists the last `limit`)."""
    return list(session.scalars(sa.select(User).order_by(User.created_at.desc()).limit(limit)))
