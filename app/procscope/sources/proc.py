"""The ``proc`` source: plain polling of ``/proc``. Works everywhere; has no exit log.

The first time it sees a process, it costs an ``open``/``fstat``/``read`` of
``/proc/PID/stat`` and an ``open``/``read``/``close`` of ``/proc/PID/statm``:

* ``/proc/PID/stat`` gives the name, state, ppid, flags (``PF_KTHREAD``), user + system
  time of the whole thread group, thread count and start time;
* ``fstat`` of that open file gives the owner, which procfs sets to the task's
  effective UID (root for a non-dumpable task), the same UID ``ps`` shows from a stat of
  ``/proc/PID``;
* ``/proc/PID/statm`` gives the exact RSS, as ``ps``, ``top``, ``htop`` and psutil show
  it. The RSS in ``stat`` is a cheaper per-CPU estimate (on 6.x kernels it was off by
  hundreds of KiB per process here, more with more CPUs); ``exact_rss=False`` uses it
  and skips ``statm`` (about 30% faster). If ``statm`` cannot be read the estimate is
  used.

Later walks are cheaper. The ``stat`` descriptor stays open (``keep_open``, up to a
budget taken from ``RLIMIT_NOFILE``) and is re-read with one ``pread``: procfs formats
the line afresh on every read at offset 0, and once the process is reaped the old
descriptor answers ``ESRCH``, so a reused PID is never mistaken for the old process. A
line that has not changed by a byte (a process that did not run) is not parsed again,
and its ``statm`` is not re-read: one system call for an idle process instead of seven.
When the line did change, the owner comes from a ``stat`` of the path, which makes
procfs recompute it (an open descriptor's ``fstat`` would keep the old one across a
``setuid``).

The name is the bytes between the first ``(`` and the *last* ``)``, so a name holding
``)``, spaces or newlines cannot shift the fields after it.

A process that vanishes mid-walk is skipped. A ``stat`` line that does not parse is
skipped too, so one odd process cannot stop the walk; ``parse_errors`` counts those and
``last_parse_error`` says what the last one was. A broken ``/proc/stat`` (the fork
counter) is a :class:`~procscope.sources.base.ParseError`.

The root is injectable (``ProcSource("/tmp/fake-proc")``) so tests run on a fake tree.
"""

from __future__ import annotations

import errno
import os
import re
import resource
import time

from procscope.model.records import (
    CLK_TCK,
    PAGE_SIZE,
    Counters,
    Process,
    Snapshot,
    boottime_ns,
    comm_from_bytes,
)
from procscope.sources.base import ParseError, Source, SourceUnavailable

__all__ = ["PF_KTHREAD", "ProcSource", "parse_stat"]

PF_KTHREAD = 0x00200000

#: Errors that mean "the process went away while we looked", not a failure.
_GONE_ERRNOS = frozenset({errno.ENOENT, errno.ESRCH})

_NS_PER_S = 10**9
_PROCESSES_LINE = re.compile(rb"^processes\b(.*)$", re.MULTILINE)
_STAT_READ = 4096  # a stat line is well under 1 KiB; the name is at most 64 bytes


def parse_stat(data: bytes, uid: int, rss_pages: int | None = None) -> Process:
    """One :class:`Process` from the bytes of ``/proc/PID/stat``.

    ``rss_pages`` (from ``statm``) replaces the RSS estimate in the stat line.

    Raises ``ValueError`` (or ``IndexError``) with what was wrong when the line is
    malformed; the caller decides what that means.
    """
    lpar = data.find(b"(")
    rpar = data.rfind(b")")
    if lpar < 0 or rpar < lpar:
        raise ValueError("no '(name)' in the line")
    f = data[rpar + 2 :].split()
    if len(f) < 22:
        raise ValueError(f"{len(f) + 2} fields, expected at least 24")
    tick = CLK_TCK
    return Process(
        int(data[:lpar]),
        int(f[1]),
        uid,
        f[0].decode("ascii"),
        int(f[17]),
        (int(f[11]) + int(f[12])) * _NS_PER_S // tick,
        (int(f[21]) if rss_pages is None else rss_pages) * PAGE_SIZE,
        int(f[19]) * _NS_PER_S // tick,
        bool(int(f[6]) & PF_KTHREAD),
        comm_from_bytes(data[lpar + 1 : rpar]),
    )


class ProcSource(Source):
    """Polls ``root`` (``/proc`` by default)."""

    kind = "proc"
    sees = "every process at the moment of each poll, with CPU, RSS, state and owner"
    cannot_see = (
        "processes that start and exit between two polls; it has no exit log and "
        "counts forks and threads together (the 'processes' line of /proc/stat)"
    )
    has_exit_log = False

    def __init__(self, root: str = "/proc", exact_rss: bool = True, keep_open: bool = True) -> None:
        self.root = root.rstrip("/") or "/"
        self.exact_rss = exact_rss
        self.keep_open = keep_open
        self.parse_errors = 0
        self.last_parse_error = ""
        # pid dir -> (stat bytes, uid, Process) from the previous walk. A process whose
        # stat line has not changed by a byte (a sleeping one: the line holds its CPU
        # times, fault counts, RSS estimate and last CPU) is reused as it was, which
        # skips its statm read and its parse. Rebuilt each walk, so it never outgrows
        # the process list.
        self._last: dict[str, tuple[bytes, int, Process]] = {}
        # pid dir -> open descriptor of its stat file, at most _fd_budget of them.
        self._fds: dict[str, int] = {}
        self._fd_budget = 0

    @property
    def name(self) -> str:
        return self.kind if self.root == "/proc" else f"proc:{self.root}"

    def open(self) -> None:
        try:
            self.read_counters()
        except OSError as exc:
            raise SourceUnavailable(
                f"cannot read {self.root}/stat ({exc.strerror or exc}): is procfs mounted?"
            ) from exc
        if self.keep_open:
            soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
            if soft == resource.RLIM_INFINITY:
                soft = 1 << 20
            # Half of what is left after a reserve for everything else in the process.
            self._fd_budget = max(0, min((soft - 512) // 2, 65536))

    def close(self) -> None:
        """Close the kept-open descriptors. Safe to call twice."""
        fds, self._fds = self._fds, {}
        for fd in fds.values():
            os.close(fd)

    def read(self) -> Snapshot:
        t0 = time.perf_counter_ns()
        now = boottime_ns()
        wall = time.time()
        counters = self.read_counters()
        procs = self.walk()
        return Snapshot(
            source=self.kind,
            time_ns=now,
            wall_time=wall,
            counters=counters,
            processes=procs,
            read_cost_ns=time.perf_counter_ns() - t0,
        )

    def read_counters(self) -> Counters:
        """The fork counter from ``/proc/stat``. Raises :class:`ParseError` if it is broken."""
        path = f"{self.root}/stat"
        with open(path, "rb") as fh:
            data = fh.read()
        m = _PROCESSES_LINE.search(data)
        if m is None:
            raise ParseError(path, None, "no 'processes' line")
        lineno = data.count(b"\n", 0, m.start()) + 1
        try:
            value = int(m.group(1))
        except ValueError:
            raise ParseError(
                path, lineno, f"'processes' line is not 'processes <count>': {m.group(0)!r}"
            ) from None
        if value < 0:
            raise ParseError(path, lineno, f"negative 'processes' count: {value}")
        return Counters(tasks_created=value)

    def walk(self) -> tuple[Process, ...]:
        """Every process under the root now, in directory order, vanished ones skipped."""
        root = self.root
        out: list[Process] = []
        append = out.append
        os_open, os_read, os_fstat, os_close = os.open, os.read, os.fstat, os.close
        flags = os.O_RDONLY | os.O_CLOEXEC
        exact = self.exact_rss
        last = self._last.get
        seen: dict[str, tuple[bytes, int, Process]] = {}
        old_fds = self._fds
        fds: dict[str, int] = {}
        budget = self._fd_budget if self.keep_open else 0
        os_pread, os_stat = os.pread, os.stat
        for name in os.listdir(root):
            if not name.isdigit():
                continue
            path = f"{root}/{name}/stat"
            fd = old_fds.pop(name, -1)
            data = b""
            if fd >= 0:
                try:  # noqa: SIM105 - hot loop: no context manager per process
                    data = os_pread(fd, _STAT_READ, 0)
                except OSError:
                    pass  # ESRCH: that process was reaped; the PID may hold a new one
                if not data:
                    os_close(fd)
                    fd = -1
            if fd >= 0:  # the same process as last time
                prev = last(name)
                if prev is not None and prev[0] == data:
                    seen[name] = prev
                    append(prev[2])
                    self._keep(fds, name, fd, budget)
                    continue
                try:
                    uid = os_stat(path).st_uid
                except OSError:
                    os_close(fd)
                    continue  # gone since the pread
            else:
                try:
                    fd = os_open(path, flags)
                except OSError as exc:
                    if exc.errno not in _GONE_ERRNOS:
                        self._bad(path, f"cannot open: {exc.strerror}")
                    continue
                try:
                    uid = os_fstat(fd).st_uid
                    data = os_read(fd, _STAT_READ)
                except OSError as exc:
                    os_close(fd)
                    if exc.errno not in _GONE_ERRNOS:
                        self._bad(path, f"cannot read: {exc.strerror}")
                    continue
                if not data:  # the process went away between open and read
                    os_close(fd)
                    continue
                prev = last(name)
                if prev is not None and prev[0] == data and prev[1] == uid:
                    seen[name] = prev
                    append(prev[2])
                    self._keep(fds, name, fd, budget)
                    continue
            self._keep(fds, name, fd, budget)
            rss_pages = None
            if exact:
                try:
                    mfd = os_open(f"{root}/{name}/statm", flags)
                    try:
                        rss_pages = int(os_read(mfd, 256).split(None, 2)[1])
                    finally:
                        os_close(mfd)
                except (OSError, ValueError, IndexError):
                    pass  # gone (the stat line is still a valid reading) or odd: estimate
            try:
                proc = parse_stat(data, uid, rss_pages)
            except (ValueError, IndexError) as exc:
                if data.endswith(b"\n"):
                    self._bad(path, str(exc))
                # else: a truncated read, the process died mid-read
                continue
            seen[name] = (data, uid, proc)
            append(proc)
        for fd in old_fds.values():  # processes that are gone
            os_close(fd)
        self._fds = fds
        self._last = seen
        return tuple(out)

    @staticmethod
    def _keep(fds: dict[str, int], name: str, fd: int, budget: int) -> None:
        """Keep ``fd`` open for the next walk while the budget allows, else close it."""
        if len(fds) < budget:
            fds[name] = fd
        else:
            os.close(fd)

    def _bad(self, path: str, problem: str) -> None:
        self.parse_errors += 1
        self.last_parse_error = f"{path}: {problem}"
