"""Python files shipped with a model (custom modeling code run by trust_remote_code, handlers):
parsed with ``ast`` (never executed) and searched for process, network, eval/exec and file-write calls."""

from __future__ import annotations

import ast

from assay.scan.context import ScanContext
from assay.scan.findings import Severity
from assay.scan.formats.interface import FormatScanner
from assay.scan.source import Blob

# dotted call target (after resolving import aliases) -> (severity, what it does)
_CALLS: dict[str, tuple[Severity, str]] = {}
for _name in ("os.system", "os.popen", "os.execv", "os.execve", "os.execl", "os.execvp", "os.spawnv", "os.spawnl",
              "os.posix_spawn", "subprocess.run", "subprocess.call", "subprocess.Popen", "subprocess.check_call",
              "subprocess.check_output", "subprocess.getoutput", "subprocess.getstatusoutput", "pty.spawn",
              "asyncio.create_subprocess_shell", "asyncio.create_subprocess_exec"):
    _CALLS[_name] = (Severity.CRITICAL, "starts a process")
for _name in ("eval", "exec", "compile", "__import__", "builtins.eval", "builtins.exec", "marshal.loads",
              "types.FunctionType", "runpy.run_path", "runpy.run_module", "importlib.import_module"):
    _CALLS[_name] = (Severity.HIGH, "runs or imports code chosen at run time")
for _name in ("socket.socket", "socket.create_connection", "urllib.request.urlopen", "urllib.request.urlretrieve",
              "requests.get", "requests.post", "requests.put", "requests.request", "httpx.get", "httpx.post",
              "http.client.HTTPConnection", "http.client.HTTPSConnection", "ftplib.FTP", "smtplib.SMTP"):
    _CALLS[_name] = (Severity.HIGH, "opens a network connection")
for _name in ("os.remove", "os.unlink", "os.rmdir", "os.removedirs", "shutil.rmtree", "shutil.move", "os.chmod",
              "os.rename", "os.replace"):
    _CALLS[_name] = (Severity.HIGH, "deletes, moves or changes files")
for _name in ("pickle.load", "pickle.loads", "torch.load", "joblib.load", "dill.load", "dill.loads", "numpy.load",
              "np.load", "yaml.load", "yaml.unsafe_load"):
    _CALLS[_name] = (Severity.MEDIUM, "deserializes data that can carry code")
_CALLS["ctypes.CDLL"] = (Severity.HIGH, "loads a native library")
_CALLS["ctypes.cdll.LoadLibrary"] = (Severity.HIGH, "loads a native library")


def _dotted(node: ast.AST, aliases: dict[str, str]) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(aliases.get(node.id, node.id))
    return ".".join(reversed(parts))


def _writes(call: ast.Call) -> bool:
    """``open(path, "w"/"a"/"x"/"+")`` with a literal mode."""
    mode = call.args[1] if len(call.args) > 1 else next((k.value for k in call.keywords if k.arg == "mode"), None)
    return isinstance(mode, ast.Constant) and isinstance(mode.value, str) and any(c in mode.value for c in "wax+")


class PythonSourceScanner(FormatScanner):
    """``*.py`` files."""

    formats = ("python",)

    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        source = ctx.read_whole(blob, "max_source_bytes", "Python source")
        if source is None:
            return True
        try:
            tree = ast.parse(source, filename=name)
        except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
            ctx.add("AS453", Severity.LOW, f"Python source does not parse: {exc}")
            return True
        report_python_calls(tree, ctx)
        return True


def report_python_calls(tree: ast.AST, ctx: ScanContext) -> None:
    """Report the dangerous calls of a parsed module (one finding per target, with its first line)."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                aliases[a.asname or a.name.split(".")[0]] = a.name if a.asname else a.name.split(".")[0]
        elif isinstance(node, ast.ImportFrom) and node.module:
            for a in node.names:
                aliases[a.asname or a.name] = f"{node.module}.{a.name}"
    seen: dict[str, tuple[int, int]] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        target = _dotted(node.func, aliases)
        if target is None:
            continue
        if target in _CALLS or (target in ("open", "io.open", "builtins.open") and _writes(node)) or \
                target.endswith((".write_text", ".write_bytes")) and not target.startswith("self."):
            line = getattr(node, "lineno", 0)
            first, count = seen.get(target, (line, 0))
            seen[target] = (first, count + 1)
    for target, (line, count) in sorted(seen.items(), key=lambda kv: kv[1][0]):
        severity, what = _CALLS.get(target, (Severity.HIGH, "writes files"))
        ctx.add("AS452", severity, f"line {line}: {target}() {what}" + (f" ({count} calls)" if count > 1 else ""))
