"""Settings precedence and the generated secret key (SPEC §9)."""

from __future__ import annotations

import stat

from lims import create_app
from lims.config import database_uri


def test_precedence_defaults_instance_file_environment_test_mapping(tmp_path, monkeypatch):
    monkeypatch.setenv("LIMS_INSTANCE_PATH", str(tmp_path))
    (tmp_path / "config.py").write_text(
        "FACILITY_NAME = 'From instance file'\nFACILITY_FIN = 'A1234'\nPRINTER_PORT = 9101\n")
    monkeypatch.setenv("LIMS_FACILITY_FIN", "B5678")
    monkeypatch.setenv("LIMS_PRINTER_PORT", "9102")
    monkeypatch.setenv("LIMS_SCHEDULER", "true")
    # TESTING: the scheduler asked for above is not started (a stray sweep thread)
    app = create_app({"PRINTER_PORT": 9103, "SECRET_KEY": "x", "TESTING": True})
    assert app.config["IDLE_TIMEOUT_MINUTES"] == 15  # default
    assert app.config["FACILITY_NAME"] == "From instance file"  # instance file
    assert app.config["FACILITY_FIN"] == "B5678"  # environment beats the file
    assert app.config["SCHEDULER"] is True  # parsed as JSON
    assert app.config["PRINTER_PORT"] == 9103  # the test mapping beats everything
    assert app.config["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path / 'lims.sqlite3'}"


def test_secret_key_is_generated_once_into_the_instance_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LIMS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("LIMS_SECRET_KEY", raising=False)
    first = create_app().config["SECRET_KEY"]
    second = create_app().config["SECRET_KEY"]
    assert first == second and len(first) == 64
    secret = tmp_path / "secret_key"
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600


def test_environment_secret_key_wins(tmp_path, monkeypatch):
    monkeypatch.setenv("LIMS_INSTANCE_PATH", str(tmp_path))
    monkeypatch.setenv("LIMS_SECRET_KEY", "from-env")
    assert create_app().config["SECRET_KEY"] == "from-env"
    assert not (tmp_path / "secret_key").exists()


def test_database_url_forms():
    assert database_uri("postgresql://u@h:5432/db", "/i") == "postgresql+psycopg://u@h:5432/db"
    assert database_uri("postgres://u@h/db", "/i") == "postgresql+psycopg://u@h/db"
    assert database_uri("postgresql+psycopg://u@h/db", "/i") == "postgresql+psycopg://u@h/db"
    assert database_uri(None, "/i") == "sqlite:////i/lims.sqlite3"


def test_sqlite_runs_with_wal_and_foreign_keys(app):
    from lims.db import db

    with app.app_context():
        if db.engine.dialect.name != "sqlite":
            return
        with db.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
