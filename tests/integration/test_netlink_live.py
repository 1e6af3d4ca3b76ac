"""The netlink source on this machine's kernel: a burst of short-lived, named processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from procscope.model.records import boottime_ns, comm_bytes
from procscope.sources import SourceGone, SourceUnavailable
from procscope.sources.netlink import NetlinkSource

pytestmark = pytest.mark.netlink

# Forks N children that name themselves with prctl(PR_SET_NAME) and exit with a code of
# their own, then posix_spawns M copies of /bin/true under distinct file names (named by
# exec). It prints what it started, then leaves them all unreaped until told to go on, so
# the test never races the reaper.
SPAWNER = textwrap.dedent(
    """
    import ctypes, json, os, shutil, sys
    n, m, tmp = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
    libc = ctypes.CDLL(None, use_errno=True)
    started = []
    for i in range(n):
        name = "pr)c %d\\n" % i
        pid = os.fork()
        if pid == 0:
            libc.prctl(15, name.encode(), 0, 0, 0)
            os._exit(i % 200)
        started.append([pid, name, i % 200])
    shutil.copy("/bin/true", os.path.join(tmp, "ex-base"))
    for i in range(m):
        path = os.path.join(tmp, "ex-%d" % i)
        os.link(os.path.join(tmp, "ex-base"), path)
        started.append([os.posix_spawn(path, [path], {}), "ex-%d" % i, 0])
    print(json.dumps(started), flush=True)
    sys.stdin.readline()
    for pid, _, _ in started:
        os.waitpid(pid, 0)
    """
)


@pytest.fixture
def source():
    src = NetlinkSource()
    try:
        src.open()
    except SourceUnavailable as exc:
        pytest.skip(f"netlink proc connector refused here: {exc}")
    yield src
    src.close()


def collect_until(
    src: NetlinkSource, pids: set[int], limit_s: float = 60.0, stop_on_loss: bool = False
) -> dict:
    """Read until every pid has an exit record (or give up after limit_s, or at a loss)."""
    found: dict = {}
    lost = 0
    give_up = time.monotonic() + limit_s
    last = None
    while time.monotonic() < give_up:
        last = src.read()
        lost += last.lost
        for rec in last.exited:
            if rec.pid in pids:
                found[rec.pid] = rec
        if pids <= found.keys() or (stop_on_loss and lost):
            break
        time.sleep(0.05)
    return {"found": found, "lost": lost, "last": last}


def exit_of(src: NetlinkSource, pid: int):
    """The exit record of pid, or a failure that says what the source saw meanwhile."""
    got = collect_until(src, {pid})
    rec = got["found"].get(pid)
    assert rec is not None, (
        f"exit of {pid} never seen: lost={got['lost']} resyncs={src.resyncs} "
        f"events={src.events} bad={src.bad_messages}"
    )
    return rec


def test_burst_of_named_processes_all_logged(source: NetlinkSource, tmp_path: Path) -> None:
    n_prctl, n_exec = 200, 100
    first = source.read()
    t0 = boottime_ns()
    spawner = subprocess.Popen(
        [sys.executable, "-c", SPAWNER, str(n_prctl), str(n_exec), str(tmp_path)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE,
    )
    try:
        started = json.loads(spawner.stdout.readline())
        expected = {pid: (name, code) for pid, name, code in started}
        got = collect_until(source, set(expected))
    finally:
        spawner.communicate(b"reap\n", timeout=60)
    assert spawner.returncode == 0
    assert got["lost"] == 0
    found = got["found"]
    missing = sorted(set(expected) - found.keys())
    assert not missing, f"{len(missing)} exits never seen, e.g. {missing[:5]}"
    for pid, (name, code) in expected.items():
        rec = found[pid]
        assert comm_bytes(rec.comm) == name.encode(), (pid, rec)
        assert rec.exit_code == code and rec.signal is None, rec
        assert rec.ppid == spawner.pid
        assert rec.uid == os.geteuid()
        assert rec.start_ns is not None and t0 <= rec.start_ns <= rec.exit_ns
        if not source.taskstats_refused:  # root: taskstats fills these
            assert rec.cpu_ns is not None and rec.cpu_ns >= 0, rec
            assert rec.peak_rss_bytes is not None and rec.peak_rss_bytes > 0, rec
    c0, c1 = first.counters, got["last"].counters
    assert c1.forks - c0.forks >= n_prctl + n_exec
    assert c1.exits - c0.exits >= n_prctl + n_exec
    assert c1.tasks_created - c0.tasks_created >= n_prctl + n_exec
    assert source.bad_messages == 0


def test_killed_process_reports_the_signal(source: NetlinkSource) -> None:
    source.read()
    child = subprocess.Popen(["sleep", "60"])
    comm = Path(f"/proc/{child.pid}/comm")
    while comm.read_text() != "sleep\n":  # killed before its exec it would be "python"
        time.sleep(0.01)
    child.kill()
    try:  # reaped only after the exit is logged: see test_burst_of_named_processes
        rec = exit_of(source, child.pid)
    finally:
        child.wait()
    assert (rec.comm, rec.exit_code, rec.signal) == ("sleep", None, 9)


def test_thread_exits_are_not_process_exits(source: NetlinkSource) -> None:
    before = source.read().counters
    threads = [threading.Thread(target=time.sleep, args=(0,)) for _ in range(20)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    me = os.getpid()
    deadline = time.monotonic() + 30
    while True:
        snap = source.read()
        assert all(rec.pid != me for rec in snap.exited)
        if snap.counters.threads_exited - before.threads_exited >= 20:
            break
        assert time.monotonic() < deadline, "thread exits never counted"
        time.sleep(0.05)
    assert snap.counters.threads_created - before.threads_created >= 20


def test_snapshot_lists_live_processes(source: NetlinkSource) -> None:
    before = boottime_ns()
    snap = source.read()
    assert before <= snap.time_ns <= boottime_ns()  # the boot-based clock
    assert snap.source == "netlink"
    assert os.getpid() in {p.pid for p in snap.processes}


def test_close_stops_the_reader_and_is_idempotent() -> None:
    src = NetlinkSource()
    try:
        src.open()
    except SourceUnavailable as exc:
        pytest.skip(f"netlink proc connector refused here: {exc}")
    thread = src._thread
    assert thread is not None and thread.is_alive()
    src.close()
    assert not thread.is_alive()
    src.close()
    with pytest.raises(SourceGone):
        src.read()


def test_auto_picks_netlink_when_the_module_is_absent(monkeypatch) -> None:
    import procscope.sources as sources

    real = sources.make_source

    class NoModule(NetlinkSource):  # stands in for lkm, which is another source's job
        kind = "lkm"

        def open(self) -> None:
            raise SourceUnavailable("module not loaded (/proc/procscope missing)")

    monkeypatch.setattr(
        sources, "make_source", lambda spec: NoModule() if spec == "lkm" else real(spec)
    )
    try:
        src = sources.open_source("auto")
    except SourceUnavailable as exc:
        pytest.skip(f"no live source here: {exc}")
    try:
        if src.kind != "netlink":
            pytest.skip(f"netlink refused here: {src.reason}")
        assert src.reason == "module not loaded (/proc/procscope missing), so using netlink events"
        assert src.read().source == "netlink"
    finally:
        src.close()


def test_overflow_is_counted_and_resynced(tmp_path: Path) -> None:
    """A reader held back while hundreds of processes come and go: ENOBUFS, then recovery."""
    src = NetlinkSource(rcvbuf=4096)  # the kernel's floor, a few dozen events
    try:
        src.open()
    except SourceUnavailable as exc:
        pytest.skip(f"netlink proc connector refused here: {exc}")
    try:
        src.read()
        with src._lock:  # the reader thread blocks on its next batch; the socket fills
            subprocess.run(
                [sys.executable, "-c", SPAWNER, "300", "0", str(tmp_path)],
                input=b"\n", stdout=subprocess.DEVNULL, check=True,
            )
        deadline = time.monotonic() + 30
        lost = 0
        while src.resyncs == 0 or lost == 0:
            lost += src.read().lost
            assert time.monotonic() < deadline, "the overflow was never reported"
            time.sleep(0.05)
        # After the resync, the source works as before.
        child = subprocess.Popen(["sleep", "60"])
        try:
            comm = Path(f"/proc/{child.pid}/comm")
            while comm.read_text() != "sleep\n":
                time.sleep(0.01)
            child.kill()
            got = collect_until(src, {child.pid}, stop_on_loss=True)
        finally:
            child.wait()
        rec = got["found"].get(child.pid)
        if rec is None:  # the tiny buffer overflowed again on a busy machine: reported
            assert got["lost"] > 0
        else:
            assert (rec.comm, rec.signal) == ("sleep", 9)
    finally:
        src.close()


THREADED = textwrap.dedent(
    """
    import os, threading, time
    def burn():
        end = time.thread_time() + 0.3
        while time.thread_time() < end:
            pass
    t = threading.Thread(target=burn)
    t.start()
    t.join()
    # join() returns before the OS thread is gone; the CPU of a thread still running
    # when the leader exits is not counted (as in the module's exit records)
    while len(os.listdir("/proc/self/task")) > 1:
        time.sleep(0.001)
    """
)


def test_taskstats_cpu_includes_exited_threads(source: NetlinkSource) -> None:
    if source.taskstats_refused:
        pytest.skip(f"taskstats refused here: {source.taskstats_refused}")
    source.read()
    child = subprocess.Popen([sys.executable, "-c", THREADED])
    child.wait()
    rec = exit_of(source, child.pid)
    # 0.3 s burned by a thread that exited before the leader, sampled at the tick rate
    assert rec.cpu_ns is not None and rec.cpu_ns >= 200_000_000, rec
    assert rec.peak_rss_bytes is not None and rec.peak_rss_bytes > 1 << 20
