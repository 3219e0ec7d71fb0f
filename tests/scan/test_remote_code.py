"""Remote code: configs that name Python code (any key) block, with what the code calls; shipped Python is read
symbolically (aliases, getattr, folded strings, star imports ...). Each malicious module is proven to reach its
payload by importing it in the loader oracle (a sandboxed child with an audit hook; payload ``echo assay-test``)."""

from __future__ import annotations

import json
import marshal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import assay
from assay.scan._findings import Severity
from assay.scan._formats.python_source import analyse_python
from assay.scan._formats.remote_code import find_code_refs
from tests.scan.oracle import run_loader

ECHO = "'echo assay-test'"
RUN = f"__import__('os').system({ECHO})"
_MARSHALLED = marshal.dumps(compile(RUN, "payload", "exec"))
_PICKLED = b"cos\nsystem\n(S'echo assay-test'\ntR."

# name -> (module source, the resolved call the finding must name, its severity)
BYPASSES: dict[str, tuple[str, str, Severity]] = {
    "getattr_concat": (f"import os\ngetattr(os, 'sys' + 'tem')({ECHO})\n", "os.system", Severity.CRITICAL),
    "getattr_augassign": (f"import os\nn = 'sys'\nn += 'tem'\ngetattr(os, n)({ECHO})\n", "os.system", Severity.CRITICAL),
    "getattr_fstring": (f"import os\na = 'sys'\ngetattr(os, f'{{a}}tem')({ECHO})\n", "os.system", Severity.CRITICAL),
    "getattr_percent_format": (f"import os\ngetattr(os, '%stem' % 'sys')({ECHO})\ngetattr(os, '{{}}tem'.format('sys'))"
                               f"({ECHO})\n", "os.system", Severity.CRITICAL),
    "getattr_join_reversed": (f"import os\ngetattr(os, ''.join(['m', 'e', 't', 's', 'y', 's'])[::-1])({ECHO})\n",
                              "os.system", Severity.CRITICAL),
    "getattr_chr_bytes": (f"import os\ngetattr(os, ''.join(map(chr, [115, 121, 115, 116, 101, 109])))({ECHO})\n"
                          f"getattr(os, bytes([115, 121, 115, 116, 101, 109]).decode())({ECHO})\n", "os.system",
                          Severity.CRITICAL),
    "getattr_base64": (f"import os, base64\ngetattr(os, base64.b64decode('c3lzdGVt').decode())({ECHO})\n",
                       "os.system", Severity.CRITICAL),
    "timeit_string": (f"import timeit\ntimeit.timeit({RUN!r}, number=1)\n", "timeit.timeit", Severity.CRITICAL),
    "os_spawnlp": ("import os\nos.spawnlp(os.P_WAIT, 'echo', 'echo', 'assay-test')\n", "os.spawnlp", Severity.CRITICAL),
    "os_posix_spawnp": ("import os\nos.posix_spawnp('echo', ['echo', 'assay-test'], dict(os.environ))\n",
                        "os.posix_spawnp", Severity.CRITICAL),
    "importlib_dunder_import": (f"import importlib\nimportlib.__import__('os').system({ECHO})\n", "os.system",
                                Severity.CRITICAL),
    "builtins_dict_exec": (f"import builtins\nbuiltins.__dict__['exec']({RUN!r})\n", "exec", Severity.CRITICAL),
    "eval_alias": (f"e = eval\ne({RUN!r})\n", "eval", Severity.CRITICAL),
    "dunder_import_concat": (f"__import__('o' + 's').system({ECHO})\n", "os.system", Severity.CRITICAL),
    "exec_compile": (f"exec(compile({RUN!r}, 'x', 'exec'))\n", "exec", Severity.CRITICAL),
    "pty_spawn": ("import pty\npty.spawn(['echo', 'assay-test'])\n", "pty.spawn", Severity.CRITICAL),
    "ctypes_libc": (f"import ctypes\nctypes.CDLL(None).system(b{ECHO})\n", "ctypes.CDLL", Severity.CRITICAL),
    "code_runsource": (f"import code\ncode.InteractiveInterpreter().runsource({RUN!r})\n", "code.InteractiveInterpreter",
                       Severity.CRITICAL),
    "runpy_run_path": ("import os, runpy\nrunpy.run_path(os.path.join(os.path.dirname(__file__), 'payload_helper.py'))\n",
                       "runpy.run_path", Severity.CRITICAL),
    "pickle_loads": (f"import pickle\npickle.loads({_PICKLED!r})\n", "pickle.loads", Severity.HIGH),
    "marshal_exec": (f"import marshal\nexec(marshal.loads({_MARSHALLED!r}))\n", "exec", Severity.CRITICAL),
    "subprocess_star": ("from subprocess import *\ncall(['echo', 'assay-test'])\n", "subprocess.call", Severity.CRITICAL),
    "sys_modules": (f"import sys, os\nsys.modules['os'].system({ECHO})\n", "os.system", Severity.CRITICAL),
    "vars_module": (f"import os\nvars(os)['system']({ECHO})\n", "os.system", Severity.CRITICAL),
    "globals_builtins": (f"globals()['__builtins__']['ev' + 'al']({RUN!r})\n", "eval", Severity.CRITICAL),
    "methodcaller": (f"import operator, os\noperator.methodcaller('system', {ECHO})(os)\n", "os.system",
                     Severity.CRITICAL),
    "decorator": (f"import os\n@(lambda f: (os.system({ECHO}), f)[1])\nclass Model:\n    pass\n", "os.system",
                  Severity.CRITICAL),
    "class_body": (f"import os as o\nclass Model:\n    o.system({ECHO})\n", "os.system", Severity.CRITICAL),
    "passed_as_callable": (f"import os, threading\nt = threading.Thread(target=os.system, args=({ECHO},))\nt.start()\n"
                           "t.join()\n", "os.system", Severity.CRITICAL),
    "posix_alias": (f"import posix\nposix.system({ECHO})\n", "os.system", Severity.CRITICAL),
    "utf7_cookie": (f"# -*- coding: utf-7 -*-\n# +AAo-{RUN}\n", "os.system", Severity.CRITICAL),
    "computed_name": (f"import os\nn = str.join('', ['sys', 'tem'])\ngetattr(os, n)({ECHO})\n", "os.<computed>",
                      Severity.HIGH),
    # found by red-teaming: standard-library helpers that start a process or run code given to them
    "pydoc_pipepager": ("import pydoc\npydoc.pipepager('x', 'echo assay-test')\n", "pydoc.pipepager", Severity.CRITICAL),
    "cprofile_run": (f"import cProfile\ncProfile.run({RUN!r})\n", "cProfile.run", Severity.CRITICAL),
}


def _model_folder(root: Path, name: str, source: str) -> Path:
    folder = root / name
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"model_type": "x", "auto_map": {"AutoModel": "modeling_x.Model"}}))
    (folder / "modeling_x.py").write_bytes(source.encode())  # ASCII: the utf-7 case decodes "+AAo-" as a newline
    if "payload_helper" in source:
        (folder / "payload_helper.py").write_text(RUN + "\n")
    return folder


def _hits(report: assay.ScanReport, rule: str, file: str, word: str) -> list:
    return [f for r in report.files if r.path.endswith(file) for f in r.findings if f.rule == rule and word in f.message]


@pytest.mark.parametrize("name", sorted(BYPASSES))
def test_bypass_is_caught_in_the_file_and_in_the_config(tmp_path: Path, name: str) -> None:
    source, target, severity = BYPASSES[name]
    folder = _model_folder(tmp_path, name, source)
    report = assay.scan(folder)
    assert report.exit_code == 1
    calls = _hits(report, "AS452", "modeling_x.py", target)
    assert calls and max(f.severity for f in calls) == severity, [f.message for r in report.files for f in r.findings]
    assert "line " in calls[0].message
    named = _hits(report, "AS454", "config.json", "modeling_x.py")
    assert named and named[0].severity >= Severity.HIGH and target in named[0].message


@pytest.mark.parametrize("name", sorted(BYPASSES))
def test_bypass_really_runs_its_payload_when_imported(tmp_path: Path, name: str) -> None:
    folder = _model_folder(tmp_path, name, BYPASSES[name][0])
    result = run_loader("python", folder / "modeling_x.py", timeout=60)
    assert result.fired, result


def _scan_folder(tmp_path: Path, files: dict[str, str]) -> assay.ScanReport:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return assay.scan(tmp_path)


EVIL = f"import os\nos.system({ECHO})\n"


@pytest.mark.parametrize("config_name,doc,code_file", [
    ("config.json", {"custom_pipelines": {"evil-task": {"impl": "evil_pipe.EvilPipeline", "pt": ["AutoModel"],
                                                        "tf": []}}}, "evil_pipe.py"),
    ("model_index.json", {"_class_name": "StableDiffusionPipeline", "_diffusers_version": "0.30.0",
                          "scheduler": ["diffusers", "PNDMScheduler"], "unet": ["my_unet", "MyUNet"]}, "unet/my_unet.py"),
    ("model_index.json", {"_class_name": ["pipeline_evil", "EvilPipeline"], "_diffusers_version": "0.30.0"},
     "pipeline_evil.py"),
    ("tokenizer_config.json", {"tokenizer_class": "tokenization_evil.EvilTokenizer"}, "tokenization_evil.py"),
    ("modules.json", [{"idx": 0, "name": "0", "path": "", "type": "evil_module.EvilModule"}], "evil_module.py"),
    ("generation_config.json", {"do_sample": True, "custom": {"hook": "hooks/generate_hook.py"}}, "hooks/generate_hook.py"),
    ("preprocessor_config.json", {"auto_map": {"AutoImageProcessor": "image_proc.Proc"}}, "image_proc.py"),
])
def test_any_config_key_that_names_code_blocks(tmp_path: Path, config_name: str, doc: object, code_file: str) -> None:
    report = _scan_folder(tmp_path, {config_name: json.dumps(doc), code_file: EVIL})
    assert report.exit_code == 1
    named = _hits(report, "AS454", config_name, code_file)
    assert named and named[0].severity == Severity.CRITICAL and "os.system (line 2" in named[0].message


def test_code_from_another_repository_is_high_and_says_so(tmp_path: Path) -> None:
    report = _scan_folder(tmp_path, {"config.json": json.dumps({"auto_map": {"AutoModel": "evil/repo--modeling.M"}})})
    assert report.exit_code == 1
    named = _hits(report, "AS454", "config.json", "another repository evil/repo")
    assert named and named[0].severity == Severity.HIGH


def test_named_code_that_is_missing_or_benign_still_blocks(tmp_path: Path) -> None:
    doc = {"auto_map": {"AutoConfig": "configuration_x.XConfig", "AutoModel": "modeling_x.XModel"}}
    report = _scan_folder(tmp_path, {"config.json": json.dumps(doc), "modeling_x.py": "import torch\nclass XModel: pass\n"})
    assert report.exit_code == 1
    assert _hits(report, "AS454", "config.json", "configuration_x.py")[0].severity == Severity.HIGH
    assert "not in this folder" in _hits(report, "AS454", "config.json", "configuration_x.py")[0].message
    assert "calls nothing" in _hits(report, "AS454", "config.json", "modeling_x.py")[0].message


def test_relative_imports_of_the_named_module_are_summarised(tmp_path: Path) -> None:
    files = {"config.json": json.dumps({"auto_map": {"AutoModel": "modeling_x.XModel"}}),
             "modeling_x.py": "from .helpers import thing\nclass XModel: pass\n", "helpers.py": "thing = 1\n" + EVIL}
    named = _hits(_scan_folder(tmp_path, files), "AS454", "config.json", "modeling_x.py")
    assert named[0].severity == Severity.CRITICAL and "helpers.py line 3" in named[0].message


BENIGN_MODULE = '''
import logging, math, os, warnings, importlib
from typing import Optional
import numpy as np
import torch
from torch import nn
from .configuration_x import XConfig

logger = logging.getLogger(__name__)
CACHE = os.environ.get("X_CACHE", os.path.join(os.path.expanduser("~"), ".cache"))
try:
    flash = importlib.import_module("flash_attn")
except ImportError:
    flash = None


class XModel(nn.Module):
    def __init__(self, config: XConfig):
        super().__init__()
        self.dtype_ = getattr(torch, config.torch_dtype)
        self.act = getattr(nn, config.activation)()
        warnings.warn("experimental")
        with open(os.path.join(config.path, "vocab.txt"), encoding="utf-8") as fh:
            self.vocab = fh.read().split()
        self.extra = torch.load(config.extra, weights_only=True)
        self.table = np.load(config.table)
        self.eval()

    def forward(self, x: torch.Tensor, mask: Optional[torch.Tensor] = None) -> torch.Tensor:
        return self.act(x) * math.sqrt(x.shape[-1])
'''


def test_benign_remote_code_style_module_has_no_medium_findings() -> None:
    analysis = analyse_python(BENIGN_MODULE.encode())
    assert analysis.error is None
    assert [g.message() for g in analysis.calls if g.severity >= Severity.MEDIUM] == []
    assert analysis.relative_imports == ("configuration_x",)


def _transformers_models() -> Path:
    transformers = pytest.importorskip("transformers", reason="transformers is not installed (add it to the test extra)")
    return Path(transformers.__file__).parent / "models"


@pytest.mark.parametrize("relative", ["llama/modeling_llama.py", "bert/modeling_bert.py", "llama/configuration_llama.py",
                                      "bert/configuration_bert.py", "gpt2/modeling_gpt2.py", "t5/modeling_t5.py",
                                      "mistral/modeling_mistral.py", "qwen2/configuration_qwen2.py"])
def test_real_transformers_modeling_code_has_no_medium_findings(relative: str) -> None:
    path = _transformers_models() / relative
    if not path.exists():
        pytest.skip(f"{relative} is not in this transformers version")
    analysis = analyse_python(path.read_bytes(), str(path))
    assert analysis.error is None
    assert [g.message() for g in analysis.calls if g.severity >= Severity.MEDIUM] == []


def test_real_model_configs_name_no_code(minilm_dir: Path) -> None:
    report = assay.scan(minilm_dir)
    assert not [f for r in report.files for f in r.findings if f.rule in ("AS451", "AS454")]


def test_ordinary_config_strings_are_not_code(tmp_path: Path) -> None:
    doc = {"architectures": ["LlamaForCausalLM"], "transformers_version": "4.40.0", "torch_dtype": "bfloat16",
           "rope_scaling": {"type": "linear", "factor": 2.0}, "tokenizer_class": "LlamaTokenizer",
           "_name_or_path": "meta-llama/Llama-2-7b-hf", "quantization_config": {"quant_method": "bitsandbytes"}}
    assert find_code_refs(doc) == [] or all(not r.explicit for r in find_code_refs(doc))
    report = _scan_folder(tmp_path, {"config.json": json.dumps(doc)})
    assert report.exit_code == 0 and not report.files[0].findings


_FRAGMENTS = ["import os", "from subprocess import *", "x = 'sys'", "x += 'tem'", "getattr(os, x)('y')", "e = eval",
              "e(x)", "vars(os)[x]", "sys.modules[x]", "__import__(x)", "y = x[::-1]", "z = ''.join(map(chr, [1, 2]))",
              "class A:\n    pass", "@e\ndef f(a=os.system):\n    return a", "(a := getattr)(os, x)", "for q in (eval,): q(x)",
              "'%s' % x", "f'{x}{y}'", "'{}'.format(x, y)", "bytes([1, 2, 3]).decode()", "x * 99999", "'a' * 10 ** 9",
              "operator.methodcaller(x)", "globals()[x]", "open(x, y)", "a, b = eval, exec", "y = -1", "del x"]


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(_FRAGMENTS), max_size=12), st.text(max_size=200))
def test_fuzz_python_analysis_never_crashes(fragments: list[str], noise: str) -> None:
    analyse_python("\n".join(fragments).encode())
    analyse_python(noise.encode("utf-8", "surrogatepass"))


_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=30) |
                     st.sampled_from(["a.B", "x--y.Z", "m.py", "o/r--m.C", "diffusers", "auto_map", "impl"]),
                     lambda children: st.lists(children, max_size=4) | st.dictionaries(
                         st.sampled_from(["auto_map", "impl", "_class_name", "type", "unet", "k"]), children, max_size=4),
                     max_leaves=30)


@settings(max_examples=150, deadline=None)
@given(_JSON)
def test_fuzz_config_walk_never_crashes(doc: object) -> None:
    for ref in find_code_refs(doc):
        assert ref.files


def test_decoy_assignments_cannot_push_the_real_value_out(tmp_path: Path) -> None:
    decoys = "".join(f"n = 'decoy{i}'\ne = print\n" for i in range(12))
    source = f"import os\n{decoys}n = 'system'\ne = eval\ngetattr(os, n)({ECHO})\ne('1')\n"
    report = _scan_folder(tmp_path, {"modeling_x.py": source})
    messages = [f.message for f in report.files[0].findings if f.severity >= Severity.HIGH]
    assert any("os.<computed>" in m or "os.system" in m for m in messages), messages
    assert any(m.startswith(f"line {source.count(chr(10))}: eval()") for m in messages), messages


def test_source_assay_cannot_parse_blocks(tmp_path: Path) -> None:
    # Python 3.12 syntax (quotes reused inside an f-string) hides the call from a 3.11 parser.
    source = 'import os\nx = f"{"a"}"\nos.system("echo assay-test")\n'
    report = _scan_folder(tmp_path, {"modeling_x.py": source})
    import sys

    if sys.version_info >= (3, 12):
        assert _hits(report, "AS452", "modeling_x.py", "os.system")
    else:
        assert report.exit_code == 1 and _hits(report, "AS453", "modeling_x.py", "cannot analyse")[0].severity == Severity.HIGH


def test_python_node_limit_is_a_scan_error(tmp_path: Path) -> None:
    from assay.scan._limits import ScanLimits

    (tmp_path / "modeling_x.py").write_text("x = 1\n" * 200)
    report = assay.scan(tmp_path, limits=ScanLimits().with_values({"max_python_nodes": 100}))
    assert report.exit_code == 2 and "max_python_nodes" in str(report.files[0].errors[0])


TOKENIZER = '''
import os
from shutil import copyfile


class XTokenizer:
    def __init__(self, vocab_file):
        with open(vocab_file, encoding="utf-8") as fh:
            self.vocab = fh.read().split()
        {init_extra}

    def save_vocabulary(self, save_directory, filename_prefix=None):
        path = os.path.join(save_directory, "vocab.txt")
        with open(path, "w", encoding="utf-8") as fh:
            fh.write("\\n".join(self.vocab))
        copyfile(self.vocab_file, path + ".bak")
        return (path,)
'''


def test_writes_in_an_uncalled_save_method_are_low_but_high_when_called() -> None:
    saved = analyse_python(TOKENIZER.format(init_extra="pass").encode())
    assert [g.target for g in saved.calls if g.severity >= Severity.MEDIUM] == []
    assert {g.target for g in saved.calls} == {"open", "shutil.copyfile"}
    called = analyse_python(TOKENIZER.format(init_extra="self.save_vocabulary('/tmp')").encode())
    assert {g.target for g in called.calls if g.severity >= Severity.HIGH} == {"open", "shutil.copyfile"}


def test_source_that_starts_like_a_compressed_stream_is_still_python(tmp_path: Path) -> None:
    # b"x " is a valid zlib header: the name must still make it Python.
    report = _scan_folder(tmp_path, {"modeling_x.py": "x = 1\n" + EVIL})
    assert report.exit_code == 1 and _hits(report, "AS452", "modeling_x.py", "os.system")


@pytest.mark.parametrize("source", [
    'import logging.config\nlogging.config.dictConfig({"version": 1, "handlers": {"h": {"()": "os.system", '
    '"command": "echo assay-test"}}})\n',
    'from logging import config\nconfig.fileConfig("logging.ini")\n',
])
def test_logging_configuration_that_resolves_strings_to_callables_blocks(tmp_path: Path, source: str) -> None:
    folder = _model_folder(tmp_path, "logcfg", source)
    report = assay.scan(folder)
    assert report.exit_code == 1
    assert any(f.rule == "AS452" and f.severity >= Severity.CRITICAL for r in report.files for f in r.findings)
