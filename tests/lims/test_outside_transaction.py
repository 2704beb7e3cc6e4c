"""``lims.db.outside_transaction``: commit what is flushed, then run a slow side effect
with no transaction open (SPEC §8, "slow peripherals never stall the application")."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from lims.auth.models import User
from lims.auth.services import create_user
from lims.db import db, outside_transaction


def _users(app) -> int:
    """Users as another connection sees them (an app context of its own)."""
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def test_the_work_so_far_is_committed_and_no_transaction_is_open(app):
    with app.test_request_context():
        before = _users(app)
        create_user("printer-operator", "Pat Printer", "technician", "long-enough-1")
        with outside_transaction():
            assert not db.session().in_transaction()
            assert _users(app) == before + 1  # committed, and no lock in another's way
        db.session.rollback()  # the next transaction; the committed user stays
        assert db.session.scalar(select(User.full_name).where(
            User.username == "printer-operator")) == "Pat Printer"


def test_the_block_may_not_use_the_database(app):
    with app.test_request_context():
        with pytest.raises(RuntimeError, match="the block used the database"), \
                outside_transaction():
            db.session.scalar(select(func.count()).select_from(User))
        assert not db.session().in_transaction()


def test_an_error_in_the_block_is_raised_as_it_is(app):
    with app.test_request_context(), pytest.raises(ConnectionError), outside_transaction():
        raise ConnectionError("printer gone")
