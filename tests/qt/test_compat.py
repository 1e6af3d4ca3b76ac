"""The workaround for PySide6 6.12.0's reference bugs keeps a busy app alive."""

from __future__ import annotations

import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent(
    """
    import sys
    from PySide6.QtCore import QObject, Signal
    from PySide6.QtGui import QStandardItemModel
    from procscope.ui import compat

    class A(QObject):
        sig = Signal(object)

    if sys.argv[1] == "guarded":
        compat.install()
    a = A()
    model = QStandardItemModel(1, 1)
    index = model.index(0, 0)
    for i in range(200_000):
        a.sig.emit(i)
        model.data(index)
        if i % 1000 == 0:
            compat.top_up()
    print("alive")
    """
)


def test_many_emits_do_not_abort_the_interpreter():
    out = subprocess.run([sys.executable, "-c", SCRIPT, "guarded"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "alive"


def test_the_probe_agrees_with_what_happens_without_the_workaround():
    from procscope.ui import compat

    leaks = bool(compat.leaking_singletons())
    out = subprocess.run([sys.executable, "-c", SCRIPT, "bare"], capture_output=True,
                         text=True, timeout=120)
    # Without the workaround, an interpreter that leaks aborts; one that does not, lives.
    assert (out.returncode != 0) == leaks, (leaks, out.returncode, out.stderr[-500:])
