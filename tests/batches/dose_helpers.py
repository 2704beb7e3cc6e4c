"""Helpers for dose tests: formulated doses, release and rejection as ``qc`` will do them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from tests.fixtures.lab import now
from tests.fixtures.users import TEST_PASSWORD

FORMULATION = {"count": 2, "cells_per_dose": 20_000_000, "volume_ml": 10.0}


def formulated(lab, product: str = "MSC", count: int = 2, expires_in_hours: float | None = None,
               **fields) -> tuple[dict, list[dict]]:
    """A harvested batch formulated into ``count`` doses: (batch, doses) as the API answers."""
    batch = lab.harvested(product, **fields)
    body: dict[str, Any] = {**FORMULATION, "count": count}
    if expires_in_hours is not None:
        body["expires_at"] = (now() + timedelta(hours=expires_in_hours)).isoformat()
    doses = lab.post(f"/batches/{batch['id']}/doses", body).json
    batch = lab.client.get(f"/api/v1/batches/{batch['id']}", headers=lab.tech).json
    return batch, doses


def _qa_signature(app, batch_id: int, meaning: str):
    """A QA signature bound to the batch record as ``qc`` binds it (its content hash)."""
    from batches.models import Batch
    from lims.auth.models import User
    from lims.auth.services import create_user, sign
    from lims.db import db
    from qc.release import batch_record_content

    qa = db.session.scalar(select(User).where(User.username == "qa-release"))
    if qa is None:
        qa = create_user("qa-release", "Quinn Assurance", "qa", TEST_PASSWORD)
    content = batch_record_content(db.session.get(Batch, batch_id))
    return sign(qa, TEST_PASSWORD, meaning, "batch", batch_id, content)


def release(app, batch_id: int) -> None:
    """Release the batch the way ``qc`` will: a QA signature, then batches' release move."""
    from batches.models import Batch
    from batches.services import mark_released
    from lims.db import db

    with app.app_context():
        batch = db.session.get(Batch, batch_id)
        mark_released(batch, _qa_signature(app, batch_id, "approval"))
        db.session.commit()


def reject(app, batch_id: int, reason: str = "sterility failed") -> None:
    from batches.models import Batch
    from batches.services import mark_rejected
    from lims.db import db

    with app.app_context():
        batch = db.session.get(Batch, batch_id)
        mark_rejected(batch, _qa_signature(app, batch_id, "rejection"), reason)
        db.session.commit()


def dose_json(lab, dose_id: int) -> dict[str, Any]:
    response = lab.client.get(f"/api/v1/doses/{dose_id}", headers=lab.tech)
    assert response.status_code == 200, response.json
    return response.json


def custody(lab, dose: dict, event: str, status: int | None = 201, audited=(), **fields):
    """POST a custody event confirmed by the dose's own Data Matrix unless told otherwise;
    a refusal writes nothing but the audit entries named in ``audited``."""
    body = {"event": event, "location": fields.pop("location", "Cell processing lab"),
            "scanned_code": fields.pop("scanned_code", None) or dose["barcodes"]["matrix"],
            **fields}
    return lab.post(f"/doses/{dose['id']}/custody", body, status=status, audited=audited)
