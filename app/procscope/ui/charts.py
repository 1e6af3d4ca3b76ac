"""pyqtgraph charts: event rates over the last five minutes, and the top RSS users.

Following pyqtgraph's ``scrollingPlots`` example, each curve is created once and
fed with ``setData()`` from a fixed-size numpy ring; the plot clips to the view and
downsamples by peak, so a long run at a short interval costs the same as a short one.
"""

from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from procscope.model.delta import Tick
from procscope.ui.columns import format_bytes, safe_text

__all__ = ["RateChart", "Ring", "TopRssChart"]

WINDOW_S = 300.0  # the rate chart's span
MIN_SPAN_S = 30.0  # what it shows at first, until there is more history

_FORK_PEN = pg.mkPen((46, 134, 222), width=2)
_EXIT_PEN = pg.mkPen((231, 76, 60), width=2)
_THREAD_NEW_PEN = pg.mkPen((46, 134, 222), width=1.5, style=Qt.PenStyle.DashLine)
_THREAD_EXIT_PEN = pg.mkPen((231, 76, 60), width=1.5, style=Qt.PenStyle.DashLine)


class Ring:
    """A fixed-size ring of (time, value) samples with a contiguous view, no copies.

    Each sample is written twice, at ``i`` and ``i + capacity``, so the last
    ``capacity`` samples are always the slice ``[i + 1, i + 1 + capacity)``.
    """

    def __init__(self, capacity: int, columns: int = 1) -> None:
        if capacity <= 0:
            raise ValueError(f"ring capacity must be positive, not {capacity}")
        self.capacity = capacity
        self._t = np.zeros(2 * capacity)
        self._v = np.full((2 * capacity, columns), np.nan)
        self._i = capacity - 1  # index of the newest sample
        self.count = 0

    def append(self, t: float, values: tuple[float, ...]) -> None:
        self._i = (self._i + 1) % self.capacity
        for j in (self._i, self._i + self.capacity):
            self._t[j] = t
            self._v[j] = values
        self.count = min(self.count + 1, self.capacity)

    def clear(self) -> None:
        self._v[:] = np.nan
        self.count = 0

    def view(self) -> tuple[np.ndarray, np.ndarray]:
        """Times and values of the stored samples, oldest first (views into the ring)."""
        end = self._i + 1 + self.capacity
        start = end - self.count
        return self._t[start:end], self._v[start:end]


def _nan(x: float | None) -> float:
    return np.nan if x is None else float(x)


class RateChart(QWidget):
    """Forks/s and exits/s (and, on request, threads created/exited per s)."""

    def __init__(self, capacity: int = 4096, parent=None) -> None:
        super().__init__(parent)
        self.ring = Ring(capacity, columns=4)
        self.plot = pg.PlotWidget(background=None)
        self.plot.setMinimumHeight(150)
        item = self.plot.getPlotItem()
        item.setClipToView(True)
        item.setDownsampling(auto=True, mode="peak")
        item.showGrid(x=True, y=True, alpha=0.2)
        item.setLabel("left", "per second")
        item.setLabel("bottom", "seconds ago")
        item.setXRange(-MIN_SPAN_S, 0, padding=0)
        item.setLimits(xMin=-WINDOW_S, xMax=0, yMin=0)
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.enableAutoRange(axis="y")
        self.legend = item.addLegend(offset=(8, 4), colCount=2)
        self.legend.setLabelTextSize("8pt")
        self.forks = item.plot(pen=_FORK_PEN, name="forks/s", connect="finite")
        self.exits = item.plot(pen=_EXIT_PEN, name="exits/s", connect="finite")
        self.threads_created = item.plot(pen=_THREAD_NEW_PEN, name="threads/s", connect="finite")
        self.threads_exited = item.plot(
            pen=_THREAD_EXIT_PEN, name="thread exits/s", connect="finite"
        )
        self.curves = (self.forks, self.exits, self.threads_created, self.threads_exited)
        self._forks_label = "forks/s"

        self.title = QLabel("<b>Process churn</b>")
        self.now = QLabel("")
        self.now.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.show_threads = QCheckBox("threads")
        self.show_threads.setToolTip("Also plot threads created and exited per second")
        self.show_threads.toggled.connect(self.set_threads_visible)
        top = QHBoxLayout()
        top.setContentsMargins(4, 0, 4, 0)
        top.addWidget(self.title)
        top.addStretch(1)
        top.addWidget(self.now)
        top.addWidget(self.show_threads)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(top)
        layout.addWidget(self.plot, 1)
        self.set_threads_visible(False)

    def set_threads_visible(self, visible: bool) -> None:
        for curve, name in ((self.threads_created, "threads/s"),
                            (self.threads_exited, "thread exits/s")):
            curve.setVisible(visible)
            self.legend.removeItem(curve)
            if visible:
                self.legend.addItem(curve, name)

    def clear(self) -> None:
        self.ring.clear()
        self._redraw()

    def add(self, tick: Tick) -> None:
        """Append this tick's rates (nothing on the first tick of a source: no rate yet)."""
        if tick.interval_ns <= 0:
            return
        r = tick.rates
        forks = r.forks if r.forks is not None else r.tasks_created
        self.ring.append(
            tick.snapshot.time_ns / 1e9,
            (_nan(forks), _nan(r.exits), _nan(r.threads_created), _nan(r.threads_exited)),
        )
        label = "forks/s" if r.forks is not None or r.tasks_created is None else "tasks/s"
        if label != self._forks_label:  # /proc counts threads too: say so
            self._forks_label = label
            self.legend.getLabel(self.forks).setText(label)
        parts = []
        if forks is not None:
            parts.append(f"{forks:.1f} forks/s" if r.forks is not None else f"{forks:.1f} tasks/s")
        if r.exits is not None:
            parts.append(f"{r.exits:.1f} exits/s")
        self.now.setText("  ".join(parts))
        self._redraw()

    def _redraw(self) -> None:
        t, v = self.ring.view()
        if len(t):
            x = t - t[-1]
            keep = int(np.searchsorted(x, -WINDOW_S))
            x = x[keep:]
            v = v[keep:]
        else:
            x = t
        for j, curve in enumerate(self.curves):
            curve.setData(x, v[:, j])
        # Show at least a minute, and at most the whole window, of what there is.
        span = min(WINDOW_S, max(MIN_SPAN_S, -float(x[0]) if len(x) else 0.0))
        self.plot.getPlotItem().setXRange(-span, 0, padding=0)


class TopRssChart(QWidget):
    """The ``n`` largest resident sets as horizontal bars, largest on top, labelled."""

    def __init__(self, n: int = 10, parent=None) -> None:
        super().__init__(parent)
        self.n = n
        self.plot = pg.PlotWidget(background=None)
        self.plot.setMinimumHeight(150)
        item = self.plot.getPlotItem()
        item.setMouseEnabled(x=False, y=False)
        item.hideButtons()
        item.hideAxis("bottom")
        item.setMenuEnabled(False)
        item.getAxis("left").setStyle(tickLength=0)
        item.setYRange(-0.6, n - 0.4, padding=0)
        self.bars = pg.BarGraphItem(
            x0=np.zeros(n), y=np.arange(n), height=0.7, width=np.zeros(n),
            brush=pg.mkBrush(52, 152, 219, 170), pen=pg.mkPen(None),
        )
        item.addItem(self.bars)
        self.labels = []
        for i in range(n):
            label = pg.TextItem("", anchor=(0, 0.5), color=(90, 90, 90))
            label.setPos(0, i)
            item.addItem(label)
            self.labels.append(label)
        self.widths = np.zeros(n)
        self.names: list[str] = [""] * n

        self.title = QLabel("<b>Top memory (RSS)</b>")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        head = QHBoxLayout()
        head.setContentsMargins(4, 0, 4, 0)
        head.addWidget(self.title)
        head.addStretch(1)
        layout.addLayout(head)
        layout.addWidget(self.plot, 1)

    def update_from(self, tick: Tick) -> None:
        top = tick.top_rss[: self.n]
        n = self.n
        widths = np.zeros(n)
        names = [""] * n
        # Largest on top: the largest goes at y = n - 1.
        for i, p in enumerate(top):
            y = n - 1 - i
            widths[y] = p.rss_bytes / 2**20
            names[y] = f"{safe_text(p.comm)} ({p.pid})"
        biggest = float(widths.max()) if len(top) else 1.0
        self.widths = widths
        self.names = names
        self.bars.setOpts(width=widths)
        item = self.plot.getPlotItem()
        # Leave room on the right for the size labels.
        item.setXRange(0, max(biggest, 1.0) * 1.35, padding=0)
        for y, label in enumerate(self.labels):
            if names[y]:
                label.setText(format_bytes(int(widths[y] * 2**20)))
                label.setPos(widths[y], y)
            else:
                label.setText("")
        item.getAxis("left").setTicks([[(y, names[y]) for y in range(n) if names[y]]])
