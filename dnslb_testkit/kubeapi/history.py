"""One kind's retained changes, the window its watches can resume from (apiserver keeps one per resource in
its watch cache, so a busy kind never expires the watchers of a quiet one)."""

from __future__ import annotations

import bisect
from typing import TYPE_CHECKING

from dnslb_testkit.kubeapi.errors import expired

if TYPE_CHECKING:
    from dnslb_testkit.kubeapi.store import Change


class KindHistory:
    def __init__(self, limit: int, compacted_rv: int) -> None:
        self._limit = max(1, limit)
        self._changes: list[Change] = []
        self._start = 0  # entries before this index are forgotten (deleted in batches, not one by one)
        self.compacted_rv = compacted_rv  # this kind's changes at or below this revision are forgotten

    def append(self, change: Change) -> None:
        self._changes.append(change)
        if len(self._changes) - self._start > self._limit:
            self.compacted_rv = self._changes[self._start].rv
            self._start += 1
            if self._start > len(self._changes) // 2:
                del self._changes[: self._start]
                self._start = 0

    def forget(self, rv: int) -> None:
        """Forget every change up to revision `rv` (all of them, as `compact()` does)."""
        self._changes.clear()
        self._start = 0
        self.compacted_rv = max(self.compacted_rv, rv)

    def check_not_expired(self, rv: int) -> None:
        if rv < self.compacted_rv:
            raise expired(f"too old resource version: {rv} ({self.compacted_rv + 1})")

    def after(self, rv: int) -> list[Change]:
        """The retained changes after revision `rv`, oldest first; 410 Expired if some were forgotten."""
        self.check_not_expired(rv)
        index = bisect.bisect_right(self._changes, rv, lo=self._start, key=lambda change: change.rv)
        return self._changes[index:]
