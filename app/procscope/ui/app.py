"""``procscope`` with no subcommand: parse the options and run the window."""

from __future__ import annotations

import argparse
import signal
import sys

from procscope import APP_ID, __version__

__all__ = ["main"]


def _interval(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of seconds: {text!r}") from None
    if not 0.5 <= value <= 10:
        raise argparse.ArgumentTypeError(f"the interval must be 0.5 to 10 seconds, not {value:g}")
    return value


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="procscope",
        description="A Linux process monitor that never misses a process.",
        epilog="Subcommands (procscope COMMAND --help) run without a window.",
    )
    parser.add_argument(
        "--source", default="auto",
        help="auto (default), lkm, netlink, proc, dir:PATH or replay:PATH",
    )
    parser.add_argument(
        "--interval", type=_interval, default=None, metavar="S",
        help="seconds between updates, 0.5 to 10 (default: the last one used, or 1)",
    )
    parser.add_argument("--version", action="version", version=f"procscope {__version__}")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)

    from PySide6.QtCore import QTimer
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from procscope.ui.mainwindow import MainWindow, app_icon

    app = QApplication.instance() or QApplication([sys.argv[0]])
    app.setApplicationName("Procscope")
    app.setOrganizationName("procscope")
    app.setOrganizationDomain("procscope.github.io")
    app.setApplicationVersion(__version__)
    QGuiApplication.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())

    window = MainWindow(source=args.source, interval=args.interval)
    window.show()
    window.start()
    # Let Ctrl+C in the terminal close the window cleanly: Python only sees the
    # signal when the interpreter runs, so wake it up now and then.
    signal.signal(signal.SIGINT, lambda *_: window.close())
    waker = QTimer()
    waker.timeout.connect(lambda: None)
    waker.start(250)
    return app.exec()
