"""Chat templates (GGUF ``tokenizer.chat_template``, ``tokenizer_config.json``, ``chat_template.jinja``).

A template is parsed with Jinja's own parser (never rendered) and evaluated symbolically
(``template_check``): every attribute or item lookup whose name is, or may be built into, a dunder, private or
frame-walking name, every dunder variable, every attribute of a template global and every call of a
process, import or ``getattr``-like method is reported. Default deny: a name the checker cannot fold to a
literal is reported too. Jinja is imported only when a template is found, so other scans start fast.
"""

from __future__ import annotations

import re

from assay.scan._context import ScanContext
from assay.scan._findings import Severity

# In text Jinja cannot parse: tokens that would reach Python internals if another Jinja version parsed it.
_TOKEN_FALLBACK = re.compile(r"__\w+__|_TemplateReference|\|\s*attr\b|\battribute\s*=|\bmro\b|\bgi_frame\b|"
                             r"\bf_globals\b|\bfunc_globals\b|\bpopen\b|\bsubprocess\b|\bos\.system\b|__\w+|\w+__")
_DETAIL = ("rendered without a sandbox (llama-cpp-python < 0.2.72, CVE-2024-34359, and any plain "
           "jinja2.Environment) this reaches Python: module globals, builtins, os")
_MAX_REASONS = 6
_DEFAULT_STEPS = 200_000


class TemplateAnalysis:
    """What the checker found in one template (filled in as it checks)."""

    __slots__ = ("problems", "parse_error", "over_budget")

    def __init__(self) -> None:
        self.problems: dict[str, Severity] = {}
        """Each reason the template can reach Python internals, with how bad it is."""
        self.parse_error: str | None = None
        """Why Jinja's parser refused the template, or None."""
        self.over_budget: str | None = None
        """Set when the template needs more evaluation steps than allowed (then it was not fully checked)."""

    @property
    def reasons(self) -> list[str]:
        """Reasons, worst first."""
        return sorted(self.problems, key=lambda r: -self.problems[r])

    @property
    def severity(self) -> Severity | None:
        """The worst problem's severity, or None."""
        return max(self.problems.values(), default=None)


def analyse_template(source: str, max_steps: int = _DEFAULT_STEPS) -> TemplateAnalysis:
    """Parse ``source`` with Jinja's parser and evaluate it symbolically (never renders it)."""
    from jinja2 import Environment
    from jinja2.exceptions import TemplateError

    from assay.scan._formats.template_check import EXTENSIONS, BudgetExceeded, TemplateChecker

    result = TemplateAnalysis()
    try:
        tree = Environment(extensions=list(EXTENSIONS)).parse(source)
    except (TemplateError, RecursionError, MemoryError, ValueError, TypeError) as exc:
        result.parse_error = f"{type(exc).__name__}: {str(exc)[:200]}"
        hits = sorted(set(_TOKEN_FALLBACK.findall(source)))
        if hits:
            result.problems[f"does not parse with this Jinja but contains {', '.join(hits[:5])} "
                            "(another Jinja version may parse it)"] = Severity.HIGH
        return result
    checker = TemplateChecker(tree, max_steps)
    try:
        checker.run()
    except BudgetExceeded as exc:
        result.over_budget = str(exc)
    except RecursionError:
        checker.problems["nested too deeply to analyse"] = Severity.HIGH
    result.problems = checker.problems
    return result


def template_problems(source: str) -> tuple[list[str], str | None]:
    """(reasons the template reaches Python internals, worst first; parse error or None)."""
    analysis = analyse_template(source)
    reasons = analysis.reasons
    if analysis.over_budget:
        reasons.append(f"too complex to analyse ({analysis.over_budget})")
    return reasons, analysis.parse_error


def check_template(source: str, where: str, ctx: ScanContext, offset: int | None = None) -> None:
    """Report a chat template that reaches Python internals (or does not parse, or cannot be analysed)."""
    if len(source) > ctx.limits.max_source_bytes:
        ctx.error(f"{where}: template longer than max_source_bytes", "max_source_bytes", offset)
        return
    analysis = analyse_template(source, ctx.limits.max_template_steps)
    if analysis.severity is not None:
        reasons = analysis.reasons
        more = f" (and {len(reasons) - _MAX_REASONS} more)" if len(reasons) > _MAX_REASONS else ""
        ctx.add("AS431", analysis.severity,
                f"{where} reaches Python internals: {'; '.join(reasons[:_MAX_REASONS])}{more}", offset, _DETAIL)
    if analysis.over_budget:
        ctx.error(f"{where}: template too complex to analyse: {analysis.over_budget}", "max_template_steps", offset)
    if analysis.parse_error:
        ctx.add("AS432", Severity.LOW, f"{where} does not parse as Jinja: {analysis.parse_error}", offset)
