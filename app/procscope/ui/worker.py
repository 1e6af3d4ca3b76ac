"""The poller: reads the source and runs the delta model off the GUI thread.

Spyder's pattern: a plain ``QObject`` moved to a ``QThread``, talking only through
signals. :class:`PollWorker` owns the source and the :class:`DeltaModel`; a QTimer
in the worker thread polls at the interval. It never touches a widget.

Use it through :class:`PollController`, which makes the thread, starts it, and
shuts it down with ``quit()`` + ``wait()``.
"""

from __future__ import annotations

import time

from PySide6.QtCore import (
    QCoreApplication,
    QObject,
    Qt,
    QThread,
    QTimer,
    Signal,
    Slot,
)

from procscope.model.delta import DeltaModel
from procscope.sources import Source, SourceError, SourceGone, SourceUnavailable, open_source

__all__ = ["MAX_INTERVAL", "MIN_INTERVAL", "PollController", "PollWorker"]

MIN_INTERVAL = 0.5
MAX_INTERVAL = 10.0


def clamp_interval(seconds: float) -> float:
    return min(MAX_INTERVAL, max(MIN_INTERVAL, float(seconds)))


class PollWorker(QObject):
    """Polls a source. Lives in a worker thread; every public method is a slot."""

    #: One :class:`~procscope.model.delta.Tick` per poll.
    sig_tick = Signal(object)
    #: The cost of the last poll: reading the source and running the model, in ms.
    sig_cost = Signal(float, float)
    #: Something went wrong that the user should read.
    sig_error = Signal(str)
    #: The source in use changed: its kind, why it was chosen, and whether it keeps
    #: an exit log.
    sig_source_changed = Signal(str, str, bool)
    #: The source in use died; the worker moved from ``old`` to ``new`` because ``reason``.
    sig_fallback = Signal(str, str, str)
    #: Polling paused (True) or resumed (False).
    sig_paused = Signal(bool)
    #: The worker has let go of its source and timer (the answer to ``stop``).
    sig_stopped = Signal()

    def __init__(self, spec: str = "auto", interval: float = 1.0, opener=open_source) -> None:
        super().__init__()
        self._spec = spec
        self._interval = clamp_interval(interval)
        self._open = opener
        self._source: Source | None = None
        self._model = DeltaModel()
        self._timer: QTimer | None = None
        self._paused = False

    @property
    def source(self) -> Source | None:
        return self._source

    @Slot()
    def start(self) -> None:
        """Open the source and start polling (connected to ``QThread.started``)."""
        self._timer = QTimer(self)
        self._timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._timer.timeout.connect(self.poll)
        self._switch(self._spec)
        if self._source is not None:
            self.poll()
            self._timer.start(int(self._interval * 1000))

    @Slot()
    def stop(self) -> None:
        """Stop polling, close the source, and hand this object back to the GUI thread."""
        if self._timer is not None:
            self._timer.stop()
        self._close()
        app = QCoreApplication.instance()
        if app is not None:
            self.moveToThread(app.thread())
        self.sig_stopped.emit()

    @Slot(float)
    def set_interval(self, seconds: float) -> None:
        self._interval = clamp_interval(seconds)
        if self._timer is not None and self._timer.isActive():
            self._timer.start(int(self._interval * 1000))

    @Slot()
    def pause(self) -> None:
        self._paused = True
        if self._timer is not None:
            self._timer.stop()
        self.sig_paused.emit(True)

    @Slot()
    def resume(self) -> None:
        self._paused = False
        if self._timer is not None and self._source is not None:
            self._timer.start(int(self._interval * 1000))
        self.sig_paused.emit(False)

    @Slot()
    def refresh_now(self) -> None:
        """Poll once now, paused or not."""
        if self._source is not None:
            self.poll()

    @Slot(str)
    def set_source(self, spec: str) -> None:
        """Switch to the source ``spec`` names (``auto``, ``lkm``, ``netlink``, ``proc``...)."""
        self._spec = spec
        self._switch(spec)
        if self._source is not None:
            self.poll()
            if not self._paused and self._timer is not None:
                self._timer.start(int(self._interval * 1000))

    @Slot()
    def poll(self) -> None:
        src = self._source
        if src is None:
            return
        try:
            snap = src.read()
        except SourceGone as exc:
            self._fall_back(str(exc) or "it stopped")
            return
        except (SourceError, OSError, ValueError) as exc:
            self.sig_error.emit(f"Reading {src.name} failed: {exc}")
            return
        t0 = time.perf_counter_ns()
        tick = self._model.update(snap)
        model_ns = time.perf_counter_ns() - t0
        self.sig_tick.emit(tick)
        self.sig_cost.emit(snap.read_cost_ns / 1e6, model_ns / 1e6)

    def _fall_back(self, why: str) -> None:
        old = self._source.kind if self._source is not None else "?"
        self._close()
        try:
            new = self._open("auto", exclude=(old,))
        except SourceUnavailable as exc:
            if self._timer is not None:
                self._timer.stop()
            self.sig_error.emit(f"The {old} source stopped ({why}) and no other works: {exc}")
            return
        self._adopt(new)
        self.sig_fallback.emit(old, new.kind, why)
        self.poll()

    def _switch(self, spec: str) -> None:
        self._close()
        try:
            src = self._open(spec)
        except SourceUnavailable as exc:
            if spec == "auto":
                self.sig_error.emit(str(exc))
                return
            self.sig_error.emit(f"Cannot use {spec}: {exc}. Using the best available instead.")
            try:
                src = self._open("auto", exclude=(spec,))
            except SourceUnavailable as exc2:
                self.sig_error.emit(str(exc2))
                return
        self._adopt(src)

    def _adopt(self, src: Source) -> None:
        self._source = src
        self._model.reset()
        self.sig_source_changed.emit(src.kind, src.reason, bool(src.has_exit_log))

    def _close(self) -> None:
        src, self._source = self._source, None
        if src is not None:
            try:
                src.close()
            except (OSError, SourceError) as exc:
                self.sig_error.emit(f"Closing {src.name} failed: {exc}")


class PollController(QObject):
    """Owns the worker thread. The GUI talks to the worker through these signals."""

    sig_set_interval = Signal(float)
    sig_pause = Signal()
    sig_resume = Signal()
    sig_refresh = Signal()
    sig_set_source = Signal(str)
    _sig_stop = Signal()

    def __init__(self, worker: PollWorker, parent=None) -> None:
        super().__init__(parent)
        self.worker = worker
        self.thread = QThread(self)
        self.thread.setObjectName("procscope-poller")
        worker.moveToThread(self.thread)
        self.thread.started.connect(worker.start)
        self.sig_set_interval.connect(worker.set_interval)
        self.sig_pause.connect(worker.pause)
        self.sig_resume.connect(worker.resume)
        self.sig_refresh.connect(worker.refresh_now)
        self.sig_set_source.connect(worker.set_source)
        self._sig_stop.connect(worker.stop, Qt.ConnectionType.BlockingQueuedConnection)

    def start(self) -> None:
        app = QCoreApplication.instance()
        if app is not None:  # however the app ends, the thread ends first
            app.aboutToQuit.connect(self.shutdown)
        self.thread.start()

    @Slot()
    def shutdown(self, timeout_ms: int = 10_000) -> bool:
        """Stop the worker, then the thread; True when the thread has finished."""
        if self.thread.isRunning():
            self._sig_stop.emit()  # blocks until the worker has stopped
            self.thread.quit()
            return self.thread.wait(timeout_ms)
        return True
