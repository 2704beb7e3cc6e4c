"""Scan resolver: any scanned or typed text → its collection, batch or dose (SPEC §7 lookup).

Recognised: a DIN bar code (``=`` + DIN + flags) or a typed DIN (13 characters,
optionally followed by its check character) → the collection (the DIN alone
identifies the collection, never a dose); a chain-of-identity identifier →
the collection; a Data Matrix compound message with DIN and product code →
the dose (DIN only → the collection); a dose code; a batch number. A product
code alone identifies no single item and resolves to nothing.
"""

from __future__ import annotations

import re

from flask import url_for

from batches import isbt128
from batches.batch_records import find_by_number
from batches.collections import find_by_chain_of_identity, find_by_din
from batches.doses import find_by_code, find_by_identity
from batches.models import Collection, Dose
from lims.extension_points import ScanHit

_TYPED_DIN = re.compile(r"[A-NP-Z1-9][0-9]{12}")


def _collection_hit(collection: Collection | None) -> ScanHit | None:
    if collection is None:
        return None
    return ScanHit("collection", collection.id,
                   url_for("batches.collection_page", collection_id=collection.id),
                   f"Collection {collection.din}")


def _dose_hit(dose: Dose | None) -> ScanHit | None:
    if dose is None:
        return None
    return ScanHit("dose", dose.id, url_for("batches.dose_page", dose_id=dose.id),
                   f"Dose {dose.code}")


def resolve(text: str) -> ScanHit | None:
    """Resolver registered with :func:`lims.extension_points.add_resolver`."""
    parsed = isbt128.parse_scanned(text)
    kind = parsed["kind"]
    if kind == "din":
        return _collection_hit(find_by_din(parsed["din"]))
    if kind == "chain_of_identity":
        return _collection_hit(find_by_chain_of_identity(parsed["identifier"]))
    if kind == "compound" and parsed.get("din"):
        if parsed.get("product_code"):
            return _dose_hit(find_by_identity(parsed["din"], parsed["product_code"]))
        return _collection_hit(find_by_din(parsed["din"]))
    cleaned = parsed.get("text") or text.strip()
    if len(cleaned) > 40:
        return None
    upper = cleaned.upper()
    if _TYPED_DIN.fullmatch(upper[:13]) and len(upper) in (13, 14):
        if len(upper) == 13 or isbt128.din_check_character(upper[:13]) == upper[13]:
            hit = _collection_hit(find_by_din(upper[:13]))
            if hit:
                return hit
    dose = find_by_code(cleaned)
    if dose is not None:
        return _dose_hit(dose)
    batch = find_by_number(upper)
    if batch is not None:
        return ScanHit("batch", batch.id, url_for("batches.batch_page", batch_id=batch.id),
                       f"Batch {batch.batch_number}")
    return None
