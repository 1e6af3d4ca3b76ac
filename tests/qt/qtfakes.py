"""Record builders and scripted sources for the Qt tests."""

from __future__ import annotations

from collections.abc import Iterable

from procscope.model.delta import DeltaModel, Tick
from procscope.model.records import Counters, ExitedProcess, Process, Snapshot
from procscope.sources import Source, SourceGone, SourceUnavailable

BOOT_WALL = 1_700_000_000.0  # Unix time of the fake boot
S = 1_000_000_000


def proc(
    pid: int,
    comm: str = "",
    *,
    ppid: int = 1,
    uid: int = 0,
    state: str = "S",
    threads: int = 1,
    cpu_ns: int = 0,
    rss: int = 1 << 20,
    start_ns: int | None = None,
    kthread: bool = False,
) -> Process:
    return Process(
        pid=pid, ppid=ppid, uid=uid, state=state, threads=threads, cpu_ns=cpu_ns,
        rss_bytes=rss, start_ns=start_ns if start_ns is not None else pid * 1000,
        kthread=kthread, comm=comm or f"proc{pid}",
    )


def exited(
    seq: int, pid: int, comm: str = "", *, code: int | None = 0, sig: int | None = None,
    start_s: float = 1.0, exit_s: float = 2.0, cpu_ns: int | None = 5_000_000,
    peak: int | None = 4 << 20, ppid: int | None = 1, uid: int | None = 0, core: bool = False,
) -> ExitedProcess:
    return ExitedProcess(
        seq=seq, pid=pid, ppid=ppid, uid=uid, comm=comm or f"gone{pid}",
        exit_code=None if sig is not None else code, signal=sig,
        start_ns=int(start_s * S), exit_ns=int(exit_s * S), cpu_ns=cpu_ns,
        peak_rss_bytes=peak, core_dumped=core,
    )


def snapshot(
    t_s: float,
    procs: Iterable[Process],
    *,
    forks: int | None = None,
    exits: int | None = None,
    threads_created: int | None = None,
    threads_exited: int | None = None,
    exited_: Iterable[ExitedProcess] = (),
    lost: int = 0,
    source: str = "fake",
) -> Snapshot:
    return Snapshot(
        source=source,
        time_ns=int(t_s * S),
        wall_time=BOOT_WALL + t_s,
        counters=Counters(forks=forks, exits=exits, threads_created=threads_created,
                          threads_exited=threads_exited),
        processes=tuple(sorted(procs)),
        exited=tuple(exited_),
        lost=lost,
        read_cost_ns=1_000_000,
    )


def ticks(*snaps: Snapshot) -> list[Tick]:
    model = DeltaModel()
    return [model.update(s) for s in snaps]


class ScriptedSource(Source):
    """Returns the scripted snapshots in turn, then keeps returning the last one with
    the clock moved on; or, with ``gone_after``, raises SourceGone after that many reads.
    """

    has_exit_log = True

    def __init__(self, kind: str, snaps: list[Snapshot], gone_after: int | None = None,
                 has_exit_log: bool = True) -> None:
        self.kind = kind
        self.snaps = list(snaps)
        self.gone_after = gone_after
        self.has_exit_log = has_exit_log
        self.reads = 0
        self.closed = False

    def read(self) -> Snapshot:
        if self.gone_after is not None and self.reads >= self.gone_after:
            raise SourceGone(f"{self.kind} went away")
        i = min(self.reads, len(self.snaps) - 1)
        snap = self.snaps[i]
        if self.reads >= len(self.snaps):  # move the clock on past the script
            extra = self.reads - len(self.snaps) + 1
            snap = snap._replace(time_ns=snap.time_ns + extra * S,
                                 wall_time=snap.wall_time + extra, exited=(), lost=0)
        self.reads += 1
        return snap

    def close(self) -> None:
        self.closed = True


class FakeOpener:
    """Stands in for ``open_source``: ``auto`` picks the first kind in ``order`` that is
    available and not excluded; kinds not in ``sources`` are unavailable."""

    def __init__(self, sources: dict[str, ScriptedSource], order=("lkm", "netlink", "proc")):
        self.sources = sources
        self.order = order
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def __call__(self, spec: str = "auto", exclude: tuple[str, ...] = ()) -> Source:
        self.calls.append((spec, tuple(exclude)))
        if spec != "auto":
            if spec not in self.sources:
                raise SourceUnavailable(f"{spec} is not available in this test")
            src = self.sources[spec]
            src.reason = f"{spec} chosen by the user"
            return src
        for kind in self.order:
            if kind in self.sources and kind not in exclude:
                src = self.sources[kind]
                src.reason = f"{kind}: the best source available"
                return src
        raise SourceUnavailable("no source works here")


def busy_snapshots(n: int = 3) -> list[Snapshot]:
    """A small system whose CPU use and membership change from one read to the next."""
    out = []
    for i in range(n):
        procs = [
            proc(1, "init", ppid=0, cpu_ns=10 * S),
            proc(2, "kthreadd", ppid=0, kthread=True, rss=0),
            proc(100, "bash", uid=1000, cpu_ns=(1 + i) * S // 10),
            proc(101 + i, f"make{i}", ppid=100, uid=1000, cpu_ns=i * S // 20),
        ]
        out.append(snapshot(10.0 + i, procs, forks=50 + 3 * i, exits=40 + 2 * i,
                            exited_=[exited(i, 500 + i, f"cc1-{i}")]))
    return out




from PySide6.QtCore import QObject, Signal  # noqa: E402


class Relay(QObject):
    """Re-emits a worker's signals in the GUI thread.

    ``qtbot.waitSignal`` reacts in the thread that emits, which for the worker is the
    wrong one (it would stop its timer from there). The window connects the worker to
    its own slots, queued; the tests wait on this relay, connected the same way.
    """

    sig_tick = Signal(object)
    sig_cost = Signal(float, float)
    sig_error = Signal(str)
    sig_source_changed = Signal(str, str, bool)
    sig_fallback = Signal(str, str, str)
    sig_paused = Signal(bool)

    def __init__(self, worker) -> None:
        super().__init__()
        for name in ("sig_tick", "sig_cost", "sig_error", "sig_source_changed",
                     "sig_fallback", "sig_paused"):
            getattr(worker, name).connect(getattr(self, name))
