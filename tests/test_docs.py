"""The documentation: generated parts match the code, and every relative link leads somewhere."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parent.parent
GEN_DOCS = ROOT / "scripts" / "gen_docs.py"
DOC_FILES = sorted([ROOT / "README.md", ROOT / "benchmarks" / "README.md", *(ROOT / "docs").glob("*.md")])

_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.M | re.S)
_CODE_SPAN = re.compile(r"(`+)(?:(?!\1).)+?\1", re.S)
_LINK = re.compile(r"!?\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
_HEADING = re.compile(r"^#{1,6}[ \t]+(.+?)[ \t#]*$", re.M)


def _gen_docs() -> ModuleType:
    spec = importlib.util.spec_from_file_location("gen_docs", GEN_DOCS)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _prose(text: str) -> str:
    """Markdown without fenced blocks and code spans, where link syntax is only text."""
    return _CODE_SPAN.sub("", _FENCE.sub("", text))


def _anchors(path: Path, slug: object) -> set[str]:
    """The anchors GitHub gives the headings of ``path`` (a repeated heading gets -1, -2 ...)."""
    seen: dict[str, int] = {}
    anchors = set()
    for heading in _HEADING.findall(_FENCE.sub("", path.read_text(encoding="utf-8"))):
        base = slug(heading)  # type: ignore[operator]
        count = seen.get(base, 0)
        seen[base] = count + 1
        anchors.add(base if count == 0 else f"{base}-{count}")
    return anchors


def test_generated_docs_are_up_to_date() -> None:
    result = subprocess.run([sys.executable, str(GEN_DOCS), "--check"], capture_output=True, text=True,
                            timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stdout + result.stderr + "\n(run .venv/bin/python scripts/gen_docs.py)"


@pytest.mark.parametrize("doc", DOC_FILES, ids=[str(p.relative_to(ROOT)) for p in DOC_FILES])
def test_relative_links_point_at_existing_files(doc: Path) -> None:
    slug = _gen_docs()._slug
    broken = []
    for target in _LINK.findall(_prose(doc.read_text(encoding="utf-8"))):
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I):  # https:, mailto: ...: not ours to check
            continue
        path_part, _, anchor = target.partition("#")
        resolved = (doc.parent / path_part).resolve() if path_part else doc
        if not resolved.exists():
            broken.append(f"{target}: no such file {resolved}")
        elif anchor and resolved.suffix == ".md" and anchor not in _anchors(resolved, slug):
            broken.append(f"{target}: no heading with anchor #{anchor} in {resolved.relative_to(ROOT)}")
    assert not broken, f"{doc.relative_to(ROOT)}:\n  " + "\n  ".join(broken)


def test_link_checker_sees_links_and_skips_code() -> None:
    text = "See [scan](docs/scan.md#limits) and `[not](a-link.md)`.\n\n```\n[nor](this.md)\n```\n![img](x.png)\n"
    assert _LINK.findall(_prose(text)) == ["docs/scan.md#limits", "x.png"]


def test_slugs_follow_github() -> None:
    slug = _gen_docs()._slug
    assert slug("Worker processes (`--jobs`)") == "worker-processes---jobs"
    assert slug("`hash_bench.py`: sign and verify") == "hash_benchpy-sign-and-verify"
    assert slug("AS101 pickle-dangerous-callable") == "as101-pickle-dangerous-callable"


def test_summary_line_is_the_first_sentence() -> None:
    summary_line = _gen_docs().summary_line
    assert summary_line(None) == ""
    assert summary_line("Format scanners, one module per format. ``scanner_for`` imports.\n\nMore.") == \
        "Format scanners, one module per format."
    assert summary_line("List the files,\n    wrapped over lines: e.g. this one. Then more.") == \
        "List the files, wrapped over lines: e.g. this one."
    assert summary_line("YAML files -> :class:`Policy`, with errors.") == "YAML files -> `Policy`, with errors."


def test_check_mode_reports_a_stale_file_and_a_rewrite_fixes_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    gen = _gen_docs()
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs)
    monkeypatch.setattr(gen, "DOCS", docs)
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    assert gen.main([]) == 0  # whatever the checkout holds, the copy is now current
    assert gen.main(["--check"]) == 0

    rules = docs / "rules.md"
    rules.write_text(rules.read_text(encoding="utf-8").replace("AS101", "AS999"), encoding="utf-8")
    capsys.readouterr()
    assert gen.main(["--check"]) == 1
    assert "out of date: docs/rules.md" in capsys.readouterr().err
    assert "AS999" in rules.read_text(encoding="utf-8")  # --check writes nothing
    assert gen.main([]) == 0
    assert gen.main(["--check"]) == 0
    assert "AS999" not in rules.read_text(encoding="utf-8")


def test_missing_markers_are_one_error_line_and_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]) -> None:
    gen = _gen_docs()
    docs = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", docs)
    (docs / "architecture.md").write_text("# Architecture\n\nno markers here\n", encoding="utf-8")
    monkeypatch.setattr(gen, "DOCS", docs)
    monkeypatch.setattr(gen, "ROOT", tmp_path)
    assert gen.main(["--check"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "missing markers" in err and "package-tree" in err


def test_every_rule_is_documented() -> None:
    rules, _ = _gen_docs()._load_rules()
    text = (ROOT / "docs" / "rules.md").read_text(encoding="utf-8")
    severities = (ROOT / "docs" / "scan.md").read_text(encoding="utf-8")
    for rule in rules:
        assert f"## {rule.id} {rule.name}" in text  # type: ignore[attr-defined]
        assert rule.id in severities, f"{rule.id} has no default severity in docs/scan.md"  # type: ignore[attr-defined]


_REPO_PATH = re.compile(r"^(?:src|tests|scripts|benchmarks|docs|\.ci)/[^\s`]*$")


@pytest.mark.parametrize("doc", DOC_FILES, ids=[str(p.relative_to(ROOT)) for p in DOC_FILES])
def test_paths_named_in_the_docs_exist(doc: Path) -> None:
    """A file the docs name in code (`src/assay/...`, `tests/...::test`) is still there after a move."""
    missing = []
    for span in re.findall(r"`([^`\n]+)`", _FENCE.sub("", doc.read_text(encoding="utf-8"))):
        if not _REPO_PATH.match(span) or "*" in span:
            continue
        path = span.split("::", 1)[0]
        if any(part.startswith(".") for part in path.split("/")[1:]):  # caches the scripts create (.peers ...)
            continue
        if not (ROOT / path).exists():
            missing.append(span)
    assert not missing, f"{doc.relative_to(ROOT)} names paths that do not exist: {missing}"
