"""Append-only, hash-chained audit trail (SPEC §8; 21 CFR 11.10(e), EU GMP Annex 11).

- :class:`Audited` marks a model whose every insert and update is recorded
  automatically (who, when in UTC, entity, ``{field: [old, new]}``, reason).
- :func:`reason` supplies the reason a correction needs; :func:`record` writes
  an event that is not a column change (a print, a refused scan, a login failure).
- :func:`verify` walks the chain and names the first broken entry.
"""

from lims.audit.context import set_actor
from lims.audit.models import Audited, AuditEntry, AuditHead
from lims.audit.recorder import install, reason, record
from lims.audit.services import VerifyResult, verify

__all__ = ["Audited", "AuditEntry", "AuditHead", "VerifyResult", "install", "reason", "record",
           "set_actor", "verify"]
