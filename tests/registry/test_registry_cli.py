"""The registry commands as users and scripts run them: output, JSON, exit codes, one-line errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.model_folders import LLAMA31_LICENSE, card, write_malicious, write_model


def assay(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items() if k != "ASSAY_DEBUG"} | env
    return subprocess.run([sys.executable, "-m", "assay.cli.main", *args], capture_output=True, text=True, env=full,
                          timeout=300)


@pytest.fixture
def env(tmp_path: Path, database_url: str) -> dict[str, str]:
    """A fresh ASSAY_HOME and a database of its own: every test using it runs on SQLite and on PostgreSQL."""
    return {"ASSAY_HOME": str(tmp_path / "home"), "ASSAY_ACTOR": "alice", "ASSAY_DATABASE_URL": database_url}


def test_main_job_walkthrough_on_the_real_model(env: dict[str, str], minilm_dir: Path) -> None:
    name = "sentence-transformers/all-MiniLM-L6-v2"
    first = assay(env, "intake", str(minilm_dir), "--name", name, "--owner", "search-team", "--risk-tier", "low")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith(f"ACCEPTED  {name}@1  sha256:")
    assert "Apache-2.0 [permissive]" in first.stdout and "nreimers/MiniLM-L6-H384-uncased" in first.stdout
    again = assay(env, "intake", str(minilm_dir), "--name", name, "--format", "json")
    doc = json.loads(again.stdout)
    assert again.returncode == 0 and doc["created"] is False and doc["version"]["number"] == 1
    assert doc["schema"] == "assay.intake/1.0"
    shown = assay(env, "show", f"{name}@1")
    assert shown.returncode == 0 and "evidence" in shown.stdout and "bom.cdx.json" in shown.stdout
    assert "recorded" in shown.stdout and "by alice" in shown.stdout
    lineage = json.loads(assay(env, "lineage", name, "--format", "json").stdout)
    assert lineage["up"][0]["name"] == "nreimers/MiniLM-L6-H384-uncased" and len(lineage["datasets"]) == 21
    models = json.loads(assay(env, "models", "--format", "json").stdout)["models"]
    assert [(m["name"], m["license_class"], m["owner"]) for m in models] == [(name, "permissive", "search-team")]
    assert json.loads(assay(env, "models", "--owner", "nobody", "--format", "json").stdout)["models"] == []
    where = assay(env, "where", doc["identity"])
    assert where.returncode == 0 and f"{name}@1  identity" in where.stdout
    bom = json.loads(assay(env, "bom", f"{name}@1").stdout)
    assert bom["bomFormat"] == "CycloneDX" and bom["specVersion"] == "1.6"
    doctor = assay(env, "doctor")
    assert doctor.returncode == 0 and "evidence store and records OK" in doctor.stdout


def test_intake_refuses_a_malicious_folder_with_exit_1(env: dict[str, str], tmp_path: Path) -> None:
    bad = write_malicious(tmp_path / "evil")
    refused = assay(env, "intake", str(bad), "--name", "evil/model")
    assert refused.returncode == 1 and refused.stdout.startswith("REJECTED")
    assert "refused    scan:" in refused.stdout
    assert json.loads(assay(env, "models", "--format", "json").stdout)["models"] == []
    kept = assay(env, "intake", str(bad), "--name", "evil/model", "--record-rejected", "--format", "json")
    assert kept.returncode == 1 and json.loads(kept.stdout)["version"]["status"] == "rejected"
    listed = assay(env, "models", "--status", "rejected")
    assert "evil/model@1  rejected" in listed.stdout


def test_license_command_on_folders_files_and_ids(env: dict[str, str], tmp_path: Path) -> None:
    llama = write_model(tmp_path / "llama", card=card("llama3.1"), license_text=LLAMA31_LICENSE)
    out = json.loads(assay(env, "license", str(llama), "--format", "json").stdout)
    assert out["class"] == "restricted-use" and out["expression"]
    assert json.loads(assay(env, "license", "AGPL-3.0-only", "--format", "json").stdout)["class"] == "network-copyleft"
    nc = assay(env, "license", "cc-by-nc-4.0")
    assert nc.returncode == 0 and "non-commercial" in nc.stdout


def test_dataset_and_artifact_commands(env: dict[str, str], tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "rows.csv").write_text("a,b\n1,2\n")
    reg = assay(env, "dataset", "register", str(data), "--name", "tickets", "--license", "CC-BY-4.0", "--pii", "yes",
                "--retention", "30", "--consent", "opt-in")
    assert reg.returncode == 0 and reg.stdout.startswith("registered dataset tickets@1")
    model = write_model(tmp_path / "m", card=card("mit"))
    assert assay(env, "intake", str(model), "--name", "team/m", "--dataset", "tickets@1").returncode == 0
    assert "descendant  team/m@1  trained on it" in assay(env, "where", "tickets@1").stdout
    prompt = tmp_path / "p.txt"
    prompt.write_text("Answer briefly.\n")
    added = assay(env, "artifact", "add", str(prompt), "--kind", "prompt", "--name", "brief")
    assert added.returncode == 0 and added.stdout.startswith("added prompt brief@1")
    schema = tmp_path / "tools.json"
    schema.write_text("{not json")
    bad = assay(env, "artifact", "add", str(schema), "--kind", "tool-schema", "--name", "tools")
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1 and "valid JSON" in bad.stderr


def test_doctor_exits_1_on_an_altered_blob(env: dict[str, str], tmp_path: Path) -> None:
    model = write_model(tmp_path / "m", card=card("mit"))
    doc = json.loads(assay(env, "intake", str(model), "--name", "team/m", "--format", "json").stdout)
    digest = next(e["digest"] for e in doc["version"]["evidence"] if e["kind"] == "scan-report")
    blob = Path(env["ASSAY_HOME"]) / "evidence" / "sha256" / digest[7:9] / digest[9:]
    blob.write_text("{}")
    result = assay(env, "doctor", "--format", "json")
    assert result.returncode == 1
    problems = json.loads(result.stdout)["problems"]
    assert problems[0]["kind"] == "altered" and problems[0]["digest"] == digest


@pytest.mark.parametrize("args, needle", [
    (["show", "no/such"], "no model named 'no/such'"),
    (["show", "bad name"], "invalid name"),
    (["intake", "/no/such/dir", "--name", "x"], "no such file"),
    (["intake", ".", "--name", "x", "--risk-tier", "huge"], "--risk-tier"),
    (["where", "no/such@1"], "no dataset"),
    (["dataset", "register", ".", "--name", "d", "--pii", "maybe"], "--pii"),
    (["where", "no/such@%"], "at least 8 hex digits"),  # LIKE wildcards are refused, not matched
    (["where", "no/such@_"], "at least 8 hex digits"),
    (["models", "--status", "maybe"], "--status"),
])
def test_bad_input_gives_one_line_and_exit_2(env: dict[str, str], args: list[str], needle: str) -> None:
    result = assay(env, *args)
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1 and needle in result.stderr and "Traceback" not in result.stderr


def test_unreachable_database_is_one_line(tmp_path: Path) -> None:
    env = {"ASSAY_HOME": str(tmp_path), "ASSAY_DATABASE_URL": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    result = assay(env, "models")
    assert result.returncode == 2 and result.stderr.startswith("assay: error: cannot open the registry database")
    assert result.stderr.count("\n") == 1
    bad_url = assay({"ASSAY_HOME": str(tmp_path), "ASSAY_DATABASE_URL": "not a url"}, "models")
    assert bad_url.returncode == 2 and bad_url.stderr.count("\n") == 1


_READS_WITHOUT_HEAVY_IMPORTS = """
import sys
from assay.cli.main import run
sys.argv = ["assay", *sys.argv[1:]]
try:
    run()
except SystemExit as exc:
    code = exc.code or 0
else:
    code = 0
heavy = sorted(m for m in sys.modules if m.split(".")[0] in ("sqlalchemy", "alembic", "typer", "click", "psycopg"))
print("HEAVY", heavy, file=sys.stderr)
sys.exit(code)
"""


def test_read_commands_answer_on_both_databases_without_loading_sqlalchemy_typer_or_alembic(
        assay_env: dict[str, str], tmp_path: Path) -> None:
    """``models``, ``show``, ``lineage`` and ``where`` run on argparse and the registry's one read path (text SQL on
    the DB-API, ``registry/_sql.py``), without Typer, and without SQLAlchemy or Alembic on a database already at
    the newest schema."""
    base, tuned = tmp_path / "base", tmp_path / "tuned"
    write_model(base, card=card(license="apache-2.0"))
    write_model(tuned, card=card(license="apache-2.0", base_model="acme/base"), seed=1)
    assert assay(assay_env, "intake", str(base), "--name", "acme/base", "--owner", "bob").returncode == 0
    assert assay(assay_env, "intake", str(tuned), "--name", "acme/tuned").returncode == 0

    def read(*args: str) -> subprocess.CompletedProcess[str]:
        full = {k: v for k, v in os.environ.items() if k != "ASSAY_DEBUG"} | assay_env
        result = subprocess.run([sys.executable, "-c", _READS_WITHOUT_HEAVY_IMPORTS, *args], capture_output=True,
                                text=True, env=full, timeout=120)
        assert "HEAVY []" in result.stderr, (args, result.stderr)
        return result

    listed = json.loads(read("models", "--owner", "bob", "--format", "json").stdout)
    assert [m["name"] for m in listed["models"]] == ["acme/base"]
    shown = json.loads(read("show", "acme/tuned", "--format", "json").stdout)
    assert shown["parents"][0]["name"] == "acme/base@1" and shown["parents"][0]["registered"] is True
    assert {e["kind"] for e in shown["evidence"]} >= {"scan-report", "manifest", "bom"}
    down = json.loads(read("lineage", "acme/base", "--format", "json").stdout)
    assert [x["name"] for x in down["down"]] == ["acme/tuned@1"]
    hits = json.loads(read("where", shown["identity"][:20], "--format", "json").stdout)["hits"]
    assert {"kind": "version", "ref": "acme/tuned@1", "relation": "identity"} in hits
    missing = read("show", "acme/none")
    assert missing.returncode == 2 and "no model named 'acme/none'" in missing.stderr


def test_read_command_on_a_new_home_creates_the_registry(tmp_path: Path) -> None:
    env = {"ASSAY_HOME": str(tmp_path / "fresh")}
    result = assay(env, "models")
    assert result.returncode == 0 and result.stdout == "no models registered\n", result.stderr
    assert (tmp_path / "fresh" / "registry.db").is_file()


def test_odd_version_selectors_are_one_line_on_both_databases(assay_env: dict[str, str], tmp_path: Path) -> None:
    write_model(tmp_path / "m", card=card(license="mit"))
    assert assay(assay_env, "intake", str(tmp_path / "m"), "--name", "org/a").returncode == 0
    for ref, needle in (("org/a@99999999999999999999999", "no version"), ("org/a@\u00b2", "8 hex digits"),
                        ("org/a@0", "no version"), ("org/a@", "8 hex digits")):
        result = assay(assay_env, "show", ref)
        assert result.returncode == 2 and needle in result.stderr, (ref, result.stderr)
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr


def test_database_urls_the_reads_cannot_or_can_use(tmp_path: Path) -> None:
    home = tmp_path / "home"
    made = assay({"ASSAY_HOME": str(home)}, "models")
    assert made.returncode == 0
    with_options = assay({"ASSAY_HOME": str(home), "ASSAY_DATABASE_URL": f"sqlite:///{home / 'registry.db'}?timeout=5"},
                         "models")
    assert with_options.returncode == 0 and with_options.stdout == "no models registered\n", with_options.stderr
    memory = assay({"ASSAY_HOME": str(home), "ASSAY_DATABASE_URL": "sqlite://"}, "models")
    assert memory.returncode == 2 and "in-memory SQLite registry" in memory.stderr


def test_a_database_from_a_newer_assay_is_refused_in_one_line(tmp_path: Path) -> None:
    import sqlite3

    env = {"ASSAY_HOME": str(tmp_path)}
    assert assay(env, "models").returncode == 0
    with sqlite3.connect(tmp_path / "registry.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '0099'")
    for command in (["models"], ["doctor"]):
        result = assay(env, *command)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert "0099" in result.stderr and "Traceback" not in result.stderr


def test_a_closed_pipe_is_no_traceback(env: dict[str, str]) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "assay.cli.main", "models"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env={**os.environ, **env})
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()  # the reader goes away before assay writes
    stderr = proc.stderr.read().decode()
    proc.wait(timeout=120)
    assert "Traceback" not in stderr
    assert proc.returncode == 2, (proc.returncode, stderr)  # the output could not be written: not a success
