"""Canonical JSON and SHA-256 digests shared by the audit chain and e-signatures."""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from lims.clock import as_utc


def to_jsonable(value: Any) -> Any:
    """Turn a column value into a JSON value with one stable spelling."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, Enum):
        return to_jsonable(value.value)
    if isinstance(value, datetime):
        return utc_text(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dict):
        return {str(k): to_jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_jsonable(v) for v in value]
    return str(value)


def utc_text(value: datetime) -> str:
    """An aware datetime's one spelling, ``2026-01-01T08:30:00.000000Z`` (UTC, always six
    digits of microseconds): the audit chain hashes it, so it never changes."""
    utc = as_utc(value)
    if utc.year >= 1000:  # isoformat is the fast path; strftime pads years < 1000 otherwise
        return utc.isoformat(timespec="microseconds")[:-6] + "Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def canonical_json(value: Any) -> str:
    """JSON with sorted keys and no insignificant white space: same data, same bytes."""
    return json.dumps(to_jsonable(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def content_digest(value: Any) -> str:
    """SHA-256 of the canonical JSON of ``value``."""
    return sha256_hex(canonical_json(value))
