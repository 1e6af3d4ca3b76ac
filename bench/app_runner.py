"""The app's full pipeline, offscreen, for the self-CPU and memory runs.

    python bench/app_runner.py SOURCE INTERVAL

Runs the app itself: ``procscope.ui.app.main(["--source", SOURCE, "--interval",
INTERVAL])``, the same call as ``procscope --source SOURCE --interval INTERVAL``
(source → poll worker thread → Qt models, proxies, charts → paint). The only
addition is a counter on the worker's ``sig_tick``, queued to the GUI thread like
the window's own slot. If the app has no ``main`` yet, the widgets are assembled as
in bench/gui_tick.py and fed by the app's :class:`PollController`.

Prints ``ready <how>`` after the first tick, one ``tick`` line per tick, and
closes the window (a clean shutdown) when stdin closes.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> int:
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    spec, interval = sys.argv[1], sys.argv[2]
    from PySide6.QtCore import QObject, QSocketNotifier, QTimer, Slot
    from PySide6.QtWidgets import QApplication

    try:
        from procscope.ui.app import main as app_main
        from procscope.ui.mainwindow import MainWindow
    except ImportError:
        app_main = MainWindow = None

    app = QApplication.instance() or QApplication([sys.argv[0]])
    how = "`procscope.ui.app.main`" if app_main else "assembled widgets"

    class Sink(QObject):
        """Lives in the GUI thread, so the worker's ticks are queued to it."""

        ticks = 0

        @Slot(object)
        def on_tick(self, _tick) -> None:
            self.ticks += 1
            if self.ticks == 1:
                print(f"ready {how}", flush=True)
            print("tick", flush=True)

        @Slot(str)
        def on_error(self, msg: str) -> None:
            print(f"error {msg}", file=sys.stderr, flush=True)

    sink = Sink()
    state: dict = {}

    def hook() -> None:
        for w in app.topLevelWidgets():
            if isinstance(w, MainWindow):
                state["window"] = w
                w.worker.sig_tick.connect(sink.on_tick)
                w.worker.sig_error.connect(sink.on_error)
                return
        print("error no MainWindow found", file=sys.stderr, flush=True)
        app.exit(1)

    def on_stdin() -> None:
        if not sys.stdin.readline():  # EOF: the caller is done
            notifier.setEnabled(False)
            window = state.get("window")
            if window is not None:
                window.close()  # saves settings, shuts the poller down
            QTimer.singleShot(0, app.quit)

    notifier = QSocketNotifier(sys.stdin.fileno(), QSocketNotifier.Type.Read)
    notifier.activated.connect(on_stdin)

    if app_main is not None:
        QTimer.singleShot(0, hook)
        return app_main(["--source", spec, "--interval", interval])

    import gui_tick
    from procscope.ui.worker import PollController, PollWorker

    ui = gui_tick.Assembled()
    worker = PollWorker(spec, float(interval))
    controller = PollController(worker)

    class Feed(QObject):
        @Slot(object)
        def apply(self, tick) -> None:
            ui.apply(tick)

    feed = Feed()
    worker.sig_tick.connect(feed.apply)
    worker.sig_tick.connect(sink.on_tick)
    worker.sig_error.connect(sink.on_error)
    controller.start()
    app.exec()
    controller.shutdown()
    return 0


if __name__ == "__main__":
    sys.exit(main())
