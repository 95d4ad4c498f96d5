"""What every check receives, and how a check turns a JSON path into a finding."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from ..findings import Finding, finding_at
from ..model import Workflow
from ..source import JsonPath, SourceMap

__all__ = ["Check", "CheckContext"]


@dataclass(frozen=True, slots=True)
class CheckContext:
    """One compiled workflow, where its nodes are, and the file it came from."""

    workflow: Workflow
    source_map: SourceMap
    file: str | None = None

    def finding(
        self,
        code: str,
        message: str,
        path: JsonPath,
        *,
        key: bool = False,
        suggestion: str | None = None,
    ) -> Finding:
        """A finding with the code's default severity at ``path`` (its key with ``key=True``).

        A path the source map does not hold (a missing key) points at its
        nearest existing ancestor, so the finding still lands on a line.
        """
        return finding_at(
            self.source_map, self.file, code, message, path, key=key, suggestion=suggestion
        )


#: A check: one concern, every finding about it, in any order.
Check = Callable[[CheckContext], Iterator[Finding]]
