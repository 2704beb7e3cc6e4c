"""Fixtures for the batches tests: role headers and a small lab that registers things
through the HTTP API (``lab.patient()``, ``lab.donor("eligible")``, ``lab.batch()``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from tests.conftest import TEST_PASSWORD

NEGATIVE = {m: "negative" for m in ("hiv_1", "hiv_2", "hbsag", "anti_hbc", "hcv_antibody",
                                     "hcv_nat", "syphilis", "htlv", "cmv")}


def iso(value: datetime) -> str:
    return value.isoformat()


def now() -> datetime:
    from lims import clock

    return clock.utcnow()


def ago(**delta: float) -> str:
    return iso(now() - timedelta(**delta))


def audit_entries(app, entity_type: str, entity_id: Any) -> list[dict[str, Any]]:
    """The audit rows of one entity, changes decoded."""
    from lims.audit import AuditEntry
    from lims.db import db

    with app.app_context():
        rows = db.session.scalars(select(AuditEntry).where(
            AuditEntry.entity_type == entity_type, AuditEntry.entity_id == str(entity_id))
            .order_by(AuditEntry.seq))
        return [{"action": r.action, "actor": r.actor_username, "reason": r.reason,
                 "changes": json.loads(r.changes)} for r in rows]


def count_rows(app, model) -> int:
    from sqlalchemy import func

    from lims.db import db

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


class Lab:
    """Registers subjects, collections and batches through the API, asserting success."""

    def __init__(self, client, tech: dict, qa: dict) -> None:
        self.client, self.tech, self.qa = client, tech, qa
        self._n = 0

    def _code(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}-{self._n:04d}"

    def post(self, path: str, body: Any, headers: dict | None = None, status: int | None = 201):
        response = self.client.post(f"/api/v1{path}", json=body, headers=headers or self.tech)
        if status is not None:
            assert response.status_code == status, response.json
        return response

    def patient(self, contraindications: list[str] | None = (), **fields) -> dict:
        body = {"code": self._code("PT"), "kind": "patient", "initials": "AB",
                "date_of_birth": "1970-01-02", **fields}
        subject = self.post("/subjects", body).json
        if contraindications is not None:
            subject = self.post(f"/subjects/{subject['id']}/recipient-screening",
                                {"contraindications": list(contraindications)},
                                status=200).json
        return subject

    def donor(self, status: str | None = "eligible", specimen_at: datetime | None = None) -> dict:
        subject = self.post("/subjects", {"code": self._code("DN"), "kind": "donor",
                                          "initials": "CD", "date_of_birth": "1990-05-06"}).json
        if status is None:
            return subject
        markers = dict(NEGATIVE)
        if status == "ineligible":
            markers["hcv_nat"] = "reactive"
        elif status == "incomplete":
            markers["cmv"] = "pending"
        specimen_at = specimen_at or now() - timedelta(days=1)
        subject = self.post(f"/subjects/{subject['id']}/donor-screening",
                            {"specimen_collected_at": iso(specimen_at), "markers": markers},
                            status=200).json
        if status == "eligible":
            subject = self.post(f"/subjects/{subject['id']}/donor-eligibility",
                                {"password": TEST_PASSWORD, "meaning": "approval"},
                                headers=self.qa, status=200).json
        return subject

    def collection(self, subject: dict, source: str = "bone_marrow", **fields) -> dict:
        body = {"subject_id": subject["id"], "source": source, "collected_at": ago(days=4),
                "volume_ml": 50.0, **fields}
        return self.post("/collections", body).json

    def batch(self, product: str = "MSC", origin: str = "autologous", **fields) -> dict:
        if origin == "autologous":
            recipient = fields.pop("recipient", None) or self.patient()
            collection = fields.pop("collection", None) or self.collection(recipient)
        else:
            donor = fields.pop("donor", None) or self.donor("eligible")
            collection = fields.pop("collection", None) or self.collection(donor, "apheresis")
            recipient = fields.pop("recipient", None) or self.patient()
        body = {"collection_id": collection["id"], "product": product, "origin": origin,
                "recipient_id": recipient["id"], **fields}
        return self.post("/batches", body).json

    def step(self, batch: dict, type_: str, status: int | None = 201, **fields):
        response = self.post(f"/batches/{batch['id']}/steps", {"type": type_, **fields},
                             status=status)
        return response.json if status == 201 else response

    def harvested(self, product: str = "MSC", cells: int = 100_000_000, **fields) -> dict:
        batch = self.batch(product, **fields)
        self.step(batch, "seeding", performed_at=ago(hours=1))
        self.step(batch, "harvest", cell_count=cells, viability_pct=92.0)
        return self.client.get(f"/api/v1/batches/{batch['id']}", headers=self.tech).json


@pytest.fixture
def tech(api_headers):
    return api_headers("technician")


@pytest.fixture
def qa(api_headers):
    return api_headers("qa")


@pytest.fixture
def admin(api_headers):
    return api_headers("admin")


@pytest.fixture
def lab(client, tech, qa):
    return Lab(client, tech, qa)


@pytest.fixture
def utc_now():
    return datetime.now(UTC)
