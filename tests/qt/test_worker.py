"""The poll worker in its thread: ticks, pause, refresh, source changes, fallback, shutdown."""

from __future__ import annotations

import pytest
from qtfakes import FakeOpener, Relay, ScriptedSource, busy_snapshots

from procscope.ui.worker import PollController, PollWorker, clamp_interval


@pytest.fixture
def make_poller(qtbot):
    made = []

    def make(sources, spec="auto", interval=0.5):
        opener = FakeOpener(sources)
        worker = PollWorker(spec, interval, opener=opener)
        poller = PollController(worker)
        made.append(poller)
        return poller, Relay(worker), opener

    yield make
    for poller in made:
        assert poller.shutdown()
        assert not poller.thread.isRunning()


def test_ticks_arrive_from_the_worker_thread(qtbot, make_poller):
    src = ScriptedSource("lkm", busy_snapshots())
    poller, worker, _ = make_poller({"lkm": src})
    with qtbot.waitSignal(worker.sig_source_changed) as changed, \
            qtbot.waitSignals([worker.sig_tick, worker.sig_tick]):
        poller.start()
    assert changed.args[0] == "lkm"
    with qtbot.waitSignal(worker.sig_tick) as got:
        pass
    tick = got.args[0]
    assert tick.interval_ns > 0
    assert set(tick.processes) >= {1, 2, 100}


def test_pause_stops_updates_and_refresh_still_polls(qtbot, make_poller):
    src = ScriptedSource("lkm", busy_snapshots())
    poller, worker, _ = make_poller({"lkm": src})
    with qtbot.waitSignal(worker.sig_tick):
        poller.start()
    with qtbot.waitSignal(worker.sig_paused) as paused:
        poller.sig_pause.emit()
    assert paused.args == [True]
    reads = src.reads
    with qtbot.assertNotEmitted(worker.sig_tick, wait=1300):
        pass
    assert src.reads == reads
    with qtbot.waitSignal(worker.sig_tick):
        poller.sig_refresh.emit()
    assert src.reads == reads + 1
    with qtbot.waitSignal(worker.sig_paused) as resumed:
        poller.sig_resume.emit()
    assert resumed.args == [False]
    with qtbot.waitSignal(worker.sig_tick):
        pass


def test_a_dying_source_falls_back_to_the_next(qtbot, make_poller):
    lkm = ScriptedSource("lkm", busy_snapshots(), gone_after=2)
    netlink = ScriptedSource("netlink", busy_snapshots())
    poller, worker, opener = make_poller({"lkm": lkm, "netlink": netlink})
    with qtbot.waitSignal(worker.sig_fallback, timeout=5000) as fell:
        poller.start()
    assert fell.args[:2] == ["lkm", "netlink"]
    assert "went away" in fell.args[2]
    assert lkm.closed
    assert ("auto", ("lkm",)) in opener.calls
    with qtbot.waitSignal(worker.sig_tick) as got:
        pass
    assert got.args[0].snapshot.source == "fake"


def test_nothing_left_to_fall_back_to_is_an_error_not_a_crash(qtbot, make_poller):
    lkm = ScriptedSource("lkm", busy_snapshots(), gone_after=1)
    poller, worker, _ = make_poller({"lkm": lkm})
    with qtbot.waitSignal(worker.sig_error, timeout=5000) as err:
        poller.start()
    assert "lkm source stopped" in err.args[0]
    with qtbot.assertNotEmitted(worker.sig_tick, wait=800):
        pass


def test_choosing_an_unavailable_source_says_so_and_uses_the_best(qtbot, make_poller):
    proc = ScriptedSource("proc", busy_snapshots(), has_exit_log=False)
    poller, worker, _ = make_poller({"proc": proc}, spec="lkm")
    with qtbot.waitSignal(worker.sig_error) as err, \
            qtbot.waitSignal(worker.sig_source_changed) as changed:
        poller.start()
    assert "Cannot use lkm" in err.args[0]
    assert changed.args == ["proc", "proc: the best source available", False]


def test_set_source_switches(qtbot, make_poller):
    lkm = ScriptedSource("lkm", busy_snapshots())
    proc = ScriptedSource("proc", busy_snapshots(), has_exit_log=False)
    poller, worker, _ = make_poller({"lkm": lkm, "proc": proc})
    with qtbot.waitSignal(worker.sig_tick):
        poller.start()
    with qtbot.waitSignal(worker.sig_source_changed) as changed:
        poller.sig_set_source.emit("proc")
    assert changed.args[0] == "proc"
    assert lkm.closed


def test_shutdown_closes_the_source_and_stops_the_thread(qtbot):
    src = ScriptedSource("lkm", busy_snapshots())
    worker = PollWorker("auto", 0.5, opener=FakeOpener({"lkm": src}))
    poller = PollController(worker)
    relay = Relay(worker)
    with qtbot.waitSignal(relay.sig_tick):
        poller.start()
    assert poller.shutdown()
    assert src.closed
    assert not poller.thread.isRunning()
    assert poller.shutdown()  # twice is fine


@pytest.mark.parametrize(("asked", "got"), [(0.1, 0.5), (0.5, 0.5), (3, 3.0), (60, 10.0)])
def test_interval_is_clamped(asked, got):
    assert clamp_interval(asked) == got
