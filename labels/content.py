"""Label content read from the records (SPEC §6 "Label content").

A dose label is built from the dose, its batch, collection, donor and
recipient, the product and the facility settings; its bar code texts are
:func:`batches.doses.barcode_texts` — the very texts ``GET /doses/{id}``
reports — so what a scanner reads always equals the record.
"""

from __future__ import annotations

from flask import current_app

from batches import isbt128
from batches.common import facility_tz
from batches.doses import barcode_texts
from batches.models import Batch, Collection, DonorStatus, Dose, Origin
from batches.screening import autologous_testing, latest_donor_screening
from labels.release_info import release_statement_flags
from labels.rendering import DoseLabel, InProcessLabel
from labels.statements import label_statements

MARKER_AGENTS = {
    "hiv_1": "HIV-1", "hiv_2": "HIV-2", "hbsag": "HBV (HBsAg)", "anti_hbc": "HBV (anti-HBc)",
    "hcv_antibody": "HCV (antibody)", "hcv_nat": "HCV (NAT)", "syphilis": "syphilis",
    "htlv": "HTLV-I/II", "cmv": "CMV",
}
"""How each donor marker is named in "WARNING: Reactive test results for <agent>" and in
"<agent>: reactive" ("CMV: reactive")."""


def recipient_identifiers(batch: Batch) -> list[str]:
    """The intended recipient's two identifiers (SPEC §2 chain of identity)."""
    recipient = batch.recipient
    return [f"{recipient.code}", f"DOB {recipient.date_of_birth.isoformat()}"]


def donor_status_and_agents(batch: Batch) -> tuple[DonorStatus, list[str], list[str]]:
    """The donor status label_statements wants, the agents whose reactive result made the
    donor ineligible, and those whose reactive result is recorded and labelled but not
    disqualifying (CMV, 21 CFR 1271.85(b)(2)), by name, from the donor's latest screening.

    Autologous (21 CFR 1271.90(c)): the patient's own optional testing
    (:func:`batches.screening.autologous_testing`) in label_statements' words — not
    tested ``unscreened``, pending ``incomplete``, all negative ``eligible``, reactive
    ``ineligible`` with every reactive agent, CMV included; nothing "recorded only".
    """
    if batch.origin == Origin.autologous:
        testing = autologous_testing(batch.collection.subject)
        status = {"untested": DonorStatus.unscreened, "pending": DonorStatus.incomplete,
                  "negative": DonorStatus.eligible,
                  "reactive": DonorStatus.ineligible}[testing.status]
        return status, [MARKER_AGENTS.get(m, m) for m in testing.reactive_markers], []
    donor = batch.collection.subject
    status = donor.donor_status or DonorStatus.unscreened
    screening = latest_donor_screening(donor) if status != DonorStatus.unscreened else None
    if screening is None:
        return status, [], []
    disqualifying = screening.disqualifying_markers if status == DonorStatus.ineligible else []
    return (status, [MARKER_AGENTS.get(m, m) for m in disqualifying],
            [MARKER_AGENTS.get(m, m) for m in screening.labelled_reactive_markers])


def dose_statements(batch: Batch) -> list[str]:
    flags = release_statement_flags(batch)
    donor_status, agents, recorded = donor_status_and_agents(batch)
    return label_statements(origin=batch.origin, recipient_identifiers=recipient_identifiers(batch),
                            donor_status=donor_status, reactive_agents=agents,
                            recorded_reactive_agents=recorded,
                            released=flags.released, urgent_medical_need=flags.urgent_medical_need)


def chain_of_identity_text(collection: Collection) -> str:
    return isbt128.CHAIN_OF_IDENTITY_PREFIX + collection.chain_of_identity


def dose_label(dose: Dose) -> DoseLabel:
    """The dose label of SPEC §6, from the records."""
    batch = dose.batch
    collection = batch.collection
    texts = barcode_texts(dose)
    flags = release_statement_flags(batch)
    return DoseLabel(
        din=collection.din, check_character=collection.check_character,
        flags=texts["din"][-2:], product_code_text=texts["product"],
        expiry_text=texts["expiry"], matrix_text=texts["matrix"],
        product_name=f"{batch.product.name} ({batch.origin})",
        cells=dose.cells, volume_ml=dose.volume_ml,
        storage_temperature=dose.storage_temperature,
        facility_name=current_app.config["FACILITY_NAME"],
        facility_address=current_app.config["FACILITY_ADDRESS"],
        statements=dose_statements(batch),
        collection_date_text=isbt128.collection_date_text(
            collection.collected_at.astimezone(facility_tz())),
        recipient_identifiers=recipient_identifiers(batch),
        division=dose.division, quarantine=not flags.released,
        chain_of_identity_text=chain_of_identity_text(collection))


def collection_label(collection: Collection) -> InProcessLabel:
    """In-process label for the collection container: its DIN bar code and a few lines."""
    collected = collection.collected_at.astimezone(facility_tz())
    return InProcessLabel(isbt128.din_barcode_text(collection.din), [
        f"{collection.source.replace('_', ' ').capitalize()}, {collected:%Y-%m-%d %H:%M}",
        f"Subject {collection.subject.code} · {collection.volume_ml:g} mL",
        "IN PROCESS — NOT FOR CLINICAL USE",
    ])


def vessel_label(batch: Batch, vessel: str | None = None) -> InProcessLabel:
    """In-process label for a culture vessel: the batch number bar code and a few lines."""
    lines = [f"{batch.product.code} · DIN {isbt128.format_din(batch.collection.din)} "
             f"{batch.collection.check_character}",
             f"Recipient {batch.recipient.code} · {batch.origin}"]
    if vessel:
        lines.append(vessel)
    lines.append("IN PROCESS — NOT FOR CLINICAL USE")
    return InProcessLabel(batch.batch_number, lines)


def product_code_line(dose: Dose) -> str:
    """The ISBT 128 product code as read by people: ``product code S90011A0``."""
    return f"product code {barcode_texts(dose)['product'][2:]}"
