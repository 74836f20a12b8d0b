"""Pilot: run the pilot of an AI feature and decide its launch against a production checklist."""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pilot.config import Config, config_from_environment

if TYPE_CHECKING:  # Flask is imported where the app is built, so `import pilot.client` works without it
    from flask import Flask

BASE_DIR = Path(__file__).resolve().parent.parent


def create_app(config: Config | None = None) -> Flask:
    """Build the application: extensions, blueprints, error handlers, CLI commands."""
    from flask import Flask

    app = Flask(
        __name__,
        template_folder=str(BASE_DIR / "templates"),
        static_folder="static",
    )
    app.config.from_object(config or config_from_environment())
    register_url_converters(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_security(app)
    register_commands(app)
    register_template_helpers(app)
    return app


def register_url_converters(app: Flask) -> None:
    """Before any route exists: `<int:…>` takes only ids the database can hold (else 404)."""
    from pilot.access import IdConverter

    app.url_map.converters["int"] = IdConverter


def register_extensions(app: Flask) -> None:
    """Bind the unbound extension objects of pilot.extensions to this app."""
    from pilot import models  # noqa: F401  (registers every table on the metadata)
    from pilot.analytics import changes
    from pilot.extensions import csrf, db, limiter, login_manager, migrate

    db.init_app(app)
    changes.install()  # the dashboard rollup's change capture (pilot.analytics.changes)
    migrate.init_app(app, db, directory=str(BASE_DIR / "migrations"), render_as_batch=True, compare_type=True)
    csrf.init_app(app)
    limiter.init_app(app)
    from pilot import throttle

    throttle.register(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.login"
    login_manager.login_message_category = "info"

    @login_manager.user_loader
    def load_user(user_id: str):
        """The session's user if its session version is still current ("<id>" alone is version 0)."""
        id_text, _, version_text = user_id.partition(":")
        if not id_text.isascii() or not id_text.isdigit() or not (version_text or "0").isdigit():
            return None
        user = db.session.get(models.User, int(id_text))
        if user is None or (user.session_version or 0) != int(version_text or 0):
            return None
        return user


def register_blueprints(app: Flask) -> None:
    """Each capability is a blueprint in its own sub-package."""
    from pilot.alerts.views import bp as alerts_bp
    from pilot.analytics.views import bp as analytics_bp
    from pilot.api_doc.views import bp as api_doc_bp
    from pilot.auth.views import bp as auth_bp
    from pilot.enrollment.views import bp as enrollment_bp
    from pilot.feedback.views import bp as feedback_bp
    from pilot.flagging.views import bp as flagging_bp
    from pilot.ingest.views import bp as ingest_bp
    from pilot.ops.views import bp as ops_bp
    from pilot.participant.views import bp as participant_bp
    from pilot.pilots.views import bp as pilots_bp
    from pilot.prompts.api import bp as prompts_api_bp
    from pilot.prompts.views import bp as prompts_bp
    from pilot.readiness.views import bp as readiness_bp
    from pilot.review.views import bp as review_bp
    from pilot.worker.views import bp as worker_bp

    for blueprint in (auth_bp, pilots_bp, enrollment_bp, ops_bp, participant_bp, feedback_bp, ingest_bp, readiness_bp,
                      alerts_bp, flagging_bp, review_bp, analytics_bp, worker_bp, prompts_bp, prompts_api_bp,
                      api_doc_bp):
        app.register_blueprint(blueprint)


def register_errorhandlers(app: Flask) -> None:
    """JSON errors for the API, friendly pages for people."""
    from pilot.errors import register

    register(app)


def register_security(app: Flask) -> None:
    """Control-character guard, protective headers, trusted proxies (pilot.security)."""
    from pilot.security import register

    register(app)


def register_commands(app: Flask) -> None:
    """`flask --app wsgi pilot …`."""
    from pilot.cli import pilot_cli

    app.cli.add_command(pilot_cli)


def register_template_helpers(app: Flask) -> None:
    """Filters and globals shared by every template."""
    from pilot.templating import register

    register(app)
