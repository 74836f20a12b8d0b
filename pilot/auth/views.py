"""Login and logout."""
from __future__ import annotations

import math

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask_login import current_user, login_required, login_user, logout_user

from pilot import audit
from pilot.access import admin_required, safe_next_url
from pilot.auth.forms import LoginForm, NewUserForm
from pilot.auth.services import AccountError, authenticate, create_user, newest_users, normalise_email
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
