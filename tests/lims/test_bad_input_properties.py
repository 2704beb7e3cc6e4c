"""Whatever is posted where a date or a time belongs, the answer is a 2xx or a clear 4xx,
never a 500, and a refusal writes nothing (SPEC §8 "bad input") — a Hypothesis property
over every API operation that takes a date or a time.

Derandomized; ``LIMS_PROPERTY_EXAMPLES`` examples per operation (default 25).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.batches.dose_helpers import custody, formulated, release
from tests.fixtures.lab import NEGATIVE, ago
from tests.fixtures.records import database_state

EXAMPLES = int(os.environ.get("LIMS_PROPERTY_EXAMPLES", "25"))

OFFSETS = st.integers(-14 * 60, 14 * 60).map(lambda minutes: timezone(timedelta(minutes=minutes)))
EDGES = st.sampled_from([
    "0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00", "0001-01-01", "9999-12-31",
    "2099-12-31T23:59:59+00:00", "2100-01-01T00:00:00+00:00", "1899-12-31", "1900-01-01",
    "1970-01-01T00:00:00Z", "2026-02-30T10:00:00Z", "2026-01-01T24:00:00Z", "", " ",
    "now", "10:00", "2026-13-01", "+20000-01-01T00:00:00Z", "2026-01-01T10:00:00+99:00"])
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3)
    | st.dictionaries(st.text(max_size=5), children, max_size=3), max_leaves=6)
VALUES = st.one_of(
    EDGES,
    st.datetimes(datetime(1, 1, 1), datetime(9999, 12, 31, 23, 59, 59), timezones=OFFSETS)
    .map(datetime.isoformat),
    st.datetimes(datetime(2015, 1, 1), datetime(2040, 1, 1), timezones=OFFSETS)
    .map(datetime.isoformat),
    st.datetimes().map(datetime.isoformat),
    st.dates().map(lambda d: d.isoformat()),
    st.text(alphabet="0123456789-:T+Z. ", max_size=30),
    JSON,
)
"""Aware and naive times of every year and offset, recent ones, dates, date-like text and
arbitrary JSON."""

Operation = tuple[str, str, Callable[[Any], dict[str, Any]]]


def _subjects(lab) -> Operation:
    return "POST", "/subjects", lambda value: {
        "code": "PT-PROP", "kind": "patient", "initials": "AB", "date_of_birth": value}


def _donor_screening(lab) -> Operation:
    donor = lab.donor(None)
    return "POST", f"/subjects/{donor['id']}/donor-screening", lambda value: {
        "specimen_collected_at": value, "markers": NEGATIVE}


def _collections(lab) -> Operation:
    patient = lab.patient()
    return "POST", "/collections", lambda value: {
        "subject_id": patient["id"], "source": "bone_marrow", "collected_at": value,
        "volume_ml": 5.0}


def _steps(lab) -> Operation:
    batch = lab.batch()
    return "POST", f"/batches/{batch['id']}/steps", lambda value: {
        "type": "seeding", "performed_at": value}


def _step_correction(lab) -> Operation:
    step = lab.step(lab.batch(), "seeding", performed_at=ago(hours=2))
    return "PATCH", f"/steps/{step['id']}", lambda value: {
        "performed_at": value, "reason": "time mistyped"}


def _formulation(lab) -> Operation:
    batch = lab.harvested(cells=10**12)
    return "POST", f"/batches/{batch['id']}/doses", lambda value: {
        "count": 1, "cells_per_dose": 1_000_000, "volume_ml": 1.0, "expires_at": value}


def _custody(lab) -> Operation:
    _batch, [dose, _] = formulated(lab)
    dose = lab.client.get(f"/api/v1/doses/{dose['id']}", headers=lab.tech).json
    return "POST", f"/doses/{dose['id']}/custody", lambda value: {
        "event": "retrieved", "location": "Bench", "scanned_code": dose["barcodes"]["matrix"],
        "occurred_at": value}


def _bedside(lab, field: str) -> Operation:
    batch, [dose, _] = formulated(lab)
    release(lab.client.application, batch["id"])
    dose = lab.client.get(f"/api/v1/doses/{dose['id']}", headers=lab.tech).json
    for event in ("retrieved", "shipped", "received", "thawed"):
        custody(lab, dose, event, location="Ward 5")
    patient = lab.client.get(f"/api/v1/subjects/{batch['recipient_id']}", headers=lab.tech).json
    body = {"patient_code": patient["code"], "patient_date_of_birth": patient["date_of_birth"],
            "scanned_code": dose["barcodes"]["matrix"]}
    return "POST", f"/doses/{dose['id']}/administer", lambda value: {**body, field: value}


def _qc_results(qlab) -> Operation:
    batch = qlab.in_review()
    return "POST", f"/batches/{batch['id']}/qc-results", lambda value: {
        "test": "viability", "value": 90.0, "unit": "%", "sampled_at": value}


OPERATIONS: dict[str, Callable[[Any], Operation]] = {
    "subject date_of_birth": _subjects,
    "donor screening specimen_collected_at": _donor_screening,
    "collection collected_at": _collections,
    "step performed_at": _steps,
    "step correction performed_at": _step_correction,
    "formulation expires_at": _formulation,
    "custody occurred_at": _custody,
    "administration occurred_at": lambda lab: _bedside(lab, "occurred_at"),
    "administration patient_date_of_birth": lambda lab: _bedside(lab, "patient_date_of_birth"),
    "qc result sampled_at": _qc_results,
}
KEPT_ON_REFUSAL = {
    "administration occurred_at": {"audit_entry", "audit_head", "alert"},
    "administration patient_date_of_birth": {"audit_entry", "audit_head", "alert"},
}
"""Tables a refusal may write: a failed bedside check is kept and alerted (SPEC §5)."""


@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_any_date_input_is_answered_2xx_or_4xx_and_a_refusal_writes_nothing(app, qlab,
                                                                           operation):
    method, path, body_with = OPERATIONS[operation](qlab)
    kept = KEPT_ON_REFUSAL.get(operation, set())

    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(value=VALUES)
    def answers_cleanly(value: Any) -> None:
        before = database_state(app)
        response = qlab.client.open(f"/api/v1{path}", method=method, json=body_with(value),
                                    headers=qlab.tech)
        assert response.status_code < 500, (value, response.get_data(as_text=True)[:300])
        if response.status_code >= 400:
            assert set(response.json) == {"error", "message", "details"}
            after = database_state(app)
            changed = {name for name, digest in after.tables.items()
                       if before.tables[name] != digest}
            assert changed <= kept, (value, response.status_code, sorted(changed))

    answers_cleanly()
