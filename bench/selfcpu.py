"""Self-CPU: the app's full pipeline at 1 s vs ``htop -d 10`` in tmux, 2,000 processes.

With 2,000 pausing children (``spawner hold``) on the host, three observers run
at the same time: ``htop -d 10`` (a 1 s refresh) in a detached tmux session, and
bench/app_runner.py (source → poll worker → Qt models, proxies, charts → paint,
offscreen) once per host source (netlink, proc). After a warm-up, the CPU each
uses (utime + stime, children included, from /proc/PID/stat) is read every 5 s
over the window: the figures are % of one core per 5 s slice, median [min–max],
and the ratio app / htop per slice.
"""

from __future__ import annotations

import select
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    PY,
    BenchError,
    Context,
    Hold,
    Section,
    Stats,
    Target,
    count_processes,
    env_with_app,
    format_profile,
    tree_cpu_ns,
)

TITLE = "2. Self-CPU at 1 s with 2,000 processes"
SOURCES = ["netlink", "proc"]
TARGET_RATIO = 0.5
TMUX_SOCKET = "procscope-bench"
READY_TIMEOUT_S = 180.0  # app start to first tick; pyqtgraph alone takes ~8 s under TCG


class Htop:
    """``htop -d 10`` in a detached tmux session on a private server."""

    def __init__(self) -> None:
        self.pid = 0
        self.server_pid = 0

    def __enter__(self) -> Htop:
        for tool in ("tmux", "htop"):
            if shutil.which(tool) is None:
                raise BenchError(f"{tool} is missing: apt-get install {tool} (sysdeps.sh test)")
        tmux = ["tmux", "-L", TMUX_SOCKET, "-f", "/dev/null"]
        subprocess.run([*tmux, "kill-server"], capture_output=True)
        subprocess.run(
            [*tmux, "new-session", "-d", "-s", "bench", "-x", "200", "-y", "50", "exec htop -d 10"],
            check=True,
            env={"TERM": "xterm-256color", "PATH": "/usr/bin:/bin"},
        )
        out = subprocess.run(
            [*tmux, "list-panes", "-F", "#{pane_pid} #{pid}"],
            check=True,
            capture_output=True,
            text=True,
        ).stdout.split()
        self.pid, self.server_pid = int(out[0]), int(out[1])
        with open(f"/proc/{self.pid}/comm") as fh:
            comm = fh.read().strip()
        if comm != "htop":
            self.__exit__()
            raise BenchError(f"the tmux pane runs {comm!r}, not htop")
        return self

    def __exit__(self, *exc: object) -> None:
        subprocess.run(["tmux", "-L", TMUX_SOCKET, "kill-server"], capture_output=True)


class AppRun:
    """bench/app_runner.py on one source; ``ticks`` counts the ticks it applied."""

    def __init__(self, spec: str, interval: float = 1.0) -> None:
        self.spec = spec
        self.proc = subprocess.Popen(
            [PY, str(Path(__file__).with_name("app_runner.py")), spec, str(interval)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            env=env_with_app(),
        )
        self.pid = self.proc.pid
        self.how = ""
        self.ticks = 0

    def wait_ready(self) -> None:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], READY_TIMEOUT_S)
        if not ready:
            self.proc.kill()
            raise BenchError(f"app_runner {self.spec} showed no tick in {READY_TIMEOUT_S:g} s")
        line = self.proc.stdout.readline().split(maxsplit=1)
        if not line or line[0] != "ready":
            raise BenchError(f"app_runner {self.spec} did not start (rc {self.proc.poll()})")
        self.how = line[1].strip() if len(line) > 1 else ""
        import threading

        def count() -> None:
            for ln in self.proc.stdout:  # type: ignore[union-attr]
                if ln.startswith("tick"):
                    self.ticks += 1

        threading.Thread(target=count, daemon=True).start()

    def stop(self) -> None:
        if self.proc.poll() is None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def sample_cpu(pids: dict[str, int], seconds: float, slice_s: float) -> dict[str, list[float]]:
    """% of one core per slice, for each named pid (and its descendants)."""
    out: dict[str, list[float]] = {k: [] for k in pids}
    prev = {k: tree_cpu_ns(p) for k, p in pids.items()}
    t_prev = time.perf_counter_ns()
    end = time.monotonic() + seconds
    while time.monotonic() < end - 1e-3:
        time.sleep(min(slice_s, end - time.monotonic()))
        now = time.perf_counter_ns()
        for k, p in pids.items():
            c = tree_cpu_ns(p)
            out[k].append(100.0 * (c - prev[k]) / (now - t_prev))
            prev[k] = c
        t_prev = now
    return out


def profile_pipeline(spec: str, ticks: int) -> str:
    """cProfile of ``ticks`` ticks of the pipeline run inline (read, model, GUI)."""
    import cProfile

    from PySide6.QtWidgets import QApplication

    import gui_tick
    from procscope.model.delta import DeltaModel
    from procscope.sources import open_source

    app = QApplication.instance() or QApplication([])
    found = gui_tick._main_window()
    ui = gui_tick.RealWindow(*found) if found else gui_tick.Assembled()
    src = open_source(spec)
    model = DeltaModel()
    ui.apply(model.update(src.read()))
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(ticks):
        ui.apply(model.update(src.read()))
        app.processEvents()
        ui.window.repaint()
    prof.disable()
    src.close()
    ui.window.close()
    return format_profile(prof, 16, "cumulative")


def run(ctx: Context) -> Section:
    sec = Section("selfcpu", TITLE)
    held = 2000 if not ctx.smoke else 200
    window = 30.0 if not ctx.smoke else 6.0
    slice_s = 5.0 if not ctx.smoke else 2.0
    warm = 4.0 if not ctx.smoke else 2.0
    with Hold(ctx.spawner, held), Htop() as htop:
        total = count_processes()
        ctx.log(f"selfcpu: {total} processes; starting the app on {', '.join(SOURCES)}")
        apps = [AppRun(s) for s in SOURCES]
        try:
            for a in apps:
                a.wait_ready()
            time.sleep(warm)
            pids = {"htop -d 10": htop.pid, "tmux server (htop's terminal)": htop.server_pid}
            pids.update({f"app, {a.spec}": a.pid for a in apps})
            ticks0 = {a.spec: a.ticks for a in apps}
            ctx.log(f"selfcpu: measuring {window:.0f} s")
            pct = sample_cpu(pids, window, slice_s)
            ticks = {a.spec: a.ticks - ticks0[a.spec] for a in apps}
        finally:
            for a in apps:
                a.stop()
        rows = []
        htop_pct = pct["htop -d 10"]
        for name, vals in pct.items():
            st = Stats.of(vals)
            mean = sum(vals) / len(vals)
            ratio = ""
            if name.startswith("app"):
                ratio = Stats.of([a / h for a, h in zip(vals, htop_pct, strict=True) if h > 0])
                ratio = f"{ratio.median:.2f}× [{ratio.lo:.2f}–{ratio.hi:.2f}]"
            extra = f"{ticks[name.split(', ')[1]]}" if name.startswith("app") else ""
            rows.append([name, st.fmt(2, " %"), f"{mean:.2f} %", ratio, extra])
        sec.add(
            f"{total:,} processes on the host ({held:,} of them `spawner hold` children). "
            f"All rows were measured at the same time, over the same {window:.0f} s window "
            f"(after {warm:.0f} s of warm-up), in {slice_s:.0f} s slices: % of one core per "
            "slice, median [min–max], and the mean over the window. The app is "
            f"`bench/app_runner.py SOURCE 1` ({apps[0].how}), offscreen. htop runs with "
            "`-d 10` in a 200×50 tmux session; the tmux server that renders its screen is "
            "shown apart, for reference (the ratio is against htop alone).",
            "",
        )
        sec.table(["process", "CPU % (per slice)", "mean", "app / htop", "ticks applied"], rows)
    if ctx.smoke:
        return sec
    for a in apps:
        vals = pct[f"app, {a.spec}"]
        ratio = sum(vals) / max(sum(htop_pct), 1e-9)
        met = ratio <= TARGET_RATIO
        sec.targets.append(
            Target(
                f"self-CPU, {a.spec} source, vs htop -d 10",
                f"≤ {TARGET_RATIO}× htop",
                f"{ratio:.2f}× ({sum(vals) / len(vals):.2f} % vs "
                f"{sum(htop_pct) / len(htop_pct):.2f} %)",
                met,
            )
        )
        if not met:
            ctx.log(f"selfcpu: profiling the {a.spec} pipeline")
            with Hold(ctx.spawner, held):
                prof = profile_pipeline(a.spec, 10)
            sec.add(
                f"Target missed on {a.spec}: profile of 10 ticks of the same pipeline run "
                f"inline (read + delta model + GUI apply + paint) with {held:,} held children "
                "(cProfile, top entries by cumulative time):",
                "",
                prof,
                "",
            )
    return sec
