"""The command line as users and scripts call it: exit codes, formats, SARIF validity, config."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from tests.fixtures.cli import run
from tests.fixtures.malicious_pickles import CASES
from tests.fixtures.opcodes import frame, proto, stack_global

SCHEMA = Path(__file__).parent.parent / "data" / "sarif-schema-2.1.0.json"


@pytest.fixture()
def evil(tmp_path: Path) -> Path:
    path = tmp_path / "evil.bin"
    path.write_bytes(CASES["proto0_global_reduce"][0])
    return path


@pytest.fixture()
def unknown(tmp_path: Path) -> Path:
    path = tmp_path / "custom.pkl"
    path.write_bytes(proto(4) + frame(stack_global("mypkg.nn", "Net") + pickle.EMPTY_TUPLE + pickle.NEWOBJ + pickle.STOP))
    return path


def test_exit_0_on_clean_files(benign_dir: Path) -> None:
    result = run("scan", str(benign_dir / "model.safetensors"))
    assert result.returncode == 0
    assert "PASS" in result.stdout and "clean" in result.stdout


def test_exit_1_with_a_readable_table(evil: Path) -> None:
    result = run("scan", str(evil))
    assert result.returncode == 1
    assert "critical" in result.stdout and "AS101" in result.stdout and "os.system" in result.stdout
    assert "FAIL" in result.stdout


def test_exit_2_when_nothing_could_be_scanned(tmp_path: Path) -> None:
    result = run("scan", str(tmp_path / "missing.pt"))
    assert result.returncode == 2
    assert "no such file" in result.stdout


def test_bad_flag_value_is_one_clear_error() -> None:
    result = run("scan", ".", "--fail-on", "sometimes")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "--fail-on" in result.stderr


def test_limit_hit_is_exit_2_and_names_the_limit(tmp_path: Path, benign_dir: Path) -> None:
    (tmp_path / "assay.toml").write_text("[scan.limits]\nmax-pickle-opcodes = 5\n")
    result = run("scan", str(benign_dir / "pipeline.pkl"), "--format", "json", cwd=tmp_path)
    assert result.returncode == 2
    doc = json.loads(result.stdout)
    assert doc["files"][0]["errors"][0]["limit"] == "max_pickle_opcodes"


def test_unknown_callables_block_by_default_and_allow_admits_them(unknown: Path) -> None:
    result = run("scan", str(unknown))
    assert result.returncode == 1  # default deny: not on the allow-list is high
    assert "--allow mypkg.nn.Net" in result.stdout  # the message says how to admit the user's own class
    assert run("scan", str(unknown), "--allow", "mypkg.nn.Net").returncode == 0
    assert run("scan", str(unknown), "--strict", "--allow", "mypkg.nn.Net").returncode == 0
    assert run("scan", str(unknown), "--fail-on", "medium", "--allow", "mypkg.*").returncode == 0
    assert run("scan", str(unknown), "--allow", "mypkg.nn.Other").returncode == 1
    assert run("scan", str(unknown), "--fail-on", "critical").returncode == 0


def test_allow_cannot_silence_the_dangerous_table(evil: Path) -> None:
    assert run("scan", str(evil), "--allow", "os.system").returncode == 1


def test_json_output_schema(evil: Path, tmp_path: Path) -> None:
    out = tmp_path / "report.json"
    result = run("scan", str(evil), "--format", "json", "--output", str(out))
    assert result.returncode == 1 and result.stdout == ""
    doc = json.loads(out.read_text())
    assert doc["schema"] == "assay.scan/1.0"
    assert doc["exit_code"] == 1 and doc["summary"]["findings"]["critical"] == 1
    finding = doc["files"][0]["findings"][0]
    assert set(finding) == {"rule", "severity", "message", "location", "detail"}
    assert finding["location"] == {"path": str(evil), "member": None, "offset": 0}


def test_sarif_validates_against_the_official_schema(malicious_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "scan.sarif"
    result = run("scan", str(malicious_dir), "--format", "sarif", "--output", str(out))
    assert result.returncode == 1
    doc = json.loads(out.read_text())
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft4Validator(schema).validate(doc)
    run_ = doc["runs"][0]
    rules = {r["id"] for r in run_["tool"]["driver"]["rules"]}
    assert {"AS101", "AS205", "AS421", "AS431"} <= rules
    assert all(r["help"]["text"] for r in run_["tool"]["driver"]["rules"])
    member_results = [r for r in run_["results"] if "logicalLocations" in r["locations"][0]]
    assert member_results and member_results[0]["locations"][0]["logicalLocations"][0]["kind"] == "member"
    offsets = [r["locations"][0]["physicalLocation"].get("region", {}).get("byteOffset") for r in run_["results"]]
    assert any(isinstance(o, int) for o in offsets)


def test_config_from_pyproject(unknown: Path, tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.assay.scan]\nstrict = true\nallow = ["mypkg.nn.Net"]\n')
    assert run("scan", str(unknown), cwd=tmp_path).returncode == 0
    (tmp_path / "pyproject.toml").write_text('[tool.assay.scan]\nstrict = true\n')
    assert run("scan", str(unknown), cwd=tmp_path).returncode == 1
    (tmp_path / "pyproject.toml").write_text('[tool.assay.scan]\nfail-on = "medium"\n')
    assert run("scan", str(unknown), cwd=tmp_path).returncode == 1


def test_bad_config_is_one_line_exit_2(tmp_path: Path, unknown: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[scan]\nstrictness = 1\n")
    result = run("scan", str(unknown), "--config", str(bad))
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "strictness" in result.stderr
    bad.write_text("[scan\n")
    result = run("scan", str(unknown), "--config", str(bad))
    assert result.returncode == 2 and "not valid TOML" in result.stderr
    bad.write_text("[scan.limits]\nmax-members = -1\n")
    assert "positive integer" in run("scan", str(unknown), "--config", str(bad)).stderr


def test_version_and_help() -> None:
    assert run("--version").stdout.startswith("assay ")
    help_text = run("scan", "--help").stdout
    for flag in ("--format", "--output", "--strict", "--fail-on", "--allow", "--config"):
        assert flag in help_text


def test_console_script_is_installed() -> None:
    exe = Path(sys.executable).parent / "assay"
    assert exe.exists(), "pip install -e . must install the `assay` console script"
    assert subprocess.run([str(exe), "--version"], capture_output=True, text=True).returncode == 0


_WITHOUT_TYPER = """
import sys
from assay.cli.main import run
sys.argv = ["assay", *sys.argv[1:]]
try:
    run()
except SystemExit as exc:
    loaded = sorted({m.split(".")[0] for m in sys.modules} & {"typer", "click", "rich", "sqlalchemy"})
    print("LOADED", loaded, file=sys.stderr)
    others = sorted(m for m in sys.modules if m.split(".")[:2] in (["assay", "registry"], ["assay", "signing"],
                    ["assay", "release"], ["assay", "audit"], ["assay", "manifest"], ["assay", "card"])
                    or m.split(".")[0] in ("argcomplete", "json", "pathlib"))
    print("OTHERS", others, file=sys.stderr)
    raise
"""


def test_scan_starts_without_loading_other_commands(evil: Path) -> None:
    """One parser lists every command, but ``assay scan`` loads none of the other commands' code (start-up)."""
    direct = subprocess.run([sys.executable, "-c", _WITHOUT_TYPER, "scan", str(evil)],
                            capture_output=True, text=True, timeout=120)
    assert direct.returncode == 1 and "LOADED []" in direct.stderr and "OTHERS []" in direct.stderr, direct.stderr
    as_json = subprocess.run([sys.executable, "-c", _WITHOUT_TYPER, "scan", str(evil), "--format", "json"],
                             capture_output=True, text=True, timeout=120)
    assert as_json.returncode == 1 and "LOADED []" in as_json.stderr, as_json.stderr
    assert json.loads(as_json.stdout)["exit_code"] == 1
    module = subprocess.run([sys.executable, "-m", "assay.cli.main", "scan", str(evil), "--format", "json"],
                            capture_output=True, text=True, timeout=120)
    assert module.returncode == 1 and json.loads(module.stdout) == json.loads(as_json.stdout)
    listing = run("--help").stdout
    for command in ("scan", "models", "show", "lineage", "where", "intake", "promote", "audit", "completion"):
        assert f" {command} " in listing or f" {command}\n" in listing


def test_paths_may_follow_flags(evil: Path, unknown: Path) -> None:
    result = run("scan", str(unknown), "--quiet", str(evil), "--format", "json")
    assert result.returncode == 1
    assert len(json.loads(result.stdout)["files"]) == 2


def test_an_argument_line_past_max_line_bytes_is_a_limit_not_clean(tmp_path: Path) -> None:
    """A quoted STRING or a name too long to read could hide a call after it: exit 2, never a pass. A number
    that long, or STRING data without its quote, cannot load at all: no pickle."""
    tail = b"'\n0cos\nsystem\n(S'id'\ntR."
    hidden = tmp_path / "hidden.pt"
    hidden.write_bytes(b"I1\n.I2\n.S'" + b"A" * (1 << 20) + tail)  # two whole pickles, then the long line
    alone = tmp_path / "alone.bin"
    alone.write_bytes(b"S'" + b"A" * (1 << 20) + tail)
    for path in (hidden, alone):
        result = run("scan", str(path), "--format", "json")
        assert result.returncode == 2, result.stdout
        assert any(e["limit"] == "max_line_bytes" for f in json.loads(result.stdout)["files"] for e in f["errors"])
    data = tmp_path / "zeros.bin"
    data.write_bytes(b"S" + bytes(2 << 20))
    number = tmp_path / "digits.bin"
    number.write_bytes(b"I" + b"7" * (2 << 20))
    for path in (data, number):
        assert run("scan", str(path)).returncode == 0


def test_folder_entries_are_named_the_way_pathlib_writes_them(tmp_path: Path) -> None:
    (tmp_path / "d1" / "sub").mkdir(parents=True)
    (tmp_path / "d1" / "sub" / "x.pkl").write_bytes(CASES["proto0_global_reduce"][0])
    for given, shown in ((".", "d1/sub/x.pkl"), ("./d1", "d1/sub/x.pkl"), ("d1//", "d1/sub/x.pkl"),
                         ("d1/./sub/", "d1/sub/x.pkl")):
        result = run("scan", "--format", "json", given, cwd=tmp_path)
        assert json.loads(result.stdout)["files"][0]["path"] == shown, given


def test_names_from_the_file_cannot_forge_report_lines(tmp_path: Path) -> None:
    import zipfile

    archive = tmp_path / "m.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("data\nPASS  1 file(s), 1 clean\x1b[2J\u202e.pkl", CASES["proto0_global_reduce"][0])
    result = run("scan", str(archive))
    assert result.returncode == 1
    assert not any(line.startswith("PASS") for line in result.stdout.splitlines())
    assert "\\nPASS" in result.stdout and "\\x1b[2J" in result.stdout and "\\u202e" in result.stdout
    assert "\x1b" not in result.stdout and "\u202e" not in result.stdout


def test_terminal_tables_do_not_read_names_as_markup() -> None:
    from assay.scan._findings import FileReport, Finding, Location, ScanReport, Severity
    from assay.scan._render.text import TextRenderer

    finding = Finding("AS101", Severity.HIGH, "calls [bold]x[/]", Location("m.zip", "a[/]b.pkl", 3), "[red]")
    text = TextRenderer().render(ScanReport((FileReport("m.zip", ("zip",), 1, (finding,), ()),)), color=True)
    assert "a[/]b.pkl@3" in text and "calls [bold]x[/]" in text and "[red]" in text


def test_file_names_that_are_not_utf8_in_every_format(tmp_path: Path) -> None:
    import os

    os.makedirs(os.fsencode(tmp_path / "d"))
    with open(os.fsencode(tmp_path / "d") + b"/bad\xff.pkl", "wb") as handle:
        handle.write(CASES["proto0_global_reduce"][0])
    env = {k: v for k, v in os.environ.items() if k != "ASSAY_DEBUG"} | {"PYTHONIOENCODING": "utf-8"}
    outputs = {}
    for fmt in ("text", "json", "sarif"):
        proc = subprocess.run([sys.executable, "-m", "assay.cli.main", "scan", "--format", fmt, str(tmp_path / "d")],
                              capture_output=True, text=True, env=env, timeout=120)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stderr
        outputs[fmt] = proc.stdout
    assert "bad\\xff.pkl" in outputs["text"]
    assert json.loads(outputs["json"])["files"][0]["path"].endswith("bad\udcff.pkl")
    assert "bad%FF.pkl" in outputs["sarif"]


def test_bytes_paths_are_refused_in_the_api(tmp_path: Path) -> None:
    import assay

    with pytest.raises(TypeError, match="str or os.PathLike"):
        assay.scan([bytes(tmp_path)])


# --- the command-line stack: one parser, one dispatch, one error boundary ----------------------------------------


def _commands() -> list[list[str]]:
    """Every command and group of the one parser, as the words that name it."""
    from argparse import _SubParsersAction

    from assay.cli.main import build_parser

    found: list[list[str]] = []

    def walk(parser: object, words: list[str]) -> None:
        for action in parser._actions:  # type: ignore[attr-defined]
            if isinstance(action, _SubParsersAction):
                for name, sub in action.choices.items():
                    found.append([*words, name])
                    walk(sub, [*words, name])

    walk(build_parser(every_command=True), [])
    return found


def test_the_parser_has_every_command() -> None:
    names = {" ".join(words) for words in _commands()}
    assert names >= {"scan", "hash", "sign", "verify", "keygen", "intake", "license", "bom", "doctor",
                     "dataset register", "artifact add", "models", "show", "lineage", "where", "release create",
                     "gate check", "approve", "waive", "promote", "rollback", "status", "history", "policy test",
                     "audit verify", "audit proof", "audit checkpoint", "audit export", "completion"}


@pytest.mark.parametrize("words", [[], *_commands()], ids=lambda words: " ".join(words) or "assay")
def test_every_help_exits_0(words: list[str]) -> None:
    result = run(*words, "--help")
    assert result.returncode == 0 and result.stdout.startswith(f"usage: {' '.join(['assay', *words])} ")
    assert result.stderr == ""


@pytest.mark.parametrize("args", [
    ["nosuch"], ["--nosuch"], ["scan", "--nosuch", "x.pkl"], ["audit", "nosuch"], ["keygen"], ["intake", "m"],
    ["audit", "export"], ["hash", "m", "--shard-size", "0"], ["hash", "m", "--hash", "md5"], ["audit", "proof", "-1"],
    ["promote", "r", "--env", "dev", "--canary", "ten"], ["completion", "tcsh"], ["models", "--format", "xml"],
])
def test_a_bad_command_line_is_one_line_and_exit_2(args: list[str]) -> None:
    result = run(*args)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith("assay: error: ") and result.stderr.count("\n") == 1, result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("words", [[], ["audit"], ["dataset"], ["gate"]])
def test_a_group_without_a_command_prints_its_help_and_exits_2(words: list[str]) -> None:
    result = run(*words)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.startswith(f"usage: {' '.join(['assay', *words])} ") and "commands:" in result.stderr


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_the_shell_snippet(shell: str) -> None:
    result = run("completion", shell)
    assert result.returncode == 0 and result.stderr == ""
    assert "assay" in result.stdout and "_ARGCOMPLETE" in result.stdout


def test_completion_answers_from_the_parser(tmp_path: Path) -> None:
    """What the snippet does on <Tab>: run assay with _ARGCOMPLETE set and read the candidates back."""
    import os

    answer = tmp_path / "completions"
    env = {k: v for k, v in os.environ.items() if k != "ASSAY_DEBUG"} | {
        "_ARGCOMPLETE": "1", "_ARGCOMPLETE_SHELL": "bash", "_ARGCOMPLETE_STDOUT_FILENAME": str(answer),
        "_ARGCOMPLETE_IFS": "\n"}
    for line, expected in (("assay au", {"audit"}), ("assay audit ex", {"export"}),
                           ("assay scan --fa", {"--fail-on"}), ("assay keygen x --curve p", {"p256", "p384", "p521"})):
        proc = subprocess.run([sys.executable, "-m", "assay.cli.main"], capture_output=True, text=True, timeout=120,
                              env=env | {"COMP_LINE": line, "COMP_POINT": str(len(line))})
        assert proc.returncode == 0, proc.stderr
        assert {c.strip() for c in answer.read_text().split("\n") if c.strip()} == expected, line


def test_keygen_json(tmp_path: Path) -> None:
    result = run("keygen", str(tmp_path / "k"), "--curve", "p384", "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc == {"schema": "assay.keygen/1.0", "curve": "p384", "private_key": str(tmp_path / "k.pem"),
                   "public_key": str(tmp_path / "k.pub.pem")}
    assert Path(doc["private_key"]).is_file() and Path(doc["public_key"]).is_file()
    text = run("keygen", str(tmp_path / "t"))
    assert text.stdout == f"private key {tmp_path / 't.pem'} (keep it secret)\npublic key  {tmp_path / 't.pub.pem'}\n"


def test_bom_json(tmp_path: Path) -> None:
    import hashlib

    from tests.fixtures.model_folders import card, write_model

    model = write_model(tmp_path / "m", card=card("mit"))
    printed = run("bom", str(model), "-f", "json")
    assert printed.returncode == 0, printed.stderr
    doc = json.loads(printed.stdout)
    assert doc["schema"] == "assay.bom-result/1.0" and doc["target"] == str(model) and doc["output"] is None
    assert doc["bom"]["bomFormat"] == "CycloneDX" and doc["spec_version"] == doc["bom"]["specVersion"] == "1.6"
    assert doc["serial_number"] == doc["bom"]["serialNumber"] and doc["digest"].startswith("sha256:")
    out = tmp_path / "bom.cdx.json"
    written = run("bom", str(model), "--output", str(out), "--format", "json")
    assert written.returncode == 0 and written.stderr == "", written.stderr
    doc = json.loads(written.stdout)
    assert doc["output"] == str(out) and "bom" not in doc
    assert doc["digest"] == "sha256:" + hashlib.sha256(out.read_bytes()).hexdigest()
    assert json.loads(out.read_text())["serialNumber"] == doc["serial_number"]
    text = run("bom", str(model), "--output", str(tmp_path / "b2.json"))
    assert text.returncode == 0 and text.stdout == "" and text.stderr == f"wrote {tmp_path / 'b2.json'}\n"


def test_audit_export_json(tmp_path: Path) -> None:
    import os

    env = {k: v for k, v in os.environ.items() if k != "ASSAY_DEBUG"} | {"ASSAY_HOME": str(tmp_path / "home"),
                                                                         "ASSAY_ACTOR": "alice"}

    def assay(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "assay.cli.main", *args], capture_output=True, text=True,
                              env=env, timeout=300)

    data = tmp_path / "data"
    data.mkdir()
    (data / "rows.csv").write_text("a,b\n1,2\n")
    assert assay("dataset", "register", str(data), "--name", "tickets").returncode == 0
    bundle = tmp_path / "audit.zip"
    result = assay("audit", "export", "-o", str(bundle), "--format", "json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert set(doc) == {"schema", "output", "entries", "checkpoints", "evidence", "missing_evidence"}
    assert doc["missing_evidence"] == 0
    assert doc["schema"] == "assay.audit-export/1.0" and doc["output"] == str(bundle) and bundle.is_file()
    assert doc["entries"] >= 1 and doc["checkpoints"] >= 1
    text = assay("audit", "export", "-o", str(tmp_path / "again.zip"))
    assert text.returncode == 0 and text.stdout.startswith(f"wrote {tmp_path / 'again.zip'}: ")
    assert assay("audit", "verify", "--bundle", str(bundle)).returncode == 0


def test_the_command_reference_is_up_to_date() -> None:
    """docs/cli.md names every command (scripts/gen_docs.py writes it from the parser; tests/test_docs.py checks
    that it is up to date)."""
    root = Path(__file__).resolve().parents[2]
    reference = (root / "docs" / "cli.md").read_text(encoding="utf-8")
    for words in _commands():
        assert f"`assay {' '.join(words)}`" in reference or any(w[:len(words)] == words and len(w) > len(words)
                                                                  for w in _commands())
