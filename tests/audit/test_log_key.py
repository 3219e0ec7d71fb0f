"""The audit-log key: created atomically, never silently replaced, and loadable from outside ASSAY_HOME.

Attacks and accidents tried here (each on SQLite and PostgreSQL): a process dies while creating the key; the key
is deleted after the log has checkpoints; the key is kept away from the rows it protects (``ASSAY_LOG_KEY``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from assay.audit import _checkpoint
from tests.audit._log_edits import cut_log

ASSAY = [sys.executable, "-m", "assay.cli.main"]


def _assay(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*ASSAY, *args], capture_output=True, text=True, timeout=120, env={**os.environ, **env})


def _add_artifact(env: dict[str, str], tmp_path: Path, name: str) -> subprocess.CompletedProcess[str]:
    prompt = tmp_path / f"{name}.txt"
    prompt.write_text(f"You are {name}.\n")
    return _assay(env, "artifact", "add", str(prompt), "--kind", "prompt", "--name", name)


def test_an_interrupted_key_creation_leaves_no_key_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "keys" / "audit-log.pem"
    path.parent.mkdir()

    def die(_fd: int) -> None:
        raise KeyboardInterrupt  # the process stops after the bytes were written, before they are durable

    monkeypatch.setattr(_checkpoint.os, "fsync", die)
    with pytest.raises(KeyboardInterrupt):
        _checkpoint.save_private_key(path, _checkpoint.generate_key())
    assert not path.exists() and list(path.parent.iterdir()) == []  # no empty key, no temporary file left
    monkeypatch.undo()
    _checkpoint.save_private_key(path, _checkpoint.generate_key())  # the next attempt makes a whole key
    assert _checkpoint.load_private_key(path) is not None and path.stat().st_mode & 0o777 == 0o600
    with pytest.raises(_checkpoint.AuditInputError, match="already exists"):
        _checkpoint.save_private_key(path, _checkpoint.generate_key())


def test_a_deleted_key_is_not_silently_replaced(assay_env: dict[str, str], tmp_path: Path) -> None:
    assert _add_artifact(assay_env, tmp_path, "first").returncode == 0
    key = Path(assay_env["ASSAY_HOME"]) / "keys" / "audit-log.pem"
    saved = key.read_bytes()
    key.unlink()
    refused = _add_artifact(assay_env, tmp_path, "second")
    assert refused.returncode == 2, refused.stderr
    assert refused.stderr.count("\n") == 1 and "audit-log key" in refused.stderr and "missing" in refused.stderr
    assert not key.exists()  # no new key was made
    key.write_bytes(saved)
    os.chmod(key, 0o600)
    assert _add_artifact(assay_env, tmp_path, "second").returncode == 0  # restored: writes go on
    verified = _assay(assay_env, "audit", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_key_can_live_outside_assay_home(assay_env: dict[str, str], tmp_path: Path) -> None:
    vault = tmp_path / "vault" / "log-key.pem"
    vault.parent.mkdir()
    env = {**assay_env, "ASSAY_LOG_KEY": str(vault)}
    assert _add_artifact(env, tmp_path, "first").returncode == 0
    assert vault.is_file() and vault.with_name("log-key.pub.pem").is_file()
    assert not (Path(assay_env["ASSAY_HOME"]) / "keys" / "audit-log.pem").exists()
    assert _assay(env, "audit", "verify").returncode == 0
    # without the variable the registry's own key is missing: writes stop with one line, nothing is replaced
    refused = _add_artifact(assay_env, tmp_path, "second")
    assert refused.returncode == 2 and "ASSAY_LOG_KEY" in refused.stderr


def test_a_forged_entry_is_never_blessed_by_the_next_write(assay_env: dict[str, str], tmp_path: Path) -> None:
    """An entry appended straight into the database used to be covered by the next legitimate write's signed
    checkpoint, after which ``audit verify`` called the log intact."""
    from assay.config import load_settings
    from assay.registry import Registry
    from assay.registry import _auditlog as auditlog

    assert _add_artifact(assay_env, tmp_path, "first").returncode == 0
    reg = Registry.open(load_settings())
    try:
        with reg.write() as session:  # what a database writer can compute: a well-formed entry, head updated
            auditlog.append(session, "role-granted", "mallory", {"actor": "mallory", "role": "admin"})
    finally:
        reg.close()
    refused = _add_artifact(assay_env, tmp_path, "second")
    assert refused.returncode == 1, refused.stderr
    assert refused.stderr.count("\n") == 1 and "changed outside assay" in refused.stderr
    checkpoint = _assay(assay_env, "audit", "checkpoint")
    assert checkpoint.returncode == 1 and "changed outside assay" in checkpoint.stderr
    listed = _assay(assay_env, "artifact", "add", str(tmp_path / "first.txt"), "--kind", "prompt", "--name", "x")
    assert listed.returncode == 1  # every write stops, and nothing was written
    verified = _assay(assay_env, "audit", "verify")
    assert verified.returncode == 1 and "uncovered-entry" in verified.stdout and "TAMPERED" in verified.stdout, \
        verified.stdout


@pytest.mark.parametrize("forgery", ["truncate-tail", "unsigned-checkpoint"])
def test_a_rewritten_log_stops_writes(assay_env: dict[str, str], tmp_path: Path, forgery: str) -> None:
    from sqlalchemy import text

    from assay.config import load_settings
    from assay.registry import Registry

    for name in ("a", "b"):
        assert _add_artifact(assay_env, tmp_path, name).returncode == 0
    reg = Registry.open(load_settings())
    try:
        with reg.write() as session:
            if forgery == "truncate-tail":  # drop the newest entries and put the head back where they began
                cut_log(session, session.execute(text("SELECT min(size) FROM audit_checkpoints")).scalar())
            else:  # a checkpoint row for the current head, with a signature that is not the log key's
                newest = session.execute(text("SELECT size, root, note FROM audit_checkpoints ORDER BY size DESC"
                                              " LIMIT 1")).one()
                session.execute(text("UPDATE audit_checkpoints SET note = :n WHERE size = :s"),
                                {"n": newest.note.replace(newest.note.splitlines()[-1],
                                                          "— assay-audit-log AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"),
                                 "s": newest.size})
    finally:
        reg.close()
    refused = _add_artifact(assay_env, tmp_path, "c")
    assert refused.returncode == 1 and "changed outside assay" in refused.stderr, refused.stderr


def test_verify_never_cries_tampering_while_others_write(assay_env: dict[str, str], tmp_path: Path) -> None:
    """``audit verify`` on PostgreSQL used to report TAMPERED while other processes wrote: it read the entries and
    the checkpoints at different moments. It now reads one snapshot (both databases)."""
    assert _add_artifact(assay_env, tmp_path, "seed").returncode == 0
    script = (  # a busy writer: one small change (entry + signed checkpoint) after another
        "import sys\n"
        "from pathlib import Path\n"
        "from assay.config import load_settings\n"
        "from assay.registry import Registry, add_artifact\n"
        "reg = Registry.open(load_settings())\n"
        "for i in range(int(sys.argv[1])):\n"
        "    p = Path(sys.argv[2]) / f'w{i}.txt'\n"
        "    p.write_text(f'prompt {i}')\n"
        "    add_artifact(reg, p, kind='prompt', name=f'w{i}')\n"
    )
    writer = subprocess.Popen([sys.executable, "-c", script, "400", str(tmp_path)], env={**os.environ, **assay_env},
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        verdicts = []
        while writer.poll() is None or len(verdicts) < 3:
            result = _assay(assay_env, "audit", "verify")
            verdicts.append((result.returncode, result.stdout.strip().splitlines()[-1:]))
    finally:
        _, errors = writer.communicate(timeout=300)
    assert writer.returncode == 0, errors
    assert all(code == 0 for code, _ in verdicts), verdicts


def test_a_corrupted_tree_node_is_named_by_verify_and_stops_proofs(assay_env: dict[str, str], tmp_path: Path) -> None:
    """A stored tree node edited in the database used to leave ``audit verify`` INTACT while ``audit proof`` broke
    (or printed a proof that does not verify)."""
    from sqlalchemy import text

    from assay.config import load_settings
    from assay.registry import Registry

    for name in ("a", "b", "c"):
        assert _add_artifact(assay_env, tmp_path, name).returncode == 0
    reg = Registry.open(load_settings())
    try:
        with reg.write() as session:
            level, idx, value = session.execute(text("SELECT level, idx, hash FROM audit_nodes ORDER BY level, idx"
                                                     " LIMIT 1")).one()
            session.execute(text("UPDATE audit_nodes SET hash = :h WHERE level = :l AND idx = :i"),
                            {"h": ("0" if value[0] != "0" else "1") + value[1:], "l": level, "i": idx})
    finally:
        reg.close()
    verified = _assay(assay_env, "audit", "verify")
    assert verified.returncode == 1 and "altered-node" in verified.stdout, verified.stdout
    proof = _assay(assay_env, "audit", "proof", str((idx ^ 1) << level))  # an entry whose proof uses the node
    assert proof.returncode == 1 and "does not reach the signed root" in proof.stderr, proof.stdout + proof.stderr


def test_a_checkpoint_row_relabelled_to_cover_a_forged_entry_is_refused_in_the_same_process(reg, tmp_path: Path
                                                                                          ) -> None:  # noqa: ANN001
    """The writing process remembers the checkpoint it signed last; a forger who appends an entry and rewrites that
    row's size and root (keeping its note) must not ride on that memory."""
    from sqlalchemy import text

    from assay.audit import TreeBuilder
    from assay.registry import _auditlog as auditlog
    from assay.registry import add_artifact

    prompt = tmp_path / "p.txt"
    prompt.write_text("hello")
    add_artifact(reg, prompt, kind="prompt", name="p")
    with reg.write() as session:
        auditlog.append(session, "role-granted", "mallory", {"actor": "mallory", "role": "admin"})
        size, peaks = session.execute(text("SELECT size, peaks FROM audit_state")).one()
        peaks = json.loads(peaks) if isinstance(peaks, str) else peaks
        root = TreeBuilder.from_state(size, [bytes.fromhex(p) for p in peaks]).root().hex()
        session.execute(text("UPDATE audit_checkpoints SET size = :s, root = :r WHERE size = "
                             "(SELECT max(size) FROM audit_checkpoints)"), {"s": size, "r": root})
    prompt.write_text("again")
    with pytest.raises(auditlog.LogTampered, match="signature does not verify"):
        add_artifact(reg, prompt, kind="prompt", name="q")


def test_a_rotated_key_is_on_the_record_and_old_checkpoints_still_verify(assay_env: dict[str, str],
                                                                          tmp_path: Path) -> None:
    keys = Path(assay_env["ASSAY_HOME"]) / "keys"
    assert _add_artifact(assay_env, tmp_path, "before").returncode == 0
    old_pub = tmp_path / "old.pub.pem"
    old_pub.write_bytes((keys / "audit-log.pub.pem").read_bytes())
    refused = _assay(assay_env, "audit", "rotate-key", "--actor", "mallory")
    assert refused.returncode == 2 and "needs the admin role" in refused.stderr
    assert _assay(assay_env, "role", "grant", "alice", "admin", "--actor", "alice").returncode == 0
    rotated = _assay(assay_env, "audit", "rotate-key", "--actor", "alice", "--format", "json")
    assert rotated.returncode == 0, rotated.stderr
    doc = json.loads(rotated.stdout)
    assert doc["from"] != doc["to"] and Path(doc["retired_public_key"]).read_bytes() == old_pub.read_bytes()
    assert (keys / "audit-log.pub.pem").read_bytes() != old_pub.read_bytes()
    assert not list(keys.glob("*.next.pem"))
    assert _add_artifact(assay_env, tmp_path, "after").returncode == 0  # signed with the new key from here on
    bundle = tmp_path / "log.zip"
    assert _assay(assay_env, "audit", "export", "-o", str(bundle)).returncode == 0
    for key in (None, old_pub, keys / "audit-log.pub.pem"):  # the oldest or the newest key reaches every checkpoint
        extra = ["--public-key", str(key)] if key else []
        live = _assay(assay_env, "audit", "verify", *extra)
        offline = _assay(assay_env, "audit", "verify", "--bundle", str(bundle), *extra)
        assert live.returncode == 0 and offline.returncode == 0, (live.stdout, offline.stdout)
    stranger = tmp_path / "stranger.pub.pem"
    stranger.write_bytes(_checkpoint.public_key_pem(_checkpoint.generate_key()))
    assert _assay(assay_env, "audit", "verify", "--public-key", str(stranger)).returncode == 1


def test_a_forged_rotation_does_not_bring_in_the_forgers_key(assay_env: dict[str, str], tmp_path: Path) -> None:
    """With database access but not the key, the forger appends a rotation to a key of their own and signs the
    head with it: the log's real key never vouched for that entry, so the forger's checkpoints stay forged."""
    from sqlalchemy import text

    from assay.audit import KEY_ROTATED, LOG_KEY_NAME, LOG_ORIGIN, NoteSigner, TreeBuilder, entry_body, leaf_hash
    from assay.config import load_settings
    from assay.registry import Registry

    assert _add_artifact(assay_env, tmp_path, "a").returncode == 0
    keys = Path(assay_env["ASSAY_HOME"]) / "keys"
    real = _checkpoint.load_private_key(keys / "audit-log.pem")
    mine = NoteSigner(LOG_KEY_NAME, _checkpoint.generate_key())
    reg = Registry.open(load_settings())
    try:
        with reg.write() as session:
            size, peaks = session.execute(text("SELECT size, peaks FROM audit_state")).one()
            peaks = json.loads(peaks) if isinstance(peaks, str) else peaks
            body = entry_body(size, KEY_ROTATED, "alice", "2026-12-03T00:00:00+00:00",
                              {"from": NoteSigner(LOG_KEY_NAME, real).verifier().key_string(),
                               "to": mine.verifier().key_string()})
            builder = TreeBuilder.from_state(size, [bytes.fromhex(p) for p in peaks])
            leaf = leaf_hash(body.encode())
            builder.append(leaf, [])
            new_size, new_peaks = builder.state()
            session.execute(text("INSERT INTO audit_entries (idx, kind, body, leaf_hash) VALUES (:i, :k, :b, :h)"),
                            {"i": size, "k": KEY_ROTATED, "b": body, "h": leaf.hex()})
            session.execute(text("UPDATE audit_state SET size = :s, peaks = :p"),
                            {"s": new_size, "p": json.dumps([p.hex() for p in new_peaks])})
            note = _checkpoint.sign_checkpoint(LOG_ORIGIN, new_size, builder.root(), mine)
            session.execute(text("INSERT INTO audit_checkpoints (size, root, note, created_at) VALUES (:s, :r, :n, "
                                 "CURRENT_TIMESTAMP)"), {"s": new_size, "r": builder.root().hex(), "n": note})
    finally:
        reg.close()
    verified = _assay(assay_env, "audit", "verify")
    assert verified.returncode == 1 and "bad-checkpoint" in verified.stdout, verified.stdout
    refused = _add_artifact(assay_env, tmp_path, "b")
    assert refused.returncode == 1 and "changed outside assay" in refused.stderr
