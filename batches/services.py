"""Every write and every rule of the batches package, by the lab's words.

The functions live in modules named after the work they do; this module gathers
them so callers (views, the API, ``qc``) have one place to import from:

| SPEC rule | module |
|---|---|
| §2 subjects, recipient screening, donor eligibility, specimen window | :mod:`batches.screening` |
| §2/§6 collections and their DIN | :mod:`batches.collections` |
| §3 batch registration, quarantine, hold/resume, release/rejection | :mod:`batches.batch_records` |
| §3b suspension of a release, recall move, release checks | :mod:`batches.batch_records` |
| §3b look-back from a donor or a collection (an extension point) | :mod:`batches.lookback` |
| §3 the state graph itself (pure) | :mod:`batches.lifecycle` |
| §2 process templates, culture steps, scheduling, corrections | :mod:`batches.culture` |
| issue 12: change control of templates and QC specifications | :mod:`batches.change_control` |
| … what may be decided, and what a template change does (pure) | :mod:`batches.change_rules` |
| §2/§6 formulation, doses, barcode texts | :mod:`batches.doses` |
| §2/§5 custody events: first events, scanned handoffs, timeline | :mod:`batches.custody` |
| §5 the custody state graph (pure) | :mod:`batches.custody_rules` |
| §5 administration: the bedside identity check | :mod:`batches.administration` |
| §7 scan lookup | :mod:`batches.lookup` |
"""

from __future__ import annotations

from batches.administration import (
    administer_dose,
    administration_blocks,
    giving_refusals,
    scanned_dose_refusals,
)
from batches.batch_records import (
    active_template,
    add_release_check,
    find_product,
    get_batch,
    hold_batch,
    is_quarantined,
    list_batches,
    mark_recalled,
    mark_rejected,
    mark_released,
    open_suspensions,
    quarantine_reasons,
    register_batch,
    release_problems,
    resume_batch,
    suspend_release,
    suspensions,
)
from batches.change_control import (
    approve_change,
    describe_change,
    find_change,
    list_changes,
    reject_change,
    withdraw_change,
)
from batches.collections import get_collection, list_collections, register_collection
from batches.culture import (
    TEMPLATE,
    correct_step,
    due_steps,
    find_template_version,
    get_step,
    get_template,
    get_template_change,
    list_products,
    list_steps,
    list_templates,
    log_step,
    overdue_steps,
    propose_template_change,
    revise_template,
    step_state,
    update_product,
)
from batches.custody import (
    custody_chain_breaks,
    custody_events,
    last_event,
    record_custody_event,
)
from batches.doses import barcode_texts, formulate, get_dose
from batches.screening import (
    correct_donor_markers,
    determine_eligibility,
    donor_screenings,
    get_donor_screening,
    get_marker_correction,
    get_subject,
    latest_donor_screening,
    latest_recipient_screening,
    list_subjects,
    register_subject,
    screen_donor,
    screen_recipient,
    verify_marker_correction,
)

__all__ = [
    "TEMPLATE", "approve_change", "describe_change", "find_change", "find_template_version",
    "get_template_change",
    "list_changes", "propose_template_change", "reject_change", "withdraw_change",
    "active_template", "add_release_check", "administer_dose", "administration_blocks",
    "giving_refusals", "mark_recalled", "scanned_dose_refusals",
    "open_suspensions", "release_problems", "suspend_release", "suspensions",
    "custody_chain_breaks", "last_event", "record_custody_event",
    "barcode_texts", "correct_step", "custody_events", "determine_eligibility",
    "due_steps", "find_product", "formulate", "get_batch", "get_collection", "get_dose",
    "get_step", "get_subject", "get_template", "hold_batch", "is_quarantined",
    "latest_donor_screening", "latest_recipient_screening", "list_batches", "list_collections",
    "list_products", "list_steps", "list_subjects", "list_templates", "log_step",
    "mark_rejected", "mark_released", "overdue_steps", "quarantine_reasons", "register_batch",
    "register_collection", "register_subject", "resume_batch", "revise_template",
    "screen_donor", "screen_recipient", "step_state", "update_product",
    "correct_donor_markers", "donor_screenings", "get_donor_screening", "get_marker_correction",
    "verify_marker_correction",
]
