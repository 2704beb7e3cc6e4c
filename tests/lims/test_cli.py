"""``flask lims …`` commands."""

from __future__ import annotations

from lims.auth.services import find_user
from lims.cli import DEMO_PASSWORD, DEMO_USERS
from tests.fixtures.users import web_login


def test_create_user_with_password_option(app, runner):
    result = runner.invoke(args=["lims", "create-user", "quinn", "--role", "qa",
                                 "--full-name", "Quinn Quality", "--password", "long-enough-1"])
    assert result.exit_code == 0, result.output
    with app.app_context():
        user = find_user("quinn")
        assert user.role == "qa" and user.full_name == "Quinn Quality"


def test_create_user_prompts_for_the_password(app, runner):
    result = runner.invoke(args=["lims", "create-user", "quinn", "--role", "qa",
                                 "--full-name", "Quinn"], input="long-enough-1\nlong-enough-1\n")
    assert result.exit_code == 0, result.output
    assert "long-enough-1" not in result.output
    with app.app_context():
        assert find_user("quinn") is not None


def test_create_user_refuses_a_short_password_and_writes_nothing(app, runner):
    result = runner.invoke(args=["lims", "create-user", "quinn", "--role", "qa",
                                 "--full-name", "Quinn", "--password", "short"])
    assert result.exit_code == 1 and "at least 12" in result.output
    with app.app_context():
        assert find_user("quinn") is None


def test_create_user_refuses_an_unknown_role(runner):
    result = runner.invoke(args=["lims", "create-user", "x", "--role", "wizard",
                                 "--full-name", "X", "--password", "long-enough-1"])
    assert result.exit_code == 2


def test_seed_demo_users_can_log_in_by_role(app, runner):
    result = runner.invoke(args=["lims", "seed-demo"])
    assert result.exit_code == 0, result.output
    assert runner.invoke(args=["lims", "seed-demo"]).exit_code == 0, "idempotent"
    for username, _name, role in DEMO_USERS:
        client = app.test_client()
        assert web_login(client, username, DEMO_PASSWORD).status_code == 302
        assert role.encode() in client.get("/").data


def test_unlock_user_command(app, runner, client, make_user):
    make_user("technician", username="tina")
    for _ in range(5):
        web_login(client, "tina", "bad-bad-bad")
    with app.app_context():
        assert find_user("tina").is_locked
    assert runner.invoke(args=["lims", "unlock-user", "tina"]).exit_code == 0
    with app.app_context():
        assert not find_user("tina").is_locked
    assert runner.invoke(args=["lims", "unlock-user", "nobody"]).exit_code == 1


def test_cli_changes_are_audited_as_the_cli_actor(app, runner, client, api_headers):
    runner.invoke(args=["lims", "create-user", "quinn", "--role", "qa",
                        "--full-name", "Quinn", "--password", "long-enough-1"])
    entries = client.get("/api/v1/audit?entity_type=user_account",
                         headers=api_headers("qa")).json
    assert entries[0]["actor"].startswith("cli:")
