"""The load mix: small functions, each one write a bench terminal or client makes.

An action posts through ``ctx.api``, tells the ledger what was answered, and records
an acknowledged write (201 with an id) with what it must find later. Add an action and
its weight to :data:`MIX`, and the invariant it must keep to :mod:`tests.load.checks`.
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


# Custody handoffs that never end a dose's chain (administered and disposed are final),
# so the load can go round: stored → retrieved → shipped → received → stored → …
NEXT_HANDOFF = {"stored": ["retrieved"], "retrieved": ["stored", "shipped"],
                "shipped": ["received", "delivered"], "delivered": ["received", "stored"],
                "received": ["stored", "retrieved"]}


def record_custody_event(ctx: Context) -> None:
    """A handoff of one of the prepared released doses, confirmed by scanning its label.
    Clients read the dose's last event and pick a next one, racing each other on the same
    few doses: the server must let exactly one of two racing handoffs follow a given
    event (409 for the other, which is no write)."""
    dose = ctx.rng.choice(ctx.lab["doses"])
    timeline = ctx.api.get(f"/doses/{dose['id']}/custody")
    ctx.ledger.answered("read_custody", timeline)
    if timeline.status_code != 200:
        return
    event = ctx.rng.choice(NEXT_HANDOFF[timeline.json()[-1]["event"]])
    body = {"event": event, "location": f"load {ctx.rng.randint(1, 10**9)}",
            "scanned_code": dose["matrix"], "temperature_c": ctx.rng.choice([-150.0, 4.0])}
    response = ctx.api.post(f"/doses/{dose['id']}/custody", body)
    ctx.ledger.answered("record_custody_event", response)
    if response.status_code == 201:
        ctx.ledger.ack("custody_event", {"id": response.json()["id"], "dose_id": dose["id"],
                                         "event": event, "location": body["location"]})


MIX: list[tuple[Action, int]] = [
    (register_collection, 1),
    (log_culture_step, 2),
    (record_custody_event, 2),
]
"""(action, weight): each client thread picks actions at random in these proportions."""
