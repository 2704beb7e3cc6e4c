"""Signed checkpoints of the chain head (SPEC §8: the trail holds against insiders).

:func:`write_checkpoint` signs "entry ``seq`` has hash ``h``" with the audit signing key
(:mod:`lims.audit.keys`, kept outside the database) and appends it to
``audit_checkpoint`` in the caller's transaction; once that transaction commits, the
checkpoint is also mirrored into ``audit_checkpoint.json`` next to the key, so deleting
checkpoints from the database is noticed too. The sweep and every audit bundle export
write one; ``flask lims audit-checkpoint`` writes one on demand.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from flask import Flask, current_app
from sqlalchemy import event, insert, select
from sqlalchemy.orm import Session

from lims import clock
from lims.audit import keys
from lims.audit.chain import Checkpoint, checkpoint_message
from lims.audit.models import GENESIS_HASH, AuditCheckpoint, AuditHead
from lims.db import db

log = logging.getLogger(__name__)

EXTENSION = "lims_audit_key"
_PENDING_MIRROR = "lims_audit_pending_mirror"


def init_app(app: Flask) -> None:
    """Load the signing key (generated on first run) so a bad key file stops the start."""
    app.extensions[EXTENSION] = keys.load_or_create(Path(app.config["AUDIT_KEY_FILE"]))
    _install()


def signing_key() -> keys.SigningKey:
    return current_app.extensions[EXTENSION]


def reload_signing_key() -> keys.SigningKey:
    key = keys.load_or_create(Path(current_app.config["AUDIT_KEY_FILE"]))
    current_app.extensions[EXTENSION] = key
    return key


def trusted_keys() -> dict[str, keys.TrustedKey]:
    return keys.trusted_keys(signing_key())


def write_checkpoint() -> Checkpoint | None:
    """Sign the current chain head unless the newest checkpoint already signs it (the
    sweep: nothing new to sign when nothing was written since)."""
    seq, head_hash = _locked_head()
    newest = db.session.connection().execute(
        select(AuditCheckpoint.seq, AuditCheckpoint.head_hash)
        .order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.id.desc()).limit(1)).first()
    if newest is not None and (newest.seq, newest.head_hash) == (seq, head_hash):
        return None
    return sign_head()


def sign_head() -> Checkpoint:
    """Sign the current chain head into ``audit_checkpoint`` (mirrored after commit).

    Flushes first, so the head includes this transaction's entries, and takes the head
    row's lock (held to commit, like every append).
    """
    seq, head_hash = _locked_head()
    key = signing_key()
    now = clock.utcnow()
    signature = key.sign(checkpoint_message(seq, head_hash, now, key.key_id))
    session = db.session()
    result = session.connection().execute(insert(AuditCheckpoint).values(
        seq=seq, head_hash=head_hash, created_at=now, key_id=key.key_id, signature=signature))
    (checkpoint_id,) = result.inserted_primary_key or (None,)
    checkpoint = Checkpoint(checkpoint_id, seq, head_hash, now, key.key_id, signature)
    session.info[_PENDING_MIRROR] = (key.folder, checkpoint.as_dict())
    return checkpoint


def _locked_head() -> tuple[int, str]:
    session = db.session()
    session.flush()
    head = session.connection().execute(
        select(AuditHead.last_seq, AuditHead.last_hash)
        .where(AuditHead.id == 1).with_for_update()).one_or_none()
    return (head.last_seq, head.last_hash) if head else (0, GENESIS_HASH)


def sign_bytes(message: bytes) -> tuple[str, str]:
    """(key id, base64 Ed25519 signature of ``message``) with the audit signing key."""
    key = signing_key()
    return key.key_id, key.sign(message)


def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING_MIRROR, None)
    if pending is None:
        return
    folder, checkpoint = pending
    try:
        keys.write_mirror(folder, checkpoint)
    except OSError:  # the checkpoint is committed; audit-verify still has the database's
        log.exception("could not mirror audit checkpoint #%s into %s", checkpoint["id"],
                      folder)


def _after_transaction_end(session: Session, transaction) -> None:
    if transaction.parent is None:  # rolled back or closed: nothing to mirror
        session.info.pop(_PENDING_MIRROR, None)


_installed = False


def _install() -> None:
    global _installed
    if _installed:
        return
    event.listen(Session, "after_commit", _after_commit)
    event.listen(Session, "after_transaction_end", _after_transaction_end)
    _installed = True


def mirrored_checkpoint() -> tuple[Checkpoint | None, str | None]:
    """The mirrored checkpoint and, when the file cannot be read, the problem."""
    folder = signing_key().folder
    try:
        data: dict[str, Any] | None = keys.read_mirror(folder)
    except (OSError, ValueError) as problem:
        return None, f"the mirrored checkpoint {folder / keys.MIRROR_FILE} cannot be read: " \
                     f"{problem}"
    if data is None:
        return None, None
    return Checkpoint(data["id"], data["seq"], data["hash"], data["created_at"], data["key_id"],
                      data["signature"], source=str(folder / keys.MIRROR_FILE)), None
