"""`flask --app wsgi pilot …`: the command line of docs/design.md. Errors go to stderr with exit 1."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

from pilot.auth.services import AccountError, create_user, find_user_by_email
from pilot.enrollment.services import EnrollmentError, invite
from pilot.extensions import db
from pilot.pilots import services as pilot_services
from pilot.pilots.settings import SETTINGS, SettingError, current_settings

pilot_cli = AppGroup("pilot", help="Manage pilots, users and reports.")


def fail(message: str) -> None:
    db.session.rollback()
    raise click.ClickException(message)


def _get_pilot(slug: str):
    try:
        return pilot_services.get_pilot(db.session, slug)
    except pilot_services.PilotError as error:
        fail(str(error))


@pilot_cli.command("create-user")
@click.argument("email")
@click.option("--password", required=True, help="At least 8 characters.")
@click.option("--name", default="", help="Display name.")
@click.option("--admin", is_flag=True, help="Global administrator: creates pilots and users, sees everything.")
def create_user_command(email: str, password: str, name: str, admin: bool) -> None:
    """Create a user account."""
    try:
        user = create_user(db.session, email, password, name=name, is_admin=admin)
    except AccountError as error:
        fail(str(error))
    db.session.commit()
    click.echo(f"Created {'admin ' if admin else ''}user {user.email}")


@pilot_cli.command("create")
@click.argument("slug")
@click.option("--name", required=True, help="The pilot's display name.")
@click.option("--lead", "lead_email", required=True, help="Email of an existing user who leads the pilot.")
def create_pilot_command(slug: str, name: str, lead_email: str) -> None:
    """Create a pilot led by an existing user."""
    lead = find_user_by_email(db.session, lead_email)
    if lead is None:
        fail(f"No user with email {lead_email}: run `pilot create-user` first.")
    try:
        pilot = pilot_services.create_pilot(db.session, slug, name, lead)
    except pilot_services.PilotError as error:
        fail(str(error))
    db.session.commit()
    click.echo(f"Created pilot {pilot.slug} led by {lead.email}")


@pilot_cli.command("enroll")
@click.argument("slug")
@click.option("--external-id", required=True, help="The user id your AI feature reports as `user`.")
@click.option("--email", default=None, help="Links an existing account with this email.")
@click.option("--role", type=click.Choice(["participant", "reviewer", "lead"]), default="participant")
def enroll_command(slug: str, external_id: str, email: str | None, role: str) -> None:
    """Add a member and print the invite URL."""
    pilot = _get_pilot(slug)
    try:
        new_invite = invite(db.session, pilot, external_id=external_id, email=email, role=role)
    except EnrollmentError as error:
        fail(str(error))
    db.session.commit()
    click.echo(f"Enrolled {external_id} as {role} in {pilot.slug}")
    click.echo(new_invite.url(current_app.config.get("PUBLIC_URL", "http://127.0.0.1:5000")))


@pilot_cli.command("api-key")
@click.argument("slug")
@click.option("--name", default="", help="A label for the key.")
def api_key_command(slug: str, name: str) -> None:
    """Mint an ingestion key; the key is printed alone on the last line."""
    pilot = _get_pilot(slug)
    key, secret = pilot_services.mint_api_key(db.session, pilot, None, name=name)
    db.session.commit()
    click.echo(f"API key {key.prefix}… for {pilot.slug} (shown once, stored hashed):")
    click.echo(secret)


@pilot_cli.command("settings")
@click.argument("slug")
@click.argument("assignments", nargs=-1)
def settings_command(slug: str, assignments: tuple[str, ...]) -> None:
    """Show settings, or change them with KEY=VALUE arguments."""
    pilot = _get_pilot(slug)
    changes = {}
    for assignment in assignments:
        name, sep, value = assignment.partition("=")
        if not sep:
            fail(f"'{assignment}' is not KEY=VALUE (known keys: {', '.join(SETTINGS)})")
        changes[name.strip()] = value
    try:
        changed = pilot_services.update_settings(db.session, pilot, changes, actor=None)
    except SettingError as error:
        fail(str(error))
    db.session.commit()
    for name, value in current_settings(pilot).items():
        marker = " (changed)" if name in changed else ""
        click.echo(f"{name}={'' if value is None else value}{marker}")


@pilot_cli.command("demo")
@click.option("--seed", default=7, help="Random seed, for a reproducible demo.")
@click.option("--if-empty", is_flag=True, help="Do nothing when the database already has a pilot.")
def demo_command(seed: int, if_empty: bool) -> None:
    """Load a realistic demo pilot (30 participants, ~5,000 interactions over 14 days)."""
    from pilot.demo import database_is_empty, load_demo

    if if_empty and not database_is_empty(db.session):
        click.echo("The database has pilots already; demo not loaded.")
        return
    summary = load_demo(db.session, seed=seed)
    db.session.commit()
    click.echo(summary)


@pilot_cli.command("report")
@click.argument("slug")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "html", "pdf"]), default="json", show_default=True,
              help="Output format.")
@click.option("--out", "out_path", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write to this file instead of standard output.")
@click.option("--report", "number", type=click.IntRange(1, 2_147_483_647), default=None,
              help="A saved report snapshot's number (default: live).")
@click.option("--table", type=click.Choice(["report", "interactions", "flags", "users"]), default="report",
              show_default=True, help="With --format csv: the report itself, or one of the data tables.")
def report_command(slug: str, fmt: str, out_path: str | None, number: int | None, table: str) -> None:
    """Write the readiness report (live, or a snapshot with --report N)."""
    import sys

    from pilot.readiness import exports, snapshots
    from pilot.readiness.report import build_report

    pilot = _get_pilot(slug)
    if table != "report" and fmt != "csv":
        fail(f"--table {table} needs --format csv")
    if table != "report" and number is not None:
        fail("A report snapshot holds the report only: drop --table or --report")
    if fmt == "pdf" and out_path is None and sys.stdout.isatty():
        fail("PDF is binary: pass --out FILE (or redirect standard output)")
    try:
        if table != "report":
            chunks = (line.encode() for line in exports.DATA_EXPORTS[table](db.session, pilot))
        elif number is not None:
            snapshot = snapshots.get_snapshot(db.session, pilot, number)
            if snapshot is None:
                fail(f"No report #{number} in pilot '{slug}'")
            chunks = [exports.render_report(snapshots.snapshot_json(snapshot), fmt,
                                            stale_note=snapshots.staleness(db.session, pilot, snapshot))]
        else:
            chunks = [exports.render_report(build_report(db.session, pilot), fmt)]
    except exports.PdfUnavailable as error:
        fail(str(error))
    if out_path is None:
        stream = sys.stdout.buffer
        for chunk in chunks:
            stream.write(chunk)
        stream.flush()
        return
    try:
        with open(out_path, "wb") as handle:
            for chunk in chunks:
                handle.write(chunk)
    except OSError as error:
        fail(f"Cannot write {out_path}: {error.strerror}")
    click.echo(f"Wrote {out_path}", err=True)


@pilot_cli.command("alerts")
@click.argument("slug")
def alerts_command(slug: str) -> None:
    """Evaluate the pilot's alert rules now, send what fired; print each rule's value and state."""
    from pilot.alerts.services import describe
    from pilot.worker.jobs import evaluate_and_send

    pilot = _get_pilot(slug)
    checks = evaluate_and_send(db.session, pilot)
    if not checks:
        click.echo(f"No enabled alert rules in {pilot.slug}.")
        return
    for check in checks:
        rule = check.rule
        value = "no data" if check.value is None else describe(rule.metric, check.value)
        state = "FIRED" if check.fired else ("above (firing; alerted already)" if check.crossed else "ok")
        click.echo(f"{rule.metric} over {rule.window_hours} h: {value} (threshold "
                   f"{describe(rule.metric, rule.threshold)}) {state}")


@pilot_cli.command("worker", with_appcontext=False)
def worker_command() -> None:
    """Run the background worker: an RQ worker (with its scheduler, for retries) and RQ's cron
    scheduler (alert evaluation every minute, live verdicts every five). Without Redis, do both
    in this process on the same schedule; every other job then runs in-process in the web server."""
    import logging
    import subprocess
    import sys
    import time

    from rq import Worker

    from pilot.worker.cron_config import ALERTS_EVERY_S, LIVE_VERDICTS_EVERY_S
    from pilot.worker.jobs import evaluate_all_alerts, refresh_live_verdicts, worker_app
    from pilot.worker.queue import get_queue, redis_connection

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    app = worker_app()
    with app.app_context():
        connection = redis_connection()
        queue = get_queue(connection) if connection is not None else None
    if queue is None:
        click.echo("No Redis (REDIS_URL unset or not answering): jobs run in-process in the web server; "
                   "this process evaluates the alerts every minute and the live verdicts every five.", err=True)
        verdicts_due = 0.0
        while True:
            with app.app_context():
                try:
                    evaluate_all_alerts()
                except Exception:  # noqa: BLE001  keep evaluating next minute
                    logging.getLogger(__name__).exception("Alert evaluation failed")
                if time.monotonic() >= verdicts_due:
                    verdicts_due = time.monotonic() + LIVE_VERDICTS_EVERY_S
                    try:
                        refresh_live_verdicts()  # one pilot after another, here (enqueue runs in-process)
                    except Exception:  # noqa: BLE001  keep refreshing next time
                        logging.getLogger(__name__).exception("Live verdict refresh failed")
            time.sleep(ALERTS_EVERY_S)
    url = app.config["REDIS_URL"]
    cron = subprocess.Popen([sys.executable, "-m", "rq.cli", "cron", "--url", url, "pilot.worker.cron_config"])
    try:
        click.echo(f"Worker listening on queue '{queue.name}' at {url}.", err=True)
        Worker([queue], connection=connection).work(with_scheduler=True)
    finally:
        cron.terminate()


@pilot_cli.command("price")
@click.argument("slug")
@click.argument("model", required=False)
@click.option("--input", "input_price", help="Input USD per million tokens.")
@click.option("--output", "output_price", help="Output USD per million tokens.")
@click.option("--cached", "cached_price", default=None, help="Cached-input USD per million tokens (default: the input price).")
@click.option("--cache-write", "cache_write_price", default=None,
              help="Cache-write USD per million tokens (default: 1.25 × input for claude models, else the input price).")
@click.option("--from", "effective_from", default=None, help="Effective-from date, YYYY-MM-DD (default: always).")
def price_command(slug: str, model: str | None, input_price: str | None, output_price: str | None,
                  cached_price: str | None, effective_from: str | None, cache_write_price: str | None) -> None:
    """Show the pilot's price table, or add a dated price row for MODEL (re-prices stored interactions)."""
    from pilot.pricing import prices

    pilot = _get_pilot(slug)
    if model is not None:
        try:
            row, repriced = prices.add_price(db.session, pilot, model=model, input_per_mtok=input_price,
                                             output_per_mtok=output_price, cached_input_per_mtok=cached_price,
                                             cache_write_per_mtok=cache_write_price,
                                             effective_from=effective_from, actor=None)
        except prices.PriceError as error:
            fail(str(error))
        db.session.commit()
        click.echo(f"Added a price for {row.model} in {pilot.slug}; re-priced {repriced} stored interaction(s).")
    own, defaults = prices.price_rows(db.session, pilot)
    click.echo("model\tinput/M\tcached/M\toutput/M\tfrom\tscope\tcache_write/M")
    for scope, rows in (("pilot", own), ("default", defaults)):
        for row in rows:
            cached = "" if row.cached_input_per_mtok is None else row.cached_input_per_mtok
            since = row.effective_from.date().isoformat() if row.effective_from else "always"
            written = "" if row.cache_write_per_mtok is None else row.cache_write_per_mtok
            click.echo(f"{row.model}\t{row.input_per_mtok}\t{cached}\t{row.output_per_mtok}\t{since}\t{scope}\t{written}")


@pilot_cli.command("reflag")
@click.argument("slug")
def reflag_command(slug: str) -> None:
    """Re-run the flag rules over a pilot's interactions with its current settings.

    Adds missing flags, drops untouched open flags whose rule no longer fires, and never
    changes a flag someone reviewed. Running it twice changes nothing the second time.
    """
    from pilot.flagging.services import run_reflag

    pilot = _get_pilot(slug)
    result = run_reflag(db.session, pilot, actor=None)
    db.session.commit()
    click.echo(result.summary())


@pilot_cli.command("rollup")
@click.argument("slug")
@click.option("--rebuild", is_flag=True, help="Recompute every day, not only the days that changed.")
def rollup_command(slug: str, rebuild: bool) -> None:
    """Bring the dashboard's daily rollup up to date (after a bulk import or an in-place edit of old
    interactions; the dashboard also does this itself on every view)."""
    from pilot.analytics.rollup import refresh

    pilot = _get_pilot(slug)
    days = refresh(db.session, pilot, rebuild=rebuild)
    db.session.commit()
    click.echo(f"Recomputed {len(days)} day(s) of {pilot.slug}." if days else f"{pilot.slug} was up to date.")
