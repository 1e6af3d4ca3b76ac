"""The live process table: a model keyed by PID, updated in place every tick.

:class:`ProcessTableModel` keeps one row per PID in arrival order. Each tick it
removes the rows of processes that vanished two ticks ago (greyed out meanwhile),
updates the rows that changed in place (one ``dataChanged`` spans them), and
appends new processes (tinted for two ticks). It never resets, so selection, scroll position
and sort survive the data moving underneath.

:class:`ProcessTableProxy` shows the table sorted and filtered. It does both in
Python, once per tick, over keys the table keeps up to date, and tells the view in
one layout change: a ``QSortFilterProxyModel`` cannot keep up at 10,000 rows from
Python, whether it calls a ``lessThan`` override or (twice as slow) the model's
``data()`` for every comparison.

:class:`ProcessTreeModel` shows the same rows grouped under their parents.
:class:`ProcessFilterProxy` (a ``QSortFilterProxyModel``) sorts and filters the
tree, keeping the parents of matches. Both proxies filter with the predicates of
:mod:`procscope.model.filters` and sort numerically, ties broken by PID.
"""

from __future__ import annotations

import time
from bisect import bisect_left
from collections.abc import Callable, Iterable, Mapping
from contextlib import suppress
from itertools import compress
from operator import ne

from PySide6.QtCore import (
    QAbstractItemModel,
    QAbstractTableModel,
    QModelIndex,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor

from procscope.model import filters
from procscope.model.delta import Tick
from procscope.model.records import Process
from procscope.ui.columns import COLUMNS, STATE_NAMES, Row, column_index, safe_text

__all__ = [
    "PID_ROLE",
    "SORT_ROLE",
    "ProcessFilterProxy",
    "ProcessTableModel",
    "ProcessTableProxy",
    "ProcessTreeModel",
]

#: Raw Python value of a cell, for sorting (numbers stay numbers).
SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 1
#: The PID of the row, whatever the column.
PID_ROLE = int(Qt.ItemDataRole.UserRole) + 2

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
_BACKGROUND = int(Qt.ItemDataRole.BackgroundRole)
_FOREGROUND = int(Qt.ItemDataRole.ForegroundRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
_STYLE_ROLES = [Qt.ItemDataRole.BackgroundRole, Qt.ItemDataRole.ForegroundRole]
#: The roles a cell has data for; ``data()`` answers the others with ``None`` straight
#: away (a view's delegate asks each cell for seven roles; see ``fill_roles``).
_CELL_ROLES = frozenset({_DISPLAY, _ALIGN, _BACKGROUND, _FOREGROUND, _TOOLTIP,
                         SORT_ROLE, PID_ROLE})

_NCOLS = len(COLUMNS)
#: Each column's alignment as a plain int: a view reads it the same, and turning an
#: int into a QVariant is cheaper than a Python enum flag (0.6 ms a paint of the table).
_ALIGNS = tuple(col.align.value for col in COLUMNS)
#: The overload of the layout signals that carries a hint (views then skip work).
_LAYOUT_ARGS = ("QList<QPersistentModelIndex>", "QAbstractItemModel::LayoutChangeHint")
#: Row signals per tick above which the tree relayouts instead.
MAX_TREE_OPS = 8
_LAST_COL = _NCOLS - 1
_NEW_BRUSH = QBrush(QColor(76, 175, 80, 70))  # translucent green, works on dark themes
_GONE_BRUSH = QBrush(QColor(140, 140, 140))
_GONE_BACKGROUND = QBrush(QColor(220, 60, 60, 35))

_CENTI_NS = 10_000_000  # CPU time shows to the 1/100 s
_CPU_COL = column_index("cpu")
_CPU_TIME_COL = column_index("cpu_time")
# Which columns a change in each Process field touches, one bit per column, by field.
# (CPU % comes from the tick, not from a field: a change of it is checked apart.)
_FIELD_BITS = tuple(
    sum(1 << column_index(key) for key in keys)
    for keys in (("pid",), ("ppid",), ("user",), ("state",), ("threads",), ("cpu_time",),
                 ("rss",), ("started",), (), ("command",))  # (kthread is not shown)
)
assert len(_FIELD_BITS) == len(Process._fields)
#: ``dataChanged`` signals per tick above which the table proxy sends one spanning
#: them all (measured at 10,000 rows: 1,000 runs cost 1.6 ms, a full repaint 7 ms).
MAX_DATA_RUNS = 3000
#: Columns whose sort keys the table keeps up to date at most (the table's sort
#: column and the tree's; the least recently asked for goes first).
MAX_KEY_COLUMNS = 2


def _find(items: list[int], wanted: Iterable[int | None]) -> dict[int, int]:
    """The positions of the ``wanted`` values that are in ``items`` (a few of them:
    each is a linear search, at C speed)."""
    pos = {}
    for value in wanted:
        with suppress(ValueError):
            pos[value] = items.index(value)
    return pos


def _runs(rows: Iterable[int], gap: int = 0) -> list[tuple[int, int]]:
    """Sorted rows as ``(first, last)`` runs, merging runs ``gap`` rows apart or less."""
    out: list[tuple[int, int]] = []
    for r in sorted(rows):
        if out and r - out[-1][1] <= gap + 1:
            out[-1] = (out[-1][0], r)
        else:
            out.append((r, r))
    return out


class ProcessTableModel(QAbstractTableModel):
    """One row per PID, in arrival order; call :meth:`apply_tick` with each Tick."""

    #: Ticks a new row stays tinted, and a vanished row stays (greyed) before removal.
    NEW_TICKS = 2
    GONE_TICKS = 2

    #: After each tick: the PIDs whose cells changed, in value or in colour (for the
    #: tree model and the table proxy; new and removed rows come as row signals).
    sig_applied = Signal(object)
    #: A user id was seen for the first time (for the user filter).
    sig_new_uids = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._pids: list[int] = []
        self._procs: list[Process] = []
        self._cpu: list[float] = []
        # Each row's cell texts, made when first painted and dropped when the row
        # changes (a view paints the same rows tick after tick; most do not change).
        self._texts: list[tuple[str, ...] | None] = []
        self._texts_day: tuple[int, int, int] | None = None  # "Started" shows the date
        self._row: dict[int, int] = {}
        self._tick_no = 0
        self._new_until: dict[int, int] = {}  # pid -> tick number its tint ends
        self._gone_at: dict[int, int] = {}  # pid -> tick number it vanished
        self._boot_wall = 0.0
        self._boot_known = False
        self._uids: set[int] = set()
        # Sort keys, row by row, of each column a proxy sorts by, kept in step with
        # the rows: a tick recomputes the keys of the rows that changed only.
        self._keys: dict[int, list[tuple]] = {}
        self._refilter_pids: list[int] = []
        # Per column with keys: the PIDs whose key changed at the last tick.
        self._keys_moved: dict[int, list[int]] = {}

    # -- Qt API ----------------------------------------------------------------

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._pids)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else _NCOLS

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < _NCOLS:
            return None
        col = COLUMNS[section]
        if role == _DISPLAY:
            return col.header
        if role == _TOOLTIP:
            return col.tooltip
        if role == _ALIGN:
            return col.align
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        role = int(role)
        if role not in _CELL_ROLES or not index.isValid():
            return None
        return self.cell(index.row(), index.column(), role)

    def multiData(self, index, roleDataSpan) -> None:
        row, column = (index.row(), index.column()) if index.isValid() else (-1, -1)
        self.fill_roles(row, column, roleDataSpan)

    # -- our API ---------------------------------------------------------------

    @property
    def uids(self) -> frozenset[int]:
        return frozenset(self._uids)

    def fill_roles(self, row: int, column: int, span) -> None:
        """Fill a ``QModelRoleDataSpan`` for a cell (``multiData``; shared by the proxy).

        A view's delegate asks for the seven roles it paints a cell with in one
        ``multiData`` call: answering them here is one Python call per cell instead
        of seven ``data`` calls. The roles a painted cell needs are answered inline,
        the text from the row's cached texts.
        """
        if not (0 <= row < len(self._pids) and 0 <= column < _NCOLS):
            for role_data in span:
                role_data.clearData()
            return
        pid = self._pids[row]
        for role_data in span:
            role = role_data.role()
            if role == _DISPLAY:
                value = (self._texts[row] or self._make_texts(row))[column]
            elif role == _ALIGN:
                value = _ALIGNS[column]
            elif role == _BACKGROUND:
                value = (_GONE_BACKGROUND if pid in self._gone_at
                         else _NEW_BRUSH if pid in self._new_until else None)
            elif role == _FOREGROUND:
                value = _GONE_BRUSH if pid in self._gone_at else None
            elif role in _CELL_ROLES:
                value = self.cell(row, column, role)
            else:
                value = None
            if value is None:
                role_data.clearData()
            else:
                role_data.setData(value)

    def cell(self, row: int, column: int, role: int):
        """The data of a cell for ``role``; shared by the tree model."""
        if not (0 <= row < len(self._pids) and 0 <= column < _NCOLS):
            return None
        col = COLUMNS[column]
        if role == _DISPLAY:
            return (self._texts[row] or self._make_texts(row))[column]
        if role == SORT_ROLE:
            return col.value(Row(self._procs[row], self._cpu[row], self._boot_wall))
        if role == _ALIGN:
            return _ALIGNS[column]
        if role == _BACKGROUND:
            pid = self._pids[row]
            if pid in self._gone_at:
                return _GONE_BACKGROUND
            if pid in self._new_until:
                return _NEW_BRUSH
            return None
        if role == _FOREGROUND:
            return _GONE_BRUSH if self._pids[row] in self._gone_at else None
        if role == PID_ROLE:
            return self._pids[row]
        if role == _TOOLTIP:
            return self._tooltip(row, col.key)
        return None

    def _tooltip(self, row: int, key: str) -> str | None:
        p = self._procs[row]
        if key == "state":
            return STATE_NAMES.get(p.state, p.state)
        if key == "command":
            gone = " (exited)" if p.pid in self._gone_at else ""
            kind = "kernel thread" if p.kthread else "process"
            return f"{safe_text(p.comm)}: {kind} {p.pid}{gone}"
        return None

    def sort_key(self, row: int, column: int) -> tuple:
        """``(value, pid)``: the column's raw sort value, ties broken by PID."""
        return self.sort_keys(column)[row]

    def sort_keys(self, column: int) -> list[tuple]:
        """The sort keys of every row for ``column``, in row order.

        Kept up to date from the first call on, for the last ``MAX_KEY_COLUMNS``
        columns asked for (a list the model owns: do not modify it). A tick
        recomputes the key of a row only when that column of the row changed.
        """
        keys = self._keys.pop(column, None)
        if keys is None:
            keys = [self._make_key(r, column) for r in range(len(self._pids))]
            if len(self._keys) >= MAX_KEY_COLUMNS:
                del self._keys[next(iter(self._keys))]
        self._keys[column] = keys  # (now the most recently asked for)
        return keys

    def drop_keys(self, column: int) -> None:
        """Stop keeping the sort keys of ``column`` (its sorter moved on); they are made
        again if asked for."""
        self._keys.pop(column, None)
        self._keys_moved.pop(column, None)

    def keys_moved(self, column: int) -> list[int] | None:
        """The PIDs of the rows already there whose sort key for ``column`` changed
        at the last tick; ``None`` when the keys of ``column`` were not kept then."""
        return self._keys_moved.get(column)

    def _make_texts(self, row: int) -> tuple[str, ...]:
        r = Row(self._procs[row], self._cpu[row], self._boot_wall)
        texts = self._texts[row] = tuple(col.text(col.value(r)) for col in COLUMNS)
        return texts

    def _make_key(self, row: int, column: int) -> tuple:
        return self._key_maker(column)(self._procs[row], self._cpu[row], self._boot_wall)

    @staticmethod
    def _key_maker(column: int) -> Callable[[Process, float, float], tuple]:
        """``(process, cpu, boot_wall) -> (sort value, pid)`` for ``column``."""
        col = COLUMNS[column]
        value, sort = col.value, col.sort
        return lambda p, cpu, boot_wall: (sort(value(Row(p, cpu, boot_wall))), p.pid)

    def process_at(self, row: int, parent: QModelIndex | None = None) -> Process | None:
        if parent is not None and parent.isValid():
            return None
        return self._procs[row] if 0 <= row < len(self._procs) else None

    def row_of(self, pid: int) -> int | None:
        return self._row.get(pid)

    @property
    def filter_changed_pids(self) -> list[int]:
        """PIDs whose name, user or kernel-thread flag changed at the last tick: the
        fields :mod:`procscope.model.filters` looks at (besides the PID)."""
        return self._refilter_pids

    @property
    def rows_by_pid(self) -> Mapping[int, int]:
        """PID -> row, for every row (the model's own dict: do not modify it)."""
        return self._row

    def process(self, pid: int) -> Process | None:
        r = self._row.get(pid)
        return None if r is None else self._procs[r]

    def cpu(self, pid: int) -> float:
        r = self._row.get(pid)
        return 0.0 if r is None else self._cpu[r]

    def is_gone(self, pid: int) -> bool:
        return pid in self._gone_at

    def is_new(self, pid: int) -> bool:
        return pid in self._new_until

    def pids(self) -> list[int]:
        """PIDs in row order (a copy)."""
        return list(self._pids)

    def pids_between(self, first: int, last: int) -> list[int]:
        """The PIDs of rows ``first`` to ``last``, inclusive (a copy)."""
        return self._pids[first : last + 1]

    def rows(self) -> list[Row]:
        """Every row, in row order, for export."""
        bw = self._boot_wall
        return [Row(p, c, bw) for p, c in zip(self._procs, self._cpu, strict=True)]

    def clear(self) -> None:
        """Forget every row (a change of source). Not used per tick."""
        self.beginResetModel()
        self._pids, self._procs, self._cpu, self._row = [], [], [], {}
        self._texts = []
        self._keys, self._keys_moved = {}, {}
        self._new_until.clear()
        self._gone_at.clear()
        self._boot_known = False
        self.endResetModel()

    def apply_tick(self, tick: Tick) -> None:
        """Bring the rows in line with ``tick``, in place."""
        self._tick_no += 1
        n = self._tick_no
        snap = tick.snapshot
        if not self._boot_known:
            self._boot_wall = snap.wall_time - snap.time_ns / 1e9
            self._boot_known = True
        procs = tick.processes
        cpu_now = tick.cpu_percent
        tint = tick.interval_ns > 0  # the first tick of a source: everything is "new"
        row_of = self._row
        style_rows: set[int] = set()
        today = time.localtime()[:3]
        if today != self._texts_day:  # "Started" shows the date of other days
            self._texts_day = today
            self._texts = [None] * len(self._pids)

        # 1. Rows greyed out long enough go (unless the PID came back).
        expired = [
            pid for pid, t in self._gone_at.items() if n - t >= self.GONE_TICKS and pid not in procs
        ]
        if expired:
            for pid in expired:
                del self._gone_at[pid]
                self._new_until.pop(pid, None)
            self._remove_rows(sorted(row_of[pid] for pid in expired))
            row_of = self._row

        # 2. Expired tints.
        for pid in [pid for pid, until in self._new_until.items() if until <= n]:
            del self._new_until[pid]
            r = row_of.get(pid)
            if r is not None:
                style_rows.add(r)

        # 3. Newly vanished rows: grey them out.
        for pid in row_of.keys() - procs.keys():
            if pid not in self._gone_at:
                self._gone_at[pid] = n
                self._new_until.pop(pid, None)
                style_rows.add(row_of[pid])

        # 4. PIDs back (a new process, or a missed read) and new processes in an
        # existing row (a reused PID) change colour.
        for pid in self._gone_at.keys() & procs.keys():
            del self._gone_at[pid]
            style_rows.add(row_of[pid])
        if tint:
            for pid in tick.new_pids:
                r = row_of.get(pid)
                if r is not None:
                    self._new_until[pid] = n + self.NEW_TICKS
                    style_rows.add(r)

        # 5. Changed rows, in place. Which rows differ is found at C speed (map and
        # compress over whole columns); Python looks at those rows only.
        changed_rows: list[int] = []
        changed_pids: list[int] = []
        procs_list = self._procs
        cpu_list = self._cpu
        pids = self._pids
        new_procs = list(map(procs.get, pids))  # None where the process is gone
        new_cpu = list(map(cpu_now.get, pids))
        rows = range(len(pids))
        differ = set(compress(rows, map(ne, procs_list, new_procs)))
        differ.update(compress(rows, map(ne, cpu_list, new_cpu)))
        all_cols = 0
        centi, cpu_bit, cpu_time_bit = _CENTI_NS, 1 << _CPU_COL, 1 << _CPU_TIME_COL
        self._keys_moved = {col: [] for col in self._keys}
        keyed = [(1 << col, keys, self._key_maker(col), self._keys_moved[col])
                 for col, keys in self._keys.items()]
        refilter = self._refilter_pids = []
        bw = self._boot_wall
        texts = self._texts
        for r in sorted(differ):
            p = new_procs[r]
            if p is None:  # gone (greyed out above)
                continue
            c = new_cpu[r] or 0.0
            q = procs_list[r]
            q_cpu = cpu_list[r]
            procs_list[r] = p
            cpu_list[r] = c
            # Only what shows counts as a change: CPU time to the 1/100 s, CPU % to 0.1,
            # so the many processes that wake for a few microseconds cost nothing.
            cols = 0  # the columns that changed, one bit each
            if q != p:
                if q[:5] == p[:5] and q[6:] == p[6:]:  # only the CPU time moved: most rows
                    if q[5] // centi != p[5] // centi:
                        cols = cpu_time_bit
                else:
                    for i, (a, b) in enumerate(zip(q, p, strict=True)):
                        if a != b and (i != 5 or a // centi != b // centi):
                            cols |= _FIELD_BITS[i]
                    if q.uid != p.uid:
                        self._note_uid(p.uid)
                    if q.comm != p.comm or q.uid != p.uid or q.kthread != p.kthread:
                        refilter.append(p.pid)
            if round(c, 1) != round(q_cpu, 1):
                cols |= cpu_bit
            if not cols:
                continue
            all_cols |= cols
            texts[r] = None
            for bit, keys, make, moved in keyed:
                if cols & bit:
                    keys[r] = make(p, c, bw)
                    moved.append(p.pid)
            changed_rows.append(r)
            changed_pids.append(p.pid)
        if changed_rows:
            # One signal spanning every changed row and column: the table proxy and the
            # tree follow ``sig_applied`` instead, so nothing compares rows one by one.
            lo_col = (all_cols & -all_cols).bit_length() - 1
            self.dataChanged.emit(self.index(min(changed_rows), lo_col),
                                  self.index(max(changed_rows), all_cols.bit_length() - 1))
        for first, last in _runs(style_rows):
            self.dataChanged.emit(self.index(first, 0), self.index(last, _LAST_COL), _STYLE_ROLES)
        if style_rows:
            seen_pids = set(changed_pids)
            changed_pids.extend(pid for r in sorted(style_rows)
                                if (pid := self._pids[r]) not in seen_pids)

        # 6. New processes, appended in PID order.
        appended = sorted(procs.keys() - row_of.keys())
        if appended:
            start = len(self._pids)
            self.beginInsertRows(QModelIndex(), start, start + len(appended) - 1)
            for i, pid in enumerate(appended, start):
                p = procs[pid]
                self._pids.append(pid)
                procs_list.append(p)
                cpu_list.append(cpu_now.get(pid, 0.0))
                self._texts.append(None)
                for col, keys in self._keys.items():
                    keys.append(self._make_key(i, col))
                row_of[pid] = i
                if tint:
                    self._new_until[pid] = n + self.NEW_TICKS
                self._note_uid(p.uid)
            self.endInsertRows()
        self.sig_applied.emit(changed_pids)

    def _note_uid(self, uid: int) -> None:
        if uid not in self._uids:
            self._uids.add(uid)
            self.sig_new_uids.emit(uid)

    def _remove_rows(self, rows: list[int]) -> None:
        """Remove the given (sorted) rows, one contiguous run at a time, last first."""
        for first, last in reversed(_runs(rows)):
            self.beginRemoveRows(QModelIndex(), first, last)
            del self._pids[first : last + 1]
            del self._procs[first : last + 1]
            del self._cpu[first : last + 1]
            del self._texts[first : last + 1]
            for keys in self._keys.values():
                del keys[first : last + 1]
            self.endRemoveRows()
        self._row = dict(zip(self._pids, range(len(self._pids)), strict=True))


class ProcessTreeModel(QAbstractItemModel):
    """The table's rows grouped under their parents.

    It holds only the shape of the tree (each PID's parent and sorted children) and
    asks the :class:`ProcessTableModel` for every cell. A tick with few changes
    becomes row inserts, removals and ``dataChanged``; a busier one becomes one
    ``layoutChanged`` that moves the persistent indexes (see :meth:`_on_applied`).
    Either way selection and expanded branches survive. A process whose parent is
    not shown is a top-level item.

    Each index's ``internalId`` is the PID of its parent (0 for top level).
    """

    def __init__(self, table: ProcessTableModel, parent=None) -> None:
        super().__init__(parent)
        self._table = table
        self._parent_of: dict[int, int] = {}
        self._children: dict[int, list[int]] = {0: []}
        self._pos: dict[int, int] = {}
        self._active = False
        table.sig_applied.connect(self._on_applied)
        table.modelReset.connect(self._on_table_reset)

    # -- Qt API ----------------------------------------------------------------

    def index(self, row, column, parent=QModelIndex()):  # noqa: B008
        ppid = self._pid_of(parent) if parent.isValid() else 0
        kids = self._children.get(ppid)
        if kids is None or not 0 <= row < len(kids) or not 0 <= column < _NCOLS:
            return QModelIndex()
        return self.createIndex(row, column, ppid)

    def parent(self, index=QModelIndex()):  # noqa: B008
        if not index.isValid():
            return QModelIndex()
        ppid = index.internalId()
        if ppid == 0:
            return QModelIndex()
        return self.createIndex(self._pos[ppid], 0, self._parent_of[ppid])

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        if not parent.isValid():
            return len(self._children[0])
        if parent.column() != 0:
            return 0
        return len(self._children.get(self._pid_of(parent), ()))

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return _NCOLS

    def hasChildren(self, parent=QModelIndex()) -> bool:  # noqa: B008
        return self.rowCount(parent) > 0

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        return self._table.headerData(section, orientation, role)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        r = self._table.row_of(self._pid_of(index))
        if r is None:
            return None
        return self._table.cell(r, index.column(), int(role))

    # -- our API ---------------------------------------------------------------

    def set_active(self, active: bool) -> None:
        """Follow the table only while shown; rebuilt from it when switched on."""
        if active == self._active:
            return
        self._active = active
        self.beginResetModel()
        if active:
            self._parent_of, self._children, self._pos = self._shape()
        else:
            self._parent_of, self._children, self._pos = {}, {0: []}, {}
        self.endResetModel()

    def _on_table_reset(self) -> None:
        if self._active:
            self.beginResetModel()
            self._parent_of, self._children, self._pos = self._shape()
            self.endResetModel()

    def process_at(self, row: int, parent: QModelIndex | None = None) -> Process | None:
        ppid = self._pid_of(parent) if parent is not None and parent.isValid() else 0
        kids = self._children.get(ppid, ())
        return self._table.process(kids[row]) if 0 <= row < len(kids) else None

    def sort_key(self, index: QModelIndex) -> tuple:
        r = self._table.row_of(self._pid_of(index))
        return self._table.sort_key(r, index.column()) if r is not None else ((), 0)

    def index_of(self, pid: int, column: int = 0) -> QModelIndex:
        if pid not in self._pos:
            return QModelIndex()
        return self.createIndex(self._pos[pid], column, self._parent_of[pid])

    def _pid_of(self, index: QModelIndex) -> int:
        return self._children[index.internalId()][index.row()]

    def _parents(self) -> dict[int, int]:
        """Each shown PID's parent in the tree: its PPID if shown, else 0 (top level)."""
        table = self._table
        pids = table.pids()
        shown = set(pids)
        parent_of: dict[int, int] = {}
        for pid in pids:
            pp = table.process(pid).ppid
            parent_of[pid] = pp if pp in shown and pp != pid else 0
        # Break any cycle (a reused PID read mid-change) by making its entry top level.
        state: dict[int, int] = {}
        for pid in pids:
            path = []
            cur = pid
            while cur != 0 and cur not in state:
                state[cur] = 1
                path.append(cur)
                cur = parent_of[cur]
            if cur != 0 and state[cur] == 1:  # closed a loop on this path
                parent_of[cur] = 0
            for p in path:
                state[p] = 2
        return parent_of

    def _shape(
        self, parent_of: dict[int, int] | None = None
    ) -> tuple[dict[int, int], dict[int, list[int]], dict[int, int]]:
        if parent_of is None:
            parent_of = self._parents()
        children: dict[int, list[int]] = {0: []}
        for pid in sorted(parent_of):
            children.setdefault(parent_of[pid], []).append(pid)
        pos = {pid: i for kids in children.values() for i, pid in enumerate(kids)}
        return parent_of, children, pos

    def _on_applied(self, changed_pids: list[int]) -> None:
        """Bring the tree in line with the table.

        A few changes go row by row: inserts, removals, and one ``dataChanged`` per
        parent. Anything more (or a process that changed parent) goes as one
        ``layoutChanged``: measured with 10,000 processes fully expanded under a
        sorting proxy, QTreeView spends 20-50 ms on *each* row signal, about a tenth
        of a whole relayout. (Moving rows between parents is not an option:
        QSortFilterProxyModel crashes on it with this model.)
        """
        if not self._active:
            return
        new_parent = self._parents()
        old_parent = self._parent_of
        added = new_parent.keys() - old_parent.keys()
        removed = old_parent.keys() - new_parent.keys()
        moved = any(new_parent[pid] != old_parent[pid]
                    for pid in new_parent.keys() & old_parent.keys())
        changed = [pid for pid in changed_pids if pid in new_parent]
        parents = {new_parent[pid] for pid in changed}
        if moved or len(added) + len(removed) + len(parents) > MAX_TREE_OPS:
            self._relayout(new_parent)
            return
        # New processes, parents before their children.
        pending = sorted(added)
        while pending:
            later = [pid for pid in pending
                     if not (new_parent[pid] == 0 or new_parent[pid] in self._parent_of)]
            for pid in pending:
                if pid not in later:
                    self._insert(pid, new_parent[pid])
            if len(later) == len(pending):  # cannot happen: no cycles are left
                self._relayout(new_parent)
                return
            pending = later
        # Vanished processes, leaves first (nothing else can be below them: no moves).
        for pid in sorted(removed, key=self._depth, reverse=True):
            self._remove(pid)
        # Changed rows: one span per parent.
        spans: dict[int, tuple[int, int]] = {}
        for pid in changed:
            pp, r = self._parent_of[pid], self._pos[pid]
            lo, hi = spans.get(pp, (r, r))
            spans[pp] = (min(lo, r), max(hi, r))
        for pp, (lo, hi) in spans.items():
            parent = self._parent_index(pp)
            self.dataChanged.emit(self.index(lo, 0, parent), self.index(hi, _LAST_COL, parent))

    def _parent_index(self, pp: int) -> QModelIndex:
        return QModelIndex() if pp == 0 else self.index_of(pp)

    def _renumber(self, kids: list[int], start: int) -> None:
        pos = self._pos
        for i in range(start, len(kids)):
            pos[kids[i]] = i

    def _depth(self, pid: int) -> int:
        d = 0
        while pid != 0:
            pid = self._parent_of[pid]
            d += 1
        return d

    def _insert(self, pid: int, pp: int) -> None:
        kids = self._children.setdefault(pp, [])
        row = bisect_left(kids, pid)
        self.beginInsertRows(self._parent_index(pp), row, row)
        kids.insert(row, pid)
        self._parent_of[pid] = pp
        self._renumber(kids, row)
        self.endInsertRows()

    def _remove(self, pid: int) -> None:
        pp = self._parent_of[pid]
        kids = self._children[pp]
        row = self._pos[pid]
        self.beginRemoveRows(self._parent_index(pp), row, row)
        del kids[row]
        del self._parent_of[pid]
        del self._pos[pid]
        self._children.pop(pid, None)
        self._renumber(kids, row)
        self.endRemoveRows()

    def _relayout(self, parent_of: dict[int, int]) -> None:
        """Switch to a new shape in one ``layoutChanged`` (the rare case moves cannot do)."""
        parent_of, children, pos = self._shape(parent_of)
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        keys = [(self._pid_of(i) if i.isValid() else None, i.column()) for i in old]
        self._parent_of, self._children, self._pos = parent_of, children, pos
        new = [
            self.index_of(pid, col) if pid is not None and pid in pos else QModelIndex()
            for pid, col in keys
        ]
        self.changePersistentIndexList(old, new)
        self.layoutChanged.emit()


class _Filtering:
    """The filter settings both proxies share; each proxy applies them in ``_refilter``.

    Filtering ANDs the :mod:`procscope.model.filters` predicates: a name/PID pattern
    (substring or regex), a user (all, mine, or one UID) and whether kernel threads
    show.
    """

    def _init_filter(self) -> None:
        self._pattern = ""
        self._regex = False
        self._user: str | int = "all"
        self._show_kthreads = True
        self._predicate: filters.Predicate | None = None

    @property
    def pattern(self) -> str:
        return self._pattern

    @property
    def regex(self) -> bool:
        return self._regex

    @property
    def user(self) -> str | int:
        return self._user

    @property
    def show_kthreads(self) -> bool:
        return self._show_kthreads

    def set_pattern(self, pattern: str, regex: bool = False) -> None:
        """Filter by name or PID. A bad regex raises ``ValueError`` and changes nothing."""
        filters.by_pattern(pattern, regex)  # validate first
        self._pattern, self._regex = pattern, regex
        self._set_predicate()

    def set_user(self, user: str | int) -> None:
        """``"all"``, ``"mine"``, or a UID."""
        if not (user in ("all", "mine") or (isinstance(user, int) and user >= 0)):
            raise ValueError(f"user filter must be 'all', 'mine' or a UID, not {user!r}")
        self._user = user
        self._set_predicate()

    def set_show_kthreads(self, show: bool) -> None:
        self._show_kthreads = bool(show)
        self._set_predicate()

    def _set_predicate(self) -> None:
        user = self._user
        by_user = (
            None if user == "all" else filters.mine() if user == "mine" else filters.by_uid(user)
        )
        self._predicate = filters.combine(
            filters.by_pattern(self._pattern, self._regex),
            by_user,
            filters.kthreads(self._show_kthreads),
        )
        self._refilter()

    def _refilter(self) -> None:
        raise NotImplementedError


class ProcessTableProxy(_Filtering, QAbstractTableModel):
    """A :class:`ProcessTableModel` sorted and filtered, for the flat table view.

    It keeps the PIDs it shows, in order. After each tick (``sig_applied``) it
    drops the PIDs that left or no longer pass the filter, appends those that
    arrived or now pass it, and sorts again: Python's sort, over the keys the table
    keeps per row (:meth:`ProcessTableModel.sort_keys`), on a list that is nearly
    sorted already, so it runs close to linear time. When the shown rows or their
    order changed, views hear of it in one ``layoutChanged`` (persistent indexes,
    so selection and the current row, follow their PID; those of rows that left
    become invalid). Like ``QSortFilterProxyModel.invalidate()``, that layout
    change may change the row count. Otherwise ``dataChanged`` signals cover the
    rows that changed, one per run (see :meth:`_data_changed`). The filter
    predicate runs on new rows and on rows whose name, user or kernel-thread flag
    changed, and on every row when the filter changes.

    The order: a sort key is ``(value, pid)``, so numbers compare as numbers, text
    case-folded, and equal values fall back to the PID, which keeps the order fixed
    from one tick to the next. Descending order reverses the whole key, PID
    included. Without a sort column (-1) rows keep the table's arrival order.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._init_filter()
        self._table: ProcessTableModel | None = None
        self._order: list[int] = []  # the PIDs shown, in order
        self._pos: dict[int, int] | None = {}  # PID -> shown row; None: not built yet
        self._accepted: set[int] = set()  # the PIDs the filter lets through, when it filters
        self._added: list[int] = []  # rows the table inserted since the last update
        self._removed: set[int] = set()  # and removed
        self._sort_column = -1
        self._sort_order = Qt.SortOrder.AscendingOrder

    # -- Qt API ----------------------------------------------------------------

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._order)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else _NCOLS

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        table = self._table
        return None if table is None else table.headerData(section, orientation, role)

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        role = int(role)
        if role not in _CELL_ROLES or not index.isValid():
            return None
        table = self._table
        r = table.rows_by_pid.get(self._order[index.row()])
        return None if r is None else table.cell(r, index.column(), role)

    def multiData(self, index, roleDataSpan) -> None:
        r = self._table.rows_by_pid.get(self._order[index.row()]) if index.isValid() else None
        if r is None:
            for role_data in roleDataSpan:
                role_data.clearData()
        else:
            self._table.fill_roles(r, index.column(), roleDataSpan)

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        """Sort by ``column`` (-1: the table's arrival order); the view calls this."""
        column = column if 0 <= column < _NCOLS else -1
        if (column, order) == (self._sort_column, self._sort_order):
            return
        if self._table is not None and self._sort_column not in (-1, column):
            self._table.drop_keys(self._sort_column)
        self._sort_column, self._sort_order = column, order
        self._update(None, ())

    # -- our API ---------------------------------------------------------------

    def setSourceModel(self, table: ProcessTableModel) -> None:
        old = self._table
        if old is not None:
            old.sig_applied.disconnect(self._on_applied)
            old.rowsInserted.disconnect(self._on_rows_inserted)
            old.rowsAboutToBeRemoved.disconnect(self._on_rows_removed)
            old.modelReset.disconnect(self._rebuild)
        self._table = table
        table.sig_applied.connect(self._on_applied)
        table.rowsInserted.connect(self._on_rows_inserted)
        table.rowsAboutToBeRemoved.connect(self._on_rows_removed)
        table.modelReset.connect(self._rebuild)
        self._rebuild()

    def sourceModel(self) -> ProcessTableModel | None:
        return self._table

    def sortColumn(self) -> int:
        return self._sort_column

    def sortOrder(self) -> Qt.SortOrder:
        return self._sort_order

    def mapToSource(self, index: QModelIndex) -> QModelIndex:
        if not index.isValid() or self._table is None:
            return QModelIndex()
        r = self._table.row_of(self._order[index.row()])
        return QModelIndex() if r is None else self._table.index(r, index.column())

    def mapFromSource(self, index: QModelIndex) -> QModelIndex:
        if not index.isValid() or self._table is None:
            return QModelIndex()
        p = self._table.process_at(index.row())
        row = None if p is None else self._positions().get(p.pid)
        return QModelIndex() if row is None else self.index(row, index.column())

    def pid_at(self, proxy_index: QModelIndex) -> int | None:
        if not proxy_index.isValid() or not 0 <= proxy_index.row() < len(self._order):
            return None
        return self._order[proxy_index.row()]

    # -- keeping up with the table ---------------------------------------------

    def _positions(self) -> dict[int, int]:
        if self._pos is None:
            self._pos = dict(zip(self._order, range(len(self._order)), strict=True))
        return self._pos

    def _rebuild(self) -> None:
        """Start again from the table's rows (a new table, or the table was reset)."""
        self.beginResetModel()
        self._added, self._removed = [], set()
        self._accept_all()
        self._order = self._shown_order(None, False)
        self._pos = None
        self.endResetModel()

    def _refilter(self) -> None:
        self._accept_all()
        self._update(None, ())

    def _accept_all(self) -> None:
        pred, table = self._predicate, self._table
        if pred is None or table is None:
            self._accepted = set()
        else:
            process = table.process
            self._accepted = {pid for pid in table.rows_by_pid if pred(process(pid))}

    def _on_rows_inserted(self, _parent: QModelIndex, first: int, last: int) -> None:
        self._added.extend(self._table.pids_between(first, last))

    def _on_rows_removed(self, _parent: QModelIndex, first: int, last: int) -> None:
        self._removed.update(self._table.pids_between(first, last))

    def _on_applied(self, changed_pids: list[int]) -> None:
        added, removed = self._added, self._removed
        self._added, self._removed = [], set()
        added = [pid for pid in added if pid not in removed]  # (none today: safety)
        entering = added
        left = bool(removed)
        pred = self._predicate
        if pred is not None:
            accepted = self._accepted
            accepted -= removed
            process = self._table.process
            entering = [pid for pid in added if pred(process(pid))]
            accepted.update(entering)
            for pid in self._table.filter_changed_pids:  # a name (exec), a user
                if pred(process(pid)):
                    if pid not in accepted:
                        accepted.add(pid)
                        entering.append(pid)
                elif pid in accepted:
                    accepted.discard(pid)
                    left = True
        self._update(entering, changed_pids, left)

    def _shown_order(self, entering: list[int] | None, left: bool) -> list[int]:
        """The PIDs to show, sorted. ``entering``: the PIDs that came into view since
        the last update (``None``: start from the table); ``left``: whether any left."""
        table = self._table
        if table is None:
            return []
        rows = table.rows_by_pid
        shown = rows if self._predicate is None else self._accepted
        column = self._sort_column
        if column < 0 or entering is None:
            # Arrival order, then (if sorting) a full sort.
            order = table.pids()
            if self._predicate is not None:
                order = [pid for pid in order if pid in shown]
        else:
            moved = table.keys_moved(column)
            if moved is None:  # (keys made afresh this tick) sort the current order
                order = [pid for pid in self._order if pid in shown] if left else self._order[:]
                order += entering
            else:
                # The rows whose key stayed keep their order; only those that came
                # or whose key moved need a place: one sorted run, merged with it.
                if not (moved or entering or left):
                    return self._order
                came = set(entering)
                moving = {pid for pid in moved if pid in shown and pid not in came}
                if left or moving:
                    order = [pid for pid in self._order if pid in shown and pid not in moving]
                else:
                    order = self._order[:]
                order += self._sorted(table, column, [*moving, *came])
        return order if column < 0 else self._sorted(table, column, order)

    def _sorted(self, table: ProcessTableModel, column: int, pids: list[int]) -> list[int]:
        keys = table.sort_keys(column)
        row_keys = list(map(keys.__getitem__, map(table.rows_by_pid.__getitem__, pids)))
        ranks = sorted(range(len(pids)), key=row_keys.__getitem__,
                       reverse=self._sort_order == Qt.SortOrder.DescendingOrder)
        return list(map(pids.__getitem__, ranks))

    def _data_changed(self, rows: list[int]) -> None:
        """Tell views that ``rows`` changed: one signal per run of rows, so that a view
        repaints the rows it shows that changed, not all it shows (it repaints all
        for any signal spanning more than a few dozen rows); one signal spanning them
        all when there are too many runs to be worth it."""
        if not rows:
            return
        runs = _runs(rows)
        if len(runs) > MAX_DATA_RUNS:
            runs = [(runs[0][0], runs[-1][1])]
        emit, cell = self.dataChanged.emit, self.createIndex
        for first, last in runs:
            emit(cell(first, 0), cell(last, _LAST_COL))

    def _update(self, entering: list[int] | None, changed_pids: list[int],
                left: bool = True) -> None:
        """Bring the shown rows in line with the table: see the class docstring."""
        order = self._shown_order(entering, left)
        old = self._order
        if order == old:
            if changed_pids:
                pos = self._positions()
                self._data_changed([pos[pid] for pid in changed_pids if pid in pos])
            return
        hint = QAbstractItemModel.LayoutChangeHint.VerticalSortHint
        self.layoutAboutToBeChanged[_LAYOUT_ARGS].emit([], hint)
        persistent = self.persistentIndexList()
        pids = [old[i.row()] if 0 <= i.row() < len(old) else None for i in persistent]
        self._order = order
        self._pos = None
        if persistent:
            wanted = set(pids)
            pos = self._positions() if len(wanted) > 16 else _find(order, wanted)
            self.changePersistentIndexList(persistent, [
                self.index(pos[pid], i.column()) if pid in pos else QModelIndex()
                for pid, i in zip(pids, persistent, strict=True)
            ])
        self.layoutChanged[_LAYOUT_ARGS].emit([], hint)


class ProcessFilterProxy(_Filtering, QSortFilterProxyModel):
    """Sorts and filters a :class:`ProcessTreeModel` (or a :class:`ProcessTableModel`).

    Filters as :class:`ProcessTableProxy` does; in tree mode a parent stays visible
    when a descendant matches. The tree is small enough per parent for a Python
    ``lessThan`` (:meth:`lessThan`); the flat table of every process is not, and
    uses :class:`ProcessTableProxy`.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setDynamicSortFilter(True)
        self.setSortRole(SORT_ROLE)
        self.setRecursiveFilteringEnabled(True)
        self._init_filter()

    def _refilter(self) -> None:
        self.beginFilterChange()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:
        pred = self._predicate
        if pred is None:
            return True
        p = self.sourceModel().process_at(source_row, source_parent)
        return p is not None and pred(p)

    def lessThan(self, left: QModelIndex, right: QModelIndex) -> bool:
        """Whether ``left`` sorts before ``right``.

        Compares the source model's ``sort_key``: the column's raw Python value (an
        int, a float, a case-folded str; never display text, so 9 < 10 < 100 and
        1.5 MiB < 12 MiB), then the PID, so equal values keep a fixed order from one
        tick to the next instead of shuffling. Qt flips the result for descending
        order, which flips the PID tie-break too; the order still stays put.
        """
        src = self.sourceModel()
        if isinstance(src, ProcessTableModel):
            keys = src.sort_keys(left.column())
            return keys[left.row()] < keys[right.row()]
        return src.sort_key(left) < src.sort_key(right)

    def pid_at(self, proxy_index: QModelIndex) -> int | None:
        if not proxy_index.isValid():
            return None
        return self.data(proxy_index, PID_ROLE)

