"""The loader oracle: open a file with its real loader in a sandboxed child process and record what happened.

The child installs a ``sys.addaudithook`` hook before the loader runs. The hook records every
``pickle.find_class`` (what the unpickler imported), and records and *blocks* (raises PermissionError) every
event that a payload would use to act on the machine: starting processes, opening network connections, writing,
removing or renaming files, loading native libraries. So a malicious fixture proves that its payload is reached
(``fired``) without the payload ever running, and a benign fixture proves that it loads cleanly.

Loaders (``LOADERS``): pickle, torch (``torch.load(weights_only=False)``), torch-jit, joblib, numpy
(``numpy.load(allow_pickle=True)``, the object read back whole), jinja (render a chat template file with a plain,
unsandboxed ``jinja2.Environment`` and typical messages), python (import a ``.py`` file as a module, the way
``trust_remote_code`` does).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

LOADERS = ("pickle", "torch", "torch-jit", "joblib", "numpy", "jinja", "python")

LOADER_SOURCE = r"""
BLOCK = ("os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "os.forkpty", "os.kill", "os.remove",
         "os.unlink", "os.rmdir", "os.rename", "os.truncate", "os.chmod", "os.chown", "os.symlink", "os.link",
         "os.mkdir", "os.putenv", "os.unsetenv", "subprocess.Popen", "pty.spawn", "socket.connect", "socket.bind",
         "socket.sendto", "socket.getaddrinfo", "urllib.Request", "ctypes.dlopen", "ctypes.dlsym", "shutil.rmtree",
         "shutil.move", "shutil.copyfile", "webbrowser.open", "code.__new__", "cpython.run_command",
         "cpython.run_file", "os.startfile")

def preload():
    # Libraries a loader imports lazily set process state of their own when first imported (OpenBLAS sets an
    # environment variable); importing them before arming keeps the record to what the file caused.
    for name in os.environ.get("ASSAY_ORACLE_PRELOAD", "").split(","):
        try:
            if name:
                __import__(name)
        except Exception:
            pass

def load(loader, path, arm):
    # Open path with the real loader; arm() runs right before the loader reads the file's content.
    if loader == "pickle":
        import pickle
        with open(path, "rb") as fh:
            arm()
            pickle.load(fh)
    elif loader == "torch":
        import torch
        arm()
        torch.load(path, weights_only=False)
    elif loader == "torch-jit":
        import torch
        arm()
        torch.jit.load(path)
    elif loader == "joblib":
        import joblib
        arm()
        joblib.load(path)
    elif loader == "numpy":
        import numpy
        arm()
        value = numpy.load(path, allow_pickle=True)
        if hasattr(value, "files"):
            for name in value.files:
                value[name]
    elif loader == "jinja":
        import jinja2
        with open(path, encoding="utf-8") as fh:
            source = fh.read()
        env = jinja2.Environment(extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do"])
        arm()
        env.from_string(source).render(messages=[{"role": "system", "content": "Be brief."},
                                                 {"role": "user", "content": "Hello"}],
                                       add_generation_prompt=True, bos_token="<s>", eos_token="</s>", tools=None)
    elif loader == "python":
        import importlib.util
        spec = importlib.util.spec_from_file_location("assay_oracle_module", path)
        module = importlib.util.module_from_spec(spec)
        arm()
        spec.loader.exec_module(module)
    else:
        raise SystemExit(f"unknown loader {loader}")
"""
"""The part of both oracle children that knows the loaders and the events to block (``oracle_batch`` uses it)."""

_CHILD = r"""
import json, os, sys
""" + LOADER_SOURCE + r"""
events, blocked = [], []
OUT = os.environ["ASSAY_ORACLE_OUT"]
armed = [False]

def arm():
    armed[0] = True

def hook(event, args):
    if not armed[0]:
        return
    if event == "pickle.find_class":
        events.append(["find_class", str(args[0]), str(args[1])])
        return
    if event == "open" and args[1] is not None and isinstance(args[1], str) and any(c in args[1] for c in "wax+"):
        target = str(args[0])
        if not target.startswith(os.environ.get("ASSAY_ORACLE_TMP", "/nonexistent")):
            blocked.append(["open-write", target[:200]])
            raise PermissionError("assay oracle: file write blocked")
    if event.startswith(BLOCK):
        blocked.append([event, repr(args)[:200]])
        raise PermissionError(f"assay oracle: {event} blocked")

preload()
sys.addaudithook(hook)
loader, path = sys.argv[1], sys.argv[2]
error = None
try:
    load(loader, path, arm)
except BaseException as exc:
    error = f"{type(exc).__name__}: {str(exc)[:300]}"
armed[0] = False
with open(OUT, "w") as fh:
    json.dump({"events": events, "blocked": blocked, "error": error}, fh)
"""


@dataclass(frozen=True)
class OracleResult:
    """What the real loader did with one file."""

    loader: str
    path: str
    find_class: tuple[tuple[str, str], ...] = ()
    """(module, name) of every global the unpickler resolved, in order."""
    blocked: tuple[tuple[str, str], ...] = ()
    """(audit event, arguments) of every action the payload attempted; each was blocked."""
    error: str | None = None
    """The exception the loader ended with, or None when it loaded cleanly."""
    extra: dict[str, object] = field(default_factory=dict)

    @property
    def fired(self) -> bool:
        """True when loading reached an action on the machine (a process, a write, a connection)."""
        return bool(self.blocked)

    @property
    def clean(self) -> bool:
        """True when the file loaded without error and attempted nothing."""
        return self.error is None and not self.blocked


_PRELOAD = {"torch": ("numpy", "torch"), "torch-jit": ("numpy", "torch"), "joblib": ("numpy", "joblib", "sklearn"),
            "pickle": ("numpy", "sklearn"), "numpy": ("numpy",)}


def run_loader(loader: str, path: Path | str, timeout: float = 180, preload: tuple[str, ...] | None = None) -> OracleResult:
    """Open ``path`` with the real ``loader`` (one of LOADERS) in a sandboxed child process.

    ``preload``: modules imported before the hook is armed (libraries whose own import touches process state);
    by default numpy, plus torch for the torch loaders and scikit-learn for pickle and joblib.
    """
    if loader not in LOADERS:
        raise ValueError(f"unknown loader {loader!r}")
    path = Path(path).absolute()  # the child runs in the file's folder
    out = path.parent / f".oracle-{os.getpid()}-{path.name}.json"
    modules = _PRELOAD.get(loader, ()) if preload is None else preload
    env = dict(os.environ, ASSAY_ORACLE_OUT=str(out), ASSAY_ORACLE_PRELOAD=",".join(modules), ASSAY_ORACLE_TMP=str(out), KERAS_BACKEND="torch",
               PYTHONDONTWRITEBYTECODE="1", HF_HUB_OFFLINE="1")
    try:
        proc = subprocess.run([sys.executable, "-c", _CHILD, loader, str(path)], env=env, capture_output=True,
                              timeout=timeout, text=True, cwd=str(path.parent))
        if not out.exists():
            return OracleResult(loader, str(path), error=f"child died (exit {proc.returncode}): {proc.stderr[-500:]}")
        data = json.loads(out.read_text())
    finally:
        out.unlink(missing_ok=True)
    return OracleResult(loader, str(path), tuple((m, n) for _, m, n in data["events"]),
                        tuple((e, a) for e, a in data["blocked"]), data["error"])
