"""21 CFR 1271.80(b): a donor one month old or younger (umbilical cord, cord blood) is tested
on the birth mother's specimen, any older donor on their own (SPEC §2)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from batches.models import Collection, DonorScreening
from batches.screening import one_month_after, specimen_source_for, specimen_source_refusal
from tests.fixtures.lab import NEGATIVE, ago, iso, now
from tests.fixtures.records import count_rows
from tests.release.web import post_form


@pytest.mark.parametrize(("born", "month_later"), [
    (date(2026, 1, 15), date(2026, 2, 15)), (date(2026, 1, 31), date(2026, 2, 28)),
    (date(2024, 1, 31), date(2024, 2, 29)), (date(2026, 12, 31), date(2027, 1, 31))])
def test_one_calendar_month(born, month_later):
    assert one_month_after(born) == month_later


def test_1271_80_b_a_donor_one_month_old_or_younger_is_tested_on_the_birth_mother():
    born = date(2026, 3, 10)
    assert specimen_source_for(born, born) == "birth_mother"
    assert specimen_source_for(born, date(2026, 4, 10)) == "birth_mother"  # one month old
    assert specimen_source_for(born, date(2026, 4, 11)) == "donor"  # older than one month
    assert specimen_source_refusal("birth_mother", born, date(2026, 3, 12)) is None
    assert "birth mother's specimen is tested" in specimen_source_refusal(
        "donor", born, date(2026, 3, 12))
    assert "donor's own specimen is tested" in specimen_source_refusal(
        "birth_mother", born, date(2026, 5, 1))


def _newborn(lab, days_old: int = 2) -> dict:
    born = (now() - timedelta(days=days_old)).date().isoformat()
    return lab.post("/subjects", {"code": "CB-1", "kind": "donor", "initials": "NB",
                                  "date_of_birth": born}).json


def _screen(lab, donor, status=200, **body):
    return lab.post(f"/subjects/{donor['id']}/donor-screening",
                    {"specimen_collected_at": ago(hours=2), "markers": NEGATIVE, **body},
                    status=status)


def test_a_newborn_donors_own_specimen_is_refused_and_the_mothers_recorded(app, lab,
                                                                            nothing_written):
    donor = _newborn(lab)
    lab.collection(donor, "cord_blood", collected_at=ago(hours=3))
    with nothing_written():
        refused = _screen(lab, donor, status=409)
    assert "birth mother's specimen is tested" in refused.json["details"]["reasons"][0]
    recorded = _screen(lab, donor, specimen_source="birth_mother").json
    assert recorded["donor_status"] == "incomplete"
    [screening] = lab.client.get(f"/api/v1/subjects/{donor['id']}/donor-screenings",
                                 headers=lab.tech).json
    assert screening["specimen_source"] == "birth_mother"
    page = lab.client.get(f"/api/v1/subjects/{donor['id']}", headers=lab.tech)
    assert page.status_code == 200


def test_an_adult_donor_is_tested_on_their_own_specimen(app, lab, nothing_written):
    donor = lab.donor(None)
    with nothing_written():
        refused = _screen(lab, donor, status=409, specimen_source="birth_mother")
    assert "donor's own specimen is tested" in refused.json["details"]["reasons"][0]
    assert count_rows(app, DonorScreening) == 0
    with nothing_written():
        lab.post(f"/subjects/{donor['id']}/donor-screening",
                 {"specimen_collected_at": ago(hours=2), "markers": NEGATIVE,
                  "specimen_source": "grandmother"}, status=400)


def test_a_collection_from_a_newborn_screened_on_their_own_specimen_is_refused(app, lab,
                                                                                nothing_written):
    """The screening came first (no collection yet, the specimen's date decides): the
    donor was then older than a month, but the collection is dated when the
    donor was one month old or younger — the screening cannot cover it."""
    donor = lab.post("/subjects", {"code": "CB-2", "kind": "donor", "initials": "NB",
                                   "date_of_birth": (now() - timedelta(days=35)).date()
                                   .isoformat()}).json
    _screen(lab, donor)  # 35 days old at the specimen: their own specimen is right
    with nothing_written():  # in the specimen's window, but the donor was 29 days old
        refused = lab.post("/collections", {
            "subject_id": donor["id"], "source": "cord_blood", "volume_ml": 80.0,
            "collected_at": iso(now() - timedelta(days=6))}, status=409)
    assert any("birth mother's specimen is tested" in r
               for r in refused.json["details"]["reasons"]), refused.json
    assert count_rows(app, Collection) == 0


def now_local_text(app) -> str:
    """An hour ago as a ``datetime-local`` value in the lab's zone."""
    from lims.config import lab_timezone

    with app.app_context():
        zone = lab_timezone()
    return (now() - timedelta(hours=1)).astimezone(zone).strftime("%Y-%m-%dT%H:%M")


def test_the_screening_form_asks_whose_specimen(app, lab, client, login_as):
    donor = _newborn(lab)
    lab.collection(donor, "umbilical_cord", collected_at=ago(hours=3))
    login_as("technician")
    path = f"/subjects/{donor['id']}"
    page = client.get(path).get_data(as_text=True)
    assert 'name="specimen_source" value="birth_mother"' in page
    form = {f"markers.{m}": v for m, v in NEGATIVE.items()}
    posted = post_form(client, f"{path}/donor-screening",
                       {**form, "specimen_collected_at": now_local_text(app),
                        "specimen_source": "birth_mother"}, page=path)
    assert posted.status_code == 302, posted.get_data(as_text=True)
    assert "(the birth mother's)" in client.get(path).get_data(as_text=True)
