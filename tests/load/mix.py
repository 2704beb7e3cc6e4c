"""The load mix: small functions, each one write a bench terminal or client makes.

An action posts through ``ctx.api``, tells the ledger what was answered, and records
an acknowledged write (201 with an id) with what it must find later. Add an action and
its weight to :data:`MIX` (custody events, QC results… when those features merge), and
the invariant it must keep to :mod:`tests.load.checks`.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tests.load.harness import Action, Context


def register_collection(ctx: Context) -> None:
    """A collection for one of the prepared patients: it gets the next DIN."""
    subject = ctx.rng.choice(ctx.lab["patients"])
    collected_at = datetime.now(UTC) - timedelta(hours=ctx.rng.randint(1, 48))
    response = ctx.api.post("/collections", {
        "subject_id": subject, "source": ctx.rng.choice(["bone_marrow", "adipose"]),
        "collected_at": collected_at.isoformat(), "volume_ml": ctx.rng.randint(5, 200)})
    ctx.ledger.answered("register_collection", response)
    if response.status_code == 201:
        body = response.json()
        ctx.ledger.ack("collection", {"id": body["id"], "din": body["din"],
                                      "subject_id": subject})


def log_culture_step(ctx: Context) -> None:
    """A media change (mostly) or a passage on one of the prepared batches in culture;
    a passage beyond the template's maximum is refused (409), which is no write."""
    batch = ctx.rng.choice(ctx.lab["batches"])
    step_type = ctx.rng.choice(["media_change", "media_change", "media_change", "passage"])
    body = {"type": step_type, "confluence_pct": ctx.rng.randint(20, 95),
            "notes": f"load {ctx.rng.random():.6f}"}
    response = ctx.api.post(f"/batches/{batch}/steps", body)
    ctx.ledger.answered("log_culture_step", response)
    if response.status_code == 201:
        step = response.json()
        ctx.ledger.ack("culture_step", {"id": step["id"], "batch_id": batch, "type": step_type,
                                        "passage": step.get("passage"),
                                        "notes": body["notes"]})


MIX: list[tuple[Action, int]] = [
    (register_collection, 1),
    (log_culture_step, 2),
]
"""(action, weight): each client thread picks actions at random in these proportions."""
