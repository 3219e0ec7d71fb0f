"""The architecture holds: import contracts (``lint-imports``), sorted imports, and each domain's one door.

Run with the rest of the suite, so ``.ci/run`` (the README's test command) checks them too. The contracts live
in ``[tool.importlinter]`` of pyproject.toml: cli -> services -> domains -> core, no cycles, private modules
(``_name``) imported only inside their package.
"""

from __future__ import annotations

import ast
import re
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



def _is_record_class(node: ast.ClassDef) -> bool:
    """A class that only holds fields: an ``__init__`` that does nothing but assign ``self.x`` (properties and
    docstrings aside), with no base class or decorator."""
    if node.decorator_list or node.bases:
        return False
    init = None
    for item in node.body:
        if isinstance(item, ast.FunctionDef):
            if item.name == "__init__":
                init = item
            elif not any(isinstance(d, ast.Name) and d.id == "property" for d in item.decorator_list):
                return False
        elif not isinstance(item, (ast.Expr, ast.Assign, ast.AnnAssign)):
            return False
    if init is None:
        return False
    for statement in init.body:
        targets = statement.targets if isinstance(statement, ast.Assign) else \
            [statement.target] if isinstance(statement, ast.AnnAssign) else None
        if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Constant):
            continue
        if not targets or not all(isinstance(t, ast.Attribute) and isinstance(t.value, ast.Name)
                                  and t.value.id == "self" for t in targets):
            return False
    return True


def _has_slots(node: ast.ClassDef) -> bool:
    return any(isinstance(item, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__slots__"
                                                    for t in item.targets) for item in node.body)


def test_value_types_are_declared_one_way() -> None:
    """Value types are frozen dataclasses, except in the scanner, which never imports ``dataclasses`` (the
    measured reason is in ``assay/scan/_record.py``): there they are ``Record`` subclasses, and mutable state
    is a plain class with ``__slots__``. No NamedTuple, namedtuple or TypedDict anywhere."""
    scanner = PACKAGE / "scan"
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        in_scanner = scanner in path.parents
        where = path.relative_to(ROOT)
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, (ast.Name, ast.Attribute)):
                name = node.id if isinstance(node, ast.Name) else node.attr
                if name in {"NamedTuple", "namedtuple", "TypedDict"}:
                    offenders.append(f"{where}:{node.lineno}: {name}")
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                modules = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                if in_scanner and "dataclasses" in modules:
                    offenders.append(f"{where}:{node.lineno}: the scanner imports dataclasses (use Record)")
                if not in_scanner and any(m == "assay.scan._record" for m in modules):
                    offenders.append(f"{where}:{node.lineno}: Record outside the scanner (use a frozen dataclass)")
            elif isinstance(node, ast.ClassDef) and _is_record_class(node) and not (in_scanner and _has_slots(node)):
                offenders.append(f"{where}:{node.lineno}: class {node.name} is a hand-written record")
    assert not offenders, "\n".join(offenders)


def test_a_scan_never_imports_dataclasses(benign_dir: Path, malicious_dir: Path, silero_dir: Path,
                                         minilm_dir: Path) -> None:
    """The measured reason for ``Record`` holds: ``assay scan`` over every format the scanner reads (the benign
    and malicious corpora, two real models) imports ``dataclasses`` and ``inspect`` only through Jinja (loaded
    for chat templates alone), never through assay's own code."""
    corpora = [benign_dir, malicious_dir, silero_dir, minilm_dir, ROOT / "tests" / "fixtures" / "tf_savedmodels"]
    script = (
        "import sys, traceback\n"
        "class Watch:\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name in ('dataclasses', 'inspect') and name not in sys.modules:\n"
        "            chain = [f.filename for f in traceback.extract_stack()]\n"
        "            print('IMPORT', name, 'via-jinja2' if any('/jinja2/' in f for f in chain) else chain)\n"
        "sys.meta_path.insert(0, Watch())\n"
        "from assay.cli.main import main\n"
        "code = main(['scan', '--jobs', '1', *sys.argv[1:]])\n"
        "print('EXIT', code)\n"
    )
    result = subprocess.run([sys.executable, "-c", script, *map(str, corpora)], capture_output=True,
                            text=True, timeout=300, cwd=ROOT)
    imports = [line for line in result.stdout.splitlines() if line.startswith("IMPORT")]
    assert "EXIT 1" in result.stdout, result.stdout[-2000:] + result.stderr[-2000:]
    scanned = re.search(r"(\d+) file\(s\)", result.stdout)
    assert scanned and int(scanned.group(1)) > 100 and "AS411" in result.stdout  # the corpora were scanned
    assert all(line.endswith("via-jinja2") for line in imports), imports
