"""Judge one callable a pickle can reach: safe, dangerous (with category and reason) or unknown.

The name is canonicalised the way the unpickler resolves it: Python 2 names through the standard
library's own ``_compat_pickle`` tables (``__builtin__`` -> ``builtins``), C-accelerator aliases
(``posix``, ``nt``, ``_operator``, ``_io`` ...), and dotted attribute paths under protocol 4+
(``shutil`` + ``os.system`` reaches ``os.system``). Every variant is judged; the worst one wins.
"""

from __future__ import annotations

import _compat_pickle
import fnmatch
import sys
from functools import lru_cache

from assay.record import Record
from assay.scan.findings import Severity
from assay.scan.pickle.dangerous import CATEGORIES, DANGEROUS, SUSPICIOUS_NAMES
from assay.scan.pickle.safe import CLASS_PATTERNS, SAFE

ALIASES = {
    "posix": "os", "nt": "os", "_operator": "operator", "_io": "io", "_pyio": "io", "_pickle": "pickle",
    "cPickle": "pickle", "_socket": "socket", "_thread": "threading", "thread": "threading",
    "_functools": "functools", "_collections": "collections", "copy_reg": "copyreg", "__builtin__": "builtins",
    "exceptions": "builtins", "_posixshmem": "os", "_winapi": "subprocess", "_subprocess": "subprocess",
    "numpy._core": "numpy.core", "_ctypes": "ctypes", "_sqlite3": "sqlite3", "_ssl": "ssl", "_lzma": "lzma",
    "_bz2": "bz2", "_signal": "signal", "_imp": "imp", "_frozen_importlib": "importlib",
    "_frozen_importlib_external": "importlib", "_weakref": "weakref", "_abc": "abc", "_sre": "re",
}


class Verdict(Record):
    """What a callable is: ``kind`` is "safe", "dangerous" or "unknown"."""

    kind: str
    canonical: str
    severity: Severity | None
    category: str | None
    reason: str


def _is_valid_module(module: str) -> bool:
    return bool(module) and all(part.isidentifier() for part in module.split("."))


def _variants(module: str, name: str) -> list[tuple[str, str]]:
    out = [(module, name)]
    mapped = []
    if (module, name) in _compat_pickle.NAME_MAPPING:
        mapped.append(_compat_pickle.NAME_MAPPING[(module, name)])
    if module in _compat_pickle.IMPORT_MAPPING:
        mapped.append((_compat_pickle.IMPORT_MAPPING[module], name))
    if mapped and module.split(".")[0] not in sys.stdlib_module_names:
        # A Python 2 name (__builtin__, copy_reg): the unpickler maps it, or fails to import it.
        out = []
    out.extend(mapped)
    for mod, nm in list(out):
        head, _, rest = mod.partition(".")
        if mod in ALIASES:
            out.append((ALIASES[mod], nm))
        elif head in ALIASES:
            out.append((f"{ALIASES[head]}.{rest}", nm))
    return list(dict.fromkeys(out))


def _danger_entry(tokens: list[str]) -> tuple[str, str, str] | None:
    """Search every (module, attribute path) split of every suffix of ``tokens``; the worst hit wins."""
    best: tuple[str, str, str] | None = None
    n = len(tokens)
    for start in range(n):
        for stop in range(start + 1, n + 1):
            module = ".".join(tokens[start:stop])
            if stop < n and module in ALIASES:
                module = ALIASES[module]
            table = DANGEROUS.get(module)
            if table is None:
                continue
            path = ".".join(tokens[stop:])
            first = tokens[stop] if stop < n else ""
            for pattern, value in table.items():
                if pattern == "*" or fnmatch.fnmatchcase(path, pattern) or fnmatch.fnmatchcase(first, pattern):
                    category, reason = (value, CATEGORIES[value][1]) if isinstance(value, str) else value
                    hit = (f"{module}.{path}" if path else module, category, reason)
                    if best is None or CATEGORIES[category][0] > CATEGORIES[best[1]][0]:
                        best = hit
                    break
    return best


def _judge(module: str, name: str, allow: frozenset[str], strict: bool) -> Verdict:
    canonical = f"{module}.{name}"
    reason = SAFE.get(canonical)
    if reason is not None:
        return Verdict("safe", canonical, None, None, reason)
    tokens = module.split(".") + name.split(".")
    hit = _danger_entry(tokens)
    if hit is not None:
        matched, category, why = hit
        severity = CATEGORIES[category][0]
        return Verdict("dangerous", canonical, severity, category, why if matched == canonical else f"{why} (reaches {matched})")
    for part in name.split("."):
        if len(part) > 4 and part.startswith("__") and part.endswith("__"):
            return Verdict("dangerous", canonical, Severity.CRITICAL, "attribute-gadget",
                           f"walks the dunder attribute {part}, reaching interpreter internals")
    for pattern, why in CLASS_PATTERNS:
        if pattern.fullmatch(canonical):
            return Verdict("safe", canonical, None, None, why)
    if canonical in allow or f"{module}.*" in allow or any(
        a.endswith(".*") and canonical.startswith(a[:-1]) for a in allow
    ):
        return Verdict("safe", canonical, None, None, "allowed by configuration")
    last = name.rsplit(".", 1)[-1]
    if last in SUSPICIOUS_NAMES:
        category = SUSPICIOUS_NAMES[last]
        return Verdict("dangerous", canonical, Severity.HIGH, category,
                       f"not on any list, and its name ({last}) suggests it {CATEGORIES[category][1]}")
    severity = Severity.HIGH if strict else Severity.MEDIUM
    return Verdict("unknown", canonical, severity, None, "not on the allow-list; importing it runs its module's code")


@lru_cache(maxsize=65536)
def classify(module: str, name: str, allow: frozenset[str] = frozenset(), strict: bool = False) -> Verdict:
    """The verdict for ``module`` + ``name`` as a GLOBAL/STACK_GLOBAL/INST would resolve them.

    A module name that is not a dotted identifier cannot be imported, so such a reference is
    reported separately by the pickle machine and is not judged here.
    """
    verdicts = [_judge(m, n, allow, strict) for m, n in _variants(module, name)]
    order = {"dangerous": 2, "unknown": 1, "safe": 0}
    return max(verdicts, key=lambda v: (order[v.kind], v.severity or 0))


def is_importable_name(module: str, name: str) -> bool:
    """True when the unpickler could import ``module`` and look ``name`` up (dotted parts allowed)."""
    return _is_valid_module(module) and bool(name) and all(p.isidentifier() for p in name.split("."))
