"""Append-only, hash-chained audit trail (SPEC §8; 21 CFR 11.10(e), EU GMP Annex 11).

- :class:`Audited` marks a model whose every insert and update is recorded
  automatically (who, when in UTC, entity, ``{field: [old, new]}``, reason).
- :func:`reason` supplies the reason a correction needs; :func:`record` writes
  an event that is not a column change (a print, a refused scan, a login failure).
- :func:`verify` walks the chain against the signed checkpoints (:mod:`.checkpoints`,
  key in :mod:`.keys`) and names the first broken entry; :mod:`.replay` rebuilds every
  GMP record from the trail and compares it with the tables.
- :mod:`lims.audit.bundle` / ``python -m lims.audit.verify_bundle`` check a batch's
  exported audit bundle offline.

The names are loaded on first use (PEP 562), so the pure modules — :mod:`.chain`,
:mod:`.bundle`, :mod:`.verify_bundle` — import without Flask or the database layer.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from lims.audit.context import set_actor
    from lims.audit.models import AuditCheckpoint, Audited, AuditEntry, AuditHead
    from lims.audit.recorder import install, reason, record
    from lims.audit.services import VerifyResult, verify

_EXPORTS = {
    "set_actor": "lims.audit.context",
    "Audited": "lims.audit.models", "AuditEntry": "lims.audit.models",
    "AuditHead": "lims.audit.models", "AuditCheckpoint": "lims.audit.models",
    "install": "lims.audit.recorder", "reason": "lims.audit.recorder",
    "record": "lims.audit.recorder",
    "VerifyResult": "lims.audit.services", "verify": "lims.audit.services",
}

__all__ = ["Audited", "AuditCheckpoint", "AuditEntry", "AuditHead", "VerifyResult", "install",
           "reason", "record", "set_actor", "verify"]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'lims.audit' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value
