"""The rate chart and the top-RSS bar chart get the data they are fed."""

from __future__ import annotations

import numpy as np
import pytest
from qtfakes import proc, snapshot, ticks

from procscope.ui.charts import WINDOW_S, RateChart, Ring, TopRssChart


def test_ring_keeps_the_newest_in_order():
    ring = Ring(3)
    for i in range(5):
        ring.append(float(i), (i * 10.0,))
    t, v = ring.view()
    assert list(t) == [2.0, 3.0, 4.0]
    assert list(v[:, 0]) == [20.0, 30.0, 40.0]
    with pytest.raises(ValueError, match="positive"):
        Ring(0)


def test_rate_curves_hold_the_rates_fed(qtbot):
    chart = RateChart()
    qtbot.addWidget(chart)
    forks = [0, 10, 30, 60, 61]
    exits = [0, 5, 25, 55, 60]
    tl = ticks(*(snapshot(t + 1, [proc(1)], forks=f, exits=e, threads_created=2 * f,
                          threads_exited=e) for t, (f, e) in enumerate(zip(forks, exits,
                                                                             strict=True))))
    for t in tl:
        chart.add(t)
    x, y = chart.forks.getData()
    assert list(y) == [10, 20, 30, 1]  # the first tick has no rate
    assert list(chart.exits.getData()[1]) == [5, 20, 30, 5]
    assert list(chart.threads_created.getData()[1]) == [20, 40, 60, 2]
    assert list(x) == [-3, -2, -1, 0]
    assert "1.0 forks/s" in chart.now.text()


def test_unknown_rates_are_gaps_and_old_samples_scroll_off(qtbot):
    chart = RateChart(capacity=1000)
    qtbot.addWidget(chart)
    snaps = [snapshot(float(t), [proc(1)], forks=t, exits=None) for t in range(0, 400, 10)]
    for t in ticks(*snaps):
        chart.add(t)
    x, y = chart.forks.getData()
    assert x[0] >= -WINDOW_S and x[-1] == 0
    assert np.allclose(y, 1.0)
    assert np.isnan(chart.exits.getData()[1]).all()


def test_threads_toggle(qtbot):
    chart = RateChart()
    qtbot.addWidget(chart)
    assert not chart.threads_created.isVisible()
    chart.show_threads.setChecked(True)
    assert chart.threads_created.isVisible() and chart.threads_exited.isVisible()


def test_top_rss_bars_and_labels(qtbot):
    chart = TopRssChart(n=3)
    qtbot.addWidget(chart)
    procs = [proc(1, "small", rss=1 << 20), proc(2, "big", rss=300 << 20),
             proc(3, "mid", rss=20 << 20), proc(4, "tiny", rss=1 << 10)]
    (t,) = ticks(snapshot(1, procs))
    chart.update_from(t)
    # Largest on top (highest y).
    assert list(chart.widths) == [1.0, 20.0, 300.0]
    assert chart.names == ["small (1)", "mid (3)", "big (2)"]
    assert list(chart.bars.opts["width"]) == [1.0, 20.0, 300.0]
    assert [lab.textItem.toPlainText() for lab in chart.labels] == [
        "1.0 MiB", "20.0 MiB", "300 MiB"]
    # Fewer processes than bars: the rest are empty.
    (t,) = ticks(snapshot(1, [proc(9, "only", rss=2 << 20)]))
    chart.update_from(t)
    assert list(chart.widths) == [0.0, 0.0, 2.0]
    assert [lab.textItem.toPlainText() for lab in chart.labels] == ["", "", "2.0 MiB"]


def test_a_source_that_only_counts_tasks_is_labelled_so(qtbot):
    from procscope.model.records import Counters

    chart = RateChart()
    qtbot.addWidget(chart)
    snaps = [snapshot(t, [proc(1)])._replace(counters=Counters(tasks_created=10 * t))
             for t in (1, 2)]
    for t in ticks(*snaps):
        chart.add(t)
    assert list(chart.forks.getData()[1]) == [10.0]
    assert chart.legend.getLabel(chart.forks).text == "tasks/s"
    assert "10.0 tasks/s" in chart.now.text()
