"""Run the real app on a real source under an X server and save a screenshot.

Used by ``test_screenshot.py`` (``make screenshot``) in a subprocess::

    python tests/qt/screenshot_app.py OUT.png SOURCE WORKDIR

It plays a small parallel "build" (processes named cc1, as, ld... that live a few
milliseconds, one that crashes) so the exit log and the charts have something to
show, waits a few seconds, saves the window, and prints what it showed as JSON.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
from pathlib import Path

from PySide6.QtCore import QSettings, QTimer
from PySide6.QtWidgets import QApplication

from procscope import APP_ID
from procscope.ui.mainwindow import MainWindow, app_icon

RUN_MS = 9000
TOOLS = {"cc1": "sleep", "as": "sleep", "ld": "sleep", "collect2": "sleep",
         "make": "sleep", "cc1plus": "sleep", "false": "false"}


def main() -> int:
    out, source, workdir = sys.argv[1], sys.argv[2], Path(sys.argv[3])
    bindir = workdir / "bin"
    bindir.mkdir(parents=True, exist_ok=True)
    for name, target in TOOLS.items():
        link = bindir / name
        if not link.exists():
            link.symlink_to(subprocess.check_output(["which", target], text=True).strip())

    app = QApplication([sys.argv[0]])
    app.setApplicationName("Procscope")
    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())
    settings = QSettings(str(workdir / "procscope.ini"), QSettings.Format.IniFormat)
    win = MainWindow(source=source, interval=0.5, settings=settings)
    win.resize(1360, 860)
    win.show()
    win.start()

    rng = random.Random(4)
    children: list[subprocess.Popen] = []
    long_lived: list[subprocess.Popen] = []

    def build_step() -> None:
        for _ in range(rng.randint(3, 8)):
            name = rng.choice(["cc1", "cc1", "cc1", "as", "as", "ld", "collect2"])
            arg = [] if name == "false" else [f"0.{rng.randint(1, 30):02d}"]
            children.append(subprocess.Popen([str(bindir / name), *arg]))
        if rng.random() < 0.3:
            children.append(subprocess.Popen([str(bindir / "false")]))
        for c in list(children):
            if c.poll() is not None:
                children.remove(c)

    def crash_one() -> None:
        p = subprocess.Popen([str(bindir / "cc1plus"), "5"],
                             preexec_fn=lambda: __import__("resource").setrlimit(
                                 __import__("resource").RLIMIT_CORE, (0, 0)))
        long_lived.append(p)
        QTimer.singleShot(700, lambda: p.send_signal(signal.SIGSEGV))

    def start_make() -> None:
        long_lived.append(subprocess.Popen([str(bindir / "make"), "60"]))

    timer = QTimer()
    timer.timeout.connect(build_step)
    QTimer.singleShot(300, start_make)
    QTimer.singleShot(600, lambda: timer.start(250))
    QTimer.singleShot(4000, crash_one)
    QTimer.singleShot(6500, crash_one)

    result = {}

    def finish() -> None:
        try:
            timer.stop()
            win.table_view.scrollToTop()
            pixmap = win.grab()
            pixmap.save(out, "PNG")
            _x, forks = win.rate_chart.forks.getData()
            result.update(
                width=pixmap.width(), height=pixmap.height(),
                processes=win.table_model.rowCount(), exits=win.exit_model.rowCount(),
                source=win.source_label.text(),
                forks_samples=0 if forks is None else len(forks),
            )
        finally:
            win.close()
            for p in children + long_lived:
                if p.poll() is None:
                    p.kill()
                p.wait()
            app.quit()

    QTimer.singleShot(RUN_MS, finish)
    app.exec()
    print(json.dumps(result))
    return 0 if result else 1


if __name__ == "__main__":
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb")
    sys.exit(main())
