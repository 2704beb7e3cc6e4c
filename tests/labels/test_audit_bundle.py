"""The audit bundle of a batch: exported by the API, checked offline by
``python -m lims.audit.verify_bundle`` without the server or the database (SPEC §8)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from lims.audit.bundle import bundle_digest, first_problem
from tests.batches.dose_helpers import custody, dose_json
from tests.fixtures.database import tamper

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def bundle(app, qlab):
    """A released MSC batch with a corrected step and a custody handoff, exported by QA."""
    batch = qlab.ready()
    steps = qlab.client.get(f"/api/v1/batches/{batch['id']}/steps", headers=qlab.tech).json
    harvest = next(s for s in steps if s["type"] == "harvest")
    response = qlab.client.patch(f"/api/v1/steps/{harvest['id']}", headers=qlab.tech,
                                 json={"viability_pct": 93.5, "reason": "typo"})
    assert response.status_code == 200, response.json
    qlab.release(batch)
    dose = dose_json(qlab, batch["doses"][0]["id"] if batch.get("doses") else
                     qlab.client.get(f"/api/v1/batches/{batch['id']}/doses",
                                     headers=qlab.tech).json[0]["id"])
    custody(qlab, dose, "retrieved", location="LN2 tank 2", temperature_c=-190.0)
    response = qlab.client.get(f"/api/v1/batches/{batch['id']}/audit-bundle.json",
                               headers=qlab.qa)
    assert response.status_code == 200, response.get_json(silent=True)
    assert response.mimetype == "application/json"
    assert "attachment" in response.headers["Content-Disposition"]
    return batch, json.loads(response.data)


def _run(path: Path, *args: str) -> subprocess.CompletedProcess:
    """The documented command, in a clean environment: no database URL, no app config."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LIMS_", "DATABASE"))}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "lims.audit.verify_bundle", str(path), *args],
                          capture_output=True, text=True, env=env, cwd=path.parent, timeout=60)


@pytest.fixture
def public_key(runner) -> str:
    """The audit signing key's public key, as ``flask lims audit-public-key`` prints it."""
    result = runner.invoke(args=["lims", "audit-public-key"])
    assert result.exit_code == 0, result.output
    return result.output.strip()


def _write(tmp_path: Path, data: dict, name: str = "bundle.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(data, ensure_ascii=False, indent=1), encoding="utf-8")
    return path


def test_bundle_holds_records_entries_head_and_digest(app, bundle):
    batch, data = bundle
    assert data["batch"]["batch_number"] == batch["batch_number"]
    records = data["records"]
    for kind in ("batch", "collection", "subject", "culture_step", "qc_result", "dose",
                 "custody_event", "signature", "recipient_screening"):
        assert records[kind], kind
    assert len(records["qc_result"]) == 13
    assert any(s["meaning"] == "approval" for s in records["signature"])
    entries = data["audit"]["entries"]
    assert data["audit"]["expected_seqs"] == [e["seq"] for e in entries]
    assert {"seq", "prev_hash", "hash", "changes", "occurred_at", "reason"} <= set(entries[0])
    assert any(e["reason"] == "typo" for e in entries)
    assert entries[-1]["action"] == "audit_bundle_export"  # the export audits itself
    assert data["chain_head"]["seq"] == entries[-1]["seq"]
    assert data["chain_head"]["hash"] == entries[-1]["hash"]
    assert data["digest"]["value"] == bundle_digest(data)
    assert first_problem(data) is None
    assert data["signature"]["algorithm"] == "ed25519"


def test_verify_command_passes_an_exported_bundle(app, bundle, tmp_path, public_key):
    _batch, data = bundle
    result = _run(_write(tmp_path, data), "--public-key", public_key)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.startswith("INTACT") and "signed by audit key" in result.stdout
    key_file = tmp_path / "audit-public-key.txt"
    key_file.write_text(f"# the lab's audit key\n{public_key}\n", encoding="utf-8")
    assert _run(_write(tmp_path, data), "--public-key", str(key_file)).returncode == 0


def test_without_a_public_key_authenticity_is_not_claimed(app, bundle, tmp_path):
    _batch, data = bundle
    result = _run(_write(tmp_path, data))
    assert result.returncode == 3, result.stdout + result.stderr
    assert result.stdout.startswith("NOT AUTHENTICATED") and "--public-key" in result.stdout


def _rehash(data: dict) -> None:
    """What a forger does after editing a bundle: recompute the digest."""
    data["digest"]["value"] = bundle_digest(data)


def test_a_rehashed_bundle_fails_the_signature(app, bundle, tmp_path, public_key):
    """Edit a record and its audit value consistently, recompute the digest: every hash
    checks out, only the signature (made with a key the forger does not hold) does not."""
    _batch, data = bundle
    edited = copy.deepcopy(data)
    edited["exported_by"] = "someone else"
    _rehash(edited)
    assert first_problem(edited) is None  # consistent in itself
    result = _run(_write(tmp_path, edited), "--public-key", public_key)
    assert result.returncode == 1, result.stdout
    assert "signature does not verify" in result.stdout
    assert _run(_write(tmp_path, edited)).returncode == 3  # never a pass without the key


def test_a_bundle_re_signed_with_another_key_fails(app, bundle, tmp_path, public_key):
    import base64

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from lims.audit.bundle import signature_message
    from lims.audit.chain import key_id

    _batch, data = bundle
    edited = copy.deepcopy(data)
    edited["exported_by"] = "someone else"
    _rehash(edited)
    forger = Ed25519PrivateKey.generate()
    edited["signature"] = {"algorithm": "ed25519", "key_id": key_id(forger.public_key()),
                           "value": base64.b64encode(forger.sign(signature_message(
                               edited["digest"]["value"]))).decode()}
    result = _run(_write(tmp_path, edited), "--public-key", public_key)
    assert result.returncode == 1 and "not by the public key(s) given" in result.stdout
    del edited["signature"]
    result = _run(_write(tmp_path, edited), "--public-key", public_key)
    assert result.returncode == 1 and "no signature" in result.stdout


def test_a_bad_public_key_argument_is_refused(app, bundle, tmp_path):
    _batch, data = bundle
    path = _write(tmp_path, data)
    assert _run(path, "--public-key", "ed25519:not-base64!").returncode == 2
    assert _run(path, "--public-key", str(tmp_path / "missing.txt")).returncode == 2


def test_every_export_signs_a_checkpoint_of_the_head(app, bundle):
    import sqlalchemy as sa

    from lims.audit.models import AuditCheckpoint
    from lims.db import db

    _batch, data = bundle
    with app.app_context():
        newest = db.session.scalars(sa.select(AuditCheckpoint)
                                    .order_by(AuditCheckpoint.id.desc())).first()
    assert (newest.seq, newest.head_hash, newest.id) == (
        data["chain_head"]["seq"], data["chain_head"]["hash"], data["chain_head"]["checkpoint_id"])
    assert newest.key_id == data["signature"]["key_id"]


def _edit_record_value(data):
    step = next(s for s in data["records"]["culture_step"] if s["viability_pct"] is not None)
    step["viability_pct"] = 99.0
    return f"record culture_step {step['id']}: field viability_pct"


def _edit_result_value(data):
    result = next(r for r in data["records"]["qc_result"] if r["test"] == "endotoxin")
    result["value"] = 0.05
    return f"record qc_result {result['id']}: field value"


def _edit_entry_change(data):
    entry = next(e for e in data["audit"]["entries"] if e["reason"] == "typo")
    entry["changes"] = entry["changes"].replace("93.5", "95.5")
    return f"audit entry seq {entry['seq']}"


def _edit_entry_reason(data):
    entry = next(e for e in data["audit"]["entries"] if e["reason"] == "typo")
    entry["reason"] = "new reason"
    return f"audit entry seq {entry['seq']}"


def _edit_entry_actor(data):
    entry = data["audit"]["entries"][3]
    entry["actor_username"] = "someone-else"
    return f"audit entry seq {entry['seq']}"


def _edit_signature_name(data):
    signature = data["records"]["signature"][-1]
    signature["printed_name"] = "Someone Else"
    return f"record signature {signature['id']}: field printed_name"


def _edit_export_metadata(data):
    data["exported_by"] = "nobody"
    return "bundle digest does not match"


def _edit_head(data):
    data["chain_head"]["hash"] = "f" * 64
    return "chain_head hash"


@pytest.mark.parametrize("edit", [
    _edit_record_value, _edit_result_value, _edit_entry_change, _edit_entry_reason,
    _edit_entry_actor, _edit_signature_name, _edit_export_metadata, _edit_head])
def test_verify_command_names_an_edited_value(app, bundle, tmp_path, edit, public_key):
    _batch, data = bundle
    edited = copy.deepcopy(data)
    expected = edit(edited)
    result = _run(_write(tmp_path, edited), "--public-key", public_key)
    assert result.returncode == 1, result.stdout
    assert result.stdout.startswith("BROKEN") and expected in result.stdout, result.stdout


def test_verify_command_finds_a_removed_entry(app, bundle, tmp_path):
    _batch, data = bundle
    edited = copy.deepcopy(data)
    removed = edited["audit"]["entries"].pop(5)
    result = _run(_write(tmp_path, edited))
    assert result.returncode == 1
    assert f"audit entry seq {removed['seq']} is missing" in result.stdout
    # removing it from the list of expected seqs too: here the record loses its create
    # entry; in any case the digest no longer matches
    edited["audit"]["expected_seqs"].remove(removed["seq"])
    result = _run(_write(tmp_path, edited))
    assert result.returncode == 1 and result.stdout.startswith("BROKEN")
    assert bundle_digest(edited) != edited["digest"]["value"]


def test_verify_command_finds_reordered_entries_and_unreadable_files(app, bundle, tmp_path):
    _batch, data = bundle
    edited = copy.deepcopy(data)
    entries = edited["audit"]["entries"]
    entries[1], entries[2] = entries[2], entries[1]
    result = _run(_write(tmp_path, edited))
    assert result.returncode == 1 and "out of order" in result.stdout
    (tmp_path / "junk.json").write_text("{not json", encoding="utf-8")
    assert _run(tmp_path / "junk.json").returncode == 2
    assert first_problem({"format": "something else"}).startswith("not an audit bundle")


def test_a_record_changed_in_the_database_behind_the_trail_is_named(app, qlab):
    """A value changed by raw SQL (no audit entry) disagrees with its newest audit value."""
    batch = qlab.in_review()
    tamper(app, f"UPDATE collection SET volume_ml = 75.0 WHERE id = {batch['collection_id']}")
    data = qlab.client.get(f"/api/v1/batches/{batch['id']}/audit-bundle.json",
                           headers=qlab.qa).json
    problem = first_problem(data)
    assert problem is not None
    assert f"record collection {batch['collection_id']}: field volume_ml" in problem


def test_bundle_is_for_qa_and_admin_only(app, qlab, admin):
    batch = qlab.in_review()
    url = f"/api/v1/batches/{batch['id']}/audit-bundle.json"
    assert qlab.client.get(url, headers=qlab.tech).status_code == 403
    assert qlab.client.get(url, headers=admin).status_code == 200
    assert qlab.client.get("/api/v1/batches/999999/audit-bundle.json",
                           headers=admin).status_code == 404


def test_the_verifier_imports_neither_the_app_nor_the_database_layer():
    code = ("import sys, lims.audit.bundle, lims.audit.verify_bundle;"
            "bad = [m for m in ('flask', 'sqlalchemy', 'lims.db', 'lims.audit.models')"
            " if m in sys.modules]; print(bad)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT)}, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
