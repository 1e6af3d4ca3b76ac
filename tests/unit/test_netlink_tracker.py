"""The event tracker: names, parents, start times, counters and loss, from events alone."""

from __future__ import annotations

from procscope.model.records import Process, comm_bytes
from procscope.sources.netlink import (
    CommEvent,
    EventTracker,
    ExecEvent,
    ExitEvent,
    ForkEvent,
    UidEvent,
)
from procscope.sources.taskstats import TaskExit

OFFSET = 1_000_000  # boottime - monotonic, as the source measures it


def proc(pid: int, comm: str, ppid: int = 1, uid: int = 0, kthread: bool = False) -> Process:
    return Process(pid, ppid, uid, "S", 1, 0, 0, 500, kthread, comm)


def tracker(comms: dict[int, str] | None = None) -> EventTracker:
    """A tracker that knows init (1, uid 0), a shell (100, uid 1000) and kthreadd (2)."""
    names = comms or {}
    t = EventTracker(read_comm=names.get, offset_ns=OFFSET)
    t.resync([proc(1, "init"), proc(2, "kthreadd", 0, kthread=True), proc(100, "bash", 1, 1000)],
             after_loss=False)
    return t


def test_fork_exec_exit_gives_a_named_record() -> None:
    t = tracker({101: "make"})
    t.apply(ForkEvent(10, 100, 100, 101, 101))
    t.apply(ExecEvent(20, 101, 101))  # the name comes from /proc/101/comm
    t.apply(ExitEvent(30, 101, 101, 2 << 8, 17, 100, 100))
    (rec,), lost = t.take_exits()
    assert lost == 0
    assert (rec.seq, rec.pid, rec.ppid, rec.uid, rec.comm) == (0, 101, 100, 1000, "make")
    assert (rec.exit_code, rec.signal, rec.core_dumped) == (2, None, False)
    assert rec.start_ns == 10 + OFFSET and rec.exit_ns == 30 + OFFSET
    assert rec.lifetime_ns == 20
    assert rec.cpu_ns is None and rec.peak_rss_bytes is None
    c = t.counters(tasks_created=77)
    assert (c.forks, c.exits, c.threads_created, c.threads_exited) == (1, 1, 0, 0)
    assert c.tasks_created == 77
    assert t.take_exits() == ((), 0)  # each record is handed out once


def test_child_that_exits_before_exec_keeps_its_parents_name() -> None:
    t = tracker()
    t.apply(ForkEvent(10, 100, 100, 101, 101))
    t.apply(ExitEvent(11, 101, 101, 0, 17, 100, 100))
    (rec,), _ = t.take_exits()
    assert rec.comm == "bash" and rec.uid == 1000


def test_comm_event_names_the_process_even_when_exec_lookup_failed() -> None:
    t = tracker({})  # the process was reaped before the reader looked: no /proc name
    hostile = b"a) b\n\x1b[0m\xff"
    t.apply(ForkEvent(10, 100, 100, 101, 101))
    t.apply(ExecEvent(11, 101, 101))
    t.apply(CommEvent(12, 101, 101, hostile))
    t.apply(ExitEvent(13, 101, 101, 9, 17, 100, 100))
    (rec,), _ = t.take_exits()
    assert comm_bytes(rec.comm) == hostile
    assert (rec.exit_code, rec.signal) == (None, 9)


def test_thread_rename_and_thread_events_do_not_touch_the_process() -> None:
    t = tracker()
    t.apply(ForkEvent(10, 100, 100, 101, 101))
    t.apply(ForkEvent(11, 101, 101, 102, 101))  # a thread of 101
    t.apply(CommEvent(12, 102, 101, b"worker-thread"))
    t.apply(ExitEvent(13, 102, 101, 0, -1 & 0xFFFFFFFF, 100, 100))
    assert t.take_exits() == ((), 0)
    t.apply(ExitEvent(14, 101, 101, 0, 17, 100, 100))
    (rec,), _ = t.take_exits()
    assert rec.comm == "bash"
    c = t.counters()
    assert (c.forks, c.threads_created, c.exits, c.threads_exited) == (1, 1, 1, 1)


def test_uid_event_updates_the_owner() -> None:
    t = tracker()
    t.apply(ForkEvent(10, 100, 100, 101, 101))
    t.apply(UidEvent(11, 101, 101, 0, 0))  # su
    t.apply(ExitEvent(12, 101, 101, 0, 17, 100, 100))
    (rec,), _ = t.take_exits()
    assert rec.uid == 0


def test_kernel_threads_are_counted_apart_and_not_logged() -> None:
    t = tracker()
    t.apply(ForkEvent(10, 2, 2, 300, 300))
    t.apply(ExitEvent(11, 300, 300, 0, 17, 2, 2))
    assert t.take_exits() == ((), 0)
    c = t.counters()
    assert (c.forks, c.exits, c.kthreads_created, c.kthreads_exited) == (0, 0, 1, 1)


def test_user_mode_helper_from_kthreadd_is_a_process() -> None:
    t = tracker({301: "modprobe"})
    t.apply(ForkEvent(10, 2, 2, 301, 301))  # call_usermodehelper: CLONE_PARENT of kthreadd
    t.apply(ExecEvent(11, 301, 301))
    t.apply(ExitEvent(12, 301, 301, 0, 17, 2, 2))
    (rec,), _ = t.take_exits()
    assert (rec.comm, rec.ppid) == ("modprobe", 2)
    c = t.counters()
    assert (c.forks, c.exits, c.kthreads_created, c.kthreads_exited) == (1, 1, 0, 0)


def test_process_known_only_from_the_walk() -> None:
    t = tracker()
    t.apply(ExitEvent(50, 100, 100, 0, 17, 1, 1))
    (rec,), _ = t.take_exits()
    assert (rec.comm, rec.ppid, rec.uid, rec.start_ns) == ("bash", 1, 1000, 500)


def test_unknown_process_is_named_from_proc_or_left_blank() -> None:
    t = tracker({555: "zombie"})
    t.apply(ExitEvent(50, 555, 555, 0, 17, 1, 1))
    t.apply(ExitEvent(51, 556, 556, 0, 17, 0, 0))
    (a, b), _ = t.take_exits()
    assert (a.comm, a.ppid, a.start_ns) == ("zombie", 1, None)
    assert (b.comm, b.ppid, b.uid) == ("", None, None)  # nothing known is not made up


def test_leader_killed_by_its_threads_execve_is_taken_back() -> None:
    t = tracker({100: "newprog"})
    t.apply(ExitEvent(10, 100, 100, 0, 17, 1, 1))  # de_thread kills the old leader
    t.apply(ExecEvent(11, 100, 100))  # the thread that exec'd now owns PID 100
    assert t.take_exits() == ((), 0)
    assert t.counters().exits == 0
    t.apply(ExitEvent(12, 100, 100, 0, 17, 1, 1))
    (rec,), _ = t.take_exits()
    assert rec.comm == "newprog" and rec.start_ns == 500 and rec.seq == 0


def test_pid_reuse_after_exit_is_a_new_process() -> None:
    t = tracker({101: "second"})
    t.apply(ForkEvent(10, 100, 100, 101, 101))
    t.apply(ExitEvent(11, 101, 101, 0, 17, 100, 100))
    t.apply(ForkEvent(12, 1, 1, 101, 101))  # PID 101 again, a new child of init
    t.apply(ExecEvent(13, 101, 101))
    (rec,), _ = t.take_exits()  # the first exit stays
    assert rec.comm == "bash" and rec.exit_ns == 11 + OFFSET


def test_resync_after_overflow_counts_what_vanished() -> None:
    t = tracker()
    t.apply(ForkEvent(10, 100, 100, 101, 101))
    t.apply(ForkEvent(11, 100, 100, 102, 102))
    # the buffer overflowed: 101's exit event was dropped; 103 started unseen
    t.overflowed()
    t.resync([proc(1, "init"), proc(2, "kthreadd", 0, kthread=True), proc(100, "bash"),
              proc(102, "bash"), proc(103, "late")], after_loss=True)
    exited, lost = t.take_exits()
    assert exited == ()
    assert lost == 2  # the overflow itself, plus 101 gone without an exit
    t.apply(ExitEvent(20, 103, 103, 0, 17, 1, 1))
    (rec,), lost = t.take_exits()
    assert rec.comm == "late" and lost == 0


def test_sequence_numbers_run_on_across_takes() -> None:
    t = tracker()
    for i, pid in enumerate((201, 202, 203)):
        t.apply(ForkEvent(i, 100, 100, pid, pid))
        t.apply(ExitEvent(i, pid, pid, 0, 17, 100, 100))
        if i == 1:
            assert [r.seq for r in t.take_exits()[0]] == [0, 1]
    assert [r.seq for r in t.take_exits()[0]] == [2]


# --- with taskstats ------------------------------------------------------------------


def stats(pid: int, comm: bytes, cpu_ns: int = 0, peak: int = 4096, ppid: int = 100,
          uid: int = 1000) -> TaskExit:
    return TaskExit(pid, ppid, uid, comm, 0, cpu_ns, peak)


def test_taskstats_gives_cpu_peak_rss_and_the_name_at_exit() -> None:
    t = tracker({})  # the exec lookup failed: only taskstats knows the new name
    t.apply(ForkEvent(10, 100, 100, 101, 101))
    t.apply(ExecEvent(11, 101, 101))
    t.add_task_exits([stats(101, b"short-lived", cpu_ns=3_000_000, peak=1 << 20)])
    t.apply(ExitEvent(12, 101, 101, 0, 17, 100, 100))
    (rec,), _ = t.take_exits()
    assert (rec.comm, rec.cpu_ns, rec.peak_rss_bytes) == ("short-lived", 3_000_000, 1 << 20)
    assert t.exec_names_missed == 1


def test_cpu_adds_the_threads_that_exited_first() -> None:
    t = tracker()
    t.apply(ForkEvent(10, 100, 100, 101, 101))
    t.apply(ForkEvent(11, 101, 101, 102, 101))
    t.apply(ForkEvent(12, 101, 101, 103, 101))
    for tid, cpu in ((102, 5_000_000), (103, 7_000_000)):
        t.add_task_exits([stats(tid, b"worker", cpu_ns=cpu)])
        t.apply(ExitEvent(13, tid, 101, 0, 0xFFFFFFFF, 100, 100))
    t.add_task_exits([stats(101, b"bash", cpu_ns=1_000_000)])
    t.apply(ExitEvent(14, 101, 101, 0, 17, 100, 100))
    (rec,), _ = t.take_exits()
    assert rec.cpu_ns == 13_000_000


def test_no_cpu_when_the_process_predates_us_or_something_was_lost() -> None:
    t = tracker()
    t.add_task_exits([stats(100, b"bash", cpu_ns=9)])  # known only from the walk
    t.apply(ExitEvent(20, 100, 100, 0, 17, 1, 1))
    t.apply(ForkEvent(21, 1, 1, 101, 101))
    t.stats_lost()  # a taskstats overflow while 101 ran: a thread's CPU may be missing
    t.add_task_exits([stats(101, b"init", cpu_ns=9)])
    t.apply(ExitEvent(22, 101, 101, 0, 17, 1, 1))
    a, b = t.take_exits()[0]
    assert (a.cpu_ns, a.peak_rss_bytes) == (None, 4096)
    assert (b.cpu_ns, b.peak_rss_bytes) == (None, 4096)


def test_unclaimed_stats_are_dropped_after_two_takes() -> None:
    t = tracker()
    t.add_task_exits([stats(900, b"orphan")])
    t.take_exits()
    t.take_exits()
    t.apply(ExitEvent(30, 900, 900, 0, 17, 1, 1))
    (rec,), _ = t.take_exits()
    assert rec.peak_rss_bytes is None and rec.comm == ""
