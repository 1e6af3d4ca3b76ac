"""The exited-process log: newest first, bounded, searchable.

Every tick prepends the exits that are new (``Tick.exited``, already newest
first) with one ``beginInsertRows`` at row 0, and evicts the oldest rows past the
capacity with one ``beginRemoveRows`` at the end. Nothing is reset.
"""

from __future__ import annotations

import signal as _signal
from dataclasses import dataclass

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt

from procscope.model.delta import Tick
from procscope.model.records import ExitedProcess, user_name
from procscope.ui.columns import (
    format_bytes,
    format_clock,
    format_cpu_time,
    format_duration,
    safe_text,
)

__all__ = ["EXIT_COLUMNS", "ExitFilterProxy", "ExitTableModel", "describe_exit", "signal_name"]

_DISPLAY = int(Qt.ItemDataRole.DisplayRole)
_ALIGN = int(Qt.ItemDataRole.TextAlignmentRole)
_TOOLTIP = int(Qt.ItemDataRole.ToolTipRole)
SORT_ROLE = int(Qt.ItemDataRole.UserRole) + 1

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


def signal_name(sig: int) -> str:
    """``9`` -> ``SIGKILL``; an unknown number -> ``signal 77``."""
    try:
        return _signal.Signals(sig).name
    except ValueError:
        return f"signal {sig}"


def describe_exit(rec: ExitedProcess) -> str:
    """``0``, ``exit 1``, ``SIGKILL``, ``SIGSEGV (core)``, or blank when unknown."""
    if rec.signal is not None:
        return signal_name(rec.signal) + (" (core)" if rec.core_dumped else "")
    if rec.exit_code is not None:
        return str(rec.exit_code)
    return ""


@dataclass(frozen=True)
class _Entry:
    rec: ExitedProcess
    boot_wall: float  # Unix time of boot, as the source's snapshot had it

    @property
    def exit_wall(self) -> float | None:
        e = self.rec.exit_ns
        return None if e is None else self.boot_wall + e / 1e9


def _opt(v: object) -> str:
    return "" if v is None else str(v)


# key, header, value(entry), text(value), alignment
EXIT_COLUMNS = (
    ("time", "Exited", lambda e: e.exit_wall, format_clock, _RIGHT),
    ("pid", "PID", lambda e: e.rec.pid, str, _RIGHT),
    ("ppid", "PPID", lambda e: e.rec.ppid, _opt, _RIGHT),
    ("user", "User", lambda e: user_name(e.rec.uid), str, _LEFT),
    ("lifetime", "Lifetime", lambda e: e.rec.lifetime_ns, format_duration, _RIGHT),
    ("exit", "Exit", lambda e: describe_exit(e.rec), str, _RIGHT),
    ("cpu_time", "CPU time", lambda e: e.rec.cpu_ns, format_cpu_time, _RIGHT),
    ("peak_rss", "Peak RSS", lambda e: e.rec.peak_rss_bytes, format_bytes, _RIGHT),
    ("command", "Command", lambda e: e.rec.comm, safe_text, _LEFT),
)
_NCOLS = len(EXIT_COLUMNS)


class ExitTableModel(QAbstractTableModel):
    """Exited processes, newest first, at most ``capacity`` rows."""

    def __init__(self, capacity: int = 10_000, parent=None) -> None:
        super().__init__(parent)
        if capacity <= 0:
            raise ValueError(f"exit log capacity must be positive, not {capacity}")
        self.capacity = capacity
        self._rows: list[_Entry] = []  # newest first
        self.lost_total = 0
        self.evicted = 0

    def rowCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else _NCOLS

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < _NCOLS:
            return None
        if role == _DISPLAY:
            return EXIT_COLUMNS[section][1]
        if role == _ALIGN:
            return EXIT_COLUMNS[section][4]
        return None

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row, col = index.row(), index.column()
        if not (0 <= row < len(self._rows) and 0 <= col < _NCOLS):
            return None
        role = int(role)
        _key, _header, value, text, align = EXIT_COLUMNS[col]
        if role == _DISPLAY:
            return text(value(self._rows[row]))
        if role == SORT_ROLE:
            return value(self._rows[row])
        if role == _ALIGN:
            return align
        if role == _TOOLTIP and EXIT_COLUMNS[col][0] == "command":
            rec = self._rows[row].rec
            return f"{safe_text(rec.comm)} (PID {rec.pid}), exit record #{rec.seq}"
        return None

    def record(self, row: int) -> ExitedProcess:
        return self._rows[row].rec

    def records(self) -> list[ExitedProcess]:
        """Newest first."""
        return [e.rec for e in self._rows]

    def export_rows(self) -> list[list[str]]:
        """Every row as display text, newest first (for CSV)."""
        return [[text(value(e)) for _k, _h, value, text, _a in EXIT_COLUMNS] for e in self._rows]

    def sort_key(self, row: int, column: int) -> tuple:
        """``(present, value, seq)``: unknown values sort first, ties by record order."""
        e = self._rows[row]
        v = EXIT_COLUMNS[column][2](e)
        if isinstance(v, str):
            v = v.casefold()
        return (v is not None, v if v is not None else 0, e.rec.seq)

    def apply_tick(self, tick: Tick) -> None:
        self.lost_total = tick.lost_total
        new = tick.exited
        if not new:
            return
        snap = tick.snapshot
        boot_wall = snap.wall_time - snap.time_ns / 1e9
        entries = [_Entry(rec, boot_wall) for rec in new[: self.capacity]]
        self.evicted += len(new) - len(entries)
        overflow = len(self._rows) + len(entries) - self.capacity
        if overflow > 0:
            first = len(self._rows) - overflow
            self.beginRemoveRows(QModelIndex(), first, len(self._rows) - 1)
            del self._rows[first:]
            self.endRemoveRows()
            self.evicted += overflow
        self.beginInsertRows(QModelIndex(), 0, len(entries) - 1)
        self._rows[:0] = entries
        self.endInsertRows()

    def clear(self) -> None:
        if not self._rows:
            return
        self.beginRemoveRows(QModelIndex(), 0, len(self._rows) - 1)
        self.evicted += len(self._rows)
        self._rows.clear()
        self.endRemoveRows()


class ExitFilterProxy(QSortFilterProxyModel):
    """Searches the exit log by command, PID, PPID, user or exit text (case-insensitive).

    ``lessThan`` compares the source's raw values (numbers as numbers), ties broken
    by record order, so sorting by a column never reshuffles equal rows.
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setDynamicSortFilter(True)
        self._needle = ""

    def set_search(self, text: str) -> None:
        self._needle = text.strip().casefold()
        self.beginFilterChange()
        self.endFilterChange(QSortFilterProxyModel.Direction.Rows)

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex) -> bool:
        needle = self._needle
        if not needle:
            return True
        rec = self.sourceModel().record(source_row)
        if rec.comm.casefold().find(needle) >= 0:
            return True
        fields = (str(rec.pid), _opt(rec.ppid), user_name(rec.uid), describe_exit(rec))
        return any(f.casefold().startswith(needle) for f in fields)

    def lessThan(self, left: QModelIndex, right: QModelIndex) -> bool:
        src = self.sourceModel()
        return src.sort_key(left.row(), left.column()) < src.sort_key(
            right.row(), right.column()
        )
