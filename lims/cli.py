"""``flask --app wsgi lims …``: one transaction per command (SPEC §7 CLI)."""

from __future__ import annotations

import getpass
import sys
import time
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
@click.option("--replay", is_flag=True,
              help="Also rebuild every GMP record from the trail and compare it with the "
                   "tables (finds edits made in SQL outside the application).")
def audit_verify(replay: bool) -> None:
    """Check the audit trail against its signed checkpoints; exit 1 naming the first problem."""
    from lims.db import begin_read_snapshot, db

    begin_read_snapshot()  # one consistent state, without blocking writers
    try:
        _audit_verify(replay)
    finally:
        db.session.rollback()


def _audit_verify(replay: bool) -> None:
    started = time.perf_counter()
    result = verify()
    elapsed = time.perf_counter() - started
    for note in result.notes:
        click.echo(f"Note: {note}", err=True)
    if not result.intact:
        click.echo(f"Audit trail BROKEN {result.problem}", err=True)
        sys.exit(1)
    newest = result.newest
    signed = (f"; {result.checkpoints} signed checkpoints check out (newest: "
              f"{newest.name}, key {newest.key_id})" if newest else "")
    click.echo(f"Audit trail intact: {result.checked} entries verified{signed} "
               f"[{elapsed:.2f} s].")
    if replay:
        _replay()


def _replay() -> None:
    from lims.audit.replay import model_tables, replay_table
    from lims.db import db

    started, tables, differences = time.perf_counter(), model_tables(), 0
    connection = db.session.connection()
    for spec in tables:
        for difference in replay_table(connection, spec):
            differences += 1
            if differences <= REPLAY_SHOWN:
                click.echo(f"Replay DIFFERS: {difference}", err=True)
    elapsed = time.perf_counter() - started
    if differences:
        more = f" (first {REPLAY_SHOWN} shown)" if differences > REPLAY_SHOWN else ""
        click.echo(f"Replay FAILED: {differences} differences between the tables and the "
                   f"trail{more} [{elapsed:.2f} s].", err=True)
        sys.exit(1)
    click.echo(f"Replay: every record of {len(tables)} GMP tables matches the trail "
               f"[{elapsed:.2f} s].")


REPLAY_SHOWN = 100


@lims_cli.command("audit-public-key")
@click.option("--all", "show_all", is_flag=True,
              help="Also the retired keys (one per line), for checking older bundles.")
def audit_public_key(show_all: bool) -> None:
    """Print the audit signing key's public key (give it to the offline bundle check)."""
    from lims.audit import checkpoints

    key = checkpoints.signing_key()
    click.echo(key.public_text)
    if show_all:
        for trusted in checkpoints.trusted_keys().values():
            if trusted.last_seq is not None:
                click.echo(f"{trusted.public_text}  # key {trusted.key_id}, retired after seq "
                           f"{trusted.last_seq}")


@lims_cli.command("audit-checkpoint")
def audit_checkpoint() -> None:
    """Sign a checkpoint of the chain head now (the sweep does it on every run)."""
    from lims.audit import checkpoints

    with transaction():
        checkpoint = checkpoints.sign_head()
    click.echo(f"Signed {checkpoint.name} with key {checkpoint.key_id}.")


@lims_cli.command("audit-rotate-key")
@click.confirmation_option(prompt="Replace the audit signing key? Back up the instance "
                                  "folder first.")
def audit_rotate_key() -> None:
    """Replace the audit signing key; the old public key stays trusted for what it signed."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from lims import clock
    from lims.audit import checkpoints, keys, record
    from lims.audit.chain import key_id
    from lims.hashing import to_jsonable

    _as_cli_actor()
    old = checkpoints.signing_key()
    replacement = Ed25519PrivateKey.generate()
    with transaction():  # the rotation is on the record, under the old key's last checkpoint
        record("audit_key_rotated", "audit_key", old.key_id,
               {"key_id": [old.key_id, key_id(replacement.public_key())]})
        last = checkpoints.sign_head()
    keys.retire(old, last.seq, to_jsonable(clock.utcnow()))
    keys.write_private_key(old.path, replacement, replace=True)
    new = checkpoints.reload_signing_key()
    with transaction():
        first = checkpoints.sign_head()
    click.echo(f"Retired key {old.key_id} (it signed up to seq {last.seq}); new key "
               f"{new.key_id} signed {first.name}.")
    click.echo(f"New public key: {new.public_text}")
