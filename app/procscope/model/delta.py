"""Turn successive snapshots into what a person wants to see.

The :class:`DeltaModel` is fed one :class:`Snapshot` after another from a single
source and returns a :class:`Tick` for each: per-interval CPU %, fork and exit
rates, the top RSS consumers, which processes are new or gone, and the exits
since the previous tick. It holds no Qt and does no I/O.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from operator import attrgetter
from types import MappingProxyType
from typing import NamedTuple

from procscope.model.exitlog import ExitLog
from procscope.model.records import Counters, ExitedProcess, Process, Snapshot

__all__ = ["DeltaModel", "ProcessRow", "Rates", "Tick", "cpu_percent"]

_EMPTY: Mapping = MappingProxyType({})
_by_rss = attrgetter("rss_bytes")


class Rates(NamedTuple):
    """Events per second over the last interval; ``None`` where unknown.

    A rate is unknown on the first snapshot, when the source has no such counter,
    or when a counter went backwards (the module was reloaded, say).
    """

    forks: float | None = None
    exits: float | None = None
    threads_created: float | None = None
    threads_exited: float | None = None
    tasks_created: float | None = None


class ProcessRow(NamedTuple):
    """A process with what the model derived for it, for headless output."""

    proc: Process
    cpu_percent: float


class Tick(NamedTuple):
    """The model's answer to one snapshot. Treat every field as read-only."""

    snapshot: Snapshot
    interval_ns: int  # since the previous snapshot; 0 on the first
    processes: Mapping[int, Process]  # pid -> process
    cpu_percent: Mapping[int, float]  # pid -> % of one CPU over the interval
    new_pids: frozenset[int]  # not there (or another process) at the previous tick
    gone: Mapping[int, Process]  # there at the previous tick, not now
    rates: Rates
    top_rss: tuple[Process, ...]  # largest first
    exited: tuple[ExitedProcess, ...]  # new this tick, newest first
    lost_total: int  # exit records the source missed since the model started

    def rows(self) -> list[ProcessRow]:
        """Processes with their CPU %, by PID."""
        cpu = self.cpu_percent
        return [ProcessRow(p, cpu.get(pid, 0.0)) for pid, p in sorted(self.processes.items())]


def cpu_percent(prev: Process | None, cur: Process, interval_ns: int) -> float:
    """CPU used by ``cur`` since ``prev``, in % of one CPU.

    0.0 on first sight, when the PID now belongs to another process (a different
    start time), or when the interval is empty. Never negative, and never more
    than 100 × the thread count.
    """
    if prev is None or interval_ns <= 0 or prev.start_ns != cur.start_ns:
        return 0.0
    used = cur.cpu_ns - prev.cpu_ns
    if used <= 0:
        return 0.0
    pct = used * 100.0 / interval_ns
    ceiling = 100.0 * max(1, cur.threads)
    return pct if pct < ceiling else ceiling


def _rate(prev: int | None, cur: int | None, seconds: float) -> float | None:
    if prev is None or cur is None or seconds <= 0 or cur < prev:
        return None
    return (cur - prev) / seconds


def _rates(prev: Counters, cur: Counters, seconds: float) -> Rates:
    return Rates(
        forks=_rate(prev.forks, cur.forks, seconds),
        exits=_rate(prev.exits, cur.exits, seconds),
        threads_created=_rate(prev.threads_created, cur.threads_created, seconds),
        threads_exited=_rate(prev.threads_exited, cur.threads_exited, seconds),
        tasks_created=_rate(prev.tasks_created, cur.tasks_created, seconds),
    )


class DeltaModel:
    """Feed it snapshots of one source in order; it returns a :class:`Tick` for each."""

    def __init__(self, top_n: int = 10, exit_log_capacity: int = 10_000) -> None:
        self.top_n = top_n
        self.exit_log = ExitLog(exit_log_capacity)
        self._prev: Snapshot | None = None
        self._prev_procs: dict[int, Process] = {}

    def reset(self) -> None:
        """Forget the previous snapshot (for a change of source). The exit log stays."""
        self._prev = None
        self._prev_procs = {}

    def update(self, snap: Snapshot) -> Tick:
        prev = self._prev
        prev_procs = self._prev_procs
        interval = snap.time_ns - prev.time_ns if prev is not None else 0
        if interval < 0:  # a clock from another boot, or snapshots out of order
            prev, prev_procs, interval = None, {}, 0

        procs: dict[int, Process] = {p.pid: p for p in snap.processes}
        cpu: dict[int, float] = {}
        new: list[int] = []
        get_prev = prev_procs.get
        for pid, p in procs.items():
            q = get_prev(pid)
            if q is None or q.start_ns != p.start_ns:
                new.append(pid)
                cpu[pid] = 0.0
            else:
                cpu[pid] = cpu_percent(q, p, interval)
        gone = {
            pid: q
            for pid, q in prev_procs.items()
            if (p := procs.get(pid)) is None or p.start_ns != q.start_ns
        }
        if prev is None:
            new_pids = frozenset(procs)
            rates = Rates()
        else:
            new_pids = frozenset(new)
            rates = _rates(prev.counters, snap.counters, interval / 1e9)

        self.exit_log.extend(snap.exited, snap.lost)
        top = tuple(heapq.nlargest(self.top_n, snap.processes, key=_by_rss))

        self._prev = snap
        self._prev_procs = procs
        return Tick(
            snapshot=snap,
            interval_ns=interval,
            processes=MappingProxyType(procs),
            cpu_percent=MappingProxyType(cpu),
            new_pids=new_pids,
            gone=MappingProxyType(gone) if gone else _EMPTY,
            rates=rates,
            top_rss=top,
            exited=tuple(reversed(snap.exited)),
            lost_total=self.exit_log.lost,
        )
