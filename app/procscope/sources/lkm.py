"""The ``lkm`` source (the kernel module's ``/proc/procscope/``) and ``dir:`` (a copy).

Both read the same four files with the parsers in :mod:`procscope.sources.abi`:

* ``version``, checked once at ``open()``: an ABI this reader does not know is
  refused with :class:`SourceUnavailable` naming both versions.
* ``counters`` and ``processes``, read whole at every ``read()``.
* ``exits``, kept open: each ``read()`` reads on from where the previous one
  stopped, in a loop until the end, so every record arrives exactly once. The
  module's file offset *is* the sequence number; ``lost N`` lines are added to
  ``Snapshot.lost``.

Bad lines are skipped, not fatal: a malformed process or exit line is dropped,
``parse_errors`` counts it and ``last_parse_error`` keeps its message (file, line,
what), and the rest of the snapshot is kept. A skipped *exit* line also counts as
lost, so ``seen + lost`` stays every exit the source knew of. A bad header or a
wrong ABI version is still a :class:`ParseError` from ``read()``: then nothing in
the file can be trusted.

If the module goes away mid-run (the directory vanishes, or a read fails with
``ENOENT``, ``ENODEV``, ``EIO``, or any other ``OSError``), ``read()`` raises
:class:`SourceGone` so the caller can fall back to another source.
"""

from __future__ import annotations

import os
import time

from procscope.model.records import Snapshot, boottime_ns
from procscope.sources.abi import (
    check_version,
    counters_from_abi,
    parse_counters,
    parse_exits,
    parse_processes,
)
from procscope.sources.base import ParseError, Source, SourceGone, SourceUnavailable

__all__ = ["DEFAULT_ROOT", "LOAD_HINT", "DirSource", "LkmSource"]

DEFAULT_ROOT = "/proc/procscope"
LOAD_HINT = "load it with: make -C kernel_module && sudo insmod kernel_module/procscope.ko"

#: Read size for the ABI files. The module returns whole exit records per read.
_CHUNK = 256 * 1024
#: The most exit-log bytes one read() takes in (about 100,000 records).
_EXITS_MAX = 16 * 1024 * 1024


def _read_all(path: str) -> bytes:
    """The whole file, read in large chunks (a seq_file has no size to ask for)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        chunks = []
        while chunk := os.read(fd, _CHUNK):
            chunks.append(chunk)
    finally:
        os.close(fd)
    return b"".join(chunks)


class _AbiSource(Source):
    """What ``lkm`` and ``dir:`` share: the files, the parsing, the exit stream."""

    has_exit_log = True

    def __init__(self, root: str) -> None:
        self.root = root
        #: The module version from ``version``, after ``open()``.
        self.module_version: str | None = None
        #: Lines skipped as malformed since ``open()``, and the last one's message.
        self.parse_errors = 0
        self.last_parse_error: str | None = None
        #: The latest raw ``counters`` (every key, known or not).
        self.raw_counters: dict[str, int] = {}
        #: The sequence number after the last exit record read (``None`` before any).
        self.next_seq: int | None = None
        self._exits_fd: int | None = None
        self._exits_tail = b""

    def _path(self, name: str) -> str:
        return os.path.join(self.root, name)

    # -- opening -------------------------------------------------------------------

    def _missing(self) -> SourceUnavailable:
        """The error for a root that does not exist at ``open()``."""
        return SourceUnavailable(f"no such directory: {self.root}")

    def _vanished(self) -> str:
        """The message for a root that disappeared after ``open()``."""
        return f"the directory {self.root} is gone"

    def _first_exit_seq(self) -> int:
        """Where the exit stream starts at ``open()``."""
        return 0

    def open(self) -> None:
        if self._exits_fd is not None:
            return
        if not os.path.isdir(self.root):
            raise self._missing()
        try:
            version = _read_all(self._path("version"))
            self.module_version = check_version(version, self._path("version"))
            self.raw_counters = parse_counters(
                _read_all(self._path("counters")), self._path("counters"), []
            )
            if not os.path.exists(self._path("processes")):
                raise FileNotFoundError(self._path("processes"))
            start = self._first_exit_seq()
            fd = os.open(self._path("exits"), os.O_RDONLY | os.O_CLOEXEC)
        except ParseError as exc:
            raise SourceUnavailable(f"unreadable procscope files: {exc}") from exc
        except OSError as exc:
            raise SourceUnavailable(
                f"cannot read {exc.filename or self.root}: {exc.strerror or exc}"
            ) from exc
        try:
            if start:
                os.lseek(fd, start, os.SEEK_SET)
        except OSError as exc:
            os.close(fd)
            raise SourceUnavailable(f"cannot seek {self._path('exits')}: {exc}") from exc
        self._exits_fd = fd
        self._exits_tail = b""
        self.next_seq = start

    def close(self) -> None:
        fd, self._exits_fd = self._exits_fd, None
        if fd is not None:
            os.close(fd)

    # -- reading -------------------------------------------------------------------

    def _skipped(self, errors: list[ParseError]) -> None:
        if errors:
            self.parse_errors += len(errors)
            self.last_parse_error = str(errors[-1])

    def _read_exits(self) -> bytes:
        """Everything new in ``exits``: whole lines only; a partial tail waits."""
        fd = self._exits_fd
        if fd is None:
            raise SourceGone(f"{self.name} is closed")
        chunks = [self._exits_tail]
        size = 0
        # Until the end; but stop at a bound, so a storm of exits cannot keep one
        # read() going for ever. The rest comes with the next read().
        while size < _EXITS_MAX and (chunk := os.read(fd, _CHUNK)):
            chunks.append(chunk)
            size += len(chunk)
        data = b"".join(chunks)
        cut = data.rfind(b"\n") + 1
        self._exits_tail = data[cut:]
        return data[:cut]

    def read(self) -> Snapshot:
        if self._exits_fd is None:
            self.open()
        elif not os.path.isdir(self.root):
            raise SourceGone(self._vanished())
        t0 = boottime_ns()
        wall = time.time()
        counters_path = self._path("counters")
        processes_path = self._path("processes")
        exits_path = self._path("exits")
        try:
            counters_raw = _read_all(counters_path)
            processes_raw = _read_all(processes_path)
        except OSError as exc:
            raise SourceGone(self._gone_message(exc)) from exc
        # Parse these before touching the exit stream: if a bad header makes this read
        # fail, no exit record has been consumed, and the next read returns them.
        errors: list[ParseError] = []
        raw_counters = parse_counters(counters_raw, counters_path, errors)
        processes = parse_processes(processes_raw, processes_path, errors)
        try:
            exits_raw = self._read_exits()
        except OSError as exc:
            raise SourceGone(self._gone_message(exc)) from exc
        self.raw_counters = raw_counters
        self._skipped(errors)
        exit_errors: list[ParseError] = []
        exited, lost = parse_exits(exits_raw, exits_path, exit_errors)
        self._skipped(exit_errors)
        if exited:
            self.next_seq = exited[-1].seq + 1
        return Snapshot(
            source=self.kind,
            time_ns=t0,
            wall_time=wall,
            counters=counters_from_abi(self.raw_counters),
            processes=processes,
            exited=exited,
            lost=lost + len(exit_errors),
            read_cost_ns=boottime_ns() - t0,
        )

    def _gone_message(self, exc: OSError) -> str:
        return f"{self.name} stopped: {exc.filename or self.root}: {exc.strerror or exc}"


class LkmSource(_AbiSource):
    """The procscope kernel module, through ``/proc/procscope/``."""

    kind = "lkm"
    sees = (
        "every process and every process exit, from kernel probes: even one that lives "
        "a microsecond is logged with its exit status, CPU time and peak RSS"
    )
    cannot_see = (
        "anything while the module is not loaded; other users' processes unless run "
        "as root (hidepid=1); exits overwritten in the exit ring before a read (counted as lost)"
    )

    def __init__(self, path: str | None = None) -> None:
        super().__init__(path or DEFAULT_ROOT)

    @property
    def name(self) -> str:
        return "lkm" if self.root == DEFAULT_ROOT else f"lkm:{self.root}"

    def _missing(self) -> SourceUnavailable:
        return SourceUnavailable(f"module not loaded ({self.root} missing): {LOAD_HINT}")

    def _first_exit_seq(self) -> int:
        """The oldest record the ring can still hold, so no loss is reported at start."""
        seq_next = self.raw_counters.get("exit_seq_next")
        ring = self.raw_counters.get("exit_ring_size")
        if seq_next is None or ring is None:
            return 0
        return max(0, seq_next - ring)

    def _vanished(self) -> str:
        return f"the procscope module was unloaded ({self.root} is gone)"

    def _gone_message(self, exc: OSError) -> str:
        return f"the procscope module stopped answering: {super()._gone_message(exc)}"


class DirSource(_AbiSource):
    """A plain copy of ``/proc/procscope/`` in a directory (``dir:PATH``).

    ``exits`` is read from its start: the first ``read()`` returns every record in
    the copy, later reads only lines appended since (none, for a fixed copy).
    """

    kind = "dir"
    sees = "whatever the copied /proc/procscope files hold, parsed like the live module"
    cannot_see = "anything live: a copy does not change unless someone rewrites it"

    def __init__(self, path: str) -> None:
        super().__init__(path)

    @property
    def name(self) -> str:
        return f"dir:{self.root}"
