"""Accounts: creating users and checking credentials."""
from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy import orm as so

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


def authenticate(session: so.Session, email: str, password: str) -> User | None:
    """The user with these credentials, or None (same answer for unknown email and bad password)."""
    user = find_user_by_email(session, email)
    if user is None or not user.is_active or not user.check_password(password):
        return None
    return user
