"""The signing acts of QC, release and recall, and the meanings valid for each
(SPEC §3, §3b, §8).

One table per package: ``qc.init_app`` registers it (:func:`lims.auth.add_signing_act`),
the services sign with ``allowed=meanings_for(act)``, the API schemas offer the same
meanings (:func:`lims.auth.schemas.meaning_field`) and the dialogs list them
(``signing_meanings(act)``), so no dialog or route offers a meaning that is then refused.
"""

from __future__ import annotations

from lims.auth.models import Meaning

RELEASE = "batch_release"
REJECTION = "batch_rejection"
EXCEPTIONAL_REQUEST = "exceptional_release_request"
EXCEPTIONAL_APPROVAL = "exceptional_release_approval"
DEVIATION_CLOSURE = "deviation_closure"
RECALL = "batch_recall"
RECALL_CLOSURE = "recall_closure"

SIGNING_ACTS: dict[str, tuple[str, frozenset[Meaning]]] = {
    RELEASE: ("Release a batch (or re-release a suspended one)",
              frozenset({Meaning.approval})),
    REJECTION: ("Reject a batch", frozenset({Meaning.rejection})),
    EXCEPTIONAL_REQUEST: ("Exceptional release for urgent medical need: first signature",
                          frozenset({Meaning.approval, Meaning.responsibility})),
    EXCEPTIONAL_APPROVAL: ("Exceptional release for urgent medical need: second signature",
                           frozenset({Meaning.approval, Meaning.responsibility})),
    DEVIATION_CLOSURE: ("Close a deviation with a disposition",
                        frozenset({Meaning.approval, Meaning.responsibility, Meaning.review})),
    RECALL: ("Recall a released or suspended batch", frozenset({Meaning.approval})),
    RECALL_CLOSURE: ("Close a recall: every dose accounted for", frozenset({Meaning.approval})),
}


def meanings(act: str) -> frozenset[Meaning]:
    """The meanings of one of this package's acts (for schemas, before any app exists)."""
    return SIGNING_ACTS[act][1]
