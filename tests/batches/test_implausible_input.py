"""Implausible and unrepresentable dates are a 400 naming the field, never a 500 and never a
write (SPEC §8 "bad input"): a collection in year 1, a birth date before 1900, a specimen
decades ago, a time whose conversion to UTC overflows, an expiry ISBT 128 cannot encode."""

from __future__ import annotations

from datetime import timedelta

import pytest

from tests.batches.dose_helpers import custody, formulated
from tests.fixtures.lab import NEGATIVE, iso, now

OVERFLOWING = ["0001-01-01T00:00:00+14:00", "9999-12-31T23:59:59-14:00"]
"""Valid ISO 8601 with an offset, but outside what a UTC timestamp can hold."""
LONG_AGO = ["0001-01-02T00:00:00+00:00", "1899-12-31T10:00:00+01:00", "1970-01-01T00:00:00Z"]


def _refused(response, field: str) -> None:
    assert response.status_code == 400, response.json
    assert field in response.json["details"]["fields"], response.json


@pytest.mark.parametrize("when", OVERFLOWING + LONG_AGO)
def test_collection_time_must_be_plausible(lab, when):
    patient = lab.patient()
    _refused(lab.post("/collections", {"subject_id": patient["id"], "source": "bone_marrow",
                                       "collected_at": when, "volume_ml": 5.0}, status=400),
             "collected_at")


def test_a_collection_a_few_years_back_is_a_late_entry_not_bad_input(lab):
    patient = lab.patient()
    lab.post("/collections", {"subject_id": patient["id"], "source": "bone_marrow",
                              "collected_at": iso(now() - timedelta(days=3 * 365)),
                              "volume_ml": 5.0})


@pytest.mark.parametrize("born", ["1899-12-31", "0001-01-01", "1800-06-15"])
def test_birth_date_before_1900_is_refused(lab, born):
    _refused(lab.post("/subjects", {"code": "PT-OLD", "kind": "patient", "initials": "AB",
                                    "date_of_birth": born}, status=400), "date_of_birth")


def test_birth_in_1900_is_accepted(lab):
    lab.post("/subjects", {"code": "PT-1900", "kind": "patient", "initials": "AB",
                           "date_of_birth": "1900-01-01"})


@pytest.mark.parametrize("when", OVERFLOWING + LONG_AGO + ["2004-05-06T10:00:00+02:00"])
def test_specimen_decades_ago_is_refused(lab, when):
    donor = lab.donor(None)
    _refused(lab.post(f"/subjects/{donor['id']}/donor-screening",
                      {"specimen_collected_at": when, "markers": NEGATIVE}, status=400),
             "specimen_collected_at")


@pytest.mark.parametrize("when", OVERFLOWING + LONG_AGO)
def test_step_time_must_be_plausible(lab, when):
    batch = lab.batch()
    _refused(lab.step(batch, "seeding", status=400, performed_at=when), "performed_at")
    step = lab.step(batch, "seeding")
    response = lab.client.patch(f"/api/v1/steps/{step['id']}",
                                json={"performed_at": when, "reason": "typo"},
                                headers=lab.tech)
    _refused(response, "performed_at")


@pytest.mark.parametrize("expiry", ["2100-01-01T00:00:00+00:00", "2150-06-01T12:00:00Z",
                                    "9999-12-31T23:59:59-14:00"])
def test_an_expiry_isbt_128_cannot_encode_is_refused(lab, expiry):
    batch = lab.harvested()
    _refused(lab.post(f"/batches/{batch['id']}/doses",
                      {"count": 1, "cells_per_dose": 1_000_000, "volume_ml": 1.0,
                       "expires_at": expiry}, status=400), "expires_at")


def test_an_expiry_in_the_lab_zone_past_2099_is_refused(app, lab):
    """2099-12-31 20:00 UTC is already 2100 on a lab clock at +14:00."""
    app.config["TIMEZONE"] = "Pacific/Kiritimati"
    batch = lab.harvested()
    _refused(lab.post(f"/batches/{batch['id']}/doses",
                      {"count": 1, "cells_per_dose": 1_000_000, "volume_ml": 1.0,
                       "expires_at": "2099-12-31T20:00:00+00:00"}, status=400), "expires_at")


def test_the_last_expiry_isbt_128_can_encode_is_accepted(lab):
    batch = lab.harvested()
    [dose] = lab.post(f"/batches/{batch['id']}/doses",
                      {"count": 1, "cells_per_dose": 1_000_000, "volume_ml": 1.0,
                       "expires_at": "2099-12-31T23:59:00+00:00"}).json
    label = lab.client.get(f"/api/v1/doses/{dose['id']}", headers=lab.tech).json
    assert label["barcodes"]["expiry"] == "&>0993652359"


@pytest.mark.parametrize("when", OVERFLOWING + LONG_AGO)
def test_custody_and_bedside_times_must_be_plausible(lab, when):
    _batch, [dose, _] = formulated(lab)
    dose = lab.client.get(f"/api/v1/doses/{dose['id']}", headers=lab.tech).json
    _refused(custody(lab, dose, "retrieved", status=400, occurred_at=when), "occurred_at")
    patient = lab.client.get(f"/api/v1/subjects/{_batch['recipient_id']}",
                             headers=lab.tech).json
    _refused(lab.post(f"/doses/{dose['id']}/administer",
                      {"patient_code": patient["code"],
                       "patient_date_of_birth": patient["date_of_birth"],
                       "scanned_code": dose["barcodes"]["matrix"], "occurred_at": when},
                      status=400), "occurred_at")


def test_a_bedside_birth_date_before_1900_is_bad_input(lab):
    _batch, [dose, _] = formulated(lab)
    dose = lab.client.get(f"/api/v1/doses/{dose['id']}", headers=lab.tech).json
    _refused(lab.post(f"/doses/{dose['id']}/administer",
                      {"patient_code": "PT-0001", "patient_date_of_birth": "1800-01-01",
                       "scanned_code": dose["barcodes"]["matrix"]}, status=400),
             "patient_date_of_birth")
