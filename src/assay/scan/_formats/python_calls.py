"""What a call in shipped Python code does, by the dotted name it resolves to (``os.system``,
``subprocess.run``, ``builtins.eval``). The names come from ``python_symbols`` after aliases, assignments,
``getattr`` and constant strings are resolved; this table only says how bad a resolved name is and why."""

from __future__ import annotations

from assay.scan._findings import Severity

PROCESS = (Severity.CRITICAL, "starts a process")
CODE = (Severity.CRITICAL, "runs code chosen at run time")
NATIVE = (Severity.CRITICAL, "calls native code")
NETWORK = (Severity.HIGH, "opens a network connection")
WRITE = (Severity.HIGH, "writes, deletes or moves files")
DESERIALISE = (Severity.HIGH, "deserializes data that can carry code (a second payload)")
IMPORT = (Severity.HIGH, "loads code from a file or builds functions from code objects")

# Module names that are the same module under another name (``posix`` is what ``os`` re-exports).
MODULE_ALIASES = {"posix": "os", "nt": "os", "__builtin__": "builtins", "_pickle": "pickle", "cPickle": "pickle",
                  "np": "numpy", "_io": "io", "pathlib2": "pathlib"}

_OS_PROCESS = ("system", "popen", "fork", "forkpty", "startfile", "posix_spawn", "posix_spawnp",
               "execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp", "execvpe",
               "spawnl", "spawnle", "spawnlp", "spawnlpe", "spawnv", "spawnve", "spawnvp", "spawnvpe")
_OS_WRITE = ("remove", "unlink", "rmdir", "removedirs", "rename", "renames", "replace", "chmod", "lchmod", "chown",
             "lchown", "symlink", "link", "truncate", "mkfifo", "mknod")

EXACT: dict[str, tuple[Severity, str]] = {
    **{f"os.{n}": PROCESS for n in _OS_PROCESS},
    **{f"os.{n}": WRITE for n in _OS_WRITE},
    "builtins.eval": CODE, "builtins.exec": CODE,
    "builtins.compile": (Severity.HIGH, "compiles code at run time"),
    "asyncio.create_subprocess_shell": PROCESS, "asyncio.create_subprocess_exec": PROCESS,
    "multiprocessing.Process": PROCESS, "platform.popen": PROCESS,
    "marshal.load": DESERIALISE, "marshal.loads": DESERIALISE,
    "types.FunctionType": IMPORT, "types.CodeType": IMPORT, "types.LambdaType": IMPORT,
    "importlib.util.spec_from_file_location": IMPORT, "importlib.machinery.SourceFileLoader": IMPORT,
    "importlib.machinery.SourcelessFileLoader": IMPORT, "zipimport.zipimporter": IMPORT,
    "shutil.rmtree": WRITE, "shutil.move": WRITE, "shutil.copy": WRITE, "shutil.copy2": WRITE,
    "shutil.copyfile": WRITE, "shutil.copytree": WRITE, "shutil.chown": WRITE, "shutil.unpack_archive": WRITE,
    "shutil.make_archive": WRITE,
    "pickle.load": DESERIALISE, "pickle.loads": DESERIALISE, "pickle.Unpickler": DESERIALISE,
    "dill.load": DESERIALISE, "dill.loads": DESERIALISE, "cloudpickle.load": DESERIALISE,
    "cloudpickle.loads": DESERIALISE, "joblib.load": DESERIALISE, "pandas.read_pickle": DESERIALISE,
    "shelve.open": DESERIALISE, "jsonpickle.decode": DESERIALISE, "yaml.unsafe_load": DESERIALISE,
    "torch.serialization.load": DESERIALISE,
    "webbrowser.open": NETWORK, "webbrowser.open_new": NETWORK, "webbrowser.open_new_tab": NETWORK,
    "webbrowser.get": PROCESS,  # webbrowser.get('cmd %s') runs cmd
    "pydoc.pipepager": PROCESS, "pydoc.tempfilepager": PROCESS, "pydoc.pager": PROCESS, "pydoc.getpager": PROCESS,
    "imaplib.IMAP4_stream": PROCESS, "os.open": WRITE, "os.write": WRITE,
    "profile.run": CODE, "profile.runctx": CODE, "cProfile.run": CODE, "cProfile.runctx": CODE,
    "pdb.run": CODE, "pdb.runeval": CODE, "pdb.runctx": CODE, "pdb.runcall": CODE, "trace.Trace": CODE,
    "bdb.Bdb": CODE, "doctest.run_docstring_examples": CODE, "doctest.testmod": CODE,
    "logging.config.dictConfig": CODE, "logging.config.fileConfig": CODE, "logging.config.listen": CODE,
    "logging.FileHandler": WRITE, "logging.handlers.RotatingFileHandler": WRITE,
    "logging.handlers.TimedRotatingFileHandler": WRITE, "logging.handlers.WatchedFileHandler": WRITE,
    "logging.handlers.SocketHandler": NETWORK, "logging.handlers.DatagramHandler": NETWORK,
    "logging.handlers.HTTPHandler": NETWORK, "logging.handlers.SMTPHandler": NETWORK,
    "logging.handlers.SysLogHandler": NETWORK,
    "uuid._get_command_stdout": PROCESS, "ctypes.util.find_library": PROCESS, "distutils.spawn.spawn": PROCESS,
}

# Every call under these modules is reported (instances too: ``socket.socket().connect``).
WHOLE_MODULE: dict[str, tuple[Severity, str]] = {
    "subprocess": PROCESS, "_posixsubprocess": PROCESS, "pty": PROCESS, "asyncio.subprocess": PROCESS,
    "code": CODE, "codeop": CODE, "runpy": CODE, "timeit": (Severity.CRITICAL, "runs code given as a string"),
    "ctypes": NATIVE, "_ctypes": NATIVE, "cffi": NATIVE,
    "socket": NETWORK, "urllib.request": NETWORK, "urllib2": NETWORK, "http.client": NETWORK, "httplib": NETWORK,
    "requests": NETWORK, "httpx": NETWORK, "aiohttp": NETWORK, "ftplib": NETWORK, "smtplib": NETWORK,
    "telnetlib": NETWORK, "xmlrpc.client": NETWORK, "urllib3": NETWORK, "paramiko": NETWORK,
}
# Members of whole-module entries that are harmless (a clock is not code).
WHOLE_MODULE_EXCEPT = {"timeit.default_timer", "subprocess.PIPE", "subprocess.DEVNULL", "subprocess.STDOUT",
                       "socket.gethostname", "ctypes.sizeof", "code.__name__"}

# Deserialisers that are safe with one keyword: (keyword, the values that make them safe).
SAFE_WITH = {"torch.load": ("weights_only", (True,)), "numpy.load": ("allow_pickle", (False,)),
             "yaml.load": ("Loader", ("yaml.SafeLoader", "yaml.CSafeLoader", "yaml.BaseLoader", "yaml.CBaseLoader"))}
# ... and their default when the keyword is absent (torch 2.6+ defaults to weights_only=True, but the loading
# environment may be older; numpy defaults to allow_pickle=False since 1.16.3).
SAFE_BY_DEFAULT = {"numpy.load"}

# Modules where a member chosen at run time (``getattr(os, name)``) is itself a finding: most of what they
# hold is dangerous. Not torch or numpy, where ``getattr(torch, dtype_name)`` is ordinary.
COMPUTED_IS_DANGEROUS = {"os", "subprocess", "pty", "code", "runpy", "timeit", "ctypes", "marshal", "pickle",
                         "builtins", "importlib", "sys", "operator", "shutil", "socket", "dill", "asyncio",
                         "multiprocessing", "_posixsubprocess", "posix", "nt", "types", "io", "codecs"}

# Names a ``from M import *`` brings in, for the dangerous modules (their ``__all__`` intersected with the table).
STAR_EXPORTS: dict[str, tuple[str, ...]] = {
    "os": _OS_PROCESS + _OS_WRITE,
    "subprocess": ("run", "call", "Popen", "check_call", "check_output", "getoutput", "getstatusoutput"),
    "pty": ("spawn", "fork", "openpty"), "code": ("interact", "InteractiveConsole", "InteractiveInterpreter",
                                                 "compile_command"),
    "runpy": ("run_path", "run_module"), "timeit": ("timeit", "repeat", "Timer"),
    "shutil": ("rmtree", "move", "copy", "copy2", "copyfile", "copytree", "chown", "unpack_archive", "make_archive"),
    "socket": ("socket", "create_connection", "create_server", "socketpair", "fromfd"),
    "pickle": ("load", "loads", "Unpickler"), "marshal": ("load", "loads"), "ctypes": ("CDLL", "cdll", "PyDLL",
                                                                                    "pydll", "pythonapi", "memmove"),
    "urllib.request": ("urlopen", "urlretrieve", "Request", "build_opener"),
}

# Names whose call imports a module by name, and builtins that expose namespaces.
IMPORTERS = {"builtins.__import__", "importlib.import_module", "importlib.__import__"}
PATH_WRITE_METHODS = ("write_text", "write_bytes", "unlink", "rmdir", "touch", "symlink_to", "hardlink_to",
                      "chmod", "rename", "replace")


def classify(target: str) -> tuple[Severity, str] | None:
    """How bad a call to ``target`` (a resolved dotted name; ``()`` marks an instance) is; None if harmless."""
    if target in EXACT:
        return EXACT[target]
    plain = target.replace("()", "")
    if plain in EXACT and "()" not in target:
        return EXACT[plain]
    if plain in WHOLE_MODULE_EXCEPT:
        return None
    for module, verdict in WHOLE_MODULE.items():
        if plain.startswith(module + ".") or (plain == module and "()" in target):
            return verdict
    if target.startswith(("pathlib.Path().", "pathlib.PosixPath().", "pathlib.PurePath().")):
        if target.rsplit(".", 1)[1] in PATH_WRITE_METHODS:
            return WRITE
    return None


def dangerous_member_names() -> frozenset[str]:
    """Last parts of every dangerous name (``system``, ``popen``, ``eval``): what ``methodcaller`` must not name."""
    names = {t.rsplit(".", 1)[1] for t in EXACT}
    for exports in STAR_EXPORTS.values():
        names.update(exports)
    return frozenset(names)
