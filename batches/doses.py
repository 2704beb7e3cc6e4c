"""Formulation: a harvested batch split into doses, with their ISBT 128 codes (SPEC §2, §6).

* Only a harvested batch can be formulated, once; formulating moves it to
  ``qc_review`` (SPEC §3).
* ``count`` doses get the division codes of SPEC §6 (``00`` for one undivided
  dose; first-level divisions ``A0``, ``B0``… otherwise, at most 26). A dose's
  ``code`` is DIN + product code + division (``Z999926000001-S9001V-A0``), unique.
* Cells per dose × count may not exceed the cells counted at harvest (when the
  harvest recorded a count).
* Expiry defaults to formulation time + the product's shelf life; the storage
  temperature and container default to the product's.
* A dose of a cryopreserved product (a product setting: MSC) is marked
  ``cryopreserved``: it is thawed before administration (:mod:`batches.custody`).
* Each dose's custody chain starts at formulation: ``stored`` at the processing
  facility, by the formulating technician.
* :func:`barcode_texts` gives the exact texts a dose label encodes (``din``,
  ``product``, ``expiry`` and the Data Matrix ``matrix``); the labels package
  draws them.
"""

from __future__ import annotations

from typing import Any

from flask import current_app
from sqlalchemy import select

from batches import isbt128
from batches.batch_records import lock, move
from batches.common import facility_tz, get_or_404
from batches.custody import record_first_custody
from batches.lifecycle import Action, BatchStatus
from batches.models import (
    Batch,
    CultureStep,
    CustodyEventType,
    Dose,
    DoseStatus,
    Origin,
    StepStatus,
    StepType,
)
from lims import clock
from lims.audit.context import user_is_actor
from lims.auth.models import User
from lims.db import db
from lims.errors import BadRequest, Conflict


def collection_type(batch: Batch) -> str:
    """ISBT 128 collection type: ``1`` autologous only, ``V`` volunteer allogeneic (SPEC §6)."""
    return "1" if batch.origin == Origin.autologous else "V"


def dose_code(din: str, description_code: str, ctype: str, division: str) -> str:
    return f"{din}-{description_code}{ctype}-{division}"


def harvested_cells(batch: Batch) -> int | None:
    return db.session.scalar(select(CultureStep.cell_count).where(
        CultureStep.batch_id == batch.id, CultureStep.type == StepType.harvest,
        CultureStep.status == StepStatus.done).order_by(CultureStep.performed_at.desc()).limit(1))


@user_is_actor
def formulate(batch: Batch, data: dict[str, Any], user: User) -> list[Dose]:
    """Split a harvested batch into doses (SPEC §2 Dose, §3 harvested → qc_review)."""
    lock(batch)
    count, cells = data["count"], data["cells_per_dose"]
    reasons: list[str] = []
    if batch.status != BatchStatus.harvested:
        reasons.append(f"the batch is {batch.status.replace('_', ' ')}; only a harvested "
                       "batch can be formulated")
    if batch.doses:
        reasons.append(f"the batch already has {len(batch.doses)} doses")
    available = harvested_cells(batch)
    if available is not None and count * cells > available:
        reasons.append(f"{count} doses × {cells:,} cells = {count * cells:,} cells, more than "
                       f"the {available:,} counted at harvest")
    if reasons:
        raise Conflict("The batch cannot be formulated.", reasons)
    now = clock.utcnow()
    product = batch.product
    expires_at = data.get("expires_at")
    if expires_at is None:
        from datetime import timedelta

        expires_at = now + timedelta(hours=product.shelf_life_hours)
    elif expires_at <= now:
        raise BadRequest("The expiry is in the past.",
                         details={"fields": {"expires_at": ["must be in the future"]}})
    ctype = collection_type(batch)
    din = batch.collection.din
    doses = []
    for division in isbt128.division_codes(count):
        dose = Dose(batch_id=batch.id, division=division, collection_type=ctype,
                    description_code=product.description_code,
                    code=dose_code(din, product.description_code, ctype, division),
                    cells=cells, volume_ml=data["volume_ml"],
                    container=data.get("container") or product.default_container,
                    storage_temperature=data.get("storage_temperature")
                    or product.storage_temperature,
                    expires_at=expires_at, status=DoseStatus.quarantined,
                    formulated_by_id=user.id, formulated_at=now,
                    cryopreserved=product.cryopreserved)
        db.session.add(dose)
        doses.append(dose)
    move(batch, Action.formulate)
    db.session.flush()
    for dose in doses:
        record_first_custody(dose=dose, event=CustodyEventType.stored, occurred_at=now,
                             to_location=current_app.config["FACILITY_NAME"],
                             to_person=user.full_name, user=user)
    db.session.refresh(batch)
    return doses


def get_dose(dose_id: int) -> Dose:
    return get_or_404(Dose, dose_id, "dose")


def find_by_code(code: str) -> Dose | None:
    return db.session.scalar(select(Dose).where(Dose.code == code))


def find_by_identity(din: str, product_text: str) -> Dose | None:
    """The dose with this DIN and product code text (``=<S9001VA0``)."""
    try:
        parsed = isbt128.parse_product_code(product_text)
    except ValueError:
        return None
    return find_by_code(dose_code(din, parsed.product_description_code,
                                  parsed.collection_type, parsed.division))


def product_text(dose: Dose) -> str:
    return isbt128.product_code_text(dose.description_code, dose.collection_type, dose.division)


def barcode_texts(dose: Dose) -> dict[str, str]:
    """The exact texts the dose label encodes (SPEC §6, §7 ``barcodes``).

    Dates are the facility's wall-clock time (config ``TIMEZONE``).
    """
    din = isbt128.din_barcode_text(dose.batch.collection.din)
    product = product_text(dose)
    expiry = isbt128.expiry_text(dose.expires_at.astimezone(facility_tz()))
    return {"din": din, "product": product, "expiry": expiry,
            "matrix": isbt128.dose_matrix_text(din, product, expiry)}
