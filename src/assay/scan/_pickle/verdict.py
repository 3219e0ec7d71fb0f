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

from assay.scan._findings import Severity
from assay.scan._pickle.dangerous import CATEGORIES, DANGEROUS, SUSPICIOUS_NAMES
from assay.scan._pickle.safe import safe_reason
from assay.scan._record import Record

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
            if table is None and module.startswith("_") and stop - start == 1:
                # A module kept under a private alias (``tempfile._os``, ``shutil._subprocess``) is that module.
                module = module.lstrip("_")
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


def _user_allowed(canonical: str, module: str, allow: frozenset[str]) -> bool:
    """``--allow`` entries: exact names, or ``package.*`` for everything under a package the user vouches for."""
    if canonical in allow or f"{module}.*" in allow:
        return True
    return any(a.endswith(".*") and canonical.startswith(a[:-1]) for a in allow)


def _judge(module: str, name: str, allow: frozenset[str]) -> Verdict:
    canonical = f"{module}.{name}"
    reason = safe_reason(module, name)
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
    if _user_allowed(canonical, module, allow):
        return Verdict("safe", canonical, None, None, "allowed by configuration")
    last = name.rsplit(".", 1)[-1]
    if last in SUSPICIOUS_NAMES:
        category = SUSPICIOUS_NAMES[last]
        return Verdict("dangerous", canonical, Severity.HIGH, category,
                       f"not on any list, and its name ({last}) suggests it {CATEGORIES[category][1]}")
    # Default deny: what is not proven safe blocks. The message says how a user admits their own code.
    return Verdict("unknown", canonical, Severity.HIGH, None,
                   f"not on the allow-list, so loading imports it and runs whatever its module and its code do; "
                   f"if you trust that code, allow it with --allow {canonical}")


@lru_cache(maxsize=65536)
def classify(module: str, name: str, allow: frozenset[str] = frozenset(), strict: bool = False) -> Verdict:
    """The verdict for ``module`` + ``name`` as a GLOBAL/STACK_GLOBAL/INST would resolve them.

    Every spelling the unpickler may resolve (Python 2 names, C-accelerator aliases) is judged: any dangerous
    spelling makes the reference dangerous; otherwise it is safe when a spelling is on the allow-list (the same
    object under another module name), and unknown (high: default deny) when none is. ``strict`` is kept for
    callers of the old signature; unknown names block with or without it.

    A module name that is not a dotted identifier cannot be imported, so such a reference is
    reported separately by the pickle machine and is not judged here.
    """
    verdicts = [_judge(m, n, allow) for m, n in _variants(module, name)]
    dangerous = [v for v in verdicts if v.kind == "dangerous"]
    if dangerous:
        return max(dangerous, key=lambda v: v.severity or 0)
    return next((v for v in verdicts if v.kind == "safe"), verdicts[0])


def python3_name(module: str, name: str) -> tuple[str, str]:
    """The name the unpickler resolves a Python 2 spelling to (``__builtin__.unicode`` -> ``builtins.str``)."""
    if (module, name) in _compat_pickle.NAME_MAPPING:
        return _compat_pickle.NAME_MAPPING[(module, name)]
    return _compat_pickle.IMPORT_MAPPING.get(module, module), name


def identity(module: str, name: str) -> frozenset[str]:
    """Every canonical spelling of ``module.name`` (for matching special callables such as getattr)."""
    return frozenset(f"{m}.{n}" for m, n in _variants(module, name))


def is_importable_name(module: str, name: str) -> bool:
    """True when the unpickler could import ``module`` and look ``name`` up (dotted parts allowed)."""
    return _is_valid_module(module) and bool(name) and all(p.isidentifier() for p in name.split("."))
