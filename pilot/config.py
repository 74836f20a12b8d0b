"""Configuration classes, read from the environment once at start-up."""
from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
INSTANCE_DIR = Path(os.environ.get("PILOT_INSTANCE_PATH", BASE_DIR / "instance"))


def engine_options(url: str) -> dict:
    """pilot.database.engine_options, imported when a config is built: the client package
    imports this module and must not need SQLAlchemy."""
    from pilot.database import engine_options as for_url

    return for_url(url)


def _persistent_secret_key() -> str:
    """Generate a secret key once and keep it in instance/, so sessions survive restarts."""
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    key_file = INSTANCE_DIR / "secret_key"
    if not key_file.exists():
        key_file.write_text(secrets.token_hex(32))
        key_file.chmod(0o600)
    return key_file.read_text().strip()


def _database_url() -> str:
    url = os.environ.get("DATABASE_URL")
    if url:
        # Heroku-style URLs name the old driver; psycopg 3 is the one installed.
        if url.startswith("postgres://"):
            url = "postgresql://" + url[len("postgres://"):]
        if url.startswith("postgresql://"):
            url = "postgresql+psycopg://" + url[len("postgresql://"):]
        return url
    INSTANCE_DIR.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{INSTANCE_DIR / 'pilot.db'}"


class Config:
    """Defaults for development; every value can be overridden from the environment."""

    ENV_NAME = "development"
    SQLALCHEMY_ENGINE_OPTIONS = {"pool_pre_ping": True}
    SESSION_COOKIE_HTTPONLY = True
    SESSION_COOKIE_SAMESITE = "Lax"
    REMEMBER_COOKIE_HTTPONLY = True
    REMEMBER_COOKIE_SAMESITE = "Lax"
    WTF_CSRF_TIME_LIMIT = None  # token lives as long as the session
    MAX_CONTENT_LENGTH = 10 * 1024 * 1024  # 10 MB; the API answers 413 above it
    INVITE_TTL_DAYS = 7
    UPLOAD_MAX_BYTES = 5 * 1024 * 1024
    # Who may frame the embeddable rating widget (CSP frame-ancestors), e.g. "https://app.example.com".
    EMBED_FRAME_ANCESTORS = os.environ.get("PILOT_EMBED_FRAME_ANCESTORS", "*")
    RATELIMIT_HEADERS_ENABLED = True
    # If Redis is configured but down, count in memory rather than answering 500.
    RATELIMIT_IN_MEMORY_FALLBACK_ENABLED = True
    API_RATE_LIMIT = os.environ.get("PILOT_API_RATE_LIMIT", "600 per minute")
    # The read API (GET /api/v1/pilots/<slug>/…: prompts, flags, readiness, reports), its own budget per key.
    API_READ_RATE_LIMIT = os.environ.get("PILOT_API_READ_RATE_LIMIT", "3000 per minute")
    # Failures only, in tiers (a backoff): wrong passwords per account, bad API keys per client address.
    LOGIN_ACCOUNT_FAILURE_LIMITS = os.environ.get("PILOT_LOGIN_ACCOUNT_LIMITS", "5 per minute; 20 per hour; 100 per day")
    API_AUTH_FAILURE_LIMITS = os.environ.get("PILOT_API_AUTH_FAILURE_LIMITS", "30 per minute; 300 per hour")
    # Bearer token for /metrics; without one, /metrics answers loopback callers that came through no
    # proxy (no X-Forwarded-For/Forwarded/X-Real-IP), and nobody when PILOT_ENV=production.
    METRICS_TOKEN = os.environ.get("PILOT_METRICS_TOKEN", "")
    # Reverse proxies in front of Pilot whose X-Forwarded-* headers are trusted (0: none; see docs/security.md).
    TRUSTED_PROXIES = int(os.environ.get("PILOT_TRUSTED_PROXIES", "0") or 0)
    PUBLIC_URL = os.environ.get("PILOT_PUBLIC_URL", "http://127.0.0.1:5000")
    # Background worker (pilot.worker): RQ queue name, and the waits between delivery retries.
    WORKER_QUEUE = os.environ.get("PILOT_WORKER_QUEUE", "pilot")
    WORKER_RETRY_INTERVALS = [10, 60, 300]
    # Outgoing email (invites, alerts); no host means no email is sent.
    SMTP_HOST = os.environ.get("PILOT_SMTP_HOST", "")
    SMTP_PORT = int(os.environ.get("PILOT_SMTP_PORT") or 25)
    SMTP_USER = os.environ.get("PILOT_SMTP_USER", "")
    SMTP_PASSWORD = os.environ.get("PILOT_SMTP_PASSWORD", "")
    SMTP_FROM = os.environ.get("PILOT_SMTP_FROM", "pilot@localhost")
    SMTP_STARTTLS = os.environ.get("PILOT_SMTP_STARTTLS", "").lower() in ("1", "true", "yes")

    def __init__(self) -> None:
        self.SQLALCHEMY_DATABASE_URI = _database_url()
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI)
        self.SECRET_KEY = os.environ.get("SECRET_KEY") or _persistent_secret_key()
        self.RATELIMIT_STORAGE_URI = os.environ.get("REDIS_URL") or "memory://"
        self.REDIS_URL = os.environ.get("REDIS_URL", "")
        self.UPLOAD_DIR = str(INSTANCE_DIR / "uploads")


class ProductionConfig(Config):
    """Production: the secret key must come from the environment, cookies only over HTTPS."""

    ENV_NAME = "production"
    SESSION_COOKIE_SECURE = True
    REMEMBER_COOKIE_SECURE = True

    def __init__(self) -> None:
        if not os.environ.get("SECRET_KEY"):
            raise RuntimeError("SECRET_KEY must be set when PILOT_ENV=production")
        super().__init__()


class TestConfig(Config):
    __test__ = False  # not a pytest test class

    """Tests: a throwaway database and a fixed key; CSRF stays on unless a test turns it off."""

    ENV_NAME = "test"
    TESTING = True
    API_RATE_LIMIT = API_READ_RATE_LIMIT = "100000 per minute"
    LOGIN_ACCOUNT_FAILURE_LIMITS = API_AUTH_FAILURE_LIMITS = "100000 per minute"  # tests that check them set them
    PASSWORD_HASH_METHOD = "scrypt:1024:8:1"  # same algorithm, cheaper work factor: fast tests
    WTF_CSRF_ENABLED = False  # the csrf_on fixture turns it on for the tests that check it
    REDIS_URL = ""  # jobs run in-process unless a test points this at Redis
    SMTP_HOST = ""
    WORKER_RETRY_INTERVALS = [0, 0, 0]  # retries at once, so a burst worker runs them all

    def __init__(self, database_url: str | None = None) -> None:
        self.SQLALCHEMY_DATABASE_URI = database_url or "sqlite://"
        self.SQLALCHEMY_ENGINE_OPTIONS = engine_options(self.SQLALCHEMY_DATABASE_URI)
        self.SECRET_KEY = "test-secret-key"
        self.RATELIMIT_STORAGE_URI = "memory://"
        self.UPLOAD_DIR = str(INSTANCE_DIR / "test-uploads")


def config_from_environment() -> Config:
    """Pick the configuration class named by PILOT_ENV."""
    if os.environ.get("PILOT_ENV") == "production":
        return ProductionConfig()
    return Config()
