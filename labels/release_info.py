"""What the labels and reports need to know about a batch's release — ONE place to wire qc.

# TODO(lead, at the qc merge): answer from ``qc``'s ``batch_release_info(batch)`` instead
# of the batch status: ``urgent_medical_need`` for an exceptional release (SPEC §3; the
# label then carries URGENT_RELEASE_STATEMENT), and the signature manifestation(s) of the
# release (two QA signatures for an exceptional release). Nothing else in ``labels``
# reads release data, so these two functions are the whole change.
"""

from __future__ import annotations

from dataclasses import dataclass

from batches.lifecycle import BatchStatus
from batches.models import Batch


@dataclass(frozen=True)
class ReleaseFlags:
    released: bool
    urgent_medical_need: bool = False


def release_statement_flags(batch: Batch) -> ReleaseFlags:
    """Whether the batch is released, and whether by the urgent-medical-need route.

    Until ``qc`` lands: released ⇔ batch status ``released``; never urgent.
    """
    return ReleaseFlags(released=batch.status == BatchStatus.released, urgent_medical_need=False)


def release_signature_text(batch: Batch) -> str | None:
    """The release signature as printed on reports (printed name, meaning, date-time)."""
    if batch.status != BatchStatus.released or batch.release_signature is None:
        return None
    return batch.release_signature.manifestation
