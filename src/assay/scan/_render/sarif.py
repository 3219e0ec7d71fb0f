"""SARIF 2.1.0 output: every rule with help text; results located by file, archive member and byte offset."""

from __future__ import annotations

import os
from pathlib import PurePath
from urllib.parse import quote

from assay.scan._findings import Location, ScanReport, Severity
from assay.scan._render.interface import Renderer, json_text
from assay.scan._rules import RULES

_LEVEL = {Severity.CRITICAL: "error", Severity.HIGH: "error", Severity.MEDIUM: "warning", Severity.LOW: "note",
          Severity.INFO: "note"}
_SECURITY_SEVERITY = {Severity.CRITICAL: "9.5", Severity.HIGH: "8.0", Severity.MEDIUM: "5.0", Severity.LOW: "2.0",
                      Severity.INFO: "0.0"}


def _uri(path: str) -> str:
    return quote(os.fsencode(PurePath(path).as_posix()), safe="/:")  # bytes: a non-UTF-8 name stays exact


def _location(loc: Location) -> dict[str, object]:
    physical: dict[str, object] = {"artifactLocation": {"uri": _uri(loc.path)}}
    if loc.offset is not None and loc.member is None:
        physical["region"] = {"byteOffset": loc.offset}
    out: dict[str, object] = {"physicalLocation": physical}
    if loc.member is not None:
        member: dict[str, object] = {"fullyQualifiedName": f"{loc.path}!{loc.member}", "name": loc.member, "kind": "member"}
        out["logicalLocations"] = [member]
        if loc.offset is not None:
            out["properties"] = {"memberByteOffset": loc.offset}
    return out


class SarifRenderer(Renderer):
    """SARIF 2.1.0 (validated against the OASIS schema in the tests)."""

    def render(self, report: ScanReport, *, color: bool = False) -> str:
        rule_ids = list(RULES)
        rules = [{
            "id": r.id, "name": r.name,
            "shortDescription": {"text": r.summary},
            "fullDescription": {"text": r.help or r.summary},
            "help": {"text": r.help or r.summary, "markdown": f"**{r.summary}**\n\n{r.help}".strip()},
        } for r in RULES.values()]
        results = []
        for finding in report.findings:
            result: dict[str, object] = {
                "ruleId": finding.rule,
                "ruleIndex": rule_ids.index(finding.rule),
                "level": _LEVEL[finding.severity],
                "message": {"text": finding.message + (f" [{finding.detail}]" if finding.detail else "")},
                "locations": [_location(finding.location)],
                "properties": {"severity": finding.severity.label,
                               "security-severity": _SECURITY_SEVERITY[finding.severity]},
            }
            results.append(result)
        notifications = [{
            "level": "error",
            "message": {"text": e.message},
            "locations": [_location(e.location)],
            **({"properties": {"limit": e.limit}} if e.limit else {}),
        } for e in report.all_errors]
        doc = {
            "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
            "version": "2.1.0",
            "runs": [{
                "tool": {"driver": {"name": "assay", "version": report.tool_version or "0", "rules": rules}},
                "invocations": [{"executionSuccessful": not report.all_errors,
                                 "exitCode": report.exit_code,
                                 "toolExecutionNotifications": notifications}],
                "results": results,
            }],
        }
        return json_text(doc)
