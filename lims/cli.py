"""``flask --app wsgi lims …``: one transaction per command (SPEC §7 CLI)."""

from __future__ import annotations

import getpass
import sys
from typing import NoReturn

import click
from flask import current_app
from flask.cli import AppGroup

from lims.audit import set_actor, verify
from lims.db import transaction
from lims.errors import DomainError

lims_cli = AppGroup("lims", help="Batch tracker administration.")

DEMO_PASSWORD = "demo-password-1"  # noqa: S105 — demo seed only, printed by seed-demo
DEMO_USERS = [
    ("tech1", "Tina Technician", "technician"),
    ("tech2", "Theo Technician", "technician"),
    ("qa1", "Quinn Quality", "qa"),
    ("qa2", "Quentin Assurance", "qa"),
    ("admin", "Ada Admin", "admin"),
]


def _as_cli_actor() -> None:
    set_actor(None, f"cli:{getpass.getuser()}")


def _fail(message: str) -> NoReturn:
    click.echo(f"Error: {message}", err=True)
    sys.exit(1)


@lims_cli.command("init-db")
def init_db() -> None:
    """Create the schema, or upgrade it to the newest migration."""
    from flask_migrate import upgrade

    upgrade()
    click.echo("Database schema is at the newest revision.")


@lims_cli.command("create-user")
@click.argument("username")
@click.option("--role", required=True, type=click.Choice(["technician", "qa", "admin"]))
@click.option("--full-name", required=True)
@click.option("--password", prompt=True, hide_input=True, confirmation_prompt=True,
              help="Prompted for when left out.")
@click.option("--permanent", is_flag=True,
              help="The password stays (automation, tests); otherwise it is one-time and "
                   "must be changed at the first login.")
def create_user(username: str, role: str, full_name: str, password: str,
                permanent: bool) -> None:
    """Create an account (its password is one-time unless --permanent)."""
    from lims.auth.services import create_user as create

    _as_cli_actor()
    try:
        with transaction():
            create(username, full_name, role, password, permanent=permanent,
                   reason="created with flask lims create-user")
    except DomainError as refusal:
        _fail(refusal.message)
    kind = "permanent password" if permanent else "one-time password, to change at first login"
    click.echo(f"Created {role} {username} ({kind}).")


@lims_cli.command("unlock-user")
@click.argument("username")
@click.option("--reason", default="unlocked with flask lims unlock-user", show_default=True,
              help="Kept in the audit trail.")
def unlock_user(username: str, reason: str) -> None:
    """Lift an account's lock before it lifts by itself."""
    from lims.auth.services import find_user
    from lims.auth.services import unlock_user as unlock

    _as_cli_actor()
    try:
        with transaction():
            user = find_user(username)
            if user is None:
                _fail(f"no user {username}")
            unlock(user, reason=reason)
    except DomainError as refusal:
        _fail(refusal.message)
    click.echo(f"Unlocked {username}.")


@lims_cli.command("seed-demo")
def seed_demo() -> None:
    """Demo users (and each feature's demo data). Never run this on a production database."""
    from lims.auth.services import create_user as create
    from lims.auth.services import find_user
    from lims.extension_points import points

    _as_cli_actor()
    with transaction():
        for username, full_name, role in DEMO_USERS:
            if find_user(username) is None:
                create(username, full_name, role, DEMO_PASSWORD, permanent=True,
                       reason="demo seed")
        for _order, seeder in points(current_app).seeders:
            seeder()
    users = ", ".join(f"{u} ({r})" for u, _n, r in DEMO_USERS)
    click.echo(f"Demo data ready. Demo users (password {DEMO_PASSWORD!r}): {users}")


@lims_cli.command("sweep")
def sweep() -> None:
    """Run the scheduler's jobs once (for cron and tests)."""
    from lims.scheduler import run_sweep

    report = run_sweep(current_app)
    for name, result in report.items():
        click.echo(f"{name}: {result}")


@lims_cli.command("scheduler")
def scheduler() -> None:
    """Run the scheduler alone, in the foreground (one per deployment)."""
    from lims.scheduler import make_scheduler

    interval = current_app.config["SWEEP_INTERVAL_SECONDS"]
    click.echo(f"Scheduler running: sweep every {interval} s. Ctrl-C stops it.")
    try:
        # the app behind the proxy (a LocalProxy method that Flask's types do not show)
        app = current_app._get_current_object()  # type: ignore[attr-defined]
        make_scheduler(app, background=False).start()
    except (KeyboardInterrupt, SystemExit):
        click.echo("Scheduler stopped.")


@lims_cli.command("audit-verify")
def audit_verify() -> None:
    """Check the audit trail's hash chain; exit 1 naming the first broken entry."""
    result = verify()
    if result.broken is None:
        click.echo(f"Audit trail intact: {result.checked} entries verified.")
        return
    click.echo(f"Audit trail BROKEN at entry seq {result.broken.seq}: {result.broken.problem}",
               err=True)
    sys.exit(1)
