"""Derive the pickle allow-list from evidence: what real libraries write, and the classes they define.

1. Builds the corpus of ``tests/fixtures/harvest.py`` (real objects saved by torch, NumPy, SciPy, scikit-learn,
   pandas, joblib, the standard library, transformers, OmegaConf, Lightning) into a temporary folder.
2. Opens every file with its real loader in a sandboxed child process (``tests.scan.oracle.run_loader``), whose
   ``sys.addaudithook`` hook records each ``pickle.find_class`` (module, name) the unpickler resolves.
3. Enumerates, with the real libraries, the classes a user's other files need beyond the harvest: every
   ``sklearn.utils.all_estimators()`` class, every ``torch.nn.Module`` subclass defined under ``torch.nn.modules``
   and ``torch.ao.nn``, every ``torch.optim`` optimizer and learning-rate scheduler. Exact names only, kept only
   where importing the module and walking the qualname gives back the same class.
4. Writes ``src/assay/scan/_pickle/safe_harvested.py``: ``HARVESTED`` (name -> reason) and ``EXCLUDED`` (names real
   files contain that are dangerous on their face: left to the verdict, with why).

Run from the repository root: ``.venv/bin/python scripts/harvest_allowlist.py`` (about 10 minutes on 2 cores).
"""

from __future__ import annotations

import _compat_pickle
import argparse
import importlib
import importlib.metadata
import inspect
import json
import pkgutil
import platform
import sys
import tempfile
import time
import warnings
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from tests.fixtures.harvest import TORCH_BUILDERS, BuildLog, Built  # noqa: E402
from tests.fixtures.harvest_data import DATA_BUILDERS  # noqa: E402
from tests.scan.oracle import run_loader  # noqa: E402

OUTPUT = ROOT / "src" / "assay" / "scan" / "_pickle" / "safe_harvested.py"

# Corpus order is reason order: a name is explained by the first family whose file referenced it.
BUILD_ORDER = ("stdlib", "numpy", "scipy", "joblib", "sklearn", "pandas", "torch-tensors", "torch-layers",
               "torch-optim", "torch-quantized", "torch-compiled", "torch-export", "hf", "hparams")

FAMILY_REASONS = {
    "stdlib": "standard-library value: pickled datetimes with time zones, collections, decimal, uuid, paths",
    "numpy": "NumPy array / dtype / scalar reconstruction: pickled and np.save'd arrays of every dtype",
    "numpy-random": "NumPy random generator state: pickled RandomState / Generator with each bit generator",
    "scipy": "SciPy sparse container: pickled csr/csc/coo/bsr/dia/dok/lil matrices and arrays",
    "joblib": "joblib array wrapper: joblib.dump with every compression method",
    "sklearn": "scikit-learn estimator internals: pickled fitted estimators from all_estimators()",
    "pandas": "pandas container internals: pickled DataFrames with time zones, categoricals, periods, intervals",
    "torch-tensor": "PyTorch tensor rebuild: torch.save of sparse/quantized/nested/complex/float8 tensors",
    "torch-module": "PyTorch layer class: torch.save of whole modules",
    "torch-state": "PyTorch state_dict container: torch.save of state_dicts",
    "torch-optim": "PyTorch optimizer / scheduler / GradScaler: torch.save of whole objects and state_dicts",
    "torch-quantized": "PyTorch quantized layer: torch.save of a quantize_dynamic model",
    "torch-compiled": "PyTorch compiled-module wrapper: torch.save of a module after torch.compile",
    "torch-export": "PyTorch exported program: the torch.save files inside torch.export.save archives",
    "hf": "Hugging Face training arguments: training_args.bin as Trainer saves it",
    "hparams": "Lightning / OmegaConf hyper-parameters: checkpoints with DictConfig, ListConfig, AttributeDict",
}

# Real files contain these, but each can run or import anything it is handed: they are never allow-listed by
# evidence. The verdict handles them (getattr is resolved symbolically; the others block).
_FACE_DANGER_MODULES = ("os", "posix", "nt", "subprocess", "sys", "importlib", "runpy", "shutil", "socket", "ctypes",
                        "pickle", "_pickle", "marshal", "code", "codeop", "pty", "builtins.__import__")
_FACE_DANGER_NAMES = {
    "builtins.getattr": "reads any attribute, so it reaches any object; resolved symbolically by the pickle machine",
    "builtins.setattr": "writes any attribute", "builtins.delattr": "deletes any attribute",
    "builtins.eval": "evaluates code", "builtins.exec": "executes code", "builtins.compile": "compiles code",
    "builtins.__import__": "imports any module", "builtins.open": "opens any file", "builtins.globals": "exposes globals",
    "builtins.vars": "exposes namespaces", "builtins.breakpoint": "starts a debugger", "builtins.input": "reads stdin",
    "functools.partial": "calls the callable it is given with the arguments it is given",
    "operator.attrgetter": "reads any attribute path", "operator.methodcaller": "calls any method by name",
    "types.FunctionType": "builds a function from code", "types.CodeType": "builds code objects",
}
# Harvested and allowed, but they call, construct or import from their arguments: the allow-list needs an
# argument contract for each (issue 11 item 3) and the lead's verdict checks it.
CALLS_ARGUMENTS = {
    "copyreg._reconstructor": "constructs its class argument", "copyreg.__newobj__": "calls cls.__new__",
    "copyreg.__newobj_ex__": "calls cls.__new__ with keywords",
    "numpy.random._pickle.__randomstate_ctor": "calls its bit-generator argument",
    "numpy.random._pickle.__bit_generator_ctor": "calls its bit-generator argument",
    "numpy.random._pickle.__generator_ctor": "calls its bit-generator argument",
    "torch._tensor._rebuild_from_type": "calls its type argument", "torch._tensor._rebuild_from_type_v2":
        "calls its function and type arguments", "torch._utils._rebuild_wrapper_subclass": "calls its class argument",
    "torch._utils._rebuild_parameter_with_state": "sets state on the parameter it builds",
    "collections.defaultdict": "stores a factory that is called later, on a missing key",
    "pandas._libs.internals._unpickle_block": "calls its block-class argument",
}


def canonical(module: str, name: str) -> str:
    """The dotted name the unpickler really imports: protocol-2 pickles name Python 2 modules (``__builtin__``,
    ``copy_reg``) that ``Unpickler.find_class`` maps through ``_compat_pickle`` before importing."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        module, name = _compat_pickle.NAME_MAPPING[(module, name)]
    elif module in _compat_pickle.IMPORT_MAPPING:
        module = _compat_pickle.IMPORT_MAPPING[module]
    return f"{module}.{name}"


def exclusion(name: str) -> str | None:
    """Why ``name`` must not be allow-listed even though real files contain it, or None."""
    if name in _FACE_DANGER_NAMES:
        return _FACE_DANGER_NAMES[name]
    if name.startswith(tuple(m + "." for m in _FACE_DANGER_MODULES)):
        return "its module acts on processes, files, imports or the interpreter"
    from assay.scan._pickle.verdict import classify

    module, _, attr = name.rpartition(".")
    verdict = classify(module, attr)
    if verdict.kind == "dangerous":
        return f"on assay's danger table: {verdict.reason}"
    if any(len(p) > 4 and p.startswith("__") and p.endswith("__") for p in attr.split(".")):
        return "walks a dunder attribute"
    return None


def build_corpus(out: Path, log: BuildLog, families: Iterable[str]) -> list[Built]:
    """Run the named builders (in ``BUILD_ORDER``) into ``out``."""
    builders = TORCH_BUILDERS | DATA_BUILDERS
    built: list[Built] = []
    for family in families:
        started = time.monotonic()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                made = builders[family](out, log)
        except Exception as exc:  # one library's breakage must not lose the others' evidence; it is reported
            log.skip(f"builder {family}", exc)
            made = []
        print(f"built {family}: {len(made)} files in {time.monotonic() - started:.0f}s", file=sys.stderr)
        built += made
    return built


def harvest(built: list[Built], jobs: int) -> tuple[dict[str, list[Built]], list[str]]:
    """Load every file with its real loader; return name -> files that referenced it, and the load failures."""
    def load(item: Built):  # noqa: ANN202
        return item, run_loader(item.loader, item.path, timeout=300, preload=item.preload)

    seen: dict[str, list[Built]] = {}
    failures = []
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        for item, result in pool.map(load, built):
            if not result.clean:
                failures.append(f"{item.path.name} ({item.loader}): {result.error or result.blocked}")
                continue  # names from a file that did not load cleanly are not evidence
            for module, name in result.find_class:
                seen.setdefault(canonical(module, name), []).append(item)
    return seen, failures


def _same_class(cls: type) -> str | None:
    """``module.qualname`` of ``cls`` when importing it back by that exact name gives the same class."""
    module, qualname = cls.__module__, cls.__qualname__
    if "<locals>" in qualname:
        return None
    try:
        obj: object = importlib.import_module(module)
        for part in qualname.split("."):
            obj = getattr(obj, part)
    except Exception:  # not importable by its own name: a pickle could not name it either
        return None
    return f"{module}.{qualname}" if obj is cls else None


# Where a class's unpickling behaviour may come from without being vetted one by one: the estimator base
# classes (BaseEstimator.__setstate__ only checks versions and updates __dict__) and the interpreter's own.
_PLAIN_STATE_OWNERS = frozenset({"builtins", "sklearn.base", "abc", "collections",
                                 "sklearn._loss.loss", "sklearn._loss.link"})  # reviewed: loss objects build Cython losses


def _plain_state(cls: type) -> bool:
    """True when unpickling an instance runs no code of the class's own: its ``__setstate__``, ``__reduce__``,
    ``__reduce_ex__``, ``__new__``, ``__setattr__`` and ``__init__`` (REDUCE calls it) come from the estimator
    base classes or the interpreter, or the class is a compiled (Cython) type whose state restorer is generated.
    A class with its own (sklearn.callback's ScoringMonitor reconnects to a listener in __setstate__) is left to
    the evidence of files that real libraries write."""
    module = sys.modules.get(cls.__module__)
    if module is not None and str(getattr(module, "__file__", "")).endswith((".so", ".pyd")):
        return True
    for attr in ("__setstate__", "__reduce__", "__reduce_ex__", "__new__", "__setattr__", "__init__"):
        owner = next((k for k in cls.__mro__ if attr in vars(k)), None)
        if owner is None or owner.__module__ in _PLAIN_STATE_OWNERS:
            continue
        if attr == "__init__" and _stores_only(owner):
            continue
        return False
    return True


def _stores_only(cls: type) -> bool:
    """An ``__init__`` that only assigns its parameters to attributes (scikit-learn's convention)."""
    try:
        source = inspect.getsource(cls.__init__)  # type: ignore[misc]
    except (OSError, TypeError):
        return False
    import ast
    import textwrap

    try:
        func = ast.parse(textwrap.dedent(source)).body[0]
    except (SyntaxError, IndexError):
        return False
    if not isinstance(func, ast.FunctionDef):
        return False
    body = [s for s in func.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
    return all(isinstance(s, ast.Assign) and all(isinstance(t, ast.Attribute) for t in s.targets)
               and isinstance(s.value, (ast.Name, ast.Constant)) for s in body)


def _walk_modules(package: str) -> list[object]:
    root = importlib.import_module(package)
    modules = [root]
    for info in pkgutil.walk_packages(root.__path__, package + ".", onerror=lambda name: None):
        if any(part in info.name for part in (".tests", "._testing", "conftest", "externals")):
            continue  # test helpers and vendored code: never in a model file, and some import test runners
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                modules.append(importlib.import_module(info.name))
        except (Exception, SystemExit):  # an optional backend module that does not import here
            continue
        except BaseException as exc:  # pytest's Skipped (a BaseException) from modules that need test tools
            if isinstance(exc, KeyboardInterrupt):
                raise
            continue
    return modules


def enumerate_classes() -> dict[str, str]:
    """Exact names of the classes a user's files may reference beyond the harvest, each with its reason."""
    import torch
    from sklearn.utils import all_estimators

    found: dict[str, str] = {}

    def add(classes: Iterable[type], reason: str) -> None:
        for cls in classes:
            name = _same_class(cls)
            if name is not None:
                found.setdefault(name, reason)

    add((cls for _, cls in all_estimators()), "enumerated: a class of sklearn.utils.all_estimators()")
    # Every class (and Cython state restorer) the library itself defines: the internals a fitted estimator
    # keeps (trees, losses, kernels, neighbour trees) under settings the corpus did not fit. Test helpers and
    # vendored packages are left out; a class another module merely imports is never listed under that module.
    # Tensor functions a layer keeps as an attribute (activation=F.relu): the public functions torch.nn.functional
    # defines, and the native ones it re-exports from torch._C._nn, each under the module the pickle names.
    import torch.nn.functional as functional

    for key, value in vars(functional).items():
        module = getattr(value, "__module__", None)
        if not key.startswith("_") and callable(value) and not inspect.isclass(value) and \
                module in ("torch.nn.functional", "torch._C._nn") and getattr(value, "__name__", None) == key:
            found.setdefault(f"{module}.{key}", "enumerated: a public tensor function of torch.nn.functional")
    for package, reason in (("sklearn", "enumerated: a class defined by scikit-learn (estimator internals)"),
                            ("scipy.sparse", "enumerated: a class defined by scipy.sparse (sparse containers)")):
        for module in _walk_modules(package):
            name = getattr(module, "__name__", "")
            if any(part in name for part in (".tests", "._testing", "externals", "conftest", ".linalg")):
                continue
            members = vars(module).values()
            add((c for c in members if inspect.isclass(c) and c.__module__ == name and _plain_state(c)), reason)
            for key, value in vars(module).items():
                if key.startswith("__pyx_unpickle_") and callable(value):
                    found.setdefault(f"{name}.{key}", f"{reason}: Cython state restorer")
    for package, base, reason in (
        ("torch.nn.modules", torch.nn.Module, "enumerated: a torch.nn.Module subclass defined under torch.nn.modules"),
        ("torch.ao.nn", torch.nn.Module, "enumerated: a torch.nn.Module subclass defined under torch.ao.nn"),
        ("torch.optim", torch.optim.Optimizer, "enumerated: a torch.optim.Optimizer subclass"),
        ("torch.optim", (torch.optim.lr_scheduler.LRScheduler, torch.optim.lr_scheduler.ReduceLROnPlateau),
         "enumerated: a torch.optim learning-rate scheduler class"),
    ):
        for module in _walk_modules(package):
            add((c for c in vars(module).values() if inspect.isclass(c) and issubclass(c, base)
                 and c.__module__.startswith(package)), reason)
    return found


def _versions() -> list[str]:
    lines = [f"python {platform.python_version()}"]
    for dist in ("torch", "numpy", "scipy", "scikit-learn", "joblib", "pandas", "transformers", "accelerate",
                 "omegaconf", "lightning"):
        try:
            lines.append(f"{dist} {importlib.metadata.version(dist)}")
        except importlib.metadata.PackageNotFoundError:
            lines.append(f"{dist} (not installed: its files are not in the corpus)")
    return lines


def _evidence(files: list[Built]) -> str:
    names = sorted({f.path.name for f in files})
    more = f" (+{len(names) - 1} more)" if len(names) > 1 else ""
    return f"{FAMILY_REASONS[files[0].family]}; seen in {names[0]}{more}"


def render(seen: dict[str, list[Built]], enumerated: dict[str, str], stats: list[str]) -> str:
    """The text of ``safe_harvested.py``."""
    harvested: dict[str, str] = {}
    excluded: dict[str, str] = {}
    for name, files in seen.items():
        why_not = exclusion(name)
        if why_not is not None:
            excluded[name] = f"{why_not}; seen in {', '.join(sorted({f.path.name for f in files})[:3])}"
        else:
            harvested[name] = _evidence(files)
    for name, reason in enumerated.items():
        if name not in harvested and exclusion(name) is None:
            harvested[name] = reason
    contract = [f"#   {n}: {why}" for n, why in sorted(CALLS_ARGUMENTS.items()) if n in harvested]
    lines = ['"""Pickle allow-list entries derived from evidence. GENERATED by scripts/harvest_allowlist.py: do not edit.',
             "", "HARVESTED maps an exact ``module.qualname`` (as the unpickler imports it) to why it is allowed: the real",
             "files that referenced it, or the enumeration of a library's classes that produced it. EXCLUDED lists names",
             'real files reference that are dangerous on their face; they are never allowed by evidence alone.', '"""',
             "", "# Libraries used:", *(f"#   {v}" for v in _versions()), "# Corpus:", *(f"#   {s}" for s in stats),
             "# Allowed, but they call, construct or import from their arguments (need an argument contract):",
             *contract, "", "HARVESTED: dict[str, str] = {"]
    # json.dumps of ASCII-escaped text is a valid Python string literal, in the double quotes ruff expects
    lines += [f"    {json.dumps(n)}: {json.dumps(r)}," for n, r in sorted(harvested.items())]
    lines += ["}", "", "EXCLUDED: dict[str, str] = {"]
    lines += [f"    {json.dumps(n)}: {json.dumps(r)}," for n, r in sorted(excluded.items())]
    lines += ["}", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Build, load, enumerate, write; print the counts."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", choices=BUILD_ORDER, default=list(BUILD_ORDER))
    parser.add_argument("--jobs", type=int, default=2, help="loader processes side by side")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    log = BuildLog()
    with tempfile.TemporaryDirectory(prefix="assay-harvest-") as tmp:
        built = build_corpus(Path(tmp), log, args.only)
        seen, failures = harvest(built, args.jobs)
    enumerated = enumerate_classes()
    stats = [f"{len(built)} files built, {len(built) - len(failures)} loaded cleanly by their real loader",
             f"{len(seen)} distinct names harvested, {len(enumerated)} classes enumerated",
             *(f"{k}: {v}" for k, v in sorted(log.counts.items())), f"{len(log.skipped)} objects skipped (see stderr)"]
    args.output.write_text(render(seen, enumerated, stats))
    print("\n".join(stats), "\nskipped:", *log.skipped, "load failures:", *failures, sep="\n  ", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
