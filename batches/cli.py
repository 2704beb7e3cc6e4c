"""Demo data for ``flask --app wsgi lims seed-demo`` (never on a production database).

Registered with :func:`lims.extension_points.add_seeder`; runs inside the
command's transaction after the demo users exist. Idempotent: it does nothing
when its first patient is already there.
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from batches import services
from batches.models import Subject
from lims import clock
from lims.auth.services import find_user
from lims.db import db

NEGATIVE = {m: "negative" for m in ("hiv_1", "hiv_2", "hbsag", "anti_hbc", "hcv_antibody",
                                     "hcv_nat", "syphilis", "htlv", "cmv")}


def seed_demo_data() -> None:
    """A few patients and donors, an autologous MSC batch in culture, an allogeneic NK batch."""
    from datetime import date

    from lims.cli import DEMO_PASSWORD

    if db.session.scalar(select(Subject.id).where(Subject.code == "PT-0001")) is not None:
        return
    tech, qa = find_user("tech1"), find_user("qa1")
    if tech is None or qa is None:
        return
    now = clock.utcnow()

    def subject(code, kind, initials, born):
        return services.register_subject({"code": code, "kind": kind, "initials": initials,
                                          "date_of_birth": born}, tech)

    alice = subject("PT-0001", "patient", "AB", date(1961, 4, 12))
    bruno = subject("PT-0002", "patient", "BC", date(1975, 9, 30))
    carla = subject("PT-0003", "patient", "CD", date(1988, 1, 5))
    subject("PT-0004", "patient", "DE", date(1990, 7, 21))  # not yet screened
    donor = subject("DN-0001", "donor", "EF", date(1995, 3, 3))
    donor2 = subject("DN-0002", "donor", "FG", date(1999, 11, 11))
    services.screen_recipient(alice, [], tech)
    services.screen_recipient(bruno, [], tech)
    services.screen_recipient(carla, ["clotting_disorder"], tech)

    # Autologous MSC: bone marrow 10 days ago, seeded, fed, passaged; a media change is due
    # in about an hour.
    marrow = services.register_collection(
        {"subject_id": alice.id, "source": "bone_marrow", "volume_ml": 60.0,
         "collected_at": now - timedelta(days=10), "collected_by": "Dr. M. Marrow"}, tech)
    msc = services.register_batch({"collection_id": marrow.id, "product": "MSC",
                                   "origin": "autologous", "recipient_id": alice.id}, tech)
    for days, step in ((8.9, {"type": "seeding", "cell_count": 12_000_000,
                              "viability_pct": 94.0}),
                       (5.95, {"type": "media_change", "media_lot": "MEM-24-118"}),
                       (2.95, {"type": "passage", "cell_count": 31_000_000,
                              "viability_pct": 96.5, "confluence_pct": 85.0})):
        services.log_step(msc, {**step, "performed_at": now - timedelta(days=days),
                                "incubator": "INC-2"}, tech)

    # Allogeneic NK from an eligible donor: apheresis 5 days ago, seeded and fed.
    services.screen_donor(donor, now - timedelta(days=6), NEGATIVE, tech)
    services.determine_eligibility(donor, DEMO_PASSWORD, "approval", qa)
    apheresis = services.register_collection(
        {"subject_id": donor.id, "source": "apheresis", "volume_ml": 180.0,
         "collected_at": now - timedelta(days=5), "collected_by": "Apheresis unit"}, tech)
    nk = services.register_batch({"collection_id": apheresis.id, "product": "NK",
                                  "origin": "allogeneic", "recipient_id": bruno.id}, tech)
    services.log_step(nk, {"type": "seeding", "performed_at": now - timedelta(days=4.5),
                           "cell_count": 50_000_000, "viability_pct": 97.0}, tech)
    services.log_step(nk, {"type": "feeding", "performed_at": now - timedelta(days=2.2),
                           "media_lot": "NKM-7781"}, tech)

    # A donor whose screening is still incomplete: an umbilical cord donation.
    services.screen_donor(donor2, now - timedelta(days=1), {**NEGATIVE, "cmv": "pending"}, tech)
    services.register_collection(
        {"subject_id": donor2.id, "source": "umbilical_cord", "volume_ml": 35.0,
         "collected_at": now - timedelta(days=1), "collected_by": "Maternity ward"}, tech)
