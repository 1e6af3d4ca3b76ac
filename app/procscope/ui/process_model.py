"""The live process table: a model keyed by PID, updated in place every tick.

:class:`ProcessTableModel` keeps one row per PID in arrival order. Each tick it
removes the rows of processes that vanished two ticks ago (greyed out meanwhile),
emits targeted ``dataChanged`` for the rows that changed, and appends new
processes (tinted for two ticks). It never resets, so selection, scroll position
and sort survive the data moving underneath.

:class:`ProcessTreeModel` shows the same rows grouped under their parents.
:class:`ProcessFilterProxy` sorts (numerically, ties broken by PID) and filters
with the predicates of :mod:`procscope.model.filters`; it works over either model.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable

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
from procscope.ui.columns import COLUMNS, STATE_NAMES, Row, safe_text

__all__ = [
    "PID_ROLE",
    "SORT_ROLE",
    "ProcessFilterProxy",
    "ProcessTableModel",
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

_NCOLS = len(COLUMNS)
#: Row signals per tick above which the tree relayouts instead.
MAX_TREE_OPS = 8
_LAST_COL = _NCOLS - 1
_NEW_BRUSH = QBrush(QColor(76, 175, 80, 70))  # translucent green, works on dark themes
_GONE_BRUSH = QBrush(QColor(140, 140, 140))
_GONE_BACKGROUND = QBrush(QColor(220, 60, 60, 35))

# Which columns a change in each Process field touches (field index -> column index).
_FIELD_COLS = {
    0: (0,),  # pid
    1: (1,),  # ppid
    2: (2,),  # uid -> user
    3: (3,),  # state
    4: (4,),  # threads
    5: (5, 6),  # cpu_ns -> CPU %, CPU time
    6: (7,),  # rss
    7: (8,),  # start_ns
    8: (),  # kthread (not shown)
    9: (9,),  # comm
}


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

    #: After each tick: the PIDs whose cells changed (for the tree model).
    sig_applied = Signal(object)
    #: A user id was seen for the first time (for the user filter).
    sig_new_uids = Signal(object)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._pids: list[int] = []
        self._procs: list[Process] = []
        self._cpu: list[float] = []
        self._row: dict[int, int] = {}
        self._tick_no = 0
        self._new_until: dict[int, int] = {}  # pid -> tick number its tint ends
        self._gone_at: dict[int, int] = {}  # pid -> tick number it vanished
        self._boot_wall = 0.0
        self._boot_known = False
        self._uids: set[int] = set()
        # Sort keys of one column, row by row, kept in step with the rows (the proxy
        # compares tens of thousands of them per tick when sorting by CPU).
        self._key_col = -1
        self._keys: list[tuple] = []

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
        if not index.isValid():
            return None
        return self.cell(index.row(), index.column(), int(role))

    # -- our API ---------------------------------------------------------------

    @property
    def uids(self) -> frozenset[int]:
        return frozenset(self._uids)

    def cell(self, row: int, column: int, role: int):
        """The data of a cell for ``role``; shared by the tree model."""
        if not (0 <= row < len(self._pids) and 0 <= column < _NCOLS):
            return None
        col = COLUMNS[column]
        if role == _DISPLAY:
            return col.text(col.value(Row(self._procs[row], self._cpu[row], self._boot_wall)))
        if role == SORT_ROLE:
            return col.value(Row(self._procs[row], self._cpu[row], self._boot_wall))
        if role == _ALIGN:
            return col.align
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
        """The sort keys of every row for ``column`` (cached; do not modify)."""
        if column != self._key_col:
            self._key_col = column
            self._keys = [self._make_key(r, column) for r in range(len(self._pids))]
        return self._keys

    def _make_key(self, row: int, column: int) -> tuple:
        col = COLUMNS[column]
        p = self._procs[row]
        return (col.sort(col.value(Row(p, self._cpu[row], self._boot_wall))), p.pid)

    def process_at(self, row: int, parent: QModelIndex | None = None) -> Process | None:
        if parent is not None and parent.isValid():
            return None
        return self._procs[row] if 0 <= row < len(self._procs) else None

    def row_of(self, pid: int) -> int | None:
        return self._row.get(pid)

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

    def rows(self) -> list[Row]:
        """Every row, in row order, for export."""
        bw = self._boot_wall
        return [Row(p, c, bw) for p, c in zip(self._procs, self._cpu, strict=True)]

    def clear(self) -> None:
        """Forget every row (a change of source). Not used per tick."""
        self.beginResetModel()
        self._pids, self._procs, self._cpu, self._row = [], [], [], {}
        self._key_col, self._keys = -1, []
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

        # 4. Changed rows, in place.
        changed_rows: list[int] = []
        changed_pids: list[int] = []
        lo_col, hi_col = _NCOLS, -1
        new_pids = tick.new_pids
        procs_list = self._procs
        cpu_list = self._cpu
        appended: list[int] = []
        for pid, p in procs.items():
            r = row_of.get(pid)
            if r is None:
                appended.append(pid)
                continue
            c = cpu_now.get(pid, 0.0)
            q = procs_list[r]
            q_cpu = cpu_list[r]
            if pid in self._gone_at:  # the PID is back: a new process, or a missed read
                del self._gone_at[pid]
                style_rows.add(r)
            if tint and pid in new_pids:
                self._new_until[pid] = n + self.NEW_TICKS
                style_rows.add(r)
            if q == p and cpu_list[r] == c:
                continue
            procs_list[r] = p
            cpu_list[r] = c
            # Only what shows counts as a change: CPU time to the 1/100 s, CPU % to 0.1,
            # so the many processes that wake for a few microseconds cost nothing.
            seen = False
            if q != p:
                for i, (a, b) in enumerate(zip(q, p, strict=True)):
                    if a != b and (i != 5 or a // 10_000_000 != b // 10_000_000):
                        for col in _FIELD_COLS[i]:
                            lo_col = min(lo_col, col)
                            hi_col = max(hi_col, col)
                        seen = True
                if q.uid != p.uid:
                    self._note_uid(p.uid)
            if round(c, 1) != round(q_cpu, 1):
                lo_col = min(lo_col, 5)
                hi_col = max(hi_col, 5)
                seen = True
            if not seen:
                continue
            if self._key_col >= 0:
                self._keys[r] = self._make_key(r, self._key_col)
            changed_rows.append(r)
            changed_pids.append(pid)
        if changed_rows and hi_col >= 0:
            # One signal per run of nearby rows. (One signal spanning them all looks
            # cheaper but costs a sorting proxy two comparisons for every row in the
            # span, changed or not: 3x slower at 10,000 rows with 5% of them changing.)
            for first, last in _runs(changed_rows, gap=8):
                self.dataChanged.emit(self.index(first, lo_col), self.index(last, hi_col))
        for first, last in _runs(style_rows):
            self.dataChanged.emit(self.index(first, 0), self.index(last, _LAST_COL), _STYLE_ROLES)

        # 5. New processes, appended in PID order.
        if appended:
            appended.sort()
            start = len(self._pids)
            self.beginInsertRows(QModelIndex(), start, start + len(appended) - 1)
            for i, pid in enumerate(appended, start):
                p = procs[pid]
                self._pids.append(pid)
                procs_list.append(p)
                cpu_list.append(cpu_now.get(pid, 0.0))
                if self._key_col >= 0:
                    self._keys.append(self._make_key(i, self._key_col))
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
            if self._key_col >= 0:
                del self._keys[first : last + 1]
            self.endRemoveRows()
        self._row = {pid: i for i, pid in enumerate(self._pids)}


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


class ProcessFilterProxy(QSortFilterProxyModel):
    """Sorts and filters a :class:`ProcessTableModel` or :class:`ProcessTreeModel`.

    Filtering ANDs the :mod:`procscope.model.filters` predicates: a name/PID pattern
    (substring or regex), a user (all, mine, or one UID) and whether kernel threads
    show. In tree mode a parent stays visible when a descendant matches.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setDynamicSortFilter(True)
        self.setSortRole(SORT_ROLE)
        self.setRecursiveFilteringEnabled(True)
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
        self._refilter()

    def set_user(self, user: str | int) -> None:
        """``"all"``, ``"mine"``, or a UID."""
        if not (user in ("all", "mine") or (isinstance(user, int) and user >= 0)):
            raise ValueError(f"user filter must be 'all', 'mine' or a UID, not {user!r}")
        self._user = user
        self._refilter()

    def set_show_kthreads(self, show: bool) -> None:
        self._show_kthreads = bool(show)
        self._refilter()

    def _refilter(self) -> None:
        user = self._user
        by_user = (
            None if user == "all" else filters.mine() if user == "mine" else filters.by_uid(user)
        )
        self._predicate = filters.combine(
            filters.by_pattern(self._pattern, self._regex),
            by_user,
            filters.kthreads(self._show_kthreads),
        )
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

