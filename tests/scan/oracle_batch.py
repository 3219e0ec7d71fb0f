"""The loader oracle in batch: many files, one child process, one fork per file.

``tests.scan.oracle.run_loader`` starts a fresh interpreter per file (0.3-2 s each, most of it importing numpy and
torch). Here one child imports the libraries once, installs the same kind of audit hook, and forks a grandchild
per file, so each file still loads in a process of its own (an import one file's payload triggers does not
hide the next file's) at the cost of a fork. Used by the round-two corpus tests and the differential fuzzers.

Differences from ``run_loader``, both on purpose:
- writes, folder creation and removal under a scratch ``TMPDIR`` the child owns are allowed (torch's legacy
  tar loader extracts members into ``tempfile.mkdtemp()``); anything else is blocked as in ``run_loader``;
- a grandchild that dies from a signal is reported as ``crashed`` (the proof for a crasher payload).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.scan.oracle import LOADER_SOURCE

_CHILD = r"""
import json, os, signal, sys, tempfile
""" + LOADER_SOURCE + r"""
PATH_EVENTS = ("os.mkdir", "os.remove", "os.unlink", "os.rmdir", "os.rename", "shutil.rmtree", "os.chmod", "os.chown",
               "os.utime")
SCRATCH = os.environ["TMPDIR"]
state = {"armed": False, "events": [], "blocked": []}

def _inside(target):
    try:
        return os.path.realpath(os.fsdecode(target)).startswith(os.path.realpath(SCRATCH) + os.sep)
    except Exception:
        return False

def hook(event, args):
    if not state["armed"]:
        return
    if event == "pickle.find_class":
        state["events"].append([str(args[0]), str(args[1])])
        return
    if event == "open" and isinstance(args[1], str) and any(c in args[1] for c in "wax+"):
        if _inside(args[0]):
            return
        state["blocked"].append(["open-write", str(args[0])[:200]])
        raise PermissionError("assay oracle: file write blocked")
    if event.startswith(BLOCK):
        if event.startswith(PATH_EVENTS) and args and _inside(args[0]):
            return
        state["blocked"].append([event, repr(args)[:200]])
        raise PermissionError(f"assay oracle: {event} blocked")

def arm():
    state["armed"] = True

preload()
sys.addaudithook(hook)
jobs = json.load(open(sys.argv[1]))
results = []
timeout = int(os.environ.get("ASSAY_ORACLE_TIMEOUT", "60"))
for i, (loader, path) in enumerate(jobs):
    out = os.path.join(SCRATCH, f"result-{i}.json")
    pid = os.fork()
    if pid == 0:
        signal.alarm(timeout)
        os.chdir(os.path.dirname(os.path.abspath(path)))  # relative names in a payload point beside the file
        error = None
        try:
            load(loader, path, arm)
        except BaseException as exc:
            error = f"{type(exc).__name__}: {str(exc)[:300]}"
        state["armed"] = False
        with open(out, "w") as fh:
            json.dump({"events": state["events"], "blocked": state["blocked"], "error": error}, fh)
        os._exit(0)
    _, status = os.waitpid(pid, 0)
    if os.path.exists(out):
        with open(out) as fh:
            results.append(json.load(fh))
    else:
        sig = os.WTERMSIG(status) if os.WIFSIGNALED(status) else None
        results.append({"events": [], "blocked": [], "error": f"child died (status {status})", "signal": sig})
json.dump(results, open(os.environ["ASSAY_ORACLE_OUT"], "w"))
"""

_PRELOAD = ("numpy", "torch", "joblib", "sklearn", "jinja2", "dill")


@dataclass(frozen=True)
class BatchResult:
    """What the real loader did with one file of a batch."""

    loader: str
    path: str
    find_class: tuple[tuple[str, str], ...]
    """(module, name) of every global the unpickler resolved, in order."""
    blocked: tuple[tuple[str, str], ...]
    """(audit event, arguments) of every action the payload attempted; each was blocked."""
    error: str | None
    signal: int | None = None
    """The signal that killed the loading process, if one did."""

    @property
    def fired(self) -> bool:
        """True when loading reached an action on the machine (a process, a write, a connection)."""
        return bool(self.blocked)

    @property
    def crashed(self) -> bool:
        """True when the loading process was killed by a signal (a crasher payload)."""
        return self.signal is not None

    @property
    def clean(self) -> bool:
        """True when the file loaded without error and attempted nothing."""
        return self.error is None and not self.blocked


def run_batch(jobs: list[tuple[str, Path | str]], timeout: float = 600,
              preload: tuple[str, ...] = _PRELOAD) -> list[BatchResult]:
    """Open each (loader, path) with its real loader, each in its own forked process; results in order."""
    if not jobs:
        return []
    with tempfile.TemporaryDirectory(prefix="assay-oracle-") as scratch:
        spec = Path(scratch) / "jobs.json"
        out = Path(scratch) / "results.json"
        work = Path(scratch) / "tmp"
        work.mkdir()
        spec.write_text(json.dumps([[loader, str(path)] for loader, path in jobs]))
        env = dict(os.environ, ASSAY_ORACLE_OUT=str(out), ASSAY_ORACLE_PRELOAD=",".join(preload), TMPDIR=str(work),
                   KERAS_BACKEND="torch", PYTHONDONTWRITEBYTECODE="1", HF_HUB_OFFLINE="1",
                   PYTHONFAULTHANDLER="")
        proc = subprocess.run([sys.executable, "-c", _CHILD, str(spec)], env=env, capture_output=True,
                              timeout=timeout, text=True, cwd=str(work))
        if not out.exists():
            raise RuntimeError(f"oracle batch child failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
        data = json.loads(out.read_text())
    return [BatchResult(loader, str(path), tuple((m, n) for m, n in d["events"]),
                        tuple((e, a) for e, a in d["blocked"]), d["error"], d.get("signal"))
            for (loader, path), d in zip(jobs, data, strict=True)]
