"""Value types of a scan: severities, findings, per-file reports and the whole report.

Everything here is a frozen ``Record`` (``assay.scan._record``) that turns into plain JSON with ``to_dict``; the JSON schema version is ``SCHEMA_VERSION`` and is
documented in docs/scan.md.
"""

from __future__ import annotations

import enum

from assay.scan._record import Record

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

SCHEMA_VERSION = "1.0"


class Severity(enum.IntEnum):
    """How bad a finding is. Ordered, so ``finding.severity >= Severity.HIGH`` reads naturally."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        """Parse a severity name case-insensitively; raise ValueError naming the choices."""
        try:
            return cls[text.strip().upper()]
        except KeyError:
            choices = ", ".join(s.name.lower() for s in cls)
            raise ValueError(f"unknown severity {text!r} (choose from {choices})") from None

    @property
    def label(self) -> str:
        """Lower-case name, as written in reports."""
        return self.name.lower()


class Location(Record):
    """Where a finding is: the path given by the user, the member chain inside archives, a byte offset.

    ``member`` joins nested archive members with ``!`` (``outer.zip!inner.tar!model/data.pkl``).
    ``offset`` is relative to the start of the innermost member (or the file when there is none).
    """

    path: str
    member: str | None = None
    offset: int | None = None

    def __str__(self) -> str:
        text = self.path if self.member is None else f"{self.path}!{self.member}"
        return text if self.offset is None else f"{text}@{self.offset}"

    def at(self, offset: int | None) -> Location:
        """The same place at another byte offset."""
        return Location(self.path, self.member, offset)

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"path": self.path, "member": self.member, "offset": self.offset}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Location:
        """The inverse of ``to_dict``."""
        return cls(data["path"], data["member"], data["offset"])


class Finding(Record):
    """One thing the scanner found. ``rule`` is a stable id from ``assay.scan._rules``."""

    rule: str
    severity: Severity
    message: str
    location: Location
    detail: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "rule": self.rule,
            "severity": self.severity.label,
            "message": self.message,
            "location": self.location.to_dict(),
            "detail": self.detail,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Finding:
        """The inverse of ``to_dict``."""
        return cls(data["rule"], Severity.parse(data["severity"]), data["message"],
                   Location.from_dict(data["location"]), data["detail"])


class ScanError(Record):
    """A file, or part of one, that could not be scanned (unreadable, or a named limit was hit)."""

    location: Location
    message: str
    limit: str | None = None

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"location": self.location.to_dict(), "message": self.message, "limit": self.limit}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ScanError:
        """The inverse of ``to_dict``."""
        return cls(Location.from_dict(data["location"]), data["message"], data["limit"])


class FileReport(Record):
    """The result for one file the user named or that a folder walk found."""

    path: str
    formats: tuple[str, ...]
    size: int
    findings: tuple[Finding, ...]
    errors: tuple[ScanError, ...]

    @property
    def worst(self) -> Severity | None:
        """The highest severity among the findings, or None when there are none."""
        return max((f.severity for f in self.findings), default=None)

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {
            "path": self.path,
            "formats": list(self.formats),
            "size": self.size,
            "findings": [f.to_dict() for f in self.findings],
            "errors": [e.to_dict() for e in self.errors],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FileReport:
        """The inverse of ``to_dict``."""
        return cls(data["path"], tuple(data["formats"]), data["size"],
                   tuple(Finding.from_dict(f) for f in data["findings"]),
                   tuple(ScanError.from_dict(e) for e in data["errors"]))


class ScanReport(Record):
    """The result of one ``assay.scan`` call over one or more paths."""

    files: tuple[FileReport, ...]
    fail_on: Severity = Severity.HIGH
    strict: bool = False
    tool_version: str = ""
    errors: tuple[ScanError, ...] = ()

    @property
    def findings(self) -> tuple[Finding, ...]:
        """Every finding of every file, in scan order."""
        return tuple(f for report in self.files for f in report.findings)

    @property
    def all_errors(self) -> tuple[ScanError, ...]:
        """Every error: those of the files and those about the paths themselves."""
        return self.errors + tuple(e for report in self.files for e in report.errors)

    @property
    def blocking(self) -> tuple[Finding, ...]:
        """Findings at or above the fail-on level."""
        return tuple(f for f in self.findings if f.severity >= self.fail_on)

    @property
    def exit_code(self) -> int:
        """0 clean, 1 findings at or above ``fail_on``, 2 something could not be scanned."""
        if self.blocking:
            return 1
        return 2 if self.all_errors else 0

    def to_dict(self) -> dict[str, object]:
        """JSON form (schema ``SCHEMA_VERSION``)."""
        counts = {s.label: 0 for s in reversed(Severity)}
        for f in self.findings:
            counts[f.severity.label] += 1
        return {
            "schema": f"assay.scan/{SCHEMA_VERSION}",
            "tool": {"name": "assay", "version": self.tool_version},
            "fail_on": self.fail_on.label,
            "strict": self.strict,
            "exit_code": self.exit_code,
            "summary": {
                "files": len(self.files),
                "findings": counts,
                "errors": len(self.all_errors),
            },
            "files": [r.to_dict() for r in self.files],
            "errors": [e.to_dict() for e in self.errors],
        }
