"""The main window with scripted sources: ticks, banner, fallback, signals, export,
settings, shortcuts and a clean close."""

from __future__ import annotations

import csv
import os
import signal
import subprocess

import pytest
from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QMessageBox
from qtfakes import FakeOpener, ScriptedSource, busy_snapshots, proc, snapshot

from procscope.model.records import CLK_TCK
from procscope.ui import mainwindow as mw
from procscope.ui.columns import column_index
from procscope.ui.mainwindow import LOAD_HINT, MainWindow, csv_safe
from procscope.ui.process_model import PID_ROLE
from procscope.ui.worker import PollWorker


@pytest.fixture
def make_window(qtbot, settings):
    made = []

    def make(sources, spec="auto", start=True, interval=0.5):
        worker = PollWorker(spec, interval or 1.0, opener=FakeOpener(sources))
        w = MainWindow(source=spec, interval=interval, settings=settings, worker=worker)
        qtbot.addWidget(w)
        w.show()
        if start:
            w.start()
            qtbot.waitUntil(lambda: w.table_model.rowCount() > 0)
        made.append(w)
        return w

    yield make
    # qtbot only holds a weak reference: close here, while the window still exists.
    for w in made:
        w.close()


def _select(window, pid):
    proxy = window.table_proxy
    for r in range(proxy.rowCount()):
        if proxy.data(proxy.index(r, 0), PID_ROLE) == pid:
            window.table_view.selectionModel().select(
                proxy.index(r, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )
            return
    raise AssertionError(f"PID {pid} is not shown")


def _start_ns(pid):
    with open(f"/proc/{pid}/stat", "rb") as f:
        stat = f.read()
    return int(stat[stat.rfind(b")") + 2 :].split()[19]) * 1_000_000_000 // CLK_TCK


def _source_with(*procs):
    return ScriptedSource("netlink", [snapshot(10, [proc(1, "init", ppid=0), *procs])])


@pytest.fixture
def answer_yes(monkeypatch):
    asked = []

    def question(parent, title, text, *args):
        asked.append(text)
        return QMessageBox.StandardButton.Yes

    monkeypatch.setattr(QMessageBox, "question", staticmethod(question))
    return asked


@pytest.fixture
def warnings_shown(monkeypatch):
    shown = []

    def warning(parent, title, text, *args):
        shown.append((title, text))
        return QMessageBox.StandardButton.Ok

    monkeypatch.setattr(QMessageBox, "warning", staticmethod(warning))
    return shown


def test_ticks_fill_the_table_charts_exit_log_and_status(qtbot, make_window):
    w = make_window({"lkm": ScriptedSource("lkm", busy_snapshots())})
    qtbot.waitUntil(lambda: w.exit_model.rowCount() >= 3)
    assert {1, 2, 100} <= set(w.table_model.pids())
    assert w.source_label.text().startswith("Source: lkm")
    assert "processes" in w.count_label.text()
    assert w.cost_label.text().startswith("poll ")
    assert w.lost_label.text() == "lost: 0"
    assert len(w.rate_chart.forks.getData()[1]) >= 1
    assert w.exit_stack.currentWidget() is w.exit_view


def test_module_banner_when_the_module_is_not_loaded(make_window, monkeypatch):
    monkeypatch.setattr(mw, "module_loaded", lambda: False)
    w = make_window({"netlink": ScriptedSource("netlink", busy_snapshots())})
    assert w.banner.isVisible()
    assert LOAD_HINT in w.banner.label.text()
    w.banner.close_button.click()
    assert not w.banner.isVisible()


def test_lkm_vanishing_falls_back_and_shows_the_banner(qtbot, make_window, monkeypatch):
    monkeypatch.setattr(mw, "module_loaded", lambda: False)
    lkm = ScriptedSource("lkm", busy_snapshots(), gone_after=2)
    netlink = ScriptedSource("netlink", busy_snapshots())
    w = make_window({"lkm": lkm, "netlink": netlink})
    qtbot.waitUntil(lambda: w.source_label.text().startswith("Source: netlink"))
    text = w.banner.label.text()
    assert w.banner.isVisible()
    assert "lkm source stopped" in text and "netlink" in text and LOAD_HINT in text
    assert lkm.closed


def test_a_source_without_exit_log_says_so(make_window):
    w = make_window({"proc": ScriptedSource("proc", busy_snapshots(), has_exit_log=False)})
    assert w.exit_stack.currentWidget() is w.no_exit_log
    assert "no exit log" in w.no_exit_log.text()


def test_pause_stops_updates(qtbot, make_window):
    src = ScriptedSource("lkm", busy_snapshots())
    w = make_window({"lkm": src})
    w.act_pause.trigger()
    qtbot.waitUntil(lambda: w.interval_label.text() == "paused")
    reads = src.reads
    qtbot.wait(1300)  # more than two intervals
    assert src.reads == reads
    w.act_pause.trigger()
    qtbot.waitUntil(lambda: src.reads > reads)


def test_refused_signal_shows_a_message(make_window, answer_yes, warnings_shown, monkeypatch):
    child = subprocess.Popen(["sleep", "30"])
    try:
        w = make_window({"netlink": _source_with(
            proc(child.pid, "sleep", uid=4321, start_ns=_start_ns(child.pid)))})
        _select(w, child.pid)

        def refuse(pid, sig):
            raise PermissionError(1, "Operation not permitted")

        monkeypatch.setattr(os, "kill", refuse)
        w.signal_selected(signal.SIGKILL)
        assert "Send SIGKILL to sleep" in answer_yes[0]
        assert len(warnings_shown) == 1
        title, text = warnings_shown[0]
        assert title == "SIGKILL not sent"
        assert "Not permitted" in text and str(child.pid) in text
        assert child.poll() is None  # still alive
    finally:
        monkeypatch.undo()
        child.kill()
        child.wait()


def test_signalling_a_process_that_has_exited_shows_a_message(
    make_window, answer_yes, warnings_shown
):
    child = subprocess.Popen(["true"])
    start = _start_ns(child.pid) if os.path.exists(f"/proc/{child.pid}") else 0
    child.wait()  # reaped: the PID is free, a real kill() gets ESRCH
    w = make_window({"netlink": _source_with(proc(child.pid, "true", start_ns=start))})
    _select(w, child.pid)
    w.signal_selected(signal.SIGTERM)
    assert len(warnings_shown) == 1
    assert "has already exited" in warnings_shown[0][1]


def test_delete_sends_term_after_confirmation(qtbot, make_window, answer_yes, warnings_shown):
    child = subprocess.Popen(["sleep", "30"])
    try:
        w = make_window({"netlink": _source_with(
            proc(child.pid, "sleep", start_ns=_start_ns(child.pid)))})
        _select(w, child.pid)
        w.activateWindow()
        w.table_view.setFocus()
        qtbot.waitUntil(w.isActiveWindow)
        qtbot.keyClick(w.table_view, Qt.Key.Key_Delete)
        assert answer_yes and "SIGTERM" in answer_yes[0]
        assert child.wait(timeout=10) == -signal.SIGTERM
        assert not warnings_shown
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()


def test_cancelled_confirmation_sends_nothing(make_window, monkeypatch):
    sent = []
    monkeypatch.setattr(QMessageBox, "question",
                        staticmethod(lambda *a: QMessageBox.StandardButton.Cancel))
    monkeypatch.setattr(os, "kill", lambda pid, sig: sent.append((pid, sig)))
    w = make_window({"netlink": _source_with(proc(4242, "victim"))})
    _select(w, 4242)
    w.signal_selected(signal.SIGKILL)
    assert sent == []


def test_shortcuts(qtbot, make_window):
    w = make_window({"lkm": ScriptedSource("lkm", busy_snapshots())})
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    w.table_view.setFocus()
    qtbot.keyClick(w.table_view, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert w.filter_edit.hasFocus()
    qtbot.keyClicks(w.filter_edit, "make 1")  # Space types into the filter, no pause
    assert w.filter_edit.text() == "make 1" and not w.act_pause.isChecked()
    w.table_view.setFocus()
    qtbot.keyClick(w.table_view, Qt.Key.Key_Space)
    assert w.act_pause.isChecked()
    qtbot.keyClick(w.table_view, Qt.Key.Key_Space)
    assert not w.act_pause.isChecked()


def test_filter_controls_drive_the_proxy(qtbot, make_window):
    w = make_window({"lkm": ScriptedSource("lkm", busy_snapshots())})
    w.filter_edit.setText("bash")
    assert [w.table_proxy.data(w.table_proxy.index(r, 0), PID_ROLE)
            for r in range(w.table_proxy.rowCount())] == [100]
    w.regex_check.setChecked(True)
    w.filter_edit.setText("(")  # a bad regex: marked, and the last good filter stays
    assert "bad regular expression" in w.filter_edit.toolTip()
    assert w.table_proxy.rowCount() == 1
    w.filter_edit.setText("")
    w.kthreads_check.setChecked(False)
    shown = {w.table_proxy.data(w.table_proxy.index(r, 0), PID_ROLE)
             for r in range(w.table_proxy.rowCount())}
    assert 2 not in shown and 1 in shown
    w.user_combo.setCurrentIndex(w.user_combo.findData(1000))
    shown = {w.table_proxy.data(w.table_proxy.index(r, 0), PID_ROLE)
             for r in range(w.table_proxy.rowCount())}
    assert 100 in shown and 1 not in shown


def test_tree_mode_shows_children_under_parents(qtbot, make_window):
    w = make_window({"lkm": ScriptedSource("lkm", busy_snapshots())})
    w.act_tree.setChecked(True)
    assert w.views.currentWidget() is w.tree_view
    tree = w.tree_model
    bash = tree.index_of(100)
    assert bash.isValid() and tree.rowCount(bash) >= 1
    qtbot.waitUntil(lambda: w.table_model.rowCount() >= 5)  # a few more ticks, no warnings


def test_export_is_safe_for_spreadsheets(tmp_path, make_window):
    evil = "=1+1"
    odd = b"x\n\xff".decode("utf-8", "surrogateescape")
    w = make_window({"netlink": _source_with(proc(50, evil), proc(51, odd))})
    w.table_proxy.sort(column_index("pid"), Qt.SortOrder.AscendingOrder)
    path = tmp_path / "table.csv"
    assert w.export_table(path) == 3
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0][0] == "PID" and rows[0][-1] == "Command"
    assert [r[-1] for r in rows[1:]] == ["init", "'=1+1", "x\\x0a\\xff"]
    assert csv_safe("-2") == "'-2" and csv_safe("bash") == "bash"


def test_export_exit_log(tmp_path, qtbot, make_window):
    w = make_window({"lkm": ScriptedSource("lkm", busy_snapshots())})
    qtbot.waitUntil(lambda: w.exit_model.rowCount() >= 3)
    path = tmp_path / "exits.csv"
    n = w.export_exits(path)
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert len(rows) == n + 1 and rows[0][1] == "PID"
    assert rows[1][-1] == "cc1-2"  # newest first


def test_export_to_an_unwritable_place_fails_cleanly(tmp_path, make_window):
    w = make_window({"lkm": ScriptedSource("lkm", busy_snapshots())})
    with pytest.raises(OSError):
        w.export_table(tmp_path / "no" / "such" / "dir.csv")


def test_settings_are_remembered(qtbot, settings, make_window):
    w = make_window({"lkm": ScriptedSource("lkm", busy_snapshots())})
    w.filter_edit.setText("make")
    w.kthreads_check.setChecked(False)
    w.interval_spin.setValue(2.5)
    w.table_view.sortByColumn(column_index("rss"), Qt.SortOrder.AscendingOrder)
    w.table_view.horizontalHeader().setSectionHidden(column_index("ppid"), True)
    w.close()
    w2 = make_window({"lkm": ScriptedSource("lkm", busy_snapshots())}, start=False,
                     interval=None)
    assert w2.filter_edit.text() == "make"
    assert not w2.kthreads_check.isChecked()
    assert w2.interval_spin.value() == 2.5
    header = w2.table_view.horizontalHeader()
    assert header.sortIndicatorSection() == column_index("rss")
    assert header.isSectionHidden(column_index("ppid"))


def test_closing_while_polling_stops_the_thread_cleanly(qtbot, make_window):
    src = ScriptedSource("lkm", busy_snapshots())
    w = make_window({"lkm": src})
    thread = w.poller.thread
    assert thread.isRunning()
    w.close()
    assert not thread.isRunning()
    assert src.closed
    # The autouse guard then fails the test on "QThread: Destroyed while thread is
    # still running" or any other Qt warning.


def test_copy_puts_the_selected_rows_on_the_clipboard(qapp, make_window):
    w = make_window({"netlink": _source_with(proc(4242, "victim", uid=0))})
    _select(w, 4242)
    w.copy_selected()
    cells = qapp.clipboard().text().split("\t")
    assert cells[column_index("pid")] == "4242"
    assert cells[column_index("command")] == "victim"


def test_f5_polls_now_even_when_paused(qtbot, make_window):
    src = ScriptedSource("lkm", busy_snapshots())
    w = make_window({"lkm": src})
    w.act_pause.setChecked(True)
    qtbot.waitUntil(lambda: w.interval_label.text() == "paused")
    reads = src.reads
    w.activateWindow()
    qtbot.waitUntil(w.isActiveWindow)
    qtbot.keyClick(w.table_view, Qt.Key.Key_F5)
    qtbot.waitUntil(lambda: src.reads == reads + 1)


def test_broken_settings_fall_back_to_defaults(settings, make_window):
    settings.setValue("interval", "soon")
    settings.setValue("table/header", "not a header state")
    settings.setValue("filter/user", "nobody-knows")
    w = make_window({"lkm": ScriptedSource("lkm", busy_snapshots())}, interval=None)
    assert w.interval_spin.value() == 1.0
    assert w.user_combo.currentData() == "all"
