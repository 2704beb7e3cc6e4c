"""Change control of QC specifications and process templates (issue 12; SPEC §2, §8).

The life of a change (the rules themselves are pure, in :mod:`batches.change_rules`):

* :func:`propose` — an admin or a QA officer proposes a whole new version of one
  controlled document with a reason. It is recorded (audited) and changes nothing in
  force. At most one change of a document is open at a time: a second proposal is
  refused (409 naming the open one) until that one is approved, rejected or withdrawn,
  so QA never has two competing drafts of one document in front of them.
* :func:`approve_change` — a QA officer other than the proposer signs the approval (e-signature,
  meaning ``approval``, bound to :func:`signed_content`: the proposed content, the
  reason and what it changes against the version it was proposed against). The new
  version is in force from the signing time; batches registered earlier keep theirs;
  the previous version is kept. A change whose base is no longer the version in force
  (another version took effect meanwhile) is stale and refused.
* :func:`reject_change` — a QA officer other than the proposer signs a rejection with a reason.
* :func:`withdraw_change` — the proposer withdraws an open change with a reason.

Each controlled document plugs in as a :class:`Controlled`: how to read its versions,
how to diff two of them, how to put a new one in force. ``batches.culture.TEMPLATE``
is the process template's, ``qc.specifications.SPECIFICATION`` the QC specification's.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from batches import signing_acts
from batches.change_rules import (
    Change,
    ChangeKind,
    ChangeStatus,
    approval_refusals,
    rejection_refusals,
    withdrawal_refusals,
)
from batches.models import ChangeProposal, Product
from lims import clock
from lims.audit import reason as audit_reason
from lims.audit.context import user_is_actor
from lims.auth.models import Role, User
from lims.auth.services import sign, signature_holds
from lims.auth.signing import meanings_for
from lims.db import db
from lims.errors import BadRequest, Conflict, Forbidden, NotFound
from lims.hashing import content_digest
from lims.paging import page_of

APPROVAL_ACT = signing_acts.CHANGE_APPROVAL
REJECTION_ACT = signing_acts.CHANGE_REJECTION

PROPOSERS = (Role.admin, Role.qa)


@dataclass(frozen=True)
class Controlled:
    """How change control reads, compares and puts in force one kind of document.

    ``stage`` is the QC specification's stage, ``None`` for a process template.
    """

    kind: ChangeKind
    label: str
    version_in_force: Callable[[int, str | None], int | None]
    """(product id, stage) → the number of the version in force now, None if none."""
    version_content: Callable[[int, str | None, int], dict[str, Any] | None]
    """(product id, stage, version) → that version's content, as a change holds it."""
    diff: Callable[[dict[str, Any] | None, dict[str, Any], str | None], list[Change]]
    """(content in force, proposed content, stage) → what the change does, item by item."""
    put_in_force: Callable[[ChangeProposal, datetime], int]
    """Write the approved content as the new version, in force from the given time; its
    number."""


def dump_content(content: dict[str, Any]) -> str:
    """The stored form of a change's content: JSON with sorted keys, one spelling."""
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


# -- reading ----------------------------------------------------------------------------------


def get_change(controlled: Controlled, change_id: int) -> ChangeProposal:
    """The change ``change_id`` of this kind of document; 404 otherwise."""
    change = db.session.get(ChangeProposal, change_id)
    if change is None or change.kind != controlled.kind:
        raise NotFound(f"No {controlled.label} change {change_id}.",
                       details={"id": change_id, "type": f"{controlled.label} change"})
    return change


def find_change(change_id: int) -> ChangeProposal | None:
    """Any change by id (pages and links that serve every kind)."""
    return db.session.get(ChangeProposal, change_id)


def list_changes(kind: ChangeKind | None = None, *, product: str | None = None,
                 stage: str | None = None, status: str | None = None, after: int = 0,
                 limit: int = 50) -> tuple[list[ChangeProposal], bool]:
    """Changes, oldest first, filtered; one page after the cursor, and whether more follow."""
    query = select(ChangeProposal)
    if kind is not None:
        query = query.where(ChangeProposal.kind == kind)
    if product:
        query = query.join(Product).where(Product.code == product)
    if stage:
        query = query.where(ChangeProposal.stage == stage)
    if status:
        query = query.where(ChangeProposal.status == status)
    return page_of(query, ChangeProposal.id, after=after, limit=limit)


def open_change(kind: ChangeKind, product_id: int, stage: str | None) -> ChangeProposal | None:
    """The open change of one document, if any (at most one)."""
    query = select(ChangeProposal).where(
        ChangeProposal.kind == kind, ChangeProposal.product_id == product_id,
        ChangeProposal.status == ChangeStatus.proposed)
    query = query.where(ChangeProposal.stage.is_(None) if stage is None
                        else ChangeProposal.stage == stage)
    return db.session.scalar(query)


def base_content(controlled: Controlled, change: ChangeProposal) -> dict[str, Any] | None:
    """The content of the version the change was proposed against (None: there was none)."""
    if change.base_version is None:
        return None
    return controlled.version_content(change.product_id, change.stage, change.base_version)


def changes_of(controlled: Controlled, change: ChangeProposal) -> list[Change]:
    """What the change does against the version it was proposed against, item by item."""
    return controlled.diff(base_content(controlled, change), change.content_data, change.stage)


def signed_content(change: ChangeProposal, changes: list[Change]) -> dict[str, Any]:
    """What a decision on the change is bound to (SPEC §8): the document, the version it was
    proposed against, the whole proposed content, the reason, the proposer, and the list
    of changes (weakening ones flagged) the signer was shown."""
    return {"change": change.id, "kind": change.kind.value, "product": change.product.code,
            "stage": change.stage, "base_version": change.base_version,
            "content": change.content_data, "reason": change.reason,
            "proposed_by": change.proposed_by.username,
            "changes": [c.as_dict() for c in changes]}


def describe_change(controlled: Controlled, change: ChangeProposal) -> dict[str, Any]:
    """The change as the API and the pages show it: its record, the proposed content, what it
    changes (``weakening`` when any item loosens control), whether it is stale, the
    ``digest`` a decision signs, and whether a decision's signature still holds for the
    change as recorded (``signature_holds``; a change edited in the database voids it)."""
    changes = changes_of(controlled, change)
    content = signed_content(change, changes)
    in_force = controlled.version_in_force(change.product_id, change.stage)
    return {
        "id": change.id, "kind": change.kind, "product": change.product.code,
        "stage": change.stage, "status": change.status, "base_version": change.base_version,
        "version_in_force": in_force,
        "stale": change.is_open and in_force != change.base_version,
        "result_version": change.result_version, "reason": change.reason,
        "proposed_by": change.proposed_by.username,
        "proposed_by_name": change.proposed_by.full_name, "proposed_at": change.proposed_at,
        "decided_by": change.decided_by.username if change.decided_by else None,
        "decided_at": change.decided_at, "decision_reason": change.decision_reason,
        "signature": change.signature,
        "signature_holds": (signature_holds(change.signature, content)
                            if change.signature is not None else None),
        "content": change.content_data,
        "changes": [c.as_dict() for c in changes],
        "weakening": any(c.weakens for c in changes),
        "digest": content_digest(content),
    }


# -- the acts ---------------------------------------------------------------------------------


def _require(user: User, roles: tuple[Role, ...], what: str) -> None:
    if user.role not in roles:
        raise Forbidden(f"Only {' or '.join(r.value for r in roles)} can {what}.",
                        details={"required_roles": [r.value for r in roles], "role": user.role})


def _lock(product: Product) -> None:
    """Take the product's row lock (PostgreSQL ``FOR UPDATE``): proposals and decisions on one
    product's documents queue here, so two requests never both find "no open change" or
    both approve. SQLite serialises writers already."""
    db.session.refresh(product, with_for_update=True)


@user_is_actor
def propose(controlled: Controlled, product: Product, stage: str | None,
            content: dict[str, Any], reason: str, user: User) -> ChangeProposal:
    """An admin or QA officer proposes a new version of a controlled document (issue 12):
    recorded with its reason, in force only once a QA officer signs its approval."""
    _require(user, PROPOSERS, "propose a change to a QC specification or process template")
    if not reason.strip():
        raise BadRequest("A reason is required.", details={"fields": {"reason": "required"}})
    _lock(product)
    base = controlled.version_in_force(product.id, stage)
    if base is not None and controlled.version_content(product.id, stage, base) == content:
        raise BadRequest("The proposed version is the version in force: it changes nothing.",
                         details={"fields": {"body": ["changes nothing"]}})
    existing = open_change(controlled.kind, product.id, stage)
    if existing is not None:
        what = f"{product.code} {stage + ' ' if stage else ''}{controlled.label}"
        raise Conflict(f"The {what} already has an open change.",
                       [f"change #{existing.id} of the {what}, proposed by "
                        f"{existing.proposed_by.username}, is still open: it must be approved, "
                        "rejected or withdrawn first"], details={"open_change_id": existing.id})
    with audit_reason(reason):
        change = ChangeProposal(kind=controlled.kind, product_id=product.id, stage=stage,
                                base_version=base, content=dump_content(content),
                                reason=reason.strip(), status=ChangeStatus.proposed,
                                proposed_by_id=user.id, proposed_at=clock.utcnow())
        db.session.add(change)
        db.session.flush()
    return change


@user_is_actor
def approve_change(controlled: Controlled, change: ChangeProposal, password: str, meaning: str,
            user: User, *, username: str | None = None,
            shown_digest: str | None = None) -> ChangeProposal:
    """A QA officer signs the approval of a change (issue 12; SPEC §8): a new version in force
    from the signing time, the previous one kept. 409 listing every unmet condition:
    not open, the approver proposed it (four eyes), stale, or not what was shown."""
    _require(user, (Role.qa,), "approve a change")
    _lock(change.product)
    db.session.refresh(change)
    changes = changes_of(controlled, change)
    content = signed_content(change, changes)
    signature = sign(user, password, meaning, "change_proposal", change.id, content,
                     allowed=meanings_for(APPROVAL_ACT), username=username,
                     statement=f"Change #{change.id} approved: {_document(controlled, change)}")
    reasons = approval_refusals(
        status=change.status, proposer_id=change.proposed_by_id, signer_id=user.id,
        base_version=change.base_version,
        version_in_force=controlled.version_in_force(change.product_id, change.stage),
        shown_digest=shown_digest, digest=content_digest(content))
    if reasons:
        raise Conflict("The change cannot be approved.", reasons)
    with audit_reason(f"change #{change.id} approved: {change.reason}"):
        version = controlled.put_in_force(change, signature.signed_at)
        change.status = ChangeStatus.approved
        change.decided_by_id = user.id
        change.decided_at = signature.signed_at
        change.signature_id = signature.id
        change.result_version = version
        db.session.flush()
    return change


@user_is_actor
def reject_change(controlled: Controlled, change: ChangeProposal, password: str, meaning: str,
           reason: str, user: User, *, username: str | None = None) -> ChangeProposal:
    """A QA officer signs the rejection of a change, with a reason; nothing changes in force."""
    _require(user, (Role.qa,), "reject a change")
    _lock(change.product)
    db.session.refresh(change)
    content = signed_content(change, changes_of(controlled, change))
    signature = sign(user, password, meaning, "change_proposal", change.id, content,
                     allowed=meanings_for(REJECTION_ACT), username=username,
                     statement=f"Change #{change.id} rejected: {reason.strip()}")
    reasons = rejection_refusals(status=change.status, proposer_id=change.proposed_by_id,
                                 signer_id=user.id)
    if reasons:
        raise Conflict("The change cannot be rejected.", reasons)
    with audit_reason(reason):
        change.status = ChangeStatus.rejected
        change.decided_by_id = user.id
        change.decided_at = signature.signed_at
        change.signature_id = signature.id
        change.decision_reason = reason.strip()
        db.session.flush()
    return change


@user_is_actor
def withdraw_change(change: ChangeProposal, reason: str, user: User) -> ChangeProposal:
    """The proposer withdraws an open change, with a reason; nothing changes in force."""
    _require(user, PROPOSERS, "withdraw a change")
    _lock(change.product)
    db.session.refresh(change)
    reasons = withdrawal_refusals(status=change.status, proposer_id=change.proposed_by_id,
                                  user_id=user.id)
    if reasons:
        raise Conflict("The change cannot be withdrawn.", reasons)
    with audit_reason(reason):
        change.status = ChangeStatus.withdrawn
        change.decided_by_id = user.id
        change.decided_at = clock.utcnow()
        change.decision_reason = reason.strip()
        db.session.flush()
    return change


def _document(controlled: Controlled, change: ChangeProposal) -> str:
    stage = f" {change.stage}" if change.stage else ""
    base = f"version {change.base_version}" if change.base_version else "no version"
    return f"{change.product.code}{stage} {controlled.label}, proposed against {base}"
