"""Collections and their ISBT 128 DINs (SPEC §2, §6), concurrency included."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest

from batches import isbt128
from batches.models import Collection, CustodyEvent
from tests.fixtures.lab import Lab, ago, iso, now
from tests.fixtures.records import audit_entries, count_rows


def test_collection_gets_a_din_with_check_character_and_chain_of_identity(app, lab):
    patient = lab.patient()
    body = lab.collection(patient, "adipose", volume_ml=120.5, collected_by="Dr. Lipo")
    year = now().year % 100
    assert body["din"] == f"Z9999{year:02d}000001"
    assert body["check_character"] == isbt128.din_check_character(body["din"])
    assert body["din_barcode"] == f"={body['din']}00"
    assert body["chain_of_identity"] == f"CHZ9999{year:02d}000001"
    assert body["collected_by"] == "Dr. Lipo" and body["volume_ml"] == 120.5
    assert body["collected_at"].endswith("+00:00")
    second = lab.collection(patient)
    assert second["din"] == f"Z9999{year:02d}000002"
    [entry] = audit_entries(app, "collection", body["id"])
    assert entry["changes"]["din"] == [None, body["din"]]
    got = lab.client.get(f"/api/v1/collections/{body['id']}", headers=lab.tech)
    assert got.status_code == 200 and got.json["din"] == body["din"]


def test_collection_starts_its_custody_chain(app, lab):
    body = lab.collection(lab.patient())
    with app.app_context():
        from sqlalchemy import select

        from lims.db import db

        [event] = db.session.scalars(select(CustodyEvent).where(
            CustodyEvent.collection_id == body["id"]))
        assert event.event == "collected"


class TestConfiguredFacility:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "FACILITY_FIN": "G1234"}

    def test_din_uses_the_configured_fin_and_the_collection_year(self, lab):
        patient = lab.patient()
        last_year = now().replace(year=now().year - 1)
        body = lab.collection(patient, collected_at=iso(last_year))
        assert body["din"] == f"G1234{last_year.year % 100:02d}000001"
        assert lab.collection(patient)["din"] == f"G1234{now().year % 100:02d}000001"


class TestMisconfiguredFacility:
    @pytest.fixture
    def app_config(self, app_config):
        return {**app_config, "FACILITY_FIN": "O1234"}

    def test_an_invalid_fin_is_refused_not_a_500(self, lab):
        response = lab.post("/collections", {"subject_id": lab.patient()["id"],
                                             "source": "adipose", "collected_at": ago(hours=1),
                                             "volume_ml": 5.0}, status=503)
        assert "FIN" in response.json["message"]


@pytest.mark.parametrize(("change", "field"), [
    ({"collected_at": iso(now() + timedelta(hours=1))}, "collected_at"),
    ({"collected_at": "2026-01-01T10:00:00"}, "collected_at"),
    ({"volume_ml": "50"}, "volume_ml"),
    ({"volume_ml": -1}, "volume_ml"),
    ({"volume_ml": True}, "volume_ml"),
    ({"source": "liver"}, "source"),
    ({"subject_id": "1"}, "subject_id"),
    ({"collected_by": "x" * 201}, "collected_by"),
])
def test_bad_collection_input_is_400_and_writes_nothing(app, lab, change, field):
    patient = lab.patient()
    body = {"subject_id": patient["id"], "source": "bone_marrow", "collected_at": ago(hours=1),
            "volume_ml": 50.0, **change}
    response = lab.post("/collections", body, status=400)
    assert field in response.json["details"]["fields"]
    assert count_rows(app, Collection) == 0


def test_unknown_subject_is_404_and_technician_or_qa_only(app, lab, admin):
    lab.post("/collections", {"subject_id": 4242, "source": "bone_marrow",
                              "collected_at": ago(hours=1), "volume_ml": 5.0}, status=404)
    lab.post("/collections", {"subject_id": lab.patient()["id"], "source": "bone_marrow",
                              "collected_at": ago(hours=1), "volume_ml": 5.0},
             headers=admin, status=403)
    assert lab.client.get("/api/v1/collections/4242", headers=lab.tech).status_code == 404


def test_concurrent_registrations_never_share_a_din(app, lab, api_headers):
    """Threads, each its own connection (and on PostgreSQL its own transaction)."""
    patient = lab.patient()
    workers = 8
    per_worker = 3
    headers = [api_headers("technician") for _ in range(workers)]
    barrier = threading.Barrier(workers)
    results: list[tuple[int, str | None]] = []
    lock = threading.Lock()

    def register(index: int) -> None:
        client = app.test_client()
        barrier.wait()
        for _ in range(per_worker):
            response = client.post("/api/v1/collections", headers=headers[index], json={
                "subject_id": patient["id"], "source": "bone_marrow",
                "collected_at": ago(minutes=5), "volume_ml": 10.0})
            with lock:
                results.append((response.status_code, (response.json or {}).get("din")))

    threads = [threading.Thread(target=register, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    dins = [din for status, din in results if status == 201]
    assert [s for s, _ in results] == [201] * workers * per_worker, results
    assert len(set(dins)) == len(dins) == workers * per_worker
    sequences = sorted(int(d[-6:]) for d in dins)
    assert sequences == list(range(1, workers * per_worker + 1))


def test_fixture_lab_is_reusable(client, tech, qa):
    assert Lab(client, tech, qa).patient()["recipient_status"] == "cleared"
