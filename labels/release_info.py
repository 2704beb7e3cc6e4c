"""What the labels and reports need to know about a batch's release, from ``qc``.

The one place ``labels`` reads release data: :func:`qc.services.batch_release_info`
decides whether a batch is released, by the urgent-medical-need route (SPEC §3,
the label then carries the urgent-release statement), and with which signatures.
A batch whose release is suspended or recalled is *not* released: its labels carry
the quarantine statement (SPEC §3b, §6).
"""

from __future__ import annotations

from dataclasses import dataclass

from batches.models import Batch
from lims.auth.models import Meaning
from qc.services import batch_release_info

INVALIDATED = "INVALIDATED: record changed after signing"
"""How every document marks a signature whose signed record has changed since (SPEC §8)."""


@dataclass(frozen=True)
class ReleaseFlags:
    released: bool
    urgent_medical_need: bool = False


def release_statement_flags(batch: Batch) -> ReleaseFlags:
    """Whether the batch is released, and whether by the urgent-medical-need route."""
    info = batch_release_info(batch)
    released = bool(info["released"]) and not info["rejected"]
    return ReleaseFlags(released=released,
                        urgent_medical_need=released and bool(info["urgent_medical_need"]))


def release_signature_text(batch: Batch) -> str | None:
    """The release signature(s) as printed on reports: printed name, meaning, date-time,
    and, when the signed record has changed since, that the signature no longer holds
    (SPEC §8)."""
    info = batch_release_info(batch)
    if not info["signed"]:
        return None
    lines = [s["manifestation"] + ("" if s["valid"] else f" — {INVALIDATED}")
             for s in info["signatures"] if s["meaning"] != Meaning.rejection]
    if info["suspended"]:
        lines.append("RELEASE SUSPENDED: " + "; ".join(info["suspended_because"]))
    elif info["recalled"]:
        lines.append("BATCH RECALLED")
    return "; ".join(lines) or None
