"""One rule of what stops a dose (SPEC §3b, §5): the API's ``blocked_reasons`` (cheap, for
lists) and the bedside's refusals (with the full release check) agree on every dose the
way a clinic meets it — given, spent, expired, suspended, recalled or fine."""

from __future__ import annotations

from batches.administration import giving_refusals
from batches.custody import dose_blocks
from batches.models import Dose
from lims.db import db


def _bedside(app, dose: dict) -> list[str]:
    with app.test_request_context():
        return giving_refusals(db.session.get(Dose, dose["id"]))


def _listed(app, dose: dict) -> list[str]:
    """What the API's ``blocked_reasons`` holds, read without a token (one that lives
    past a dose's expiry would have expired too)."""
    with app.test_request_context():
        return dose_blocks(db.session.get(Dose, dose["id"]))


def _agree(app, rlab, dose: dict) -> list[str]:
    shown = rlab.dose(dose)["blocked_reasons"]
    refused = _bedside(app, dose)
    assert bool(shown) == bool(refused), (shown, refused)
    return shown


def test_the_api_and_the_bedside_stop_the_same_doses(app, rlab, clock):
    batch, (fine, given, *_rest) = rlab.released("NK")
    assert _agree(app, rlab, fine) == []

    for event in ("retrieved", "shipped", "received"):
        rlab.custody(rlab.dose(given), event)
    rlab.administer(rlab.dose(given))
    assert _agree(app, rlab, given) == ["the dose is administered"]

    sterility = rlab.results(batch)["sterility"]
    rlab.correct(sterility, outcome="positive", reason="late read: growth")
    for dose in (fine, given):
        shown = _agree(app, rlab, dose)
        assert any("release suspended" in r or "suspended" in r for r in shown), shown

    _other, (unused, *_others) = rlab.released("NK")
    assert _listed(app, unused) == [] == _bedside(app, unused)
    clock.advance(days=30)  # past the NK shelf life
    listed, refused = _listed(app, unused), _bedside(app, unused)
    assert listed == refused and listed[0].startswith("the dose expired at"), (listed, refused)
