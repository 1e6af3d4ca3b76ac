"""A bounded log of exited processes, newest first, that never loses count."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator

from procscope.model.records import ExitedProcess

__all__ = ["ExitLog"]


class ExitLog:
    """Keeps the newest ``capacity`` exits and counts everything it could not keep.

    * ``lost``: records the *source* reported missing (a full kernel ring, a netlink
      ENOBUFS). They were never seen.
    * ``evicted``: records that were seen but pushed out of this log by newer ones.

    ``seen + lost`` is every exit the source knew happened.
    """

    def __init__(self, capacity: int = 10_000) -> None:
        if capacity <= 0:
            raise ValueError(f"exit log capacity must be positive, not {capacity}")
        self._records: deque[ExitedProcess] = deque(maxlen=capacity)
        self.seen = 0
        self.lost = 0
        self.evicted = 0

    @property
    def capacity(self) -> int:
        return self._records.maxlen or 0

    def extend(self, records: Iterable[ExitedProcess], lost: int = 0) -> None:
        """Add records in the order the source gave them (oldest first)."""
        if lost < 0:
            raise ValueError(f"a lost count cannot be negative: {lost}")
        self.lost += lost
        cap = self.capacity
        for rec in records:
            if len(self._records) == cap:
                self.evicted += 1
            self._records.appendleft(rec)
            self.seen += 1

    def clear(self) -> None:
        """Forget the records, keep the counts."""
        self.evicted += len(self._records)
        self._records.clear()

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[ExitedProcess]:
        """Newest first."""
        return iter(self._records)

    def newest(self, n: int) -> list[ExitedProcess]:
        out = []
        for rec in self._records:
            if len(out) >= n:
                break
            out.append(rec)
        return out
