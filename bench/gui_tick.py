"""GUI tick: how long the GUI thread is blocked per tick, at 1,000 and 10,000 rows.

Offscreen (``QT_QPA_PLATFORM=offscreen``). Synthetic snapshots (N processes, each
tick: 10 % change CPU time, 5 % change RSS, 0.5 % exit and as many new ones appear,
20 exit records) go through the :class:`DeltaModel` first, as the poll worker does
in its own thread, so that cost is not on the GUI thread and is not counted. Then,
per tick, on the GUI thread and timed as one block:

* the process table model's ``apply_tick`` (its targeted ``dataChanged`` and row
  inserts/removes drive the sort/filter proxy, sorted by CPU % descending, with a
  name filter set, since ``dynamicSortFilter`` re-sorts inside those signals);
* the exit log model's ``apply_tick`` (and its proxy);
* both charts (rates and top RSS);
* ``processEvents()`` then a synchronous ``repaint()`` of the whole window.

The app's own main window is used when ``procscope.ui`` provides one with a tick
slot; otherwise the same widgets are assembled here (the section says which).
"""

from __future__ import annotations

import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Context, Section, Stats, Target, format_profile

TITLE = "4. GUI tick"
TARGET_MS = 16.0


# --------------------------------------------------------------------------- synthetic data


class Synth:
    """Successive snapshots of ``n`` made-up processes with realistic churn."""

    def __init__(self, n: int, seed: int = 4) -> None:
        from procscope.model.records import Process

        self.rng = random.Random(seed)
        self.n = n
        self.t_ns = 10**12
        self.next_pid = 300
        self.seq = 0
        self.forks = 0
        names = [
            "bash",
            "sshd",
            "python3",
            "kworker/0:1",
            "systemd",
            "nginx",
            "postgres",
            "chrome",
            "Xorg",
            "containerd",
            "sleep",
            "node",
            "java",
            "rsyslogd",
        ]
        self.names = names
        self.procs: dict[int, Process] = {}
        for _ in range(n):
            self._new()

    def _new(self):
        from procscope.model.records import Process

        pid = self.next_pid
        self.next_pid += self.rng.randint(1, 4)
        self.forks += 1
        p = Process(
            pid,
            self.rng.choice([1, 2, pid - 1]),
            self.rng.choice([0, 1000, 1001]),
            "S",
            self.rng.randint(1, 20),
            self.rng.randint(0, 10**11),
            self.rng.randint(1, 500) * 1 << 20,
            self.t_ns - self.rng.randint(0, 10**12),
            False,
            f"{self.rng.choice(self.names)}-{pid % 97}",
        )
        self.procs[pid] = p

    def next(self):
        from procscope.model.records import Counters, ExitedProcess, Snapshot

        rng = self.rng
        self.t_ns += 10**9
        pids = list(self.procs)
        for pid in rng.sample(pids, max(1, self.n // 10)):
            p = self.procs[pid]
            self.procs[pid] = p._replace(cpu_ns=p.cpu_ns + rng.randint(1, 10**9), state="R")
        for pid in rng.sample(pids, max(1, self.n // 20)):
            p = self.procs[pid]
            self.procs[pid] = p._replace(
                rss_bytes=max(4096, p.rss_bytes + rng.randint(-5, 5) * 4096)
            )
        gone = rng.sample(pids, max(1, self.n // 200))
        exited = []
        for pid in gone:
            p = self.procs.pop(pid)
            self._new()
            exited.append(
                ExitedProcess(
                    self.seq,
                    pid,
                    p.ppid,
                    p.uid,
                    p.comm,
                    0,
                    None,
                    p.start_ns,
                    self.t_ns - 1000,
                    p.cpu_ns,
                    p.rss_bytes,
                )
            )
            self.seq += 1
        for _ in range(max(0, 20 - len(exited))):  # short-lived ones nobody polled
            pid = self.next_pid
            self.next_pid += 1
            exited.append(
                ExitedProcess(
                    self.seq,
                    pid,
                    1,
                    1000,
                    "true",
                    0,
                    None,
                    self.t_ns - 5000,
                    self.t_ns - 1000,
                    1000,
                    4096,
                )
            )
            self.seq += 1
        return Snapshot(
            "bench",
            self.t_ns,
            self.t_ns / 1e9,
            Counters(forks=self.forks, exits=self.seq),
            tuple(self.procs.values()),
            tuple(exited),
            0,
            0,
        )


# --------------------------------------------------------------------------- the window


class Assembled:
    """The app's widgets put together the way a main window would."""

    description = (
        "assembled here from `procscope.ui` parts (ProcessTableModel + ProcessFilterProxy "
        "in a QTableView sorted by CPU % descending with a name filter, ExitTableModel + "
        "ExitFilterProxy in a QTableView, RateChart, TopRssChart), because no main window "
        "with a tick slot was found"
    )

    def __init__(self) -> None:
        from PySide6.QtCore import Qt
        from PySide6.QtWidgets import QSplitter, QTableView, QVBoxLayout, QWidget

        from procscope.ui.charts import RateChart, TopRssChart
        from procscope.ui.columns import column_index
        from procscope.ui.exit_model import ExitFilterProxy, ExitTableModel
        from procscope.ui.process_model import ProcessFilterProxy, ProcessTableModel

        self.table = ProcessTableModel()
        self.proxy = ProcessFilterProxy()
        self.proxy.setSourceModel(self.table)
        self.proxy.set_pattern("-")  # a filter that keeps every synthetic row
        self.exits = ExitTableModel()
        self.exit_proxy = ExitFilterProxy()
        self.exit_proxy.setSourceModel(self.exits)
        self.rates = RateChart()
        self.top = TopRssChart()
        self.window = QWidget()
        lay = QVBoxLayout(self.window)
        split = QSplitter(Qt.Orientation.Vertical)
        view = QTableView()
        view.setModel(self.proxy)
        view.setSortingEnabled(True)
        view.sortByColumn(column_index("cpu"), Qt.SortOrder.DescendingOrder)
        exit_view = QTableView()
        exit_view.setModel(self.exit_proxy)
        exit_view.setSortingEnabled(True)
        split.addWidget(view)
        split.addWidget(exit_view)
        split.addWidget(self.rates)
        split.addWidget(self.top)
        lay.addWidget(split)
        self.window.resize(1280, 900)
        self.window.show()

    def apply(self, tick) -> None:
        self.table.apply_tick(tick)
        self.exits.apply_tick(tick)
        self.rates.add(tick)
        self.top.update_from(tick)


def _main_window():
    """(class, tick-slot name) of the app's main window, if there is one."""
    import importlib

    for modname, clsname in (
        ("procscope.ui.mainwindow", "MainWindow"),
        ("procscope.ui.window", "MainWindow"),
        ("procscope.ui.main_window", "MainWindow"),
        ("procscope.ui.app", "MainWindow"),
    ):
        try:
            mod = importlib.import_module(modname)
        except ImportError:
            continue
        cls = getattr(mod, clsname, None)
        if cls is None:
            continue
        for slot in ("on_tick", "_on_tick", "apply_tick"):
            if hasattr(cls, slot):
                return cls, slot, modname
    return None


class RealWindow:
    def __init__(self, cls, slot: str, modname: str) -> None:
        from PySide6.QtCore import Qt

        from procscope.ui.columns import column_index

        self.window = _build_window(cls)
        self.window.resize(1280, 900)
        self.window.show()
        self._slot = getattr(self.window, slot)
        done = []
        view = getattr(self.window, "table_view", None)
        if view is not None:
            view.sortByColumn(column_index("cpu"), Qt.SortOrder.DescendingOrder)
            done.append("process table sorted by CPU % descending")
        edit = getattr(self.window, "filter_edit", None)
        if edit is not None:
            edit.setText("-")
            done.append("name filter `-` set (it keeps every synthetic row)")
        self.description = (
            f"the app's own `{modname}.{cls.__name__}` (not started: no poll worker), fed "
            f"through `{slot}`; " + ", ".join(done)
        )

    def apply(self, tick) -> None:
        self._slot(tick)


def _build_window(cls):
    """The main window without a poll worker (it is fed by hand)."""
    import inspect

    from PySide6.QtCore import QSettings

    params = inspect.signature(cls).parameters
    kwargs: dict = {}
    if "settings" in params:  # private settings: neither read nor change the user's
        ini = tempfile.mkstemp(suffix=".ini", dir=os.environ.get("PROCSCOPE_BENCH_TMP"))[1]
        kwargs["settings"] = QSettings(ini, QSettings.Format.IniFormat)
    if "start" in params:
        kwargs["start"] = False
    if "spec" in params:
        kwargs["spec"] = "proc"
    if "source" in params:
        kwargs["source"] = "proc"
    return cls(**kwargs)


# --------------------------------------------------------------------------- measuring


def measure(n: int, ticks: int, warmup: int, profile: bool = False):
    from PySide6.QtWidgets import QApplication

    from procscope.model.delta import DeltaModel

    app = QApplication.instance() or QApplication([])
    found = _main_window()
    ui = RealWindow(*found) if found else Assembled()
    synth = Synth(n)
    model = DeltaModel()
    prepared = [model.update(synth.next()) for _ in range(warmup + ticks)]
    app.processEvents()
    block_ms: list[float] = []
    stages: dict[str, list[float]] = {"apply": [], "events": [], "paint": []}
    prof = None
    if profile:
        import cProfile

        prof = cProfile.Profile()
    for i, tick in enumerate(prepared):
        if prof is not None and i == warmup:
            prof.enable()
        t0 = time.perf_counter_ns()
        ui.apply(tick)
        t1 = time.perf_counter_ns()
        app.processEvents()
        t2 = time.perf_counter_ns()
        ui.window.repaint()
        t3 = time.perf_counter_ns()
        if i >= warmup:
            block_ms.append((t3 - t0) / 1e6)
            stages["apply"].append((t1 - t0) / 1e6)
            stages["events"].append((t2 - t1) / 1e6)
            stages["paint"].append((t3 - t2) / 1e6)
    if prof is not None:
        prof.disable()
    from PySide6.QtWidgets import QAbstractItemView

    views = ui.window.findChildren(QAbstractItemView)
    shown = max((v.model().rowCount() for v in views if v.model() is not None), default=-1)
    ui.window.close()
    ui.window.deleteLater()
    app.processEvents()
    return block_ms, stages, shown, ui.description, prof


def run(ctx: Context) -> Section:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    sec = Section("gui_tick", TITLE)
    sizes = [300, 1000] if ctx.smoke else [1000, 10000]
    ticks = 5 if ctx.smoke else 30
    warmup = 2 if ctx.smoke else 3
    rows = []
    result = {}
    how = ""
    for n in sizes:
        ctx.log(f"gui_tick: {n:,} rows, {ticks} ticks")
        ms, stages, shown, how, _ = measure(n, ticks, warmup)
        st = Stats.of(ms)
        p90 = statistics.quantiles(ms, n=10)[-1] if len(ms) >= 10 else max(ms)
        result[n] = st
        rows.append(
            [
                f"{n:,}",
                f"{shown:,}",
                f"{st.median:.1f} ms",
                f"{p90:.1f} ms",
                f"{st.hi:.1f} ms",
                f"{st.lo:.1f} ms",
                *(Stats.of(stages[k]).fmt(1) for k in ("apply", "events", "paint")),
            ]
        )
    sec.add(
        f"Window: {how}. Window size 1280×900, offscreen. {ticks} measured ticks after "
        f"{warmup} warm-up ticks; each figure is the GUI-thread block of one tick "
        "(apply to the models + proxies, charts, `processEvents()`, `repaint()`).",
        "",
    )
    sec.table(
        [
            "rows",
            "largest view",
            "median",
            "p90",
            "longest",
            "shortest",
            "apply (models, proxies, charts) ms",
            "processEvents ms",
            "repaint ms",
        ],
        rows,
    )
    if ctx.smoke:
        return sec
    big = max(sizes)
    met = result[big].hi <= TARGET_MS
    sec.targets.append(
        Target(
            f"GUI tick at {big:,} rows (longest block)",
            f"≤ {TARGET_MS:g} ms",
            f"{result[big].hi:.1f} ms (median {result[big].median:.1f} ms)",
            met,
        )
    )
    if not met:
        ctx.log("gui_tick: profiling the 10,000-row ticks")
        _, _, _, _, prof = measure(big, 10, warmup, profile=True)
        sec.add(
            f"Target missed: profile of 10 ticks at {big:,} rows (cProfile, top entries by "
            "cumulative time, then by own time):",
            "",
            format_profile(prof, 18, "cumulative"),
            "",
            format_profile(prof, 12, "tottime"),
            "",
        )
    return sec
