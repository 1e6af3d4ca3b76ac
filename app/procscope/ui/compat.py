"""Work around reference-count bugs of PySide6 6.12.0 on Python 3.11 and older.

PySide6 6.12.0 hands out two objects without taking a reference to them:

* ``SignalInstance.emit()`` returns ``True`` without a reference, so every signal
  emitted from Python (ours, and pyqtgraph's on every ``setData``) takes one
  reference that ``True`` never had;
* an empty ``QVariant`` coming back from C++ (``model.data(index, role)`` for a
  role with no data, called from Python) becomes ``None`` without a reference.

On Python 3.12+ both objects are immortal and nothing happens. On 3.11 the counts
reach zero after some thousands of calls and the interpreter aborts with
"bool_dealloc: deallocating True or False" or "none_dealloc: deallocating None".
PySide6 6.11.3 has neither bug.

:func:`install` probes for each bug; only when references go missing does it raise
that object's count far out of reach (about 10^9), and :func:`top_up` (called on
each tick) keeps it there. With a PySide6 that is not affected both do nothing.
"""

from __future__ import annotations

import ctypes
import sys

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QStandardItemModel

__all__ = ["install", "leaking_singletons", "top_up"]

_RESERVE = 1 << 30
_guarded: tuple[object, ...] = ()


class _Probe(QObject):
    sig_probe = Signal()


def _loses_references(obj: object, action, n: int = 64) -> bool:
    before = sys.getrefcount(obj)
    for _ in range(n):
        action()
    return before - sys.getrefcount(obj) >= n // 2


def leaking_singletons() -> tuple[object, ...]:
    """The singletons (``True``, ``None``) that this PySide6 loses references to."""
    if sys.version_info >= (3, 12):  # immortal objects: a lost reference is harmless
        return ()
    probe = _Probe()
    model = QStandardItemModel(1, 1)
    index = model.index(0, 0)
    found = []
    if _loses_references(True, probe.sig_probe.emit):
        found.append(True)
    if _loses_references(None, lambda: model.data(index)):
        found.append(None)
    return tuple(found)


def top_up() -> None:
    """Restore the reserve of references of each guarded singleton."""
    for obj in _guarded:
        count = ctypes.c_ssize_t.from_address(id(obj))  # ob_refcnt, the first field
        if count.value < _RESERVE // 2:
            count.value = _RESERVE


def install() -> tuple[object, ...]:
    """Probe for the bugs and guard what leaks; returns the guarded singletons."""
    global _guarded
    if not _guarded:
        _guarded = leaking_singletons()
        top_up()
    return _guarded
