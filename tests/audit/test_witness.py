"""A witness remembers the log's checkpoints where the database's owner cannot rewrite them; bundles prove all of
themselves.

The attack: cut the log's tail together with every checkpoint that covered it (and the rows those entries wrote,
so nothing disagrees). What remains is an older log that verifies on its own, in the database and in an exported
bundle. Checked against the witness it does not, and with ``ASSAY_WITNESS`` set nothing is written on top of it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from sqlalchemy import text

from assay.audit import WitnessConflict, publish_checkpoint, verify_bundle, witnessed_checkpoints
from assay.registry import Registry, add_artifact
from assay.registry import _auditlog as auditlog
from assay.registry import _auditread as auditread
from assay.registry import _logkey as logkey
from tests.audit._log_edits import cut_log


def _assay(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "assay.cli.main", *args], capture_output=True, text=True,
                          timeout=120, env={**os.environ, **env})


def _artifacts(reg: Registry, tmp_path: Path, *names: str) -> None:
    for name in names:
        path = tmp_path / f"{name}.txt"
        path.write_text(f"prompt {name}")
        add_artifact(reg, path, kind="prompt", name=name)


def _cut_tail(reg: Registry, keep: int) -> None:
    """Drop every entry from ``keep`` on, every checkpoint beyond it, the rows those entries wrote, and put the
    head back: the log of ``keep`` entries that was once genuine."""
    with reg.write() as session:
        session.execute(text("DELETE FROM artifacts WHERE entry_idx >= :k"), {"k": keep})
        cut_log(session, keep)
        session.execute(text("DELETE FROM audit_nodes"))  # proofs fall back to the leaves
        session.execute(text("DELETE FROM audit_checkpoints WHERE size > :k"), {"k": keep})


def _verify(reg: Registry, witnessed: list[str] = ()) -> object:  # type: ignore[assignment]
    with reg.snapshot() as session:
        return auditread.verify(session, logkey.log_verifier(reg.home), witnessed)


def test_a_checkpoint_is_published_once_and_a_fork_is_refused(tmp_path: Path) -> None:
    witness = tmp_path / "witness"
    first = publish_checkpoint(witness, 3, "note A\n")
    assert publish_checkpoint(witness, 3, "note A\n") == first and first.read_text() == "note A\n"
    with pytest.raises(WitnessConflict, match="different checkpoint for size 3"):
        publish_checkpoint(witness, 3, "note B\n")
    assert witnessed_checkpoints(witness) == [(3, "note A\n")]
    assert [p.name for p in witness.iterdir()] == ["checkpoint-3.txt"]  # no temporary file left behind


def test_a_tail_cut_with_its_checkpoints_is_caught_by_the_witness(reg: Registry, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    witness = tmp_path / "witness"
    monkeypatch.setenv("ASSAY_WITNESS", str(witness))
    _artifacts(reg, tmp_path, "a", "b")
    with reg.snapshot() as session:
        keep = session.execute(text("SELECT size FROM audit_checkpoints ORDER BY size LIMIT 1")).scalar()
    _artifacts(reg, tmp_path, "c", "d")  # the tail a forger wants gone
    published = witnessed_checkpoints(witness)
    assert len(published) == 4 and published[-1][0] > keep  # every committed write published its checkpoint
    _cut_tail(reg, keep)
    assert _verify(reg).ok  # the database alone cannot tell: this is an older log that was genuine
    report = _verify(reg, [note for _, note in published])
    assert not report.ok and any("beyond the" in p.message for p in report.problems), report.problems
    with pytest.raises(auditlog.LogTampered, match="the witness saw"):  # nothing is written on top of it
        _artifacts(reg, tmp_path, "e")


def test_a_witness_holding_a_forged_checkpoint_stops_writes(reg: Registry, tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    from assay.errors import InputError

    witness = tmp_path / "witness"
    monkeypatch.setenv("ASSAY_WITNESS", str(witness))
    _artifacts(reg, tmp_path, "a")
    size, note = witnessed_checkpoints(witness)[-1]
    (witness / f"checkpoint-{size + 5}.txt").write_text(note.replace(str(size), str(size + 5), 1))
    with pytest.raises(InputError, match="does not verify with the log key"):
        _artifacts(reg, tmp_path, "b")


def test_the_cli_publishes_and_verifies_against_a_witness(assay_env: dict[str, str], reg: Registry,
                                                          tmp_path: Path) -> None:
    witness = tmp_path / "witness"
    _artifacts(reg, tmp_path, "a", "b")
    published = _assay(assay_env, "audit", "checkpoint", "--witness", str(witness), "--format", "json")
    assert published.returncode == 0, published.stderr
    doc = json.loads(published.stdout)
    assert Path(doc["witness"]).read_text() == doc["note"]
    keep = doc["size"]
    _artifacts(reg, tmp_path, "c")
    assert _assay(assay_env, "audit", "checkpoint", "--witness", str(witness)).returncode == 0
    intact = _assay(assay_env, "audit", "verify", "--witness", str(witness))
    assert intact.returncode == 0 and "2 witnessed" in intact.stdout and "INTACT" in intact.stdout, intact.stdout
    _cut_tail(reg, keep)
    assert _assay(assay_env, "audit", "verify").returncode == 0
    caught = _assay(assay_env, "audit", "verify", "--witness", str(witness))
    assert caught.returncode == 1 and "TAMPERED" in caught.stdout and "entries were deleted" in caught.stdout
    missing = _assay(assay_env, "audit", "verify", "--witness", str(tmp_path / "nowhere"))
    assert missing.returncode == 2 and "cannot read the witness" in missing.stderr and "Traceback" not in missing.stderr


def _bundle(assay_env: dict[str, str], reg: Registry, tmp_path: Path) -> Path:
    _artifacts(reg, tmp_path, "a", "b")
    out = tmp_path / "bundle.zip"
    assert _assay(assay_env, "audit", "export", "-o", str(out)).returncode == 0
    return out


def _rewrite(bundle: Path, change) -> Path:  # noqa: ANN001 - a function of the members
    with zipfile.ZipFile(bundle) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    change(members)
    edited = bundle.with_name("edited.zip")
    with zipfile.ZipFile(edited, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return edited


def _drop_first_proof(m: dict[str, bytes]) -> None:
    m["proofs.jsonl"] = b"\n".join(m["proofs.jsonl"].splitlines()[1:]) + b"\n"


def _drop_evidence(m: dict[str, bytes]) -> None:
    del m[next(n for n in m if n.startswith("evidence/"))]


def _drop_proofs(m: dict[str, bytes]) -> None:
    del m["proofs.jsonl"]


def _proofs_at_other_size(m: dict[str, bytes]) -> None:
    lines = [json.loads(line) for line in m["proofs.jsonl"].splitlines()]
    m["proofs.jsonl"] = b"".join(json.dumps({**p, "size": p["size"] + 1}).encode() + b"\n" for p in lines)


@pytest.mark.parametrize(("change", "kind"), [(_drop_first_proof, "missing-proof"), (_drop_proofs, "missing-proof"),
                                              (_drop_evidence, "missing-evidence"), (_proofs_at_other_size, "bad-proof")])
def test_a_bundle_must_carry_every_proof_and_cited_blob(assay_env: dict[str, str], reg: Registry, tmp_path: Path,
                                                        change, kind: str) -> None:  # noqa: ANN001
    bundle = _bundle(assay_env, reg, tmp_path)
    key = reg.home / "keys" / "audit-log.pub.pem"
    assert verify_bundle(bundle, public_key=key).ok
    report = verify_bundle(_rewrite(bundle, change), public_key=key)
    assert not report.ok and kind in [p.kind for p in report.problems], report.problems


def test_a_bundle_of_a_cut_log_fails_against_the_witness(assay_env: dict[str, str], reg: Registry,
                                                         tmp_path: Path) -> None:
    witness = tmp_path / "witness"
    old = _bundle(assay_env, reg, tmp_path)  # an honest bundle of the log as it was then
    _artifacts(reg, tmp_path, "c")
    assert _assay(assay_env, "audit", "checkpoint", "--witness", str(witness)).returncode == 0
    notes = [n for _, n in witnessed_checkpoints(witness)]
    key = reg.home / "keys" / "audit-log.pub.pem"
    assert verify_bundle(old, public_key=key).ok
    report = verify_bundle(old, public_key=key, witnessed=notes)  # handed over as if it were the whole log
    assert not report.ok and any("entries were deleted" in p.message for p in report.problems)
