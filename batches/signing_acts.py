"""The signing acts of subjects and change control, and the meanings valid for each
(SPEC §2 donor eligibility, §8 change control and electronic signatures).

One table per package: ``batches.init_app`` registers it
(:func:`lims.auth.add_signing_act`), the services sign with ``allowed=meanings_for(act)``,
the API schemas offer the same meanings (:func:`lims.auth.schemas.meaning_field`) and the
dialogs list them (``signing_meanings(act)``).
"""

from __future__ import annotations

from lims.auth.models import Meaning

DONOR_ELIGIBILITY = "donor_eligibility"
CHANGE_APPROVAL = "change_approval"
CHANGE_REJECTION = "change_rejection"

SIGNING_ACTS: dict[str, tuple[str, frozenset[Meaning]]] = {
    DONOR_ELIGIBILITY: ("Determine a donor eligible", frozenset({Meaning.approval})),
    CHANGE_APPROVAL: ("Approve a change to a QC specification or process template",
                      frozenset({Meaning.approval})),
    CHANGE_REJECTION: ("Reject a change to a QC specification or process template",
                       frozenset({Meaning.rejection})),
}


def meanings(act: str) -> frozenset[Meaning]:
    """The meanings of one of this package's acts (for schemas, before any app exists)."""
    return SIGNING_ACTS[act][1]
