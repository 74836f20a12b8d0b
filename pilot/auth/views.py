"""Login and logout."""
from __future__ import annotations

import math

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from pilot import audit
from pilot.access import admin_required, safe_next_url
from pilot.auth.forms import LoginForm, NewUserForm, PasswordChangeForm
from pilot.auth.services import AccountError, authenticate, change_password, create_user, newest_users, normalise_email
from pilot.extensions import db, limiter
from pilot.models.base import utcnow
from pilot.throttle import login_failures_per_account
from pilot.unit_of_work import unit_of_work

bp = Blueprint("auth", __name__)


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def login():
    if current_user.is_authenticated:
        return redirect(url_for("pilots.index"))
    form = LoginForm()
    if form.validate_on_submit():
        account = normalise_email(form.email.data)
        wait = login_failures_per_account.blocked(account)
        if wait is not None:
            flash(f"Too many failed logins for this account: try again in {math.ceil(wait / 60)} minute(s).", "error")
            return render_template("auth/login.html", form=form), 429, {"Retry-After": str(wait)}
        user = authenticate(db.session, form.email.data, form.password.data)
        if user is None:
            login_failures_per_account.record(account)
            flash("Wrong email or password.", "error")
        else:
            with unit_of_work():
                login_user(user)
                user.last_seen_at = utcnow()
            return redirect(safe_next_url(request.args.get("next"), url_for("pilots.index")))
    return render_template("auth/login.html", form=form)


@bp.route("/logout", methods=["POST"])
@login_required
def logout():
    with unit_of_work():
        current_user.end_sessions()  # a copy of this session cookie stops working too
    logout_user()
    flash("You are logged out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_required
@limiter.limit("10 per minute", methods=["POST"])
def password():
    """Change one's own password. Every other session of the account ends (a stolen cookie stops
    working); this browser is signed in again under the new session version."""
    form = PasswordChangeForm()
    if form.validate_on_submit():
        if not current_user.check_password(form.current_password.data):
            form.current_password.errors.append("This is not your current password.")
        elif form.new_password.data == form.current_password.data:
            form.new_password.errors.append("Choose a password different from the current one.")
        else:
            with unit_of_work() as session:
                change_password(session, current_user, form.new_password.data)
                audit.record(session, "user.password_change", actor=current_user, target_type="user",
                             target_id=current_user.id)
            login_user(current_user)
            flash("Your password is changed; every other session of this account has ended.", "success")
            return redirect(url_for("pilots.index"))
    return render_template("auth/password.html", form=form), 422 if form.errors else 200


@bp.route("/admin/users", methods=["GET", "POST"])
@admin_required
def users():
    """Administrators create accounts (leads and reviewers; participants join by invite)."""
    form = NewUserForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                user = create_user(db.session, form.email.data, form.password.data, name=form.name.data or "",
                                   is_admin=form.is_admin.data)
                audit.record(db.session, "user.create", actor=current_user, target_type="user", target_id=user.id,
                             after={"email": user.email, "is_admin": user.is_admin})
        except AccountError as error:
            flash(str(error), "error")
        else:
            flash(f"Created {user.email}.", "success")
            return redirect(url_for("auth.users"))
    all_users = newest_users(db.session)
    return render_template("auth/users.html", form=form, users=all_users)
