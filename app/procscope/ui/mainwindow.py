"""The main window: process table (or tree), charts, exit log, and the controls."""

from __future__ import annotations

import csv
import os
import signal as _signal
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, QSize, Qt, QTimer, Slot
from PySide6.QtGui import QAction, QGuiApplication, QIcon, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFrame,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMainWindow,
    QMenu,
    QMessageBox,
    QSizePolicy,
    QSplitter,
    QStackedWidget,
    QStyle,
    QTableView,
    QToolBar,
    QToolButton,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from procscope.model.delta import Tick
from procscope.model.records import CLK_TCK, Process, user_name
from procscope.ui.charts import RateChart, TopRssChart
from procscope.ui.columns import COLUMNS, safe_text
from procscope.ui.exit_model import EXIT_COLUMNS, ExitFilterProxy, ExitTableModel
from procscope.ui.process_model import (
    ProcessFilterProxy,
    ProcessTableModel,
    ProcessTableProxy,
    ProcessTreeModel,
)
from procscope.ui.worker import MAX_INTERVAL, MIN_INTERVAL, PollController, PollWorker

__all__ = ["LOAD_HINT", "MainWindow", "csv_safe", "module_loaded", "send_signal"]

LOAD_HINT = "make -C kernel_module && sudo insmod kernel_module/procscope.ko"
SOURCES = ("auto", "lkm", "netlink", "proc")
SIGNALS = (
    ("TERM", _signal.SIGTERM, "ask it to terminate"),
    ("KILL", _signal.SIGKILL, "kill it at once; it cannot clean up"),
    ("STOP", _signal.SIGSTOP, "pause it"),
    ("CONT", _signal.SIGCONT, "resume it"),
)


def module_loaded(root: str = "/proc/procscope") -> bool:
    return os.path.exists(os.path.join(root, "version"))


def csv_safe(text: str) -> str:
    """A cell that a spreadsheet will show as text, never run as a formula."""
    if text and text[0] in "=+-@\t\r":
        return "'" + text
    return text


def write_csv(path: str | os.PathLike, header: list[str], rows: list[list[str]]) -> None:
    """Write a CSV atomically: a failed write leaves any previous file as it was."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        with open(tmp, "w", newline="", encoding="utf-8") as f:
            w = csv.writer(f)
            w.writerow(header)
            for row in rows:
                w.writerow([csv_safe(c) for c in row])
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _start_ticks(pid: int) -> int | None:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    fields = stat[stat.rfind(b")") + 2 :].split()
    return int(fields[19])


def send_signal(proc: Process, sig: int) -> None:
    """Send ``sig`` to ``proc`` if its PID still belongs to it.

    Raises ``ProcessLookupError`` when the process is gone, even if its PID now
    belongs to another process (the start times differ), and ``PermissionError``
    when the kernel refuses.
    """
    if proc.pid <= 0:
        raise ProcessLookupError(f"{proc.pid} is not a process ID")
    ticks = _start_ticks(proc.pid)
    if ticks is not None and abs(ticks * 1e9 / CLK_TCK - proc.start_ns) > 2e9 / CLK_TCK:
        raise ProcessLookupError(
            f"PID {proc.pid} now belongs to another process; {safe_text(proc.comm)} has exited"
        )
    os.kill(proc.pid, sig)


class Banner(QFrame):
    """A dismissable message strip above the table."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("banner")
        self.setStyleSheet(
            "#banner { background: #fff4ce; border: 1px solid #e0c97a; border-radius: 4px; }"
            "#banner QLabel { color: #4a3b00; }"
        )
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.close_button = QToolButton()
        self.close_button.setText("✕")
        self.close_button.setAutoRaise(True)
        self.close_button.setToolTip("Dismiss")
        self.close_button.clicked.connect(self.dismiss)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(10, 6, 6, 6)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.close_button, 0, Qt.AlignmentFlag.AlignTop)
        self.hide()

    def show_message(self, html: str) -> None:
        self.label.setText(html)
        self.show()

    @Slot()
    def dismiss(self) -> None:
        self.hide()


class MainWindow(QMainWindow):
    """Procscope's window. ``start()`` begins polling; closing stops it cleanly."""

    def __init__(
        self,
        source: str = "auto",
        interval: float | None = None,
        settings: QSettings | None = None,
        worker: PollWorker | None = None,
    ) -> None:
        super().__init__()
        self.settings = settings if settings is not None else QSettings()
        saved_source = str(self.settings.value("source", "auto"))
        if interval is None:
            try:
                interval = float(self.settings.value("interval", 1.0))
            except (TypeError, ValueError):  # a hand-edited settings file
                interval = 1.0
        self.setWindowTitle("Procscope")
        self.resize(1360, 860)
        self._paused = False
        self._source_kind = ""
        self._process_count = 0
        self._user_items: set[int] = set()

        self.table_model = ProcessTableModel(self)
        self.tree_model = ProcessTreeModel(self.table_model, self)
        self.table_proxy = ProcessTableProxy(self)
        self.table_proxy.setSourceModel(self.table_model)
        self.tree_proxy = ProcessFilterProxy(self)
        self.tree_proxy.setSourceModel(self.tree_model)
        self.exit_model = ExitTableModel(parent=self)
        self.exit_proxy = ExitFilterProxy(self)
        self.exit_proxy.setSourceModel(self.exit_model)

        self._build_actions()
        self._build_toolbar(source if source != "auto" else saved_source, interval)
        self._build_central()
        self._build_status()
        self._restore_settings()

        spec = source if source != "auto" else str(self.source_combo.currentData())
        self.worker = worker if worker is not None else PollWorker(spec, interval)
        self.poller = PollController(self.worker, self)
        w = self.worker
        w.sig_tick.connect(self.on_tick)
        w.sig_cost.connect(self.on_cost)
        w.sig_error.connect(self.on_error)
        w.sig_source_changed.connect(self.on_source_changed)
        w.sig_fallback.connect(self.on_fallback)
        w.sig_paused.connect(self.on_paused)
        self.interval_spin.valueChanged.connect(self.poller.sig_set_interval)
        self.table_model.sig_new_uids.connect(self._add_user)

    # -- construction ------------------------------------------------------------

    def _build_actions(self) -> None:
        style = self.style()
        self.act_pause = QAction("Pause", self, checkable=True)
        self.act_pause.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_MediaPause))
        self.act_pause.setShortcut(QKeySequence(Qt.Key.Key_Space))
        self.act_pause.setToolTip("Pause or resume updates (Space)")
        self.act_pause.toggled.connect(self.set_paused)
        self.act_refresh = QAction("Refresh", self)
        self.act_refresh.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_BrowserReload))
        self.act_refresh.setShortcut(QKeySequence(QKeySequence.StandardKey.Refresh))
        self.act_refresh.setToolTip("Poll now (F5)")
        self.act_refresh.triggered.connect(self.refresh_now)
        self.act_find = QAction("Find", self)
        self.act_find.setShortcut(QKeySequence(QKeySequence.StandardKey.Find))
        self.act_find.triggered.connect(self.focus_filter)
        self.act_term = QAction("Send TERM to selected", self)
        self.act_term.setShortcut(QKeySequence(Qt.Key.Key_Delete))
        self.act_term.triggered.connect(self.terminate_selected)
        self.act_quit = QAction("Quit", self)
        self.act_quit.setShortcut(QKeySequence(QKeySequence.StandardKey.Quit))
        self.act_quit.triggered.connect(self.close)
        self.act_tree = QAction("Tree", self, checkable=True)
        self.act_tree.setIcon(style.standardIcon(QStyle.StandardPixmap.SP_FileDialogListView))
        self.act_tree.setToolTip("Group processes under their parents")
        self.act_tree.toggled.connect(self.set_tree_mode)
        self.act_export_table = QAction("Export process table as CSV…", self)
        self.act_export_table.triggered.connect(self.export_table_dialog)
        self.act_export_exits = QAction("Export exit log as CSV…", self)
        self.act_export_exits.triggered.connect(self.export_exits_dialog)
        for act in (self.act_find, self.act_term, self.act_quit):
            self.addAction(act)
        menu = self.menuBar().addMenu("&File")
        menu.addAction(self.act_export_table)
        menu.addAction(self.act_export_exits)
        menu.addSeparator()
        menu.addAction(self.act_quit)
        view = self.menuBar().addMenu("&View")
        view.addAction(self.act_pause)
        view.addAction(self.act_refresh)
        view.addAction(self.act_tree)
        view.addAction(self.act_find)

    def _build_toolbar(self, source: str, interval: float) -> None:
        bar = QToolBar("Controls", self)
        bar.setObjectName("controls")
        bar.setMovable(False)
        bar.setIconSize(QSize(16, 16))
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.addToolBar(bar)

        self.filter_edit = QLineEdit()
        self.filter_edit.setPlaceholderText("Filter by name or PID  (Ctrl+F)")
        self.filter_edit.setClearButtonEnabled(True)
        self.filter_edit.setMinimumWidth(260)
        self.filter_edit.textChanged.connect(self._apply_pattern)
        self.regex_check = QCheckBox("Regex")
        self.regex_check.setToolTip("Treat the filter as a regular expression")
        self.regex_check.toggled.connect(self._apply_pattern)
        self.user_combo = QComboBox()
        self.user_combo.addItem("All users", "all")
        self.user_combo.addItem("My processes", "mine")
        self.user_combo.insertSeparator(2)
        self.user_combo.setToolTip("Show the processes of one user")
        self.user_combo.currentIndexChanged.connect(self._apply_user)
        self.kthreads_check = QCheckBox("Kernel threads")
        self.kthreads_check.setChecked(True)
        self.kthreads_check.toggled.connect(self._apply_kthreads)
        self.interval_spin = QDoubleSpinBox()
        self.interval_spin.setRange(MIN_INTERVAL, MAX_INTERVAL)
        self.interval_spin.setSingleStep(0.5)
        self.interval_spin.setDecimals(1)
        self.interval_spin.setSuffix(" s")
        self.interval_spin.setToolTip("Update interval")
        self.interval_spin.setValue(interval)
        self.interval_spin.valueChanged.connect(self._interval_changed)
        self.source_combo = QComboBox()
        for s in SOURCES:
            self.source_combo.addItem(s, s)
        if source not in SOURCES:
            self.source_combo.addItem(source, source)
        self.source_combo.setCurrentIndex(self.source_combo.findData(source))
        self.source_combo.setToolTip(
            "auto: the kernel module if loaded, else netlink, else /proc polling"
        )
        self.source_combo.activated.connect(self._source_chosen)

        bar.addWidget(self.filter_edit)
        bar.addWidget(self.regex_check)
        bar.addSeparator()
        bar.addWidget(self.user_combo)
        bar.addWidget(self.kthreads_check)
        bar.addAction(self.act_tree)
        bar.addSeparator()
        bar.addWidget(QLabel(" Every "))
        bar.addWidget(self.interval_spin)
        bar.addAction(self.act_pause)
        bar.addAction(self.act_refresh)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        bar.addWidget(QLabel("Source "))
        bar.addWidget(self.source_combo)

    def _make_view(
        self, view: QTableView | QTreeView, proxy: ProcessTableProxy | ProcessFilterProxy
    ) -> None:
        view.setModel(proxy)
        view.setSortingEnabled(True)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.setAlternatingRowColors(True)
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._context_menu)
        if isinstance(view, QTreeView):
            view.setUniformRowHeights(True)
        header = view.header() if isinstance(view, QTreeView) else view.horizontalHeader()
        header.setStretchLastSection(True)
        header.setSectionsMovable(True)
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._header_menu)
        fm = view.fontMetrics()
        for i, col in enumerate(COLUMNS):
            header.resizeSection(i, fm.horizontalAdvance(col.width_hint + "MM"))
        header.setSortIndicator(COLUMNS.index(_col("cpu")), Qt.SortOrder.DescendingOrder)

    def _build_central(self) -> None:
        self.table_view = QTableView()
        self._make_view(self.table_view, self.table_proxy)
        rows = self.table_view.verticalHeader()
        rows.hide()
        # Fixed row heights: the view never measures rows (10,000 of them, every tick).
        rows.setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        rows.setDefaultSectionSize(self.table_view.fontMetrics().height() + 6)
        self.table_view.setShowGrid(False)
        self.table_view.setWordWrap(False)
        self.tree_view = QTreeView()
        self._make_view(self.tree_view, self.tree_proxy)
        # The tree indents the first column: make that the command, as htop does.
        command = COLUMNS.index(_col("command"))
        tree_header = self.tree_view.header()
        tree_header.moveSection(tree_header.visualIndex(command), 0)
        self.tree_view.setTreePosition(command)
        tree_header.resizeSection(command, self.tree_view.fontMetrics().horizontalAdvance(
            "M" * 24))
        self.views = QStackedWidget()
        self.views.addWidget(self.table_view)
        self.views.addWidget(self.tree_view)

        self.rate_chart = RateChart()
        self.rss_chart = TopRssChart()
        self.chart_split = QSplitter(Qt.Orientation.Vertical)
        self.chart_split.setObjectName("charts")
        self.chart_split.addWidget(self.rate_chart)
        self.chart_split.addWidget(self.rss_chart)

        self.top_split = QSplitter(Qt.Orientation.Horizontal)
        self.top_split.setObjectName("top")
        self.top_split.addWidget(self.views)
        self.top_split.addWidget(self.chart_split)
        self.top_split.setStretchFactor(0, 3)
        self.top_split.setStretchFactor(1, 2)

        # The exit log.
        self.exit_search = QLineEdit()
        self.exit_search.setPlaceholderText("Search exits: name, PID, user, SIGKILL…")
        self.exit_search.setClearButtonEnabled(True)
        self.exit_search.setMaximumWidth(320)
        self.exit_search.textChanged.connect(self.exit_proxy.set_search)
        self.exit_count = QLabel("0 exits")
        self.lost_label = QLabel("lost: 0")
        self.lost_label.setToolTip(
            "Exit records the source knows it missed (a full kernel ring, a netlink overrun)"
        )
        head = QHBoxLayout()
        head.setContentsMargins(4, 2, 4, 2)
        head.addWidget(QLabel("<b>Exited processes</b>"))
        head.addSpacing(12)
        head.addWidget(self.exit_search)
        head.addStretch(1)
        head.addWidget(self.exit_count)
        head.addSpacing(12)
        head.addWidget(self.lost_label)
        self.exit_view = QTableView()
        self.exit_view.setModel(self.exit_proxy)
        self.exit_view.setSortingEnabled(True)
        self.exit_view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        self.exit_view.verticalHeader().hide()
        self.exit_view.verticalHeader().setDefaultSectionSize(
            self.exit_view.fontMetrics().height() + 6
        )
        self.exit_view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.exit_view.setAlternatingRowColors(True)
        self.exit_view.setShowGrid(False)
        self.exit_view.setWordWrap(False)
        self.exit_view.horizontalHeader().setStretchLastSection(True)
        fm = self.exit_view.fontMetrics()
        for i, sample in enumerate(("00:00:00", "4194304", "4194304", "www-data",
                                    "59 min 59 s", "SIGSEGV (core)", "0:00.00",
                                    "1023.9 MiB")):
            self.exit_view.horizontalHeader().resizeSection(i, fm.horizontalAdvance(sample + "MM"))
        self.no_exit_log = QLabel()
        self.no_exit_log.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.no_exit_log.setWordWrap(True)
        self.exit_stack = QStackedWidget()
        self.exit_stack.addWidget(self.exit_view)
        self.exit_stack.addWidget(self.no_exit_log)
        exit_panel = QWidget()
        ev = QVBoxLayout(exit_panel)
        ev.setContentsMargins(0, 4, 0, 0)
        ev.setSpacing(2)
        ev.addLayout(head)
        ev.addWidget(self.exit_stack, 1)

        self.main_split = QSplitter(Qt.Orientation.Vertical)
        self.main_split.setObjectName("main")
        self.main_split.addWidget(self.top_split)
        self.main_split.addWidget(exit_panel)
        self.main_split.setStretchFactor(0, 3)
        self.main_split.setStretchFactor(1, 2)

        self.banner = Banner()
        central = QWidget()
        cv = QVBoxLayout(central)
        cv.setContentsMargins(6, 6, 6, 0)
        cv.setSpacing(6)
        cv.addWidget(self.banner)
        cv.addWidget(self.main_split, 1)
        self.setCentralWidget(central)
        self.top_split.setSizes([820, 520])
        self.main_split.setSizes([520, 300])

    def _build_status(self) -> None:
        sb = self.statusBar()
        self.source_label = QLabel("Source: starting…")
        self.count_label = QLabel("")
        self.interval_label = QLabel("")
        self.cost_label = QLabel("")
        sb.addWidget(self.source_label, 1)
        for w in (self.count_label, self.interval_label, self.cost_label):
            sb.addPermanentWidget(w)
        self._update_interval_label()

    # -- settings ------------------------------------------------------------------

    def _restore_settings(self) -> None:
        s = self.settings
        geom = s.value("geometry")
        if isinstance(geom, QByteArray) and not geom.isEmpty():
            self.restoreGeometry(geom)
        for key, split in (("split/main", self.main_split), ("split/top", self.top_split),
                           ("split/charts", self.chart_split)):
            state = s.value(key)
            if isinstance(state, QByteArray) and not state.isEmpty():
                split.restoreState(state)
        state = s.value("table/header")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.table_view.horizontalHeader().restoreState(state)
        state = s.value("tree/header")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.tree_view.header().restoreState(state)
        state = s.value("exits/header")
        if isinstance(state, QByteArray) and not state.isEmpty():
            self.exit_view.horizontalHeader().restoreState(state)
        self.regex_check.setChecked(_bool(s.value("filter/regex", False)))
        self.filter_edit.setText(str(s.value("filter/text", "")))
        self.kthreads_check.setChecked(_bool(s.value("filter/kthreads", True)))
        user = str(s.value("filter/user", "all"))
        if user.isdigit():
            self._add_user(int(user))
            self.user_combo.setCurrentIndex(self.user_combo.findData(int(user)))
        elif user in ("all", "mine"):
            self.user_combo.setCurrentIndex(self.user_combo.findData(user))
        self.act_tree.setChecked(_bool(s.value("view/tree", False)))
        self.rate_chart.show_threads.setChecked(_bool(s.value("charts/threads", False)))

    def save_settings(self) -> None:
        s = self.settings
        s.setValue("geometry", self.saveGeometry())
        s.setValue("split/main", self.main_split.saveState())
        s.setValue("split/top", self.top_split.saveState())
        s.setValue("split/charts", self.chart_split.saveState())
        s.setValue("table/header", self.table_view.horizontalHeader().saveState())
        s.setValue("tree/header", self.tree_view.header().saveState())
        s.setValue("exits/header", self.exit_view.horizontalHeader().saveState())
        s.setValue("interval", self.interval_spin.value())
        s.setValue("filter/text", self.filter_edit.text())
        s.setValue("filter/regex", self.regex_check.isChecked())
        s.setValue("filter/kthreads", self.kthreads_check.isChecked())
        user = self.user_combo.currentData()
        s.setValue("filter/user", str(user if user is not None else "all"))
        s.setValue("source", str(self.source_combo.currentData()))
        s.setValue("view/tree", self.act_tree.isChecked())
        s.setValue("charts/threads", self.rate_chart.show_threads.isChecked())
        s.sync()

    # -- lifecycle -----------------------------------------------------------------

    def start(self) -> None:
        self.poller.start()

    def closeEvent(self, event) -> None:
        try:
            self.poller.shutdown()
        finally:
            self.save_settings()
        super().closeEvent(event)

    # -- worker signals ------------------------------------------------------------

    @Slot(object)
    def on_tick(self, tick: Tick) -> None:
        self.table_model.apply_tick(tick)
        self.exit_model.apply_tick(tick)
        self.rate_chart.add(tick)
        self.rss_chart.update_from(tick)
        self._process_count = len(tick.processes)
        shown = self.current_proxy().rowCount() if not self.act_tree.isChecked() else None
        text = f"{self._process_count} processes"
        if shown is not None and shown != self.table_model.rowCount():
            text += f", {shown} shown"
        self.count_label.setText(text)
        self.exit_count.setText(f"{self.exit_model.rowCount()} exits")
        self.lost_label.setText(f"lost: {tick.lost_total}")
        self.lost_label.setStyleSheet("color: #c0392b;" if tick.lost_total else "")

    @Slot(float, float)
    def on_cost(self, read_ms: float, model_ms: float) -> None:
        self.cost_label.setText(
            f"poll {read_ms + model_ms:.1f} ms (read {read_ms:.1f} + model {model_ms:.1f})"
        )

    @Slot(str)
    def on_error(self, message: str) -> None:
        self.statusBar().showMessage(message, 15_000)

    @Slot(str, str, bool)
    def on_source_changed(self, kind: str, reason: str, has_exit_log: bool) -> None:
        self._source_kind = kind
        self.source_label.setToolTip(reason)
        why = reason[len(kind) :].lstrip(": ") if reason.startswith(kind) else reason
        self.source_label.setText(f"Source: {kind} ({why})" if why else f"Source: {kind}")
        self.table_model.clear()
        self.rate_chart.clear()
        if has_exit_log:
            self.exit_stack.setCurrentWidget(self.exit_view)
        else:
            self.no_exit_log.setText(
                f"The {kind} source has no exit log: processes that start and end between "
                "two polls are not seen.\nLoad the kernel module (or use netlink) to see "
                "every exit."
            )
            self.exit_stack.setCurrentWidget(self.no_exit_log)
        if kind != "lkm" and not module_loaded() and not self.banner.isVisible():
            self.banner.show_message(self._module_hint(kind))

    @Slot(str, str, str)
    def on_fallback(self, old: str, new: str, reason: str) -> None:
        html = (
            f"<b>The {old} source stopped</b> ({_esc(reason)}); now using <b>{new}</b>."
        )
        if new != "lkm" and not module_loaded():
            html += "<br>" + self._module_hint(new, lead=False)
        self.banner.show_message(html)

    def _module_hint(self, kind: str, lead: bool = True) -> str:
        head = (
            f"<b>The procscope kernel module is not loaded</b>, so Procscope uses {kind}"
            + (", which can miss processes that live only a moment." if kind == "proc" else ".")
            + "<br>"
            if lead
            else ""
        )
        return head + f"To see every process, load it: <code>{LOAD_HINT}</code>"

    @Slot(bool)
    def on_paused(self, paused: bool) -> None:
        self._paused = paused
        self._update_interval_label()

    # -- controls ------------------------------------------------------------------

    def current_view(self) -> QTableView | QTreeView:
        return self.tree_view if self.act_tree.isChecked() else self.table_view

    def current_proxy(self) -> ProcessTableProxy | ProcessFilterProxy:
        return self.tree_proxy if self.act_tree.isChecked() else self.table_proxy

    @Slot()
    def focus_filter(self) -> None:
        self.filter_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.filter_edit.selectAll()

    @Slot(bool)
    def set_paused(self, paused: bool) -> None:
        if paused:
            self.poller.sig_pause.emit()
        else:
            self.poller.sig_resume.emit()
        self.act_pause.setText("Resume" if paused else "Pause")
        self.act_pause.setIcon(self.style().standardIcon(
            QStyle.StandardPixmap.SP_MediaPlay if paused else QStyle.StandardPixmap.SP_MediaPause))

    @Slot()
    def refresh_now(self) -> None:
        self.poller.sig_refresh.emit()

    @Slot(bool)
    def set_tree_mode(self, tree: bool) -> None:
        self.tree_model.set_active(tree)
        self.views.setCurrentWidget(self.tree_view if tree else self.table_view)
        if tree:
            self.tree_view.expandAll()

    @Slot(float)
    def _interval_changed(self, _value: float) -> None:
        self._update_interval_label()

    def _update_interval_label(self) -> None:
        state = "paused" if self._paused else f"every {self.interval_spin.value():g} s"
        self.interval_label.setText(state)

    @Slot(int)
    def _source_chosen(self, _index: int) -> None:
        self.poller.sig_set_source.emit(str(self.source_combo.currentData()))

    @Slot()
    def _apply_pattern(self) -> None:
        text, regex = self.filter_edit.text(), self.regex_check.isChecked()
        try:
            for proxy in (self.table_proxy, self.tree_proxy):
                proxy.set_pattern(text, regex)
        except ValueError as exc:
            self.filter_edit.setStyleSheet("QLineEdit { border: 1px solid #c0392b; }")
            self.filter_edit.setToolTip(str(exc))
            self.statusBar().showMessage(str(exc), 8000)
            return
        self.filter_edit.setStyleSheet("")
        self.filter_edit.setToolTip("")

    @Slot()
    def _apply_user(self) -> None:
        user = self.user_combo.currentData()
        if user is None:
            return
        for proxy in (self.table_proxy, self.tree_proxy):
            proxy.set_user(user)

    @Slot(bool)
    def _apply_kthreads(self, show: bool) -> None:
        for proxy in (self.table_proxy, self.tree_proxy):
            proxy.set_show_kthreads(show)

    @Slot(object)
    def _add_user(self, uid: int) -> None:
        if uid in self._user_items:
            return
        self._user_items.add(uid)
        name = user_name(uid)
        # Keep the per-user entries sorted by name, after the separator.
        pos = 3
        while pos < self.user_combo.count() and self.user_combo.itemText(pos) < name:
            pos += 1
        self.user_combo.insertItem(pos, name, uid)

    # -- selection, signals, copy ----------------------------------------------------

    def selected_pids(self) -> list[int]:
        view = self.current_view()
        proxy = self.current_proxy()
        pids: dict[int, None] = {}
        for index in view.selectionModel().selectedRows():
            pid = proxy.pid_at(index)
            if pid is not None:
                pids.setdefault(pid, None)
        return list(pids)

    def _context_menu(self, pos) -> None:
        view = self.current_view()
        if not view.indexAt(pos).isValid() or not self.selected_pids():
            return
        menu = QMenu(self)
        menu.addAction("Copy", self.copy_selected)
        menu.addSeparator()
        for name, sig, _what in SIGNALS:
            act = menu.addAction(f"Send {name}")
            act.setData(int(sig))
        chosen = menu.exec(view.viewport().mapToGlobal(pos))
        if chosen is not None and chosen.data() is not None:
            self.signal_selected(int(chosen.data()))

    def _header_menu(self, pos) -> None:
        header = self.current_view().header() if self.act_tree.isChecked() else (
            self.table_view.horizontalHeader()
        )
        menu = QMenu(self)
        for i, col in enumerate(COLUMNS):
            act = menu.addAction(col.header)
            act.setCheckable(True)
            act.setChecked(not header.isSectionHidden(i))
            act.setData(i)
        chosen = menu.exec(header.mapToGlobal(pos))
        if chosen is not None:
            header.setSectionHidden(int(chosen.data()), not chosen.isChecked())

    @Slot()
    def copy_selected(self) -> None:
        lines = []
        for pid in self.selected_pids():
            r = self.table_model.row_of(pid)
            if r is None:
                continue
            cells = [self.table_model.cell(r, c, int(Qt.ItemDataRole.DisplayRole))
                     for c in range(len(COLUMNS))]
            lines.append("\t".join(cells))
        QGuiApplication.clipboard().setText("\n".join(lines))

    @Slot()
    def terminate_selected(self) -> None:
        self.signal_selected(int(_signal.SIGTERM))

    def signal_selected(self, sig: int) -> None:
        """Ask, then send ``sig`` to the selected processes; report any refusal."""
        procs = [p for pid in self.selected_pids()
                 if (p := self.table_model.process(pid)) is not None]
        if not procs:
            return
        name = _signal.Signals(sig).name
        what = {int(s): w for _n, s, w in SIGNALS}.get(sig, "")
        if len(procs) == 1:
            target = f"{safe_text(procs[0].comm)} (PID {procs[0].pid})"
        else:
            target = f"{len(procs)} processes: " + ", ".join(
                f"{safe_text(p.comm)} ({p.pid})" for p in procs[:8]
            ) + ("…" if len(procs) > 8 else "")
        answer = QMessageBox.question(
            self,
            f"Send {name}?",
            f"Send {name} to {target}?\n\nThis will {what}.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
            QMessageBox.StandardButton.Cancel,
        )
        if answer != QMessageBox.StandardButton.Yes:
            return
        problems = []
        for p in procs:
            if self.table_model.is_gone(p.pid):
                problems.append(f"{safe_text(p.comm)} (PID {p.pid}) has already exited.")
                continue
            try:
                send_signal(p, sig)
            except PermissionError:
                problems.append(
                    f"Not permitted to send {name} to {safe_text(p.comm)} (PID {p.pid}), "
                    f"owned by {user_name(p.uid)}."
                )
            except ProcessLookupError:
                problems.append(f"{safe_text(p.comm)} (PID {p.pid}) has already exited.")
            except OSError as exc:
                problems.append(f"Sending {name} to PID {p.pid} failed: {exc.strerror}.")
        if problems:
            QMessageBox.warning(self, f"{name} not sent", "\n".join(problems))
        else:
            self.statusBar().showMessage(f"Sent {name} to {target}.", 5000)
            QTimer.singleShot(200, self.refresh_now)

    # -- export --------------------------------------------------------------------

    def export_table(self, path: str | os.PathLike) -> int:
        """Write the rows as the table shows them (filter and order) to CSV; the row count."""
        proxy = self.table_proxy
        rows = []
        for r in range(proxy.rowCount()):
            src = proxy.mapToSource(proxy.index(r, 0)).row()
            rows.append([self.table_model.cell(src, c, int(Qt.ItemDataRole.DisplayRole))
                         for c in range(len(COLUMNS))])
        write_csv(path, [c.header for c in COLUMNS], rows)
        return len(rows)

    def export_exits(self, path: str | os.PathLike) -> int:
        rows = self.exit_model.export_rows()
        write_csv(path, [c[1] for c in EXIT_COLUMNS], rows)
        return len(rows)

    def _export_dialog(self, title: str, default: str, export) -> None:
        path, _ = QFileDialog.getSaveFileName(self, title, default, "CSV files (*.csv)")
        if not path:
            return
        try:
            n = export(path)
        except OSError as exc:
            QMessageBox.warning(self, "Export failed", f"Could not write {path}: {exc.strerror}")
            return
        self.statusBar().showMessage(f"Wrote {n} rows to {path}", 8000)

    @Slot()
    def export_table_dialog(self) -> None:
        self._export_dialog("Export process table", "processes.csv", self.export_table)

    @Slot()
    def export_exits_dialog(self) -> None:
        self._export_dialog("Export exit log", "exits.csv", self.export_exits)


def _col(key: str):
    return next(c for c in COLUMNS if c.key == key)


def _bool(v: object) -> bool:
    if isinstance(v, str):
        return v.lower() in ("1", "true", "yes")
    return bool(v)


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def app_icon() -> QIcon:
    """The theme's icon for our id, else the SVG from the source tree."""
    from procscope import APP_ID

    icon = QIcon.fromTheme(APP_ID)
    if icon.isNull():
        svg = Path(__file__).resolve().parents[3] / "resources" / "icons" / f"{APP_ID}.svg"
        if svg.exists():
            icon = QIcon(str(svg))
    return icon
