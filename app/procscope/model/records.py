"""Immutable records that every source produces and the delta model consumes.

Records are NamedTuples: immutable, cheap to build (parsing 100,000 of them is a
benchmark target), and they compare and hash by value.

Conventions, the same in every source:

* ``pid`` is the thread-group id (what ``ps`` calls PID); ``ppid`` is the real
  parent's thread-group id.
* Times are nanoseconds. ``start_ns`` and ``exit_ns`` are on the boot-based clock
  (``CLOCK_BOOTTIME``), so they compare across sources and with ``Snapshot.time_ns``.
* ``comm`` is a ``str`` decoded from the kernel's bytes with ``surrogateescape``:
  ``comm_bytes(p.comm)`` gives back the exact bytes, whatever they were (newlines,
  escape sequences, bytes that are not UTF-8).
* A field a source cannot know is ``None``, never a made-up 0.
"""

from __future__ import annotations

import os
import time
from typing import NamedTuple

__all__ = [
    "CLK_TCK",
    "PAGE_SIZE",
    "Counters",
    "ExitedProcess",
    "Process",
    "Snapshot",
    "boottime_ns",
    "comm_bytes",
    "comm_from_bytes",
    "user_name",
]


def comm_from_bytes(raw: bytes) -> str:
    """Decode a kernel process name so that :func:`comm_bytes` restores it exactly."""
    return raw.decode("utf-8", "surrogateescape")


def comm_bytes(comm: str) -> bytes:
    """The exact bytes of a process name decoded by :func:`comm_from_bytes`."""
    return comm.encode("utf-8", "surrogateescape")


class Process(NamedTuple):
    """One thread group (a process) at the moment of a snapshot."""

    pid: int
    ppid: int
    uid: int
    state: str  # one letter, as in /proc/PID/stat: R S D T t Z X I P
    threads: int
    cpu_ns: int  # user + system time of the whole group since it started
    rss_bytes: int
    start_ns: int  # boot-based
    kthread: bool
    comm: str


class ExitedProcess(NamedTuple):
    """A process that exited, as its source saw it.

    ``seq`` orders the records of one source; a gap in it is a lost record.
    Exactly one of ``exit_code`` and ``signal`` is set when the source knows how
    the process ended; both are ``None`` when it does not.
    """

    seq: int
    pid: int
    ppid: int | None
    uid: int | None
    comm: str
    exit_code: int | None
    signal: int | None
    start_ns: int | None
    exit_ns: int | None  # boot-based
    cpu_ns: int | None
    peak_rss_bytes: int | None
    core_dumped: bool = False

    @property
    def lifetime_ns(self) -> int | None:
        if self.start_ns is None or self.exit_ns is None:
            return None
        return max(0, self.exit_ns - self.start_ns)

    @staticmethod
    def decode_wait_status(status: int) -> tuple[int | None, int | None, bool]:
        """Split a kernel exit code (the ``wait(2)`` status) into (exit_code, signal, core)."""
        sig = status & 0x7F
        if sig:
            return None, sig, bool(status & 0x80)
        return (status >> 8) & 0xFF, None, False


class Counters(NamedTuple):
    """Monotonic event counters, each since some origin the source chose.

    Only differences between two snapshots of the same source mean anything.
    ``tasks_created`` counts every clone (processes and threads together), which
    is all ``/proc/stat`` can tell; the other fields split it where the source can.
    """

    forks: int | None = None  # new processes (thread-group leaders), kernel threads excluded
    threads_created: int | None = None  # new non-leader threads
    exits: int | None = None  # processes that exited
    threads_exited: int | None = None  # non-leader threads that exited
    tasks_created: int | None = None  # every clone, when nothing finer is known
    kthreads_created: int | None = None
    kthreads_exited: int | None = None


class Snapshot(NamedTuple):
    """Everything one read of a source returned.

    ``exited`` holds the exits the source saw since its previous snapshot, oldest
    first, and ``lost`` how many exit records it knows it missed in that span.
    """

    source: str
    time_ns: int  # boot-based, when the read started
    wall_time: float  # Unix time of the same moment, for display
    counters: Counters
    processes: tuple[Process, ...]
    exited: tuple[ExitedProcess, ...] = ()
    lost: int = 0
    read_cost_ns: int = 0  # how long the read took


def boottime_ns() -> int:
    """The boot-based clock that every ``*_ns`` time in the records uses."""
    return time.clock_gettime_ns(time.CLOCK_BOOTTIME)


def user_name(uid: int | None, _cache: dict[int, str] = {}) -> str:  # noqa: B006
    """The login name of ``uid``, or the number as text when there is none."""
    if uid is None:
        return ""
    name = _cache.get(uid)
    if name is None:
        try:
            import pwd

            name = pwd.getpwuid(uid).pw_name
        except (KeyError, ImportError):
            name = str(uid)
        _cache[uid] = name
    return name


CLK_TCK: int = os.sysconf("SC_CLK_TCK")
PAGE_SIZE: int = os.sysconf("SC_PAGE_SIZE")
