"""Every write and every rule of the qc package, by the lab's words.

| SPEC rule | module |
|---|---|
| §2 QC specifications as data, versioned, change-controlled (issue 12) | :mod:`qc.specifications` |
| issue 12: what a specification change does, weakening items flagged (pure) | :mod:`qc.spec_diff` |
| §2 evaluating a result against its criterion (pure) | :mod:`qc.evaluation` |
| §2 QC results, second-person review, corrections | :mod:`qc.results` |
| §2 deviations (out of spec, overdue step, by hand), QA closure | :mod:`qc.deviations` |
| §3 release conditions 1–6 (pure), custody chain "unbroken so far" | :mod:`qc.release_conditions` |
| §3 release, rejection, exceptional release, §8 signature binding | :mod:`qc.release` |
| §3b what a change after release does (suspension, post-release failure) | :mod:`qc.post_release` |
| §3b recall: dispositions, notifications, closure | :mod:`qc.recall` |
"""

from __future__ import annotations

from qc.deviations import (
    close_deviation,
    get_deviation,
    list_deviations,
    open_deviation,
    open_deviation_for_overdue_step,
    record_investigation,
)
from qc.recall import (
    acknowledge_notification,
    close_recall,
    get_notification,
    get_recall,
    recall_batch,
    recall_record,
    record_disposition,
    record_notification,
)
from qc.release import (
    approve_exceptional_release,
    batch_record_content,
    batch_release_info,
    doses_awaiting_disposal,
    get_follow_up,
    notify_physician,
    reject_batch,
    release_batch,
    release_queue,
    release_readiness,
    request_exceptional_release,
)
from qc.results import (
    correct_result,
    enter_result,
    get_result,
    list_results,
    result_lookback_start,
    review_result,
)
from qc.specifications import (
    SPECIFICATION,
    get_spec_change,
    get_specification,
    list_specifications,
    propose_spec_change,
    revise_specification,
    spec_for_batch,
)

__all__ = [
    "SPECIFICATION", "get_spec_change", "propose_spec_change",
    "acknowledge_notification", "close_recall", "get_follow_up", "get_notification",
    "get_recall", "notify_physician", "recall_batch", "recall_record", "record_disposition",
    "record_notification",
    "approve_exceptional_release", "batch_record_content", "batch_release_info",
    "close_deviation", "correct_result", "doses_awaiting_disposal", "enter_result",
    "get_deviation", "get_result", "get_specification", "list_deviations", "list_results",
    "list_specifications", "open_deviation", "open_deviation_for_overdue_step",
    "record_investigation", "reject_batch", "release_batch", "release_queue",
    "release_readiness", "request_exceptional_release", "result_lookback_start",
    "review_result",
    "revise_specification", "spec_for_batch",
]
