"""The QC result list answers each result's deviation without a query per result."""

from __future__ import annotations

from sqlalchemy import event

from lims.db import db


def test_result_list_loads_the_deviations_in_one_query(app, qlab):
    batch = qlab.in_review()
    failed = [qlab.result(batch, test, outcome="positive")
              for test in ("sterility", "mycoplasma", "gram_stain")]
    passed = qlab.result(batch, "viability")
    with app.app_context():
        engine = db.engine
    statements: list[str] = []

    def seen(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        listed = qlab.client.get(f"/api/v1/batches/{batch['id']}/qc-results",
                                 headers=qlab.tech).json
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    by_id = {r["id"]: r["deviation_id"] for r in listed}
    assert [by_id[r["id"]] for r in failed] == [r["deviation_id"] for r in failed]
    assert all(by_id[r["id"]] for r in failed) and by_id[passed["id"]] is None
    assert sum("FROM deviation" in s for s in statements) == 1
