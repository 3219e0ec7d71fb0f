"""The one interface every format scanner implements."""

from __future__ import annotations

from abc import ABC, abstractmethod

from assay.scan._context import ScanContext
from assay.scan._source import Blob

TYPE_CHECKING = False  # importing typing costs start-up time
if TYPE_CHECKING:
    from typing import ClassVar


class FormatScanner(ABC):
    """Scans one format. ``formats`` are the sniff ids (see ``assay.scan._sniff``) it handles."""

    formats: ClassVar[tuple[str, ...]]

    @abstractmethod
    def scan(self, blob: Blob, name: str, ctx: ScanContext) -> bool:
        """Report findings for ``blob`` through ``ctx``; return False if the content is not this format."""
