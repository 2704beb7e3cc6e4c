"""SPEC §2, §5 on the custody page: a cryopreserved dose is thawed (the page says the
post-thaw expiry it sets, the dose page shows it); a fresh one cannot be; the receiver of a
handoff is a named person; a suspended release greys out what it blocks, saying why."""

from __future__ import annotations

from datetime import datetime, timedelta

from batches.models import CustodyEvent
from tests.fixtures.release import count
from tests.release.web import post_form, text


def _handoff(client, dose, event, location, **fields):
    path = f"/doses/{dose['id']}/custody"
    return post_form(client, path, {"event": event, "location": location,
                                    "scanned_code": dose["barcodes"]["matrix"], **fields},
                     page=path)


def test_a_frozen_dose_is_thawed_on_the_custody_page_and_its_clock_shown(
        app, client, login_as, rlab, nothing_written):
    _batch, doses = rlab.released("MSC")
    dose = rlab.dose(doses[0])
    login_as("technician")
    page = client.get(f"/doses/{dose['id']}/custody")
    shown = text(page)
    assert "cryopreserved: not thawed" in shown and "within 4 h" in shown
    html = page.get_data(as_text=True)
    assert 'value="thawed" disabled' in html, "stored: retrieve it first"
    assert 'name="to_person"' in html

    assert _handoff(client, dose, "retrieved", "LN2 tank 2", temperature_c="-190",
                    to_person="Tech Two").status_code == 302
    html = client.get(f"/doses/{dose['id']}/custody").get_data(as_text=True)
    assert 'value="thawed" disabled' not in html, "retrieved: it may be thawed now"
    done = _handoff(client, dose, "thawed", "Ward 5 prep room", temperature_c="37",
                    to_person="Nurse Joy")
    assert done.status_code == 302
    thawed = rlab.dose(dose)
    assert thawed["thawed_at"] and datetime.fromisoformat(thawed["post_thaw_expires_at"]) == \
        datetime.fromisoformat(thawed["thawed_at"]) + timedelta(hours=4)
    shown = text(client.get(f"/doses/{dose['id']}"))
    assert "thawed" in shown and "post-thaw expiry" in shown
    assert "Nurse Joy" in shown and "Tech Two" in shown  # received by / handed over by
    [*_, event] = rlab.get(f"/doses/{dose['id']}/custody")
    assert (event["event"], event["to_person"], event["from_person"]) == (
        "thawed", "Nurse Joy", "Tech Two")


def test_a_fresh_dose_offers_no_thaw_and_says_why(client, login_as, rlab, app,
                                                  nothing_written):
    _batch, doses = rlab.released("NK")
    dose = rlab.dose(doses[0])
    rlab.custody(dose, "retrieved")
    login_as("technician")
    page = client.get(f"/doses/{dose['id']}/custody")
    assert 'value="thawed" disabled' in page.get_data(as_text=True)
    assert "fresh product: it is not thawed" in text(page)
    before = count(app, CustodyEvent)
    with nothing_written():
        refused = _handoff(client, dose, "thawed", "Ward 5")
    assert refused.status_code == 409 and "fresh product" in text(refused)
    assert count(app, CustodyEvent) == before


def test_a_suspended_release_blocks_shipping_on_the_custody_page(client, login_as, rlab,
                                                                 nothing_written):
    batch, doses = rlab.released("NK")
    dose = rlab.dose(doses[0])
    rlab.custody(dose, "retrieved")
    rlab.correct(rlab.results(batch)["viability"], value=80.0, unit="%")
    login_as("technician")
    page = client.get(f"/doses/{dose['id']}/custody")
    html = page.get_data(as_text=True)
    assert 'id="suspension-banner"' in html and 'value="shipped" disabled' in html
    assert "release is suspended" in text(page)
    with nothing_written():
        refused = _handoff(client, dose, "shipped", "Courier")
    assert refused.status_code == 409 and "release is suspended" in text(refused)
    assert _handoff(client, dose, "stored", "Quarantine fridge").status_code == 302
