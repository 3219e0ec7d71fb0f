"""The registry through its Python API, on SQLite and on PostgreSQL (the ``assay_env`` fixture runs both)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from assay.errors import AssayError
from assay.registry import (
    IntakeRequest,
    NotFound,
    Registry,
    add_artifact,
    doctor,
    intake,
    lineage,
    list_models,
    register_dataset,
    show,
    where,
)
from tests.fixtures.model_folders import LLAMA31_LICENSE, card, write_malicious, write_model


def test_intake_real_minilm_is_accepted_with_its_card_license_and_lineage(reg: Registry, minilm_dir: Path) -> None:
    result = intake(reg, IntakeRequest(minilm_dir, "sentence-transformers/all-MiniLM-L6-v2", owner="search-team",
                                       source_url="https://huggingface.co/sentence-transformers/all-MiniLM-L6-v2",
                                       risk_tier="low"))
    assert result.accepted and result.created and result.exit_code == 0
    v = result.version
    assert v.number == 1 and v.identity.startswith("sha256:") and v.status == "accepted"
    assert v.license_expression == "Apache-2.0" and v.license_class == "permissive"
    assert v.scan_verdict == "clean" and v.signature_status == "unsigned"
    assert "safetensors" in v.formats and v.created_by == "alice" and v.owner == "search-team"
    parents = {(p.kind, p.name) for p in v.parents}
    assert ("model", "nreimers/MiniLM-L6-H384-uncased") in parents
    assert ("dataset", "s2orc") in parents and len([p for p in v.parents if p.kind == "dataset"]) >= 10
    kinds = {e.kind for e in v.evidence}
    assert {"scan-report", "manifest", "bom", "model-card"} <= kinds
    for e in v.evidence:  # every cited blob is in the store with its digest
        assert reg.blobs.check(e.digest) is None
    manifest = json.loads(reg.blobs.get(next(e.digest for e in v.evidence if e.kind == "manifest")))
    assert manifest["identity"] == v.identity  # the stored manifest is the one the identity was computed from
    again = intake(reg, IntakeRequest(minilm_dir, "sentence-transformers/all-MiniLM-L6-v2"))
    assert again.accepted and not again.created and again.version.number == 1
    assert len(list_models(reg)) == 1 and list_models(reg)[0].versions == 1


def test_malicious_folder_is_refused_and_only_recorded_when_asked(reg: Registry, tmp_path: Path) -> None:
    bad = write_malicious(tmp_path / "evil")
    refused = intake(reg, IntakeRequest(bad, "evil/model"))
    assert not refused.accepted and refused.exit_code == 1 and refused.version is None
    assert any("scan" in r for r in refused.reasons)
    assert list_models(reg) == []
    recorded = intake(reg, IntakeRequest(bad, "evil/model", record_rejected=True))
    assert recorded.exit_code == 1 and recorded.version.status == "rejected"
    assert recorded.version.scan_verdict == "findings" and recorded.version.scan_counts["critical"] >= 1
    assert [m.name for m in list_models(reg, status="rejected")] == ["evil/model"]
    assert list_models(reg, status="accepted") == []
    with pytest.raises(NotFound):
        show(reg, "evil/model@2")


def test_llama_and_non_commercial_licenses_are_classified(reg: Registry, tmp_path: Path) -> None:
    llama = write_model(tmp_path / "llama", card=card("llama3.1"), license_text=LLAMA31_LICENSE)
    v = intake(reg, IntakeRequest(llama, "meta/llama-like")).version
    assert v.license_class == "restricted-use"
    assert any("700m" in o.lower() or "cap" in o for o in v.license_obligations)
    nc = write_model(tmp_path / "nc", card=card("cc-by-nc-4.0"), seed=1)
    v2 = intake(reg, IntakeRequest(nc, "research/nc-model")).version
    assert v2.license_expression == "CC-BY-NC-4.0" and v2.license_class == "non-commercial"
    assert [m.name for m in list_models(reg, license_class="non-commercial")] == ["research/nc-model"]


def test_lineage_links_registered_base_models_both_ways(reg: Registry, tmp_path: Path) -> None:
    base = write_model(tmp_path / "base", card=card("apache-2.0"), seed=1)
    tuned = write_model(tmp_path / "tuned", card=card("apache-2.0", base_model="acme/base", relation="finetune"),
                        seed=2)
    quant = write_model(tmp_path / "quant", card=card("apache-2.0", base_model="acme/tuned", relation="quantized"),
                        seed=3)
    base_v = intake(reg, IntakeRequest(base, "acme/base")).version
    intake(reg, IntakeRequest(tuned, "acme/tuned"))
    intake(reg, IntakeRequest(quant, "acme/tuned-int8"))
    tree = lineage(reg, "acme/tuned-int8@1")
    assert [(x.relation, x.name, x.registered) for x in tree.up] == [("quantized", "acme/tuned@1", True)]
    assert ("acme/tuned@1", "acme/base@1") in tree.up_paths
    down = lineage(reg, "acme/base")
    assert [(x.relation, x.name) for x in down.down] == [("finetune", "acme/tuned@1")]
    hits = {(h.kind, h.ref) for h in where(reg, base_v.identity)}
    assert {("version", "acme/base@1"), ("descendant", "acme/tuned@1"), ("descendant", "acme/tuned-int8@1")} <= hits


def test_where_finds_versions_that_contain_a_file(reg: Registry, tmp_path: Path) -> None:
    import hashlib

    shared = b"shared tokenizer\n" * 100
    a = write_model(tmp_path / "a", card=card("mit"), seed=1, extra_files={"vocab.txt": shared})
    b = write_model(tmp_path / "b", card=card("mit"), seed=2, extra_files={"vocab.txt": shared})
    intake(reg, IntakeRequest(a, "team/a"))
    intake(reg, IntakeRequest(b, "team/b"))
    digest = hashlib.sha256(shared).hexdigest()
    hits = where(reg, digest[:16])
    assert {(h.ref, h.relation) for h in hits if h.kind == "version"} == {("team/a@1", "contains vocab.txt"),
                                                                         ("team/b@1", "contains vocab.txt")}
    assert where(reg, "0" * 64) == []


def test_datasets_artifacts_and_training_records(reg: Registry, tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "train.jsonl").write_text('{"text": "hello"}\n')
    ds = register_dataset(reg, data, name="support-tickets", license="CC-BY-4.0", consent="customer ToS 4.2",
                          retention_days=365, pii=True)
    assert ds.number == 1 and ds.created and ds.pii is True
    assert not register_dataset(reg, data, name="support-tickets").created  # same bytes, same version
    training = tmp_path / "training.json"
    training.write_text(json.dumps({"base_model": "acme/base", "datasets": ["wikipedia"], "epochs": 3}))
    model = write_model(tmp_path / "m", card=card("apache-2.0"), seed=4)
    v = intake(reg, IntakeRequest(model, "acme/support-bot", training=training,
                                  datasets=("support-tickets@1",))).version
    parents = {(p.kind, p.name, p.registered, p.source) for p in v.parents}
    assert ("dataset", "support-tickets@1", True, "flag") in parents
    assert ("model", "acme/base", False, "training") in parents
    assert "training" in {e.kind for e in v.evidence}
    assert ("descendant", "acme/support-bot@1") in {(h.kind, h.ref) for h in where(reg, "support-tickets@1")}
    with pytest.raises(NotFound):
        intake(reg, IntakeRequest(model, "acme/other", datasets=("no-such-dataset",)))
    prompt = tmp_path / "system.txt"
    prompt.write_text("You are a helpful support agent.\n")
    art = add_artifact(reg, prompt, kind="system-prompt", name="support-system")
    assert art.number == 1 and art.created and art.digest.startswith("sha256:")
    assert not add_artifact(reg, prompt, kind="system-prompt", name="support-system").created
    prompt.write_text("You are a terse support agent.\n")
    assert add_artifact(reg, prompt, kind="system-prompt", name="support-system").number == 2
    assert ("artifact", "support-system@1") in {(h.kind, h.ref) for h in where(reg, art.digest)}


def test_doctor_finds_missing_and_altered_evidence(reg: Registry, tmp_path: Path) -> None:
    v = intake(reg, IntakeRequest(write_model(tmp_path / "m", card=card("mit")), "team/m")).version
    assert [p for p in doctor(reg) if p.kind != "orphan"] == []
    scan_blob = next(e.digest for e in v.evidence if e.kind == "scan-report")
    bom_blob = next(e.digest for e in v.evidence if e.kind == "bom")
    reg.blobs._path(scan_blob).unlink()
    path = reg.blobs._path(bom_blob)
    path.write_bytes(path.read_bytes().replace(b"CycloneDX", b"CycloneDx"))
    problems = {(p.kind, p.digest) for p in doctor(reg)}
    assert ("missing", scan_blob) in problems and ("altered", bom_blob) in problems


def test_signed_model_is_verified_and_a_tampered_one_refused(reg: Registry, tmp_path: Path) -> None:
    import assay
    from assay.signing import keygen

    model = write_model(tmp_path / "m", card=card("mit"))
    priv, pub = keygen(tmp_path / "team")
    assay.sign(model, key=priv)
    ok = intake(reg, IntakeRequest(model, "team/signed", public_key=pub))
    assert ok.accepted and ok.version.signature_status == "verified"
    assert "signature" in {e.kind for e in ok.version.evidence}
    (model / "config.json").write_text('{"model_type": "evil"}')
    bad = intake(reg, IntakeRequest(model, "team/signed", public_key=pub))
    assert not bad.accepted and bad.version is None and bad.signature["status"] == "failed"
    assert any("config.json" in p for p in bad.signature["problems"])


def test_bad_input_is_one_clear_error(reg: Registry, tmp_path: Path) -> None:
    model = write_model(tmp_path / "m")
    for req in (IntakeRequest(tmp_path / "missing", "x"), IntakeRequest(model, "bad name!"),
                IntakeRequest(model, "x", risk_tier="extreme"), IntakeRequest(model, "x", signature=model / "s")):
        with pytest.raises(AssayError) as info:
            intake(reg, req)
        assert "\n" not in str(info.value) and info.value.exit_code == 2
    with pytest.raises(NotFound):
        show(reg, "nobody/nothing")


_CONCURRENT = """
import sys
from pathlib import Path
from assay.config import load_settings
from assay.registry import IntakeRequest, Registry, intake
reg = Registry.open(load_settings())
for path in sys.argv[1:]:
    r = intake(reg, IntakeRequest(Path(path), "race/model"))
    print(r.version.number, r.created)
"""


def test_concurrent_intakes_from_processes_neither_duplicate_nor_skip(reg: Registry, tmp_path: Path,
                                                                      assay_env: dict[str, str]) -> None:
    folders = [str(write_model(tmp_path / f"m{i}", card=card("mit"), seed=i)) for i in range(3)]
    import os

    env = {**os.environ, **assay_env}
    procs = [subprocess.Popen([sys.executable, "-c", _CONCURRENT, *(folders[k:] + folders[:k])], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for k in range(4)]
    outputs = [p.communicate(timeout=300) for p in procs]
    assert all(p.returncode == 0 for p in procs), [o[1][-2000:] for o in outputs]
    created = sum(line.endswith("True") for out, _ in outputs for line in out.splitlines())
    assert created == 3  # each folder became a version exactly once
    summary = list_models(reg)
    assert len(summary) == 1 and summary[0].versions == 3 and summary[0].latest == 3
    assert sorted(show(reg, f"race/model@{n}").number for n in (1, 2, 3)) == [1, 2, 3]


def test_a_single_model_file_borrows_no_card_or_license_from_its_folder(reg: Registry, tmp_path: Path) -> None:
    folder = write_model(tmp_path / "downloads", card=card("mit"), license_text="MIT License\n")
    result = intake(reg, IntakeRequest(folder / "model.safetensors", "team/single-file"))
    v = result.version
    assert result.accepted and v.file_count == 1 and v.license_class == "unknown" and v.license_expression is None
    assert not v.card["present"] and "model card" in v.missing and "license" in v.missing


def test_write_side_lookups_share_the_reference_rules(reg: Registry, tmp_path: Path) -> None:
    """Release and intake resolve NAME@N the same way the read commands do: no overflow, no Unicode digits,
    no LIKE wildcards, one NotFound line each (on both databases)."""
    intake(reg, IntakeRequest(write_model(tmp_path / "m", card=card("mit")), "org/a"))
    with reg.read() as session:
        assert reg.find_version(session, "org/a@1")[1].number == 1
        for ref in ("org/a@99999999999999999999999", "org/a@\u00b2", "org/a@%", "org/a@sha256:%_"):
            with pytest.raises(NotFound):
                reg.find_version(session, ref)
        with pytest.raises(NotFound):
            reg.find_dataset(session, "ds@99999999999999999999999")


def test_re_intake_of_the_same_bytes_changes_nothing_but_evidence(reg: Registry, tmp_path: Path) -> None:
    """Intake of the same bytes used to rewrite owner, risk tier, data sensitivity and intended use silently."""
    folder = write_model(tmp_path / "m", card=card("mit"))
    intake(reg, IntakeRequest(folder, "acme/fixed", owner="ml-team", risk_tier="high", intended_use="support",
                              data_sensitivity="internal"))
    for change in ({"owner": "mallory"}, {"risk_tier": "low"}, {"intended_use": "anything"},
                   {"data_sensitivity": "public"}):
        with pytest.raises(AssayError, match="assay model set acme/fixed"):
            intake(reg, IntakeRequest(folder, "acme/fixed", **change))
    again = intake(reg, IntakeRequest(folder, "acme/fixed", owner="ml-team"))  # same values, or none: fine
    assert not again.created and again.version is not None
    shown = show(reg, "acme/fixed")
    assert (shown.owner, shown.risk_tier, shown.intended_use, shown.data_sensitivity) == \
        ("ml-team", "high", "support", "internal")
    assert [e.kind for e in again.version.evidence].count("scan-report") == 2  # the rescan is fresh evidence


def test_model_attributes_change_only_on_the_record(reg: Registry, tmp_path: Path, assay_env: dict[str, str]) -> None:
    from assay.registry import set_model_metadata

    intake(reg, IntakeRequest(write_model(tmp_path / "m", card=card("mit")), "acme/owned", owner="a",
                              risk_tier="high"))
    done = set_model_metadata(reg, "acme/owned", {"owner": "b", "risk_tier": "high"})
    assert done["changes"] == {"owner": {"from": "a", "to": "b"}}  # an unchanged value is not a change
    with reg.read() as session:
        (body,) = session.execute(text("SELECT body FROM audit_entries WHERE kind = 'model-changed'")).one()
    entry = json.loads(body)
    assert entry["actor"] == "alice" and entry["payload"]["changes"] == {"owner": {"from": "a", "to": "b"}}
    cli = subprocess.run([sys.executable, "-m", "assay.cli.main", "model", "set", "acme/owned", "--risk-tier",
                          "medium", "--actor", "bob"], capture_output=True, text=True, timeout=120)
    assert cli.returncode == 0 and cli.stdout == "acme/owned: risk tier 'high' -> 'medium'\n", cli.stderr
    bad = subprocess.run([sys.executable, "-m", "assay.cli.main", "model", "set", "acme/owned", "--risk-tier",
                          "tiny"], capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "risk-tier" in bad.stderr
    assert show(reg, "acme/owned").risk_tier == "medium"


def test_a_signature_given_later_is_attached_and_recorded(reg: Registry, tmp_path: Path) -> None:
    """A signature given at re-intake used to be reported verified and then dropped: the version stayed unsigned
    and could never pass signature-trusted."""
    import assay
    from assay.signing import keygen

    priv, pub = keygen(tmp_path / "team")
    folder = write_model(tmp_path / "m", card=card("mit"))
    first = intake(reg, IntakeRequest(folder, "acme/late", owner="x", risk_tier="low"))
    assert first.version.signature_status == "unsigned"
    assay.sign(folder, key=priv)
    again = intake(reg, IntakeRequest(folder, "acme/late", public_key=pub))
    assert not again.created and again.version.signature_status == "verified"
    assert {"signature", "verification-key"} <= {e.kind for e in again.version.evidence}
    with reg.read() as session:
        (body,) = session.execute(text("SELECT body FROM audit_entries WHERE kind = 'signature-attached'")).one()
    assert json.loads(body)["payload"]["from"] == "unsigned"
