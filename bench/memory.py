"""Memory: the app's RSS over 10 minutes at 1 s with 2,000 processes.

bench/app_runner.py (the full pipeline, offscreen) runs on the netlink and the
proc source side by side while 2,000 ``spawner hold`` children exist. VmRSS of
each is sampled every 10 s. Reported: RSS at 1, 2, 5 and 10 minutes, the growth
between minute 2 and minute 10, and the least-squares slope over that span.

It runs beside the VM measures (see bench/run.py): those happen in the guest,
whose figures are ratios inside one boot, and the app at 1 s takes a few % of
one host core.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Context, Hold, Section, Target, rss_kib
from selfcpu import SOURCES, AppRun

TITLE = "6. Memory over time"
#: "No growth" as a number: less than this many KiB between minute 2 and the end.
GROWTH_LIMIT_KIB = 1024


def _slope_kib_per_min(points: list[tuple[float, int]]) -> float:
    n = len(points)
    if n < 2:
        return 0.0
    mx = sum(t for t, _ in points) / n
    my = sum(r for _, r in points) / n
    sxx = sum((t - mx) ** 2 for t, _ in points)
    sxy = sum((t - mx) * (r - my) for t, r in points)
    return 60.0 * sxy / sxx if sxx else 0.0


def tracemalloc_profile(spec: str, ctx: Context, ticks: int, held: int) -> str:
    """Python allocations that grew over ``ticks`` ticks of the pipeline run inline.

    The same pipeline as the app (source read, delta model, the main window's
    ``on_tick``, events, paint), ticking every 0.2 s, with tracemalloc snapshots
    after a warm-up and at the end. tracemalloc sees Python's allocations only;
    growth in Qt's own C++ heap does not show here.
    """
    import tracemalloc

    from PySide6.QtWidgets import QApplication

    import gui_tick
    from procscope.model.delta import DeltaModel
    from procscope.sources import open_source

    app = QApplication.instance() or QApplication([])
    found = gui_tick._main_window()
    ui = gui_tick.RealWindow(*found) if found else gui_tick.Assembled()
    model = DeltaModel()
    with Hold(ctx.spawner, held):
        src = open_source(spec)

        def tick() -> None:
            ui.apply(model.update(src.read()))
            app.processEvents()
            ui.window.repaint()
            time.sleep(0.2)

        for _ in range(20):
            tick()
        tracemalloc.start(1)
        before = tracemalloc.take_snapshot()
        rss0 = rss_kib(os.getpid())
        for _ in range(ticks):
            tick()
        after = tracemalloc.take_snapshot()
        rss1 = rss_kib(os.getpid())
        tracemalloc.stop()
        src.close()
    ui.window.close()
    diffs = [d for d in after.compare_to(before, "lineno") if d.size_diff > 0][:12]
    lines = [
        f"{ticks} ticks: RSS {rss1 - rss0:+,} KiB, Python heap (tracemalloc) "
        f"{sum(d.size_diff for d in after.compare_to(before, 'filename')) / 1024:+,.0f} KiB",
        "",
        "  size diff   count diff  where",
    ]
    for d in diffs:
        fr = d.traceback[0]
        where = f"{Path(fr.filename).name}:{fr.lineno}"
        lines.append(f"{d.size_diff / 1024:+9.1f} KiB {d.count_diff:+10,}  {where}")
    return "```\n" + "\n".join(lines) + "\n```"


def run(ctx: Context) -> Section:
    sec = Section("memory", TITLE)
    minutes = 10.0 if not ctx.smoke else 0.25
    step = 10.0 if not ctx.smoke else 2.0
    held = 2000 if not ctx.smoke else 200
    marks = [1, 2, 5, 10] if not ctx.smoke else [0.05, 0.1, 0.25]
    base = 2.0 if not ctx.smoke else 0.1
    samples: dict[str, list[tuple[float, int]]] = {s: [] for s in SOURCES}
    ticks: dict[str, int] = {}
    with Hold(ctx.spawner, held):
        apps = [AppRun(s) for s in SOURCES]
        try:
            for a in apps:
                a.wait_ready()
            t0 = time.monotonic()
            ctx.log(f"memory: sampling RSS for {minutes:g} min")
            while True:
                t = time.monotonic() - t0
                for a in apps:
                    samples[a.spec].append((t, rss_kib(a.pid)))
                if t >= minutes * 60:
                    break
                time.sleep(min(step, minutes * 60 - t))
            ticks = {a.spec: a.ticks for a in apps}
        finally:
            for a in apps:
                a.stop()
    rows = []
    for spec, pts in samples.items():

        def at(minute: float, pts=pts) -> int:
            return min(pts, key=lambda p: abs(p[0] - minute * 60))[1]

        late = [(t, r) for t, r in pts if t >= base * 60]
        growth = at(marks[-1]) - at(base)
        slope = _slope_kib_per_min(late)
        rows.append(
            [
                spec,
                *(f"{at(m) / 1024:.1f} MiB" for m in marks),
                f"{growth:+,} KiB",
                f"{slope:+.1f} KiB/min",
                f"{ticks.get(spec, 0):,}",
            ]
        )
        if not ctx.smoke:
            sec.targets.append(
                Target(
                    f"memory growth, {spec} source, minute 2 → 10",
                    f"none (< {GROWTH_LIMIT_KIB:,} KiB)",
                    f"{growth:+,} KiB ({slope:+.1f} KiB/min)",
                    growth < GROWTH_LIMIT_KIB,
                )
            )
    sec.add(
        f"`bench/app_runner.py SOURCE 1` with {held:,} `spawner hold` children, "
        f"{minutes:g} minutes, VmRSS sampled every {step:g} s (time 0 = first tick applied). "
        f"Both sources ran side by side. The slope is a least-squares fit over minute "
        f"{base:g} to the end.",
        "",
    )
    sec.table(
        [
            "source",
            *(f"RSS at {m:g} min" for m in marks),
            f"growth {base:g} → {marks[-1]:g} min",
            "slope",
            f"ticks (≈ {minutes * 60:.0f} expected)",
        ],
        rows,
    )
    for t in sec.targets:
        if t.met is False:
            spec = t.name.split(", ")[1].split()[0]
            ctx.log(f"memory: tracemalloc profile of the {spec} pipeline")
            try:
                prof = tracemalloc_profile(spec, ctx, 150, held)
            except Exception as exc:
                prof = f"(the profile failed: {type(exc).__name__}: {exc})"
            sec.add(
                f"Target missed on {spec}: allocations that grew over 150 ticks of the same "
                f"pipeline run inline at 0.2 s per tick with {held:,} held children "
                "(tracemalloc, top sites by growth; Python allocations only):",
                "",
                prof,
                "",
            )
    return sec
