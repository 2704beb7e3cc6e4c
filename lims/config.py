"""Settings: defaults → ``instance/config.py`` → ``LIMS_*`` environment → test mapping (SPEC §9).

Environment variables drop their ``LIMS_`` prefix (``LIMS_DATABASE_URL`` →
``DATABASE_URL``) and are parsed as JSON when they can be (``LIMS_SCHEDULER=true``).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from flask import Flask

DEFAULTS: dict[str, Any] = {
    "DATABASE_URL": None,  # None: SQLite file in the instance folder
    "FACILITY_FIN": "Z9999",  # not a real ICCBBA FIN: configure your own
    "FACILITY_NAME": "Demo Cell Therapy Facility",
    "FACILITY_ADDRESS": "1 Example Street, Example City",
    "PRINTER_HOST": None,
    "PRINTER_PORT": 9100,
    "SCHEDULER": False,
    "AUDIT_KEY_FILE": None,  # None: audit_signing_key.pem in the instance folder (SPEC §8)
    "SWEEP_INTERVAL_SECONDS": 60,
    "QC_TURNAROUND_HOURS": {"default": 48, "sterility": 360, "mycoplasma": 72},
    "DOSE_EXPIRY_WARNING_HOURS": 72,  # a dose_expiring alert opens this long before expiry
    "TIMEZONE": "UTC",
    "IDLE_TIMEOUT_MINUTES": 15,
    "MAX_FAILED_LOGINS": 5,
    "LOCKOUT_MINUTES": 15,  # a lock after MAX_FAILED_LOGINS lifts by itself after this
    "PASSWORD_MAX_AGE_DAYS": None,  # e.g. 180: older passwords must be changed at login
    # SPEC §8 / 21 CFR 11.200(a)(1)(i): user id + password at a session's first signing,
    # the password at later ones (lims/auth/signing.py).
    "SIGNATURE_USERNAME_AT_FIRST_SIGNING": True,
    "TOKEN_TTL_MINUTES": 480,
    "PASSWORD_HASH_METHOD": "scrypt",
    "SESSION_COOKIE_SECURE": True,
    "SESSION_COOKIE_HTTPONLY": True,
    "SESSION_COOKIE_SAMESITE": "Lax",
    "SESSION_COOKIE_NAME": "lims_session",
    "REMEMBER_COOKIE_SECURE": True,
    "REMEMBER_COOKIE_HTTPONLY": True,
    "WTF_CSRF_CHECK_DEFAULT": False,  # lims.create_app protects every non-API form post
    "WTF_CSRF_TIME_LIMIT": None,  # the token lives as long as the (idle-limited) session
    "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
    "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    "API_TITLE": "Cell-therapy batch tracker API",
    "API_VERSION": "v1",
    "OPENAPI_VERSION": "3.0.3",
    "OPENAPI_URL_PREFIX": "/api",
    "OPENAPI_JSON_PATH": "openapi.json",
}

SECRET_FILE = "secret_key"  # noqa: S105 — a file name, not a secret
AUDIT_KEY_FILE = "audit_signing_key.pem"  # generated on first run (lims.audit.keys)


def database_uri(url: str | None, instance_path: str) -> str:
    """The SQLAlchemy URI: PostgreSQL through psycopg 3, or SQLite in the instance folder."""
    if not url:
        return "sqlite:///" + str(Path(instance_path) / "lims.sqlite3")
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _instance_secret(instance_path: str) -> str:
    """Read the instance's secret key, generating it (mode 0600) on first run."""
    path = Path(instance_path) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_hex(32))
    return path.read_text().strip()


def load(app: Flask, test_config: dict[str, Any] | None) -> None:
    app.config.update(DEFAULTS)
    app.config.from_pyfile("config.py", silent=True)
    app.config.from_prefixed_env(prefix="LIMS")
    if test_config:
        app.config.update(test_config)
    app.config["SQLALCHEMY_DATABASE_URI"] = database_uri(app.config["DATABASE_URL"],
                                                         app.instance_path)
    if not app.config.get("AUDIT_KEY_FILE"):
        app.config["AUDIT_KEY_FILE"] = str(Path(app.instance_path) / AUDIT_KEY_FILE)
    if not app.config.get("SECRET_KEY"):
        app.config["SECRET_KEY"] = _instance_secret(app.instance_path)
    _check_timezone(app.config["TIMEZONE"])
    from datetime import timedelta

    app.config["PERMANENT_SESSION_LIFETIME"] = timedelta(minutes=app.config["IDLE_TIMEOUT_MINUTES"])


def _check_timezone(name: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise RuntimeError(f"LIMS_TIMEZONE={name!r} is not a known IANA time zone") from error


def lab_timezone():
    """The lab's wall-clock zone (``TIMEZONE``, checked at start) for display, label dates
    and DIN years; storage is always UTC."""
    from zoneinfo import ZoneInfo

    from flask import current_app

    return ZoneInfo(current_app.config["TIMEZONE"])
