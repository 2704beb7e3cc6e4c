"""Patient-safety invariants of SPEC §3b and §5, proven beyond examples (issue 11).

A Hypothesis state machine drives random sequences of lab actions through the REST API —
register, results, corrections, deviations, screenings, release, exceptional release,
late results, custody, thaw, administration, recall, the passing of time — and after every
action checks that:

1. no dose is ever administered unless, at that moment, its batch's release holds: the
   machine keeps its own model of when a release stops holding (SPEC §3b, written from
   the SPEC, not from the code) and the database must agree — an administration the model
   forbids, or a batch the model says is suspended that the database shows released, fails;
   the database's own record agrees too (no administration inside a suspension or after a
   recall, none before a release signature);
2. no cryopreserved dose is administered without a thaw right before, or after its
   effective (post-thaw) expiry; no dose after its label expiry;
3. every custody chain is unbroken (:func:`batches.custody.custody_chain_breaks`);
4. every GMP row has its audit entry and ``audit-verify`` holds; a released batch's
   signature holds over its record.

Example count: small by default (the fast suite runs it on SQLite and PostgreSQL). Run it
longer with ``LIMS_PROPERTY_EXAMPLES=200 LIMS_PROPERTY_STEPS=60`` (and
``LIMS_PROPERTY_RANDOM=1`` for fresh random sequences instead of the derandomized ones);
see docs/QC.md, "Property tests".
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    invariant,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

from tests.fixtures.lab import NEGATIVE, iso, now
from tests.fixtures.release import ReleaseLab, follow_up_spec
from tests.fixtures.users import TEST_PASSWORD

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("LIMS_PROPERTY_EXAMPLES", "5"))
STEPS = int(os.environ.get("LIMS_PROPERTY_STEPS", "40"))
RANDOM = os.environ.get("LIMS_PROPERTY_RANDOM") == "1"
FACILITY = "Demo Cell Therapy Facility"
SEEN: Counter[str] = Counter()
"""What the runs did (printed at the end: ``-s`` shows it), to see the machine reaches
releases, suspensions, recalls and administrations."""


def event(what: str) -> None:
    SEEN[what] += 1
TESTS = {"NK": ["sterility", "mycoplasma", "endotoxin", "viability", "cd56_cd3neg", "cd3"],
         "MSC": ["sterility", "mycoplasma", "endotoxin", "viability", "cd73", "cd90", "cd105",
                 "cd45", "cd34", "cd14", "cd19", "hla_dr", "gram_stain"]}
FOLLOW_UP = {"NK": {"sterility"}, "MSC": set()}  # NK's 14-day sterility (a spec revision)
FAILING = {"sterility": {"outcome": "positive"}, "mycoplasma": {"outcome": "positive"},
           "gram_stain": {"outcome": "positive"}, "endotoxin": {"value": 3.0, "unit": "EU/mL"}}


@pytest.fixture
def app_config(app_config):
    return {**app_config, "TOKEN_TTL_MINUTES": 60 * 24 * 365}


@dataclass
class BatchModel:
    """What the SPEC says about one batch, kept by the machine (not read from the server)."""

    id: int
    product: str
    origin: str
    donor_id: int | None
    recipient_id: int
    doses: list[dict]
    released: bool = False  # a release was signed at least once
    holds: bool = False  # released, and nothing the signature covers changed since
    recalled: bool = False
    exceptional: set[str] = field(default_factory=set)  # pending items still awaited
    arrived: set[str] = field(default_factory=set)

    def broken(self) -> None:
        self.holds = False


def _audited_tables():
    from lims.audit import Audited
    from lims.db import db

    return [m.class_ for m in db.Model.registry.mappers
            if issubclass(m.class_, Audited) and hasattr(m.class_, "id")]


class Context:
    """Users, tokens and the lab, made once per test (every example shares the database)."""

    def __init__(self, app, client, api_headers, admin_headers) -> None:
        from lims.db import db

        with app.app_context():  # rows the migrations seeded (products…) have no audit entry
            self.seeded = {model.__tablename__: {str(i) for i in db.session.scalars(
                select(model.id))} for model in _audited_tables()}
            db.session.remove()
        self.tech, self.reviewer = api_headers("technician"), api_headers("technician")
        self.qa, self.corrector = api_headers("qa"), api_headers("qa")
        self.signer, self.second, self.closer = (api_headers("qa"), api_headers("qa"),
                                                 api_headers("qa"))
        self.lab = ReleaseLab(client, self.tech, self.qa, self.reviewer, self.signer)
        follow_up_spec(self.lab, admin_headers, "NK", tuple(FOLLOW_UP["NK"]))


def _ok(response) -> bool:
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.status_code in (200, 201, 400, 409), (response.status_code, response.json)
    return response.status_code < 300


class LabMachine(RuleBasedStateMachine):
    context: Context
    app = None
    clock = None
    batches = Bundle("batches")

    def __init__(self) -> None:
        super().__init__()
        self.lab = self.context.lab
        self.models: dict[int, BatchModel] = {}

    # -- helpers ---------------------------------------------------------------------------

    def post(self, path: str, body, headers=None):
        return self.lab.post(path, body, headers=headers or self.context.tech, status=None)

    def _dose(self, model: BatchModel, index: int) -> dict:
        return self.lab.dose(model.doses[index % len(model.doses)])

    def _after_release_result(self, model: BatchModel, test: str, passed: bool) -> None:
        """SPEC §3b: what a new result means for a released batch."""
        if not model.holds:
            return
        if test == "sterility" and "sterility" in model.exceptional \
                and "sterility" not in model.arrived:
            model.arrived.add("sterility")
            if not passed:
                model.broken()
            return
        if passed and test in FOLLOW_UP[model.product]:
            return
        model.broken()

    # -- registering and making ------------------------------------------------------------

    @rule(target=batches, product=st.sampled_from(["NK", "MSC"]),
          origin=st.sampled_from(["autologous", "allogeneic"]), donor_pending=st.booleans(),
          count=st.integers(1, 2))
    def new_batch(self, product, origin, donor_pending, count):
        lab, fields = self.lab, {}
        donor = None
        if origin == "allogeneic":
            donor = lab.donor("incomplete" if donor_pending else "eligible")
            fields["donor"] = donor
        batch = lab.harvested(product, origin=origin, **fields)
        lab.post(f"/batches/{batch['id']}/doses",
                 {"count": count, "cells_per_dose": 10_000_000, "volume_ml": 10.0})
        model = BatchModel(batch["id"], product, origin, donor["id"] if donor else None,
                           batch["recipient_id"], lab.doses(batch))
        self.models[batch["id"]] = model
        return batch["id"]

    @rule(target=batches, product=st.sampled_from(["NK", "MSC"]),
          origin=st.sampled_from(["autologous", "allogeneic"]), donor_pending=st.booleans(),
          urgent=st.booleans())
    def released_batch(self, product, origin, donor_pending, urgent):
        """A batch made, tested and released in one step — normally, or for urgent medical
        need while its sterility (MSC) or its donor's screening is pending — so that runs
        spend their steps on what happens after release."""
        batch_id = self.new_batch(product, origin, donor_pending and not urgent or
                                  donor_pending and origin == "allogeneic", 2)
        self.fill_results(batch_id, skip_sterility=urgent and product == "MSC")
        if urgent:
            self.exceptional_release(batch_id)
        else:
            self.release(batch_id)
        dose = self.models[batch_id].doses[0]  # the first dose goes to the ward
        for event_, where in (("retrieved", FACILITY), ("shipped", "Courier"),
                              ("received", "Ward 5")):
            _ok(self.post(f"/doses/{dose['id']}/custody", {
                "event": event_, "location": where,
                "scanned_code": dose["barcodes"]["matrix"]}))
        return batch_id

    @rule(batch_id=batches, index=st.integers(0, 1), thaw=st.booleans())
    def to_the_bedside(self, batch_id, index, thaw):
        """Retrieved, shipped, received at the ward, (thawed), then given: each move may be
        refused; the administration is checked as in :meth:`administer`."""
        model = self.models[batch_id]
        event(f"to the bedside ({'release holds' if model.holds else 'no release'})")
        dose = self._dose(model, index)
        for event_, where in (("retrieved", FACILITY), ("shipped", "Courier"),
                              ("received", "Ward 5"), ("thawed", "Ward 5")):
            if event_ == "thawed" and not thaw:
                continue
            _ok(self.post(f"/doses/{dose['id']}/custody", {
                "event": event_, "location": where,
                "scanned_code": dose["barcodes"]["matrix"]}))
        self.administer(batch_id, index)

    @rule(batch_id=batches, what=st.sampled_from(["result", "step", "deviation", "recipient",
                                                  "donor", "eligibility"]),
          index=st.integers(0, 12), passed=st.booleans(), by_qa=st.booleans())
    def change_the_record(self, batch_id, what, index, passed, by_qa):
        """Something the release covers changes (SPEC §3b): a result or a step corrected, a
        deviation opened, a recipient or donor screening recorded, an eligibility signed."""
        if what == "result":
            self.correct_result(batch_id, index, passed, by_qa)
        elif what == "step":
            self.correct_step(batch_id)
        elif what == "deviation":
            self.open_deviation(batch_id)
        elif what == "recipient":
            self.recipient_screening(batch_id)
        elif what == "donor":
            self.donor_screening(batch_id, reactive=not passed, pending=by_qa)
        else:
            self.sign_donor(batch_id)

    @rule(batch_id=batches, skip_sterility=st.booleans())
    def fill_results(self, batch_id, skip_sterility):
        """Every release test still without a result, passing, reviewed by a second person."""
        model = self.models[batch_id]
        resulted = self.lab.results({"id": batch_id})
        for test in TESTS[model.product]:
            if test in resulted or (skip_sterility and test == "sterility"):
                continue
            self._result(model, test, True)

    @rule(batch_id=batches, index=st.integers(0, 12), passed=st.booleans())
    def enter_result(self, batch_id, index, passed):
        model = self.models[batch_id]
        self._result(model, TESTS[model.product][index % len(TESTS[model.product])], passed)

    def _result(self, model: BatchModel, test: str, passed: bool) -> None:
        from tests.fixtures.qc import PASSING

        body = {"test": test, **(PASSING[test] if passed else FAILING.get(
            test, {"value": 1.0, "unit": "%"} if test not in ("cd45", "cd34", "cd14", "cd19",
                                                              "hla_dr", "cd3")
            else {"value": 50.0, "unit": "%"}))}
        response = self.post(f"/batches/{model.id}/qc-results", body)
        if _ok(response):
            assert response.json["evaluation"] == ("pass" if passed else "fail"), body
            self._after_release_result(model, test, passed)
            self.post(f"/qc-results/{response.json['id']}/review", {},
                      headers=self.context.reviewer)

    def correct_result(self, batch_id, index, passed, by_qa):
        model = self.models[batch_id]
        results = list(self.lab.results({"id": batch_id}).values())
        if not results:
            return
        result = results[index % len(results)]
        test = result["test"]
        change = {"outcome": "negative" if passed else "positive"} if result["outcome"] \
            else {"value": (result["value"] or 0) + (0.01 if passed else 0),
                  "unit": result["unit"]}
        if not passed and not result["outcome"]:
            change = {"value": 50.0 if test in ("cd45", "cd34", "cd14", "cd19", "hla_dr", "cd3",
                                                "endotoxin") else 1.0, "unit": result["unit"]}
        response = self.post(f"/qc-results/{result['id']}/correct",
                             {**change, "reason": "property test correction"},
                             headers=self.context.corrector if by_qa else self.context.tech)
        if _ok(response):
            if model.holds:
                model.broken()
            self.post(f"/qc-results/{result['id']}/review", {}, headers=self.context.reviewer)

    def correct_step(self, batch_id):
        model = self.models[batch_id]
        steps = [s for s in self.lab.get(f"/batches/{batch_id}/steps") if s["status"] == "done"]
        step = steps[-1]
        response = self.lab.client.patch(
            f"/api/v1/steps/{step['id']}", headers=self.context.tech,
            json={"notes": f"corrected {datetime.now().timestamp()}", "reason": "typo"})
        if _ok(response) and model.holds:
            model.broken()

    def open_deviation(self, batch_id):
        if _ok(self.post(f"/batches/{batch_id}/deviations", {"description": "spill"})):
            self.models[batch_id].broken()

    @rule(batch_id=batches)
    def close_deviations_and_alerts(self, batch_id):
        for deviation in self.lab.get(f"/batches/{batch_id}/deviations?open=true"):
            self.post(f"/deviations/{deviation['id']}/close",
                      {"disposition": "retest; root cause found", "password": TEST_PASSWORD},
                      headers=self.context.closer)
        for alert in self.lab.get(f"/alerts?batch_id={batch_id}&open=true",
                                  headers=self.context.closer):
            if alert["closing"] == "investigation":
                self.post(f"/alerts/{alert['id']}/close", {"investigation": "investigated"},
                          headers=self.context.closer)

    @rule(batch_id=batches)
    def investigate_and_re_release(self, batch_id):
        """QA's way out of a suspension (SPEC §3b): failed results retested, reviews done,
        deviations and alerts closed, then a new release signature."""
        model = self.models[batch_id]
        for test, result in self.lab.results({"id": batch_id}).items():
            if result["evaluation"] == "fail":
                self._result(model, test, True)
            elif not result["reviewed"]:
                self.post(f"/qc-results/{result['id']}/review", {},
                          headers=self.context.reviewer)
        self.close_deviations_and_alerts(batch_id)
        self.release(batch_id)

    # -- release ---------------------------------------------------------------------------

    @rule(batch_id=batches)
    def release(self, batch_id):
        model = self.models[batch_id]
        response = self.post(f"/batches/{batch_id}/release",
                             {"password": TEST_PASSWORD, "meaning": "approval"},
                             headers=self.context.signer)
        if _ok(response):
            event("re-released" if model.released else "released")
            model.released = model.holds = True
            model.exceptional, model.arrived = set(), set()

    @rule(batch_id=batches)
    def exceptional_release(self, batch_id):
        model = self.models[batch_id]
        response = self.post(f"/batches/{batch_id}/exceptional-release",
                             {"password": TEST_PASSWORD, "physician_name": "Dr. Urgent",
                              "physician_request": "critical"}, headers=self.context.signer)
        if not _ok(response):
            return
        told = response.json["exceptional_release"]["pending_items"]
        response = self.post(f"/batches/{batch_id}/exceptional-release/approve",
                             {"password": TEST_PASSWORD}, headers=self.context.second)
        if _ok(response):
            event("released exceptionally")
            model.released = model.holds = True
            model.exceptional = {"sterility" if t.startswith("sterility") else "donor_screening"
                                 for t in told}
            model.arrived = set()

    @rule(batch_id=batches)
    def recall(self, batch_id):
        response = self.post(f"/batches/{batch_id}/recall",
                             {"password": TEST_PASSWORD, "meaning": "approval",
                              "reason": "property test recall"}, headers=self.context.closer)
        if _ok(response):
            event("recalled")
            model = self.models[batch_id]
            model.recalled, model.holds = True, False

    # -- screenings ------------------------------------------------------------------------

    def donor_screening(self, batch_id, reactive, pending):
        model = self.models[batch_id]
        if model.donor_id is None:
            return
        markers = {**NEGATIVE, "cmv": "pending" if pending else "negative",
                   "hcv_nat": "reactive" if reactive else "negative"}
        response = self.post(f"/subjects/{model.donor_id}/donor-screening",
                             {"specimen_collected_at": iso(now()), "markers": markers})
        if not _ok(response) or not model.holds:
            return
        waiting = "donor_screening" in model.exceptional
        if waiting and "donor_screening" not in model.arrived:
            if reactive:
                model.broken()
            elif not pending:
                model.arrived.add("donor_screening")
            return
        model.broken()

    def sign_donor(self, batch_id):
        model = self.models[batch_id]
        if model.donor_id is None:
            return
        response = self.post(f"/subjects/{model.donor_id}/donor-eligibility",
                             {"password": TEST_PASSWORD, "meaning": "approval"},
                             headers=self.context.qa)
        if _ok(response) and model.holds and "donor_screening" not in model.exceptional:
            model.broken()

    def recipient_screening(self, batch_id):
        model = self.models[batch_id]
        response = self.post(f"/subjects/{model.recipient_id}/recipient-screening",
                             {"contraindications": []})
        if _ok(response) and model.holds:
            model.broken()

    # -- custody and the bedside -----------------------------------------------------------

    @rule(batch_id=batches, index=st.integers(0, 1),
          event=st.sampled_from(["retrieved", "shipped", "delivered", "received", "stored",
                                 "thawed", "disposed"]),
          where=st.sampled_from(["Ward 5", FACILITY]))
    def custody(self, batch_id, index, event, where):
        dose = self._dose(self.models[batch_id], index)
        body = {"event": event, "location": where, "scanned_code": dose["barcodes"]["matrix"]}
        if event == "disposed":
            body["notes"] = "property test disposal"
        _ok(self.post(f"/doses/{dose['id']}/custody", body))

    @rule(batch_id=batches, index=st.integers(0, 1))
    def administer(self, batch_id, index):
        model = self.models[batch_id]
        dose = self._dose(model, index)
        allowed = model.holds and not model.recalled
        patient = self.lab.get(f"/subjects/{model.recipient_id}")
        response = self.post(f"/doses/{dose['id']}/administer", {
            "patient_code": patient["code"], "patient_date_of_birth": patient["date_of_birth"],
            "scanned_code": dose["barcodes"]["matrix"], "location": "Ward 5"})
        if _ok(response):
            assert allowed, (f"dose {dose['code']} administered although the release of "
                             f"batch {batch_id} does not hold: {model}")
            event("administered" + (" (exceptional release)" if model.exceptional else ""))
        else:
            event(f"administration refused ({'release holds' if allowed else 'no release'})")

    @rule(batch_id=batches, index=st.integers(0, 1))
    def recall_disposition(self, batch_id, index):
        dose = self._dose(self.models[batch_id], index)
        _ok(self.post(f"/doses/{dose['id']}/recall-disposition",
                      {"disposition": "disposed", "scanned_code": dose["barcodes"]["matrix"],
                       "notes": "recalled"}))

    @rule(hours=st.integers(1, 6))
    def time_passes(self, hours):
        self.clock.advance(hours=hours)

    # -- invariants ------------------------------------------------------------------------

    @invariant()
    def releases_hold_or_stop_the_product(self):
        from batches.models import Batch
        from lims.db import db
        from qc.release import release_signature_holds

        with self.app.app_context():
            for model in self.models.values():
                batch = db.session.get(Batch, model.id)
                if model.released and not model.holds:
                    event(f"a release stopped holding: batch {batch.status}")
                    assert batch.status in ("release_suspended", "recalled"), (
                        f"batch {model.id} is {batch.status} although its release stopped "
                        f"holding: {model}")
                if batch.status == "released":
                    assert model.holds, (model, batch.status)
                    assert release_signature_holds(batch), f"batch {model.id}: record changed"
            db.session.remove()

    @invariant()
    def administrations_were_allowed_when_they_happened(self):
        from batches.custody import custody_chain_breaks
        from batches.models import Batch, CustodyEvent, ReleaseSuspension
        from lims.auth.models import Signature
        from lims.db import db
        from qc.models import Recall

        with self.app.app_context():
            for model in self.models.values():
                batch = db.session.get(Batch, model.id)
                releases = [s.signed_at for s in db.session.scalars(select(Signature).where(
                    Signature.entity_type == "batch", Signature.entity_id == str(batch.id),
                    Signature.statement.like("Approved for release%")))]
                suspensions = list(db.session.scalars(select(ReleaseSuspension).where(
                    ReleaseSuspension.batch_id == batch.id)))
                recall = db.session.scalar(select(Recall).where(Recall.batch_id == batch.id))
                for dose in batch.doses:
                    assert custody_chain_breaks(dose) == [], (dose.code, custody_chain_breaks(
                        dose))
                    events = list(db.session.scalars(select(CustodyEvent).where(
                        CustodyEvent.dose_id == dose.id).order_by(CustodyEvent.id)))
                    for before, event in zip(events, events[1:], strict=False):
                        if event.event != "administered":
                            continue
                        at = event.recorded_at
                        assert any(signed <= at for signed in releases), dose.code
                        assert not any(s.suspended_at <= at and (s.ended_at is None
                                                                 or at < s.ended_at)
                                       for s in suspensions), f"{dose.code} given suspended"
                        assert recall is None or at < recall.recalled_at, dose.code
                        assert event.occurred_at < dose.expires_at, dose.code
                        if dose.cryopreserved:
                            assert before.event == "thawed", dose.code
                            assert dose.post_thaw_expires_at is not None
                            assert event.occurred_at < dose.post_thaw_expires_at, dose.code
            db.session.remove()

    @invariant()
    def every_change_is_audited_and_the_trail_holds(self):
        from lims.audit import AuditEntry, verify
        from lims.db import db

        with self.app.app_context():
            assert verify().intact
            for model in _audited_tables():
                table = model.__tablename__
                ids = {str(i) for i in db.session.scalars(select(model.id))} \
                    - self.context.seeded[table]
                audited = set(db.session.scalars(select(AuditEntry.entity_id).where(
                    AuditEntry.entity_type == table, AuditEntry.action == "create")))
                assert ids <= audited, (table, sorted(ids - audited)[:5])
            db.session.remove()


def test_a_release_stays_true_or_stops_the_product(app, client, api_headers, admin, clock):
    SEEN.clear()
    LabMachine.context = Context(app, client, api_headers, admin)
    LabMachine.app, LabMachine.clock = app, clock
    run_state_machine_as_test(LabMachine, settings=settings(
        max_examples=EXAMPLES, stateful_step_count=STEPS, deadline=None, database=None,
        derandomize=not RANDOM, print_blob=False,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                               HealthCheck.data_too_large]))
    print("property run:", dict(sorted(SEEN.items())))


def test_expiry_moves_with_time_only_forward(clock):
    """The machine moves the clock forward only: a check of the fixture it relies on."""
    start = now()
    clock.advance(hours=1)
    assert now() - start >= timedelta(hours=1)

