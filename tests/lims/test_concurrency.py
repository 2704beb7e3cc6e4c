"""Concurrent writers never fork or break the audit chain, and no write is lost."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from lims.audit import AuditEntry, verify
from lims.auth.models import User
from lims.db import db


def test_concurrent_writes_keep_one_intact_chain(app, api_headers):
    headers = api_headers("admin")

    def create(n: int) -> int:
        client = app.test_client()
        return client.post("/api/v1/users", headers=headers, json={
            "username": f"user{n}", "full_name": f"User {n}", "role": "technician",
            "password": "long-enough-1", "reason": "concurrency test"}).status_code

    with ThreadPoolExecutor(max_workers=8) as pool:
        statuses = list(pool.map(create, range(40)))
    assert statuses == [201] * 40
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == 41
        seqs = list(db.session.scalars(select(AuditEntry.seq).order_by(AuditEntry.seq)))
        assert seqs == list(range(1, len(seqs) + 1))
        result = verify()
        assert result.intact, result.broken
