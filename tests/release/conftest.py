"""Fixtures for SPEC §3b tests: the qc lab (through the API) plus helpers that release a
batch, move its doses, and read what was written."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from tests.batches.conftest import Lab, admin, qa, tech  # noqa: F401 — fixtures
from tests.conftest import TEST_PASSWORD
from tests.qc.conftest import PASSING, RELEASE_TESTS, QcLab, reviewer, signer  # noqa: F401


class ReleaseLab(QcLab):
    """The qc lab plus the moves of SPEC §3b, each asserting the status it expects."""

    def get(self, path: str, headers=None) -> Any:
        response = self.client.get(f"/api/v1{path}", headers=headers or self.tech)
        assert response.status_code == 200, response.json
        return response.json

    def released(self, product: str = "NK", **fields) -> tuple[dict, list[dict]]:
        batch = self.ready(product, **fields)
        self.release(batch)
        return self.get(f"/batches/{batch['id']}"), self.doses(batch)

    def doses(self, batch: dict) -> list[dict]:
        return self.get(f"/batches/{batch['id']}/doses")

    def dose(self, dose: dict) -> dict:
        return self.get(f"/doses/{dose['id']}")

    def custody(self, dose: dict, event: str, status: int | None = 201, **fields):
        body = {"event": event, "location": fields.pop("location", "Cell processing lab"),
                "scanned_code": fields.pop("scanned_code", None) or dose["barcodes"]["matrix"],
                **fields}
        return self.post(f"/doses/{dose['id']}/custody", body, status=status)

    def administer(self, dose: dict, status: int | None = 200, **fields):
        batch = self.get(f"/batches/{dose['batch_id']}")
        patient = self.get(f"/subjects/{batch['recipient_id']}")
        body = {"patient_code": patient["code"], "patient_date_of_birth":
                patient["date_of_birth"], "scanned_code": dose["barcodes"]["matrix"], **fields}
        return self.post(f"/doses/{dose['id']}/administer", body, status=status)

    def results(self, batch: dict) -> dict[str, dict]:
        """The latest result per test."""
        return {r["test"]: r for r in self.get(f"/batches/{batch['id']}/qc-results")}

    def correct(self, result: dict, status: int | None = 200, headers=None, **changes):
        body = {"reason": changes.pop("reason", "transcription error"), **changes}
        return self.post(f"/qc-results/{result['id']}/correct", body, headers=headers,
                         status=status)

    def alerts(self, batch: dict, kind: str | None = None, open_only: bool = True) -> list:
        query = f"?batch_id={batch['id']}" + (f"&kind={kind}" if kind else "") \
            + ("&open=true" if open_only else "")
        return self.get(f"/alerts{query}")

    def close_alert(self, alert: dict, headers=None, status: int | None = 200):
        return self.post(f"/alerts/{alert['id']}/close",
                         {"investigation": "Investigated: see deviation report."},
                         headers=headers or self.qa, status=status)

    def sign(self, path: str, headers=None, status: int | None = 200, **body):
        payload = {"password": TEST_PASSWORD, "meaning": "approval", **body}
        return self.post(path, payload, headers=headers or self.signer, status=status)


@pytest.fixture
def rlab(client, tech, qa, reviewer, signer):  # noqa: F811
    return ReleaseLab(client, tech, qa, reviewer, signer)


def count(app, model, *where) -> int:
    from lims.db import db

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model).where(*where))


def follow_up_spec(rlab: ReleaseLab, admin_headers: dict, product: str = "NK",
                   follow_up: tuple[str, ...] = ("sterility",)) -> dict:
    """Revise the product's release specification so that ``follow_up`` tests are resulted
    after release (SPEC §2 timing); batches registered from now on use it."""
    specs = rlab.get(f"/qc-specifications?product={product}&current=true")
    spec = next(s for s in specs if s["stage"] == "release")
    tests = [{k: t[k] for k in ("test", "name", "kind", "comparator", "limit_value", "unit",
                                "expected_outcome")}
             | {"timing": "follow_up" if t["test"] in follow_up else "release"}
             for t in spec["tests"]]
    return rlab.post(f"/qc-specifications/{spec['id']}/revise",
                     {"reason": "14-day sterility resulted after release", "tests": tests},
                     headers=admin_headers).json
