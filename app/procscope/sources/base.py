"""The one interface every source implements. No Qt here.

A source is opened, read any number of times, and closed::

    with open_source("auto") as src:      # see procscope.sources.open_source
        snap = src.read()

``read()`` returns a :class:`~procscope.model.records.Snapshot`. Its ``exited``
holds only what is new since the previous ``read()``, and ``lost`` counts what the
source knows it missed in that span.

Errors, and only these, cross the interface:

* :class:`SourceUnavailable` from ``open()`` (or the constructor): this source
  cannot work here. The message says why and, where there is one, what to do.
* :class:`SourceGone` from ``read()``: the source worked and has stopped for good
  (the module was unloaded, the recording ended). The caller falls back to
  another source. A process that vanishes mid-read is *not* an error: the source
  skips it.
* :class:`ParseError` (a ``ValueError``): input that breaks the format. It names
  the file, the line and what was wrong.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import ClassVar

from procscope.model.records import Snapshot

__all__ = ["ParseError", "Source", "SourceError", "SourceGone", "SourceUnavailable"]


class SourceError(Exception):
    """Base of the errors a source raises."""


class SourceUnavailable(SourceError):
    """The source cannot be used on this machine; ``str(exc)`` says why."""


class SourceGone(SourceError):
    """The source stopped for good mid-run (e.g. the module was unloaded)."""


class ParseError(SourceError, ValueError):
    """Input that breaks the format, with where and what."""

    def __init__(self, path: str, line: int | None, problem: str) -> None:
        self.path = path
        self.line = line
        self.problem = problem
        where = f"{path}:{line}" if line is not None else path
        super().__init__(f"{where}: {problem}")


class Source(ABC):
    """A producer of snapshots. Not thread-safe: one reader at a time."""

    #: Short name, as given to ``--source`` (``lkm``, ``netlink``, ``proc``, ...).
    kind: ClassVar[str] = ""
    #: What this source can and cannot see, one sentence each, for the UI and docs.
    sees: ClassVar[str] = ""
    cannot_see: ClassVar[str] = ""
    #: Whether ``Snapshot.exited`` can ever be non-empty.
    has_exit_log: ClassVar[bool] = False

    #: Why this source was chosen (set by ``auto``), shown in the status bar.
    reason: str = ""
    #: What ``auto`` tried before this one and why each was refused, in full.
    refusals: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The spec that reopens this source, e.g. ``dir:/tmp/capture``."""
        return self.kind

    def open(self) -> None:  # noqa: B027 - optional hook
        """Acquire resources. Raises :class:`SourceUnavailable`."""

    @abstractmethod
    def read(self) -> Snapshot:
        """Take one snapshot. Raises :class:`SourceGone` if the source has died."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources. Safe to call twice."""

    def __enter__(self) -> Source:
        self.open()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
