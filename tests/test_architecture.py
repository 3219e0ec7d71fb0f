"""The architecture holds: import contracts (``lint-imports``), sorted imports, and each domain's one door.

Run with the rest of the suite, so ``.ci/run`` (the README's test command) checks them too. The contracts live
in ``[tool.importlinter]`` of pyproject.toml: cli -> services -> domains -> core, no cycles, private modules
(``_name``) imported only inside their package.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
PACKAGE = SRC / "assay"


def _run(command: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300)


def test_import_contracts_are_kept() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    if not lint_imports.exists():
        pytest.fail(f"{lint_imports} is missing: install the test extras (pip install -e '.[test]')")
    result = _run([str(lint_imports), "--no-cache"])
    assert result.returncode == 0, result.stdout + result.stderr


def test_imports_are_sorted() -> None:
    result = _run([sys.executable, "-m", "ruff", "check", "--select", "I", "--no-cache", "src", "tests"])
    assert result.returncode == 0, result.stdout + result.stderr


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _is_module(name: str) -> bool:
    path = SRC.joinpath(*name.split("."))
    return path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()


def _imports() -> list[tuple[str, int, str]]:
    """(importing module, line, imported module) for every import of assay code in src, lazy ones included."""
    found: set[tuple[str, int, str]] = set()
    for path in sorted(PACKAGE.rglob("*.py")):
        importer = _module_name(path)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # `from assay.scan import _parallel` imports the module assay.scan._parallel
                targets = [f"{node.module}.{a.name}" if _is_module(f"{node.module}.{a.name}") else node.module
                           for a in node.names]
            else:
                continue
            found |= {(importer, node.lineno, t) for t in targets if t == "assay" or t.startswith("assay.")}
    return sorted(found)


def _domain(module: str) -> str:
    """``assay.scan._walk`` -> ``scan``; top-level modules (``assay.config``) are their own domain."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def _is_private(part: str) -> bool:
    return part.startswith("_") and not part.startswith("__")


def test_no_module_imports_a_private_module_of_another_domain() -> None:
    wrong = [f"{importer}:{line} imports {target}" for importer, line, target in _imports()
             if any(_is_private(p) for p in target.split(".")[2:]) and _domain(importer) != _domain(target)]
    assert not wrong, "import these from the domain's __init__ instead:\n" + "\n".join(wrong)


def test_other_domains_import_only_a_domains_door() -> None:
    """Each domain is a room with one door: other domains import ``assay.<domain>``, never a module inside it."""
    wrong = [f"{importer}:{line} imports {target}" for importer, line, target in _imports()
             if len(target.split(".")) > 2 and _domain(importer) != _domain(target)]
    assert not wrong, "export these names from the domain's __init__ and import them from there:\n" + "\n".join(wrong)
