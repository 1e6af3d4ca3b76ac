"""The process table's columns, each described once (the Glances way).

A :class:`Column` says how to get a raw value out of a process (used for sorting,
so numbers sort as numbers), how to turn that value into text, its unit and its
alignment. The table model, the tree model, the sort proxy and the CSV export all
read this one list, so a column is added or changed in one place.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

from PySide6.QtCore import Qt

from procscope.model.records import Process, comm_bytes, user_name

__all__ = [
    "COLUMNS",
    "Column",
    "Row",
    "column_index",
    "format_bytes",
    "format_clock",
    "format_cpu_time",
    "format_duration",
    "safe_text",
]

_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_CENTER = Qt.AlignmentFlag.AlignCenter

STATE_NAMES = {
    "R": "running",
    "S": "sleeping",
    "D": "disk sleep (uninterruptible)",
    "T": "stopped",
    "t": "tracing stop",
    "Z": "zombie",
    "X": "dead",
    "I": "idle kernel thread",
    "P": "parked",
}


class Row(NamedTuple):
    """What one table row shows: the process, its CPU % and the boot time as Unix time.

    A NamedTuple, not a dataclass: the table builds one for every cell it paints and
    every sort key it updates, thousands per tick, and a frozen dataclass costs about
    five times as much to build.
    """

    proc: Process
    cpu: float
    boot_wall: float


@dataclass(frozen=True)
class Column:
    key: str
    header: str
    unit: str
    value: Callable[[Row], object]  # raw, sortable value
    text: Callable[[object], str]  # formats a value from ``value``
    align: Qt.AlignmentFlag
    tooltip: str
    width_hint: str  # sample text for the default column width
    sort: Callable[[object], object] = lambda v: v  # sort key from ``value``


def safe_text(name: str) -> str:
    """A process name made printable: bytes that are not UTF-8 and control
    characters are shown as ``\\xHH``, so a name can never break a line or a cell."""
    text = comm_bytes(name).decode("utf-8", "backslashreplace")
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def format_bytes(n: int | None) -> str:
    """``1536`` -> ``1.5 KiB``; blank when unknown."""
    if n is None:
        return ""
    if n < 1024:
        return f"{n} B"
    value = float(n)
    for unit in ("KiB", "MiB", "GiB", "TiB"):
        value /= 1024.0
        if value < 1024.0 or unit == "TiB":
            return f"{value:.1f} {unit}" if value < 100 else f"{value:.0f} {unit}"
    raise AssertionError("unreachable")


def format_cpu_time(ns: int | None) -> str:
    """CPU time as ``m:ss.cc`` (``h:mm:ss`` past an hour), like htop's TIME+."""
    if ns is None:
        return ""
    centis = ns // 10_000_000
    secs, cc = divmod(centis, 100)
    mins, ss = divmod(secs, 60)
    if mins >= 60:
        hours, mm = divmod(mins, 60)
        return f"{hours}:{mm:02d}:{ss:02d}"
    return f"{mins}:{ss:02d}.{cc:02d}"


def format_duration(ns: int | None) -> str:
    """A lifetime: ``850 µs``, ``12 ms``, ``3.4 s``, ``5 min 02 s``, ``2 h 03 min``."""
    if ns is None:
        return ""
    if ns < 1_000_000:
        return f"{ns / 1000:.0f} µs"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:.0f} ms"
    secs = ns / 1e9
    if secs < 60:
        return f"{secs:.1f} s"
    mins, s = divmod(int(secs), 60)
    if mins < 60:
        return f"{mins} min {s:02d} s"
    hours, m = divmod(mins, 60)
    return f"{hours} h {m:02d} min"


def format_clock(unix: float | None, now: float | None = None) -> str:
    """Time of day when it is today, else the date too."""
    if unix is None:
        return ""
    now = time.time() if now is None else now
    t = time.localtime(unix)
    if time.localtime(now)[:3] == t[:3]:
        return time.strftime("%H:%M:%S", t)
    return time.strftime("%b %d %H:%M", t)


def _state_text(v: object) -> str:
    return str(v)


COLUMNS: tuple[Column, ...] = (
    Column("pid", "PID", "", lambda r: r.proc.pid, str, _RIGHT,
           "Process ID (thread-group id)", "4194304"),
    Column("ppid", "PPID", "", lambda r: r.proc.ppid, str, _RIGHT,
           "Parent's process ID", "4194304"),
    Column("user", "User", "", lambda r: user_name(r.proc.uid), str, _LEFT,
           "Owner (real user)", "www-data", str.casefold),
    Column("state", "S", "", lambda r: r.proc.state, _state_text, _CENTER,
           "State: R running, S sleeping, D disk sleep, T stopped, Z zombie, I idle", "S"),
    Column("threads", "Thr", "", lambda r: r.proc.threads, str, _RIGHT,
           "Number of threads", "1024"),
    # CPU sorts at the precision it shows (see ProcessTableModel.apply_tick).
    Column("cpu", "CPU %", "%", lambda r: r.cpu, lambda v: f"{v:.1f}", _RIGHT,
           "CPU used over the last interval, in % of one CPU", "100.0 ",
           lambda v: round(v, 1)),
    Column("cpu_time", "CPU time", "ns", lambda r: r.proc.cpu_ns, format_cpu_time, _RIGHT,
           "User + system CPU time since the process started", "123:45.67",
           lambda v: v // 10_000_000),
    Column("rss", "RSS", "bytes", lambda r: r.proc.rss_bytes, format_bytes, _RIGHT,
           "Resident memory", "1023.9 MiB"),
    Column("started", "Started", "s",
           lambda r: r.boot_wall + r.proc.start_ns / 1e9, format_clock, _RIGHT,
           "When the process started", "Nov 26 23:59"),
    Column("command", "Command", "", lambda r: r.proc.comm, safe_text, _LEFT,
           "Process name (comm)", "chromium-browse", str.casefold),
)

_BY_KEY = {c.key: i for i, c in enumerate(COLUMNS)}


def column_index(key: str) -> int:
    """The position of the column ``key`` (``KeyError`` for an unknown key)."""
    return _BY_KEY[key]
