"""The exit log model and its search proxy."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt
from qtfakes import BOOT_WALL, exited, proc, snapshot, ticks

from procscope.ui.exit_model import (
    EXIT_COLUMNS,
    ExitFilterProxy,
    ExitTableModel,
    describe_exit,
    signal_name,
)

KEYS = [c[0] for c in EXIT_COLUMNS]


def _col(model, key):
    c = KEYS.index(key)
    return [model.data(model.index(r, c)) for r in range(model.rowCount())]


def _feed(model, *batches, lost=()):
    snaps = [
        snapshot(i + 1, [proc(1)], exited_=batch, lost=(lost[i] if i < len(lost) else 0))
        for i, batch in enumerate(batches)
    ]
    for t in ticks(*snaps):
        model.apply_tick(t)


def test_newest_first_across_ticks():
    model = ExitTableModel()
    _feed(model, [exited(0, 10), exited(1, 11)], [], [exited(2, 12)])
    assert _col(model, "pid") == ["12", "11", "10"]


def test_bounded_evicting_the_oldest(qtbot):
    model = ExitTableModel(capacity=3)
    _feed(model, [exited(0, 10), exited(1, 11)])
    with qtbot.waitSignals([model.rowsRemoved, model.rowsInserted]):
        _feed(model, [exited(2, 12), exited(3, 13)])
    assert _col(model, "pid") == ["13", "12", "11"]
    assert model.evicted == 1
    # More in one tick than the capacity holds: only the newest stay.
    _feed(model, [exited(i, 100 + i) for i in range(5)])
    assert _col(model, "pid") == ["104", "103", "102"]


@pytest.mark.parametrize(
    ("rec", "text"),
    [
        (exited(0, 1, code=0), "0"),
        (exited(0, 1, code=2), "2"),
        (exited(0, 1, sig=9), "SIGKILL"),
        (exited(0, 1, sig=11, core=True), "SIGSEGV (core)"),
        (exited(0, 1, code=None), ""),
        (exited(0, 1, sig=77), "signal 77"),
    ],
)
def test_exit_code_or_signal_name(rec, text):
    assert describe_exit(rec) == text
    model = ExitTableModel()
    _feed(model, [rec])
    assert _col(model, "exit") == [text]


def test_signal_names():
    assert signal_name(15) == "SIGTERM"


def test_cells_and_blanks_when_unknown():
    model = ExitTableModel()
    _feed(model, [exited(0, 42, "cc1", ppid=41, start_s=1.0, exit_s=1.25, cpu_ns=None,
                         peak=None)])
    row = {k: _col(model, k)[0] for k in KEYS}
    assert row["pid"] == "42" and row["ppid"] == "41"
    assert row["command"] == "cc1"
    assert row["lifetime"] == "250 ms"
    assert row["cpu_time"] == "" and row["peak_rss"] == ""
    assert row["user"] == "root"
    # The exit time is shown in wall-clock time, from the snapshot's boot time.
    c = KEYS.index("time")
    from procscope.ui.exit_model import SORT_ROLE

    assert model.data(model.index(0, c), SORT_ROLE) == pytest.approx(BOOT_WALL + 1.25)


def test_lost_count_follows_the_ticks():
    model = ExitTableModel()
    _feed(model, [exited(0, 10)], [exited(5, 15)], lost=(0, 4))
    assert model.lost_total == 4


@pytest.mark.parametrize(
    ("needle", "expected"),
    [("", ["13", "12", "11", "10"]), ("CC1", ["12", "10"]), ("sigkill", ["11"]),
     ("13", ["13"]), ("root", ["13", "12", "11", "10"]), ("nothing", [])],
)
def test_search(needle, expected):
    model = ExitTableModel()
    _feed(model, [exited(0, 10, "cc1"), exited(1, 11, "ld", sig=9), exited(2, 12, "cc1"),
                  exited(3, 13, "as")])
    proxy = ExitFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_search(needle)
    assert _col(proxy, "pid") == expected


def test_sorting_is_numeric_with_ties_in_record_order():
    model = ExitTableModel()
    _feed(model, [exited(0, 100, start_s=1, exit_s=3), exited(1, 9, start_s=1, exit_s=2),
                  exited(2, 10, start_s=1, exit_s=2)])
    proxy = ExitFilterProxy()
    proxy.setSourceModel(model)
    proxy.sort(KEYS.index("pid"), Qt.SortOrder.AscendingOrder)
    assert _col(proxy, "pid") == ["9", "10", "100"]
    proxy.sort(KEYS.index("lifetime"), Qt.SortOrder.AscendingOrder)
    assert _col(proxy, "pid") == ["9", "10", "100"]


@pytest.mark.parametrize("force_py", [False, True])
def test_model_tester_across_ticks(qtmodeltester, force_py):
    model = ExitTableModel(capacity=4)
    proxy = ExitFilterProxy()
    proxy.setSourceModel(model)
    proxy.set_search("a")
    proxy.sort(KEYS.index("pid"), Qt.SortOrder.DescendingOrder)
    qtmodeltester.check(proxy if force_py else model, force_py=force_py)
    _feed(model, [exited(0, 10, "a")], [], [exited(1, 11, "b"), exited(2, 12, "a")],
          [exited(i, 20 + i, "ab") for i in range(3, 9)])
    assert model.rowCount() == 4


def test_capacity_must_be_positive():
    with pytest.raises(ValueError, match="positive"):
        ExitTableModel(capacity=0)
