"""The process table model, its sort/filter proxies and the tree model."""

from __future__ import annotations

import os
import random

import pytest
from PySide6.QtCore import QItemSelectionModel, QModelIndex, QPoint, Qt
from PySide6.QtWidgets import QTableView
from qtfakes import proc, snapshot, ticks

from procscope.ui.columns import COLUMNS, column_index
from procscope.ui.process_model import (
    PID_ROLE,
    SORT_ROLE,
    ProcessFilterProxy,
    ProcessTableModel,
    ProcessTableProxy,
    ProcessTreeModel,
)

DISPLAY = Qt.ItemDataRole.DisplayRole


def _table(*snaps):
    model = ProcessTableModel()
    for t in ticks(*snaps):
        model.apply_tick(t)
    return model


def _proxy(model):
    """The proxy the app puts over ``model``: ProcessTableProxy for the flat table."""
    proxy = ProcessTableProxy() if isinstance(model, ProcessTableModel) else ProcessFilterProxy()
    proxy.setSourceModel(model)
    return proxy


def _column(proxy, key, role=DISPLAY):
    c = column_index(key)
    return [proxy.data(proxy.index(r, c), role) for r in range(proxy.rowCount())]


def _pids(proxy):
    return _column(proxy, "pid", PID_ROLE)


# -- the table model -------------------------------------------------------------


def test_rows_follow_the_snapshots_in_place(qtbot):
    model = ProcessTableModel()
    t1, t2 = ticks(
        snapshot(1, [proc(1, "init"), proc(5, "a"), proc(7, "b")]),
        snapshot(2, [proc(1, "init", cpu_ns=S2), proc(7, "b"), proc(9, "c")]),
    )
    model.apply_tick(t1)
    resets = []
    model.modelReset.connect(lambda: resets.append(1))
    with qtbot.waitSignals([model.rowsInserted, model.dataChanged]):
        model.apply_tick(t2)
    assert not resets
    # PID 5 vanished: kept, greyed, then removed two ticks later.
    assert model.pids() == [1, 5, 7, 9]
    assert model.is_gone(5)
    assert model.is_new(9)
    r = model.row_of(1)
    assert model.data(model.index(r, column_index("cpu_time"))) == "0:01.00"


S2 = 1_000_000_000


def test_vanished_rows_stay_greyed_for_two_ticks_then_go(qtbot):
    a = [proc(1), proc(2), proc(3)]
    b = [proc(1), proc(3)]
    model = ProcessTableModel()
    tl = ticks(snapshot(1, a), snapshot(2, b), snapshot(3, b), snapshot(4, b))
    model.apply_tick(tl[0])
    model.apply_tick(tl[1])
    r = model.row_of(2)
    assert model.data(model.index(r, 0), Qt.ItemDataRole.ForegroundRole) is not None
    model.apply_tick(tl[2])
    assert model.row_of(2) is not None  # still greyed
    with qtbot.waitSignal(model.rowsRemoved):
        model.apply_tick(tl[3])
    assert model.pids() == [1, 3]
    assert model.row_of(3) == 1


def test_new_rows_are_tinted_briefly_but_not_on_the_first_tick():
    tl = ticks(*(snapshot(t, [proc(1)] + ([proc(2)] if t >= 2 else [])) for t in range(1, 6)))
    model = ProcessTableModel()
    model.apply_tick(tl[0])
    bg = Qt.ItemDataRole.BackgroundRole
    assert model.data(model.index(0, 0), bg) is None  # first tick: nothing is "new"
    model.apply_tick(tl[1])
    assert model.data(model.index(model.row_of(2), 0), bg) is not None
    model.apply_tick(tl[2])
    model.apply_tick(tl[3])
    assert model.data(model.index(model.row_of(2), 0), bg) is None


def test_a_reused_pid_is_a_new_process_in_the_same_row():
    model = _table(
        snapshot(1, [proc(1), proc(42, "old", start_ns=100)]),
        snapshot(2, [proc(1), proc(42, "new", start_ns=999_000)]),
    )
    r = model.row_of(42)
    assert model.data(model.index(r, column_index("command"))) == "new"
    assert model.is_new(42) and not model.is_gone(42)


def test_changed_rows_get_dataChanged_for_the_changed_columns_only(qtbot):
    tl = ticks(
        snapshot(1, [proc(1), proc(2, rss=1 << 20), proc(3)]),
        snapshot(2, [proc(1), proc(2, rss=2 << 20), proc(3)]),
    )
    model = ProcessTableModel()
    model.apply_tick(tl[0])
    seen = []
    model.dataChanged.connect(lambda a, b, roles: seen.append((a.row(), b.row(), a.column(),
                                                               b.column())))
    model.apply_tick(tl[1])
    rss = column_index("rss")
    assert seen == [(1, 1, rss, rss)]


def test_names_that_are_not_printable_are_shown_escaped():
    bad = b"a\nb\xff".decode("utf-8", "surrogateescape")
    model = _table(snapshot(1, [proc(7, bad)]))
    assert model.data(model.index(0, column_index("command"))) == "a\\x0ab\\xff"


# -- sorting ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key", "procs", "ascending"),
    [
        ("pid", [proc(100), proc(9), proc(10)], [9, 10, 100]),
        ("rss", [proc(1, rss=12 << 20), proc(2, rss=1536 << 10), proc(3, rss=900)], [3, 2, 1]),
        ("threads", [proc(1, threads=10), proc(2, threads=9), proc(3, threads=100)], [2, 1, 3]),
        ("command", [proc(1, "b"), proc(2, "A"), proc(3, "c")], [2, 1, 3]),
        # ties broken by PID
        ("state", [proc(30, state="S"), proc(4, state="R"), proc(20, state="S")], [4, 20, 30]),
    ],
)
def test_clicking_a_header_sorts_by_value_not_text(qtbot, key, procs, ascending):
    model = _table(snapshot(1, procs))
    proxy = _proxy(model)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.resize(900, 300)
    view.show()
    header = view.horizontalHeader()
    header.setSortIndicator(0, Qt.SortOrder.DescendingOrder)
    col = column_index(key)
    x = header.sectionViewportPosition(col) + header.sectionSize(col) // 2
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    assert header.sortIndicatorSection() == col
    order = _pids(proxy)
    if header.sortIndicatorOrder() == Qt.SortOrder.DescendingOrder:
        order.reverse()
    assert order == ascending
    qtbot.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, 5))
    assert list(reversed(_pids(proxy))) == ascending


def test_sort_role_returns_raw_values():
    model = _table(snapshot(1, [proc(5, rss=3 << 20, cpu_ns=7)]))
    assert model.data(model.index(0, column_index("rss")), SORT_ROLE) == 3 << 20
    assert model.data(model.index(0, column_index("pid")), SORT_ROLE) == 5


def test_sort_order_stays_put_across_ticks_with_equal_values():
    procs = [proc(p, rss=1 << 20) for p in (50, 3, 17, 8)]
    model = ProcessTableModel()
    proxy = _proxy(model)
    proxy.sort(column_index("rss"), Qt.SortOrder.DescendingOrder)
    orders = []
    for t in ticks(*(snapshot(i, procs) for i in range(1, 4))):
        model.apply_tick(t)
        orders.append(_pids(proxy))
    assert orders[0] == orders[1] == orders[2] == [50, 17, 8, 3]


def test_sorting_by_cpu_follows_the_data():
    model = ProcessTableModel()
    proxy = _proxy(model)
    proxy.sort(column_index("cpu"), Qt.SortOrder.DescendingOrder)
    for t in ticks(
        snapshot(1, [proc(1, cpu_ns=0), proc(2, cpu_ns=0)]),
        snapshot(2, [proc(1, cpu_ns=S2 // 2), proc(2, cpu_ns=S2 // 10)]),
        snapshot(3, [proc(1, cpu_ns=S2 // 2), proc(2, cpu_ns=S2)]),
    ):
        model.apply_tick(t)
    assert _pids(proxy) == [2, 1]


def _busy_ticks(n_procs=300, n_ticks=6, seed=7):
    """Ticks where many rows change at once, spread all over the table, with some
    processes exiting and new ones appearing."""
    rng = random.Random(seed)
    procs = {pid: proc(pid, rng.choice(["sh", "Make", "cc1", "ld"]), rss=rng.randint(1, 9) << 20)
             for pid in range(2, 2 + n_procs)}
    snaps = []
    for t in range(1, n_ticks + 1):
        for pid in rng.sample(sorted(procs), n_procs // 4):
            p = procs[pid]
            procs[pid] = p._replace(cpu_ns=p.cpu_ns + rng.choice([0, 1, 5, 9]) * S2 // 10,
                                    rss_bytes=rng.randint(1, 9) << 20)
        for pid in rng.sample(sorted(procs), 3):
            del procs[pid]
        for k in range(3):
            pid = 1000 * t + k
            procs[pid] = proc(pid, "new")
        snaps.append(snapshot(t, procs.values()))
    return ticks(*snaps)


def _expected(model, key, descending):
    """The rows of ``model`` in the order the proxy must show: by value, then PID."""
    col = COLUMNS[column_index(key)]
    rows = []
    for pid in model.pids():
        r = model.row_of(pid)
        value = col.sort(model.data(model.index(r, column_index(key)), SORT_ROLE))
        rows.append((value, pid))
    return [pid for _v, pid in sorted(rows, reverse=descending)]


@pytest.mark.parametrize("key", ["cpu", "pid", "command", "rss"])
@pytest.mark.parametrize("order", [Qt.SortOrder.AscendingOrder, Qt.SortOrder.DescendingOrder])
def test_sort_order_is_exact_after_every_busy_tick(qtbot, key, order):
    # Many changes in one tick, far apart in the table: every row must land in place
    # (sorting the rows of one change among rows whose keys also moved misplaces them).
    model = ProcessTableModel()
    proxy = _proxy(model)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.sortByColumn(column_index(key), order)
    resets = []
    proxy.modelReset.connect(lambda: resets.append(1))
    for t in _busy_ticks():
        model.apply_tick(t)
        assert _pids(proxy) == _expected(model, key, order == Qt.SortOrder.DescendingOrder)
    assert not resets


def test_scroll_position_survives_ticks(qtbot):
    model = ProcessTableModel()
    proxy = _proxy(model)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.sortByColumn(column_index("cpu"), Qt.SortOrder.DescendingOrder)
    view.resize(600, 300)
    view.show()
    tl = _busy_ticks()
    model.apply_tick(tl[0])
    bar = view.verticalScrollBar()
    qtbot.waitUntil(lambda: bar.maximum() > 0)
    bar.setValue(bar.maximum() // 2)
    where = bar.value()
    assert where > 0
    for t in tl[1:]:
        model.apply_tick(t)
        qtbot.wait(1)  # let the view lay out and paint
        assert bar.value() == where


def test_a_tick_is_one_layout_change_or_data_changes_of_the_changed_rows(qtbot):
    model = ProcessTableModel()
    proxy = _proxy(model)
    proxy.sort(column_index("cpu"), Qt.SortOrder.DescendingOrder)
    tl = _busy_ticks(n_ticks=2)
    model.apply_tick(tl[0])
    signals = []
    proxy.layoutChanged.connect(lambda *a: signals.append("layout"))
    proxy.dataChanged.connect(lambda a, b, *_: signals.append((a.row(), b.row())))
    proxy.rowsInserted.connect(lambda *a: signals.append("insert"))
    proxy.rowsRemoved.connect(lambda *a: signals.append("remove"))
    proxy.modelReset.connect(lambda *a: signals.append("reset"))
    model.apply_tick(tl[1])  # the order changes, processes come and go
    assert signals == ["layout"]
    # Sorted by PID, a tick that changes values but brings and takes no process
    # keeps the order: dataChanged for the runs of rows that changed, no more.
    model = ProcessTableModel()
    proxy = _proxy(model)
    proxy.sort(column_index("pid"), Qt.SortOrder.AscendingOrder)
    procs = [proc(pid) for pid in range(10, 40)]
    bigger = {10, 11, 12, 17, 30}
    after = [p._replace(rss_bytes=77 << 20) if p.pid in bigger else p for p in procs]
    tl = ticks(snapshot(1, procs), snapshot(2, procs), snapshot(3, after))
    model.apply_tick(tl[0])
    model.apply_tick(tl[1])
    signals.clear()
    proxy.layoutChanged.connect(lambda *a: signals.append("layout"))
    proxy.dataChanged.connect(lambda a, b, *_: signals.append((a.row(), b.row())))
    model.apply_tick(tl[2])
    assert signals == [(0, 2), (7, 7), (20, 20)]


def test_filter_follows_a_process_that_changes_name():
    model = ProcessTableModel()
    proxy = _proxy(model)
    proxy.set_pattern("cc1")
    tl = ticks(
        snapshot(1, [proc(1, "init"), proc(7, "sh", start_ns=5)]),
        snapshot(2, [proc(1, "init"), proc(7, "cc1", start_ns=5)]),  # exec
        snapshot(3, [proc(1, "init"), proc(7, "as", start_ns=5)]),
    )
    model.apply_tick(tl[0])
    assert _pids(proxy) == []
    model.apply_tick(tl[1])
    assert _pids(proxy) == [7]
    model.apply_tick(tl[2])
    assert _pids(proxy) == []


def test_proxy_maps_to_and_from_the_table():
    model = _table(snapshot(1, [proc(30), proc(4), proc(20, "x")]))
    proxy = _proxy(model)
    proxy.sort(column_index("pid"), Qt.SortOrder.DescendingOrder)
    assert _pids(proxy) == [30, 20, 4]
    src = proxy.mapToSource(proxy.index(1, column_index("command")))
    assert (model.pids()[src.row()], src.column()) == (20, column_index("command"))
    back = proxy.mapFromSource(src)
    assert (back.row(), back.column()) == (1, column_index("command"))
    proxy.set_pattern("x")
    assert not proxy.mapFromSource(model.index(model.row_of(4), 0)).isValid()
    assert proxy.pid_at(proxy.index(0, 0)) == 20
    proxy.sort(-1)  # unsorted: the table's order
    assert _pids(proxy) == [20]


def test_sort_keys_kept_tick_by_tick_match_keys_made_afresh():
    model = ProcessTableModel()
    cpu, rss, pid = column_index("cpu"), column_index("rss"), column_index("pid")
    tl = _busy_ticks(n_procs=40, n_ticks=4)
    model.apply_tick(tl[0])
    for c in (cpu, rss, pid):  # three columns asked for: the oldest is no longer kept
        model.sort_keys(c)
    for i, t in enumerate(tl[1:], 2):
        model.apply_tick(t)
        fresh = ProcessTableModel()
        for u in tl[:i]:
            fresh.apply_tick(u)
        assert fresh.pids() == model.pids()
        for c in (rss, pid):
            assert model.keys_moved(c) is not None
            assert model.sort_keys(c) == fresh.sort_keys(c)
    assert model.keys_moved(cpu) is None


def test_multidata_answers_what_data_answers(qtbot):
    from PySide6.QtWidgets import QStyledItemDelegate, QStyleOptionViewItem

    tl = ticks(snapshot(1, [proc(1), proc(2)]), snapshot(2, [proc(1), proc(3, "new")]))
    model = ProcessTableModel()
    for t in tl:
        model.apply_tick(t)
    proxy = _proxy(model)
    delegate = QStyledItemDelegate()
    for m in (model, proxy):
        for r in range(m.rowCount()):
            for c in range(m.columnCount()):
                index = m.index(r, c)
                opt = QStyleOptionViewItem()
                delegate.initStyleOption(opt, index)  # asks through multiData
                assert opt.text == m.data(index)
                bg = m.data(index, Qt.ItemDataRole.BackgroundRole)
                assert opt.backgroundBrush == (bg if bg is not None else opt.backgroundBrush)
                assert int(opt.displayAlignment) == int(
                    m.data(index, Qt.ItemDataRole.TextAlignmentRole))
    # a new row and a gone row are painted in their colours
    gone, new = model.row_of(2), model.row_of(3)
    assert model.data(model.index(gone, 0), Qt.ItemDataRole.ForegroundRole) is not None
    assert model.data(model.index(new, 0), Qt.ItemDataRole.BackgroundRole) is not None


# -- filtering -------------------------------------------------------------------

_PROCS = [
    proc(1, "systemd", ppid=0),
    proc(2, "kthreadd", ppid=0, kthread=True, rss=0),
    proc(12, "kworker/0:1", ppid=2, kthread=True, rss=0),
    proc(120, "bash", uid=1000),
    proc(1201, "make", ppid=120, uid=1000),
    proc(4242, "Xorg", uid=0),
    proc(777, "nginx", uid=33),
]


@pytest.mark.parametrize(
    ("pattern", "regex", "user", "kthreads", "expected"),
    [
        ("", False, "all", True, [1, 2, 12, 120, 777, 1201, 4242]),
        ("ba", False, "all", True, [120]),
        ("XORG", False, "all", True, [4242]),  # case-insensitive
        ("12", False, "all", True, [12, 120, 1201]),  # PID prefix
        ("^k", True, "all", True, [2, 12]),
        ("(make|nginx)$", True, "all", True, [777, 1201]),
        ("", False, 1000, True, [120, 1201]),
        ("", False, 33, True, [777]),
        ("", False, "all", False, [1, 120, 777, 1201, 4242]),
        ("k", False, 0, False, []),
        ("d$", True, 0, False, [1]),
    ],
)
def test_filter(pattern, regex, user, kthreads, expected):
    proxy = _proxy(_table(snapshot(1, _PROCS)))
    proxy.sort(0, Qt.SortOrder.AscendingOrder)
    proxy.set_pattern(pattern, regex)
    proxy.set_user(user)
    proxy.set_show_kthreads(kthreads)
    assert _pids(proxy) == expected


def test_filter_mine_uses_our_uid():
    me = os.getuid()
    proxy = _proxy(_table(snapshot(1, [proc(1, uid=me), proc(2, uid=me + 1)])))
    proxy.set_user("mine")
    assert _pids(proxy) == [1]


def test_a_bad_regex_is_refused_and_the_filter_stays():
    proxy = _proxy(_table(snapshot(1, _PROCS)))
    proxy.set_pattern("bash")
    with pytest.raises(ValueError, match="bad regular expression"):
        proxy.set_pattern("(", regex=True)
    assert proxy.pattern == "bash"
    assert _pids(proxy) == [120]


def test_filter_applies_to_rows_that_arrive_later():
    model = ProcessTableModel()
    proxy = _proxy(model)
    proxy.set_pattern("cc1")
    for t in ticks(snapshot(1, [proc(1, "init")]),
                   snapshot(2, [proc(1, "init"), proc(300, "cc1")])):
        model.apply_tick(t)
    assert _pids(proxy) == [300]


def test_a_bad_user_filter_is_refused():
    with pytest.raises(ValueError, match="user filter"):
        ProcessFilterProxy().set_user("root")


# -- selection -------------------------------------------------------------------


def test_selection_survives_ticks_that_reorder_insert_and_remove(qtbot):
    model = ProcessTableModel()
    proxy = _proxy(model)
    view = QTableView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    view.setSortingEnabled(True)
    view.sortByColumn(column_index("cpu"), Qt.SortOrder.DescendingOrder)
    tl = ticks(
        snapshot(1, [proc(1), proc(2), proc(3), proc(4)]),
        snapshot(2, [proc(1, cpu_ns=S2 // 2), proc(2), proc(3, cpu_ns=S2 // 4), proc(4)]),
        snapshot(3, [proc(1, cpu_ns=S2 // 2), proc(3, cpu_ns=S2), proc(4), proc(9)]),
        snapshot(4, [proc(3, cpu_ns=S2), proc(4, cpu_ns=S2), proc(9), proc(10)]),
        snapshot(5, [proc(3, cpu_ns=S2), proc(4, cpu_ns=S2), proc(9), proc(10)]),
    )
    model.apply_tick(tl[0])
    sel = view.selectionModel()
    row = _pids(proxy).index(3)
    sel.select(proxy.index(row, 0), QItemSelectionModel.SelectionFlag.ClearAndSelect
               | QItemSelectionModel.SelectionFlag.Rows)
    for t in tl[1:]:
        model.apply_tick(t)
        selected = {proxy.data(i, PID_ROLE) for i in sel.selectedRows()}
        assert selected == {3}
    assert 2 not in model.pids()  # PID 2 was removed meanwhile


# -- model tester ----------------------------------------------------------------


def _churn():
    return ticks(
        snapshot(1, [proc(1, ppid=0), proc(2, ppid=1), proc(3, ppid=2), proc(4, ppid=1)]),
        snapshot(2, [proc(1, ppid=0, cpu_ns=S2), proc(3, ppid=1), proc(4, ppid=1),
                     proc(5, ppid=4)]),
        snapshot(3, [proc(1, ppid=0), proc(3, ppid=1), proc(5, ppid=4), proc(6, ppid=5)]),
        snapshot(4, [proc(1, ppid=0), proc(5, ppid=1), proc(6, ppid=5), proc(7, ppid=6)]),
        snapshot(5, [proc(1, ppid=0), proc(7, ppid=1)]),
        snapshot(6, [proc(1, ppid=0), proc(7, ppid=1), proc(8, ppid=7, cpu_ns=S2)]),
        snapshot(7, []),
        snapshot(8, []),
        snapshot(9, []),
        snapshot(10, [proc(1, ppid=0)]),
    )


@pytest.mark.parametrize("force_py", [False, True])
@pytest.mark.parametrize("checked", ["table", "proxy"])
def test_table_and_proxy_pass_the_model_tester_across_ticks(qtmodeltester, force_py, checked):
    model = ProcessTableModel()
    proxy = _proxy(model)
    proxy.sort(column_index("cpu"), Qt.SortOrder.DescendingOrder)
    proxy.set_pattern("proc")
    qtmodeltester.check(proxy if checked == "proxy" else model, force_py=force_py)
    for i, t in enumerate(_churn()):
        model.apply_tick(t)
        proxy.set_pattern("proc" if i % 2 else "")  # the filter changes too
    assert model.rowCount() == 1
    assert _pids(proxy) == [1]


# -- tree ------------------------------------------------------------------------


def _tree_rows(model, parent=QModelIndex(), depth=0):  # noqa: B008
    out = []
    for r in range(model.rowCount(parent)):
        i = model.index(r, 0, parent)
        out.append((depth, model.data(i, PID_ROLE)))
        out.extend(_tree_rows(model, i, depth + 1))
    return out


def test_tree_groups_under_parents_and_follows_reparenting():
    table = ProcessTableModel()
    tree = ProcessTreeModel(table)
    tree.set_active(True)
    tl = ticks(
        snapshot(1, [proc(1, ppid=0), proc(2, ppid=1), proc(3, ppid=2), proc(9, ppid=77)]),
        snapshot(2, [proc(1, ppid=0), proc(3, ppid=1), proc(9, ppid=77)]),
        snapshot(3, [proc(1, ppid=0), proc(3, ppid=1), proc(9, ppid=77)]),
        snapshot(4, [proc(1, ppid=0), proc(3, ppid=1), proc(9, ppid=77)]),
    )
    table.apply_tick(tl[0])
    # 9's parent is not shown: it is top level.
    assert _tree_rows(tree) == [(0, 1), (1, 2), (2, 3), (0, 9)]
    table.apply_tick(tl[1])  # 2 exited (greyed, still shown); 3 was reparented to 1
    assert _tree_rows(tree) == [(0, 1), (1, 2), (1, 3), (0, 9)]
    table.apply_tick(tl[2])
    table.apply_tick(tl[3])
    assert _tree_rows(tree) == [(0, 1), (1, 3), (0, 9)]


def test_tree_breaks_a_parent_cycle():
    table = ProcessTableModel()
    tree = ProcessTreeModel(table)
    tree.set_active(True)
    table.apply_tick(ticks(snapshot(1, [proc(5, ppid=6), proc(6, ppid=5)]))[0])
    rows = _tree_rows(tree)
    assert sorted(pid for _d, pid in rows) == [5, 6]
    assert rows[0][0] == 0


@pytest.mark.parametrize("force_py", [False, True])
def test_tree_and_its_proxy_pass_the_model_tester_across_ticks(qtmodeltester, force_py):
    table = ProcessTableModel()
    tree = ProcessTreeModel(table)
    tree.set_active(True)
    proxy = _proxy(tree)
    proxy.sort(column_index("pid"), Qt.SortOrder.DescendingOrder)
    qtmodeltester.check(proxy if force_py else tree, force_py=force_py)
    for t in _churn():
        table.apply_tick(t)
    assert _tree_rows(tree) == [(0, 1)]


def test_tree_selection_survives_a_layout_change(qtbot):
    from PySide6.QtWidgets import QTreeView

    table = ProcessTableModel()
    tree = ProcessTreeModel(table)
    tree.set_active(True)
    proxy = _proxy(tree)
    view = QTreeView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    tl = ticks(
        snapshot(1, [proc(1, ppid=0), proc(2, ppid=1), proc(3, ppid=2)]),
        snapshot(2, [proc(1, ppid=0), proc(2, ppid=1), proc(3, ppid=1), proc(4, ppid=3)]),
    )
    table.apply_tick(tl[0])
    view.expandAll()
    target = proxy.mapFromSource(tree.index_of(3))
    view.selectionModel().select(target, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                 | QItemSelectionModel.SelectionFlag.Rows)
    table.apply_tick(tl[1])
    assert [proxy.data(i, PID_ROLE) for i in view.selectionModel().selectedRows()] == [3]


def test_tree_filter_keeps_the_ancestors_of_a_match():
    table = ProcessTableModel()
    tree = ProcessTreeModel(table)
    tree.set_active(True)
    proxy = _proxy(tree)
    table.apply_tick(ticks(snapshot(1, [proc(1, "init", ppid=0), proc(2, "sh", ppid=1),
                                        proc(3, "cc1", ppid=2), proc(4, "vim", ppid=1)]))[0])
    proxy.set_pattern("cc1")
    assert _tree_rows(proxy) == [(0, 1), (1, 2), (2, 3)]


def test_every_column_has_a_header_and_formats_its_values():
    model = _table(snapshot(1, [proc(1, "init", threads=3, cpu_ns=61 * S2, rss=5 << 20)]))
    headers = [model.headerData(c, Qt.Orientation.Horizontal) for c in range(len(COLUMNS))]
    assert headers == [c.header for c in COLUMNS]
    row = [model.data(model.index(0, c)) for c in range(len(COLUMNS))]
    assert row[column_index("cpu_time")] == "1:01.00"
    assert row[column_index("rss")] == "5.0 MiB"
    assert row[column_index("threads")] == "3"


def test_changes_too_small_to_show_emit_nothing_but_are_kept(qtbot):
    tl = ticks(
        snapshot(1, [proc(1, cpu_ns=5 * S2)]),
        snapshot(2, [proc(1, cpu_ns=5 * S2 + 3_000)]),  # 3 µs: 0.0003 %, same 1/100 s
    )
    model = ProcessTableModel()
    model.apply_tick(tl[0])
    with qtbot.assertNotEmitted(model.dataChanged):
        model.apply_tick(tl[1])
    assert model.process(1).cpu_ns == 5 * S2 + 3_000


def test_tree_follows_a_table_reset(qtmodeltester):
    table = ProcessTableModel()
    tree = ProcessTreeModel(table)
    tree.set_active(True)
    qtmodeltester.check(tree)
    table.apply_tick(ticks(snapshot(1, [proc(1, ppid=0), proc(2, ppid=1)]))[0])
    table.clear()
    assert tree.rowCount() == 0
    table.apply_tick(ticks(snapshot(1, [proc(7, ppid=0)]))[0])
    assert _tree_rows(tree) == [(0, 7)]


@pytest.mark.parametrize("n_new", [2, 30])  # row by row, and one layout change
def test_tree_takes_small_and_busy_ticks(qtmodeltester, qtbot, n_new):
    from PySide6.QtWidgets import QTreeView

    table = ProcessTableModel()
    tree = ProcessTreeModel(table)
    tree.set_active(True)
    proxy = _proxy(tree)
    proxy.sort(column_index("pid"), Qt.SortOrder.AscendingOrder)
    qtmodeltester.check(tree)
    view = QTreeView()
    qtbot.addWidget(view)
    view.setModel(proxy)
    base = [proc(1, ppid=0), proc(10, ppid=1), proc(20, ppid=1)]
    kids = [proc(100 + i, ppid=10 if i % 2 else 20) for i in range(n_new)]
    table.apply_tick(ticks(snapshot(1, base))[0])
    view.expandAll()
    target = proxy.mapFromSource(tree.index_of(20))
    view.selectionModel().select(target, QItemSelectionModel.SelectionFlag.ClearAndSelect
                                 | QItemSelectionModel.SelectionFlag.Rows)
    signals = []
    tree.layoutChanged.connect(lambda *a: signals.append("layout"))
    tree.rowsInserted.connect(lambda *a: signals.append("insert"))
    for t in ticks(snapshot(1, base), snapshot(2, base + kids))[1:]:
        table.apply_tick(t)
    assert ("layout" in signals) == (n_new > 8)
    expected = [(0, 1), (1, 10)] + [(2, k.pid) for k in kids if k.ppid == 10]
    expected += [(1, 20)] + [(2, k.pid) for k in kids if k.ppid == 20]
    assert _tree_rows(proxy) == expected
    assert [proxy.data(i, PID_ROLE) for i in view.selectionModel().selectedRows()] == [20]
