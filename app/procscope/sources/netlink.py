"""The ``netlink`` source: the kernel's proc connector, plus a walk of ``/proc``.

The proc connector (``NETLINK_CONNECTOR``, group ``CN_IDX_PROC``) multicasts one event
per fork, exec, name change and exit of every task. It needs no module; since Linux 6.6
it works without root (before that, listening needs ``CAP_NET_ADMIN``).

How a snapshot is made:

* ``processes`` come from a walk of ``/proc`` (:class:`ProcSource` does the parsing).
* ``exited`` are the process exits the reader thread saw since the previous ``read()``.
  Each is named from the events themselves: a child inherits its parent's name at fork,
  an exec reads ``/proc/PID/comm`` at once (the exec event carries no name, and no comm
  event follows an exec), and a comm event (``prctl(PR_SET_NAME)``, a write to
  ``/proc/PID/comm``) sets the name it carries. So a process that lives a millisecond
  still gets its name, as long as the reader thread reaches its exec event before the
  parent reaps it. When it does not, the record keeps the name from before the exec
  (the parent's), and ``exec_names_missed`` counts it, unless taskstats names it.
* Where taskstats is permitted (``CAP_NET_ADMIN``, see :mod:`.taskstats`), each exit
  record also gets the name at exit, the peak RSS and, for a process that started
  after ``open()`` with nothing lost since, its CPU time (the leader's plus that of
  the threads that exited before it). Elsewhere those are ``None``, and
  ``taskstats_refused`` says why.
* ``counters`` split what the events show: ``forks`` (new processes, kernel threads
  excluded), ``threads_created``, ``exits`` (processes), ``threads_exited``,
  ``kthreads_created``/``kthreads_exited`` (children of ``kthreadd``), all since
  ``open()``; ``tasks_created`` is the exact ``processes`` line of ``/proc/stat``.

Loss: when the socket's receive buffer overflows the kernel drops events and the next
``recv`` fails with ``ENOBUFS``. How many were dropped is unknown. Each overflow adds
*at least one* to ``Snapshot.lost``, plus every process the source was tracking that the
resync walk of ``/proc`` (made once the reader has caught up with the socket) found
gone without an exit event. So ``lost`` is a lower bound: a process that both started
and ended inside the overflow is never known, and records made around an overflow may
carry a stale name (its comm event was dropped). ``resyncs`` counts the overflows.

Only thread-group exits are process exits (``pid == tgid`` in the exit event). A group
leader killed by another thread's ``execve`` sends such an exit event too; it is taken
back when the exec event for the same PID follows before the next ``read()``.
"""

from __future__ import annotations

import contextlib
import errno
import os
import select
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import NamedTuple

from procscope.model.records import (
    Counters,
    ExitedProcess,
    Process,
    Snapshot,
    boottime_ns,
    comm_from_bytes,
)
from procscope.sources.base import Source, SourceGone, SourceUnavailable
from procscope.sources.proc import ProcSource
from procscope.sources.taskstats import TaskExit, TaskstatsListener

__all__ = [
    "AckEvent",
    "CommEvent",
    "EventTracker",
    "ExecEvent",
    "ExitEvent",
    "ForkEvent",
    "NetlinkSource",
    "UidEvent",
    "decode_datagram",
    "listen_message",
]

# --- The wire format: linux/netlink.h, linux/connector.h, linux/cn_proc.h -----------

NETLINK_CONNECTOR = 11
CN_IDX_PROC = 1
CN_VAL_PROC = 1
NLMSG_NOOP, NLMSG_ERROR, NLMSG_DONE = 1, 2, 3
PROC_CN_MCAST_LISTEN = 1
PROC_CN_MCAST_IGNORE = 2

PROC_EVENT_NONE = 0x00000000  # the ack of a LISTEN/IGNORE request
PROC_EVENT_FORK = 0x00000001
PROC_EVENT_EXEC = 0x00000002
PROC_EVENT_UID = 0x00000004
PROC_EVENT_COMM = 0x00000200
PROC_EVENT_EXIT = 0x80000000

KTHREADD_PID = 2
SO_RCVBUFFORCE = 33  # not in the socket module
_BATCH = 256  # datagrams the reader takes before it applies them

_NLMSGHDR = struct.Struct("=IHHII")  # len, type, flags, seq, pid
_CN_MSG = struct.Struct("=IIIIHH")  # idx, val, seq, ack, len, flags
# struct proc_event: what, cpu, timestamp_ns (aligned(8)), then the union
_EV_HEAD = struct.Struct("=IIQ")
_EV_ACK = struct.Struct("=I")  # err
_EV_FORK = struct.Struct("=iiii")  # parent_pid, parent_tgid, child_pid, child_tgid
_EV_EXEC = struct.Struct("=ii")  # process_pid, process_tgid
_EV_ID = struct.Struct("=iiII")  # process_pid, process_tgid, ruid, euid
_EV_COMM = struct.Struct("=ii16s")  # process_pid, process_tgid, comm[16]
# process_pid, process_tgid, exit_code, exit_signal, then (since 4.x) parent_pid, parent_tgid
_EV_EXIT = struct.Struct("=iiII")
_EV_EXIT_PARENT = struct.Struct("=ii")
_NL_LEN = _NLMSGHDR.size  # 16
_CN_LEN = _CN_MSG.size  # 20
_HEAD_LEN = _EV_HEAD.size  # 16


class AckEvent(NamedTuple):
    err: int


class ForkEvent(NamedTuple):
    timestamp_ns: int  # CLOCK_MONOTONIC
    parent_pid: int
    parent_tgid: int
    child_pid: int
    child_tgid: int


class ExecEvent(NamedTuple):
    timestamp_ns: int
    pid: int
    tgid: int


class UidEvent(NamedTuple):
    timestamp_ns: int
    pid: int
    tgid: int
    ruid: int
    euid: int


class CommEvent(NamedTuple):
    timestamp_ns: int
    pid: int
    tgid: int
    comm: bytes


class ExitEvent(NamedTuple):
    timestamp_ns: int
    pid: int
    tgid: int
    exit_code: int  # the wait(2) status
    exit_signal: int  # the signal the parent gets (SIGCHLD), not the killing signal
    parent_pid: int | None  # None on kernels that do not send it
    parent_tgid: int | None


Event = AckEvent | ForkEvent | ExecEvent | UidEvent | CommEvent | ExitEvent


def listen_message(op: int = PROC_CN_MCAST_LISTEN) -> bytes:
    """The netlink message that subscribes to (or, with IGNORE, leaves) the proc events."""
    payload = struct.pack("=I", op)
    cn = _CN_MSG.pack(CN_IDX_PROC, CN_VAL_PROC, 0, 0, len(payload), 0) + payload
    return _NLMSGHDR.pack(_NL_LEN + len(cn), NLMSG_DONE, 0, 0, 0) + cn


def decode_datagram(data: bytes | bytearray | memoryview) -> tuple[list[Event], int]:
    """The events in one datagram from the socket, and how many messages were malformed.

    Never raises on bad input: a message it cannot make sense of is counted and
    skipped; a header that breaks the framing ends the datagram. Event kinds we do
    not use (gid, sid, ptrace, coredump) are skipped without being counted.
    """
    events: list[Event] = []
    bad = 0
    for what, ts, body in _proc_events(data):
        if what is None:
            bad += 1
            continue
        ev = _decode_event(what, ts, body)
        if ev is False:
            bad += 1
        elif ev is not None:
            events.append(ev)
    return events, bad


def _proc_events(data: bytes | bytearray | memoryview) -> Iterator[tuple]:
    """(what, timestamp, body) per proc_event; (None, 0, b'') for each bad message."""
    mv = memoryview(data)
    end = len(mv)
    off = 0
    while off + _NL_LEN <= end:
        nl_len, nl_type, _fl, _seq, _pid = _NLMSGHDR.unpack_from(mv, off)
        if nl_len < _NL_LEN or off + nl_len > end:
            yield None, 0, b""  # framing is broken: nothing after this can be trusted
            return
        msg_end = off + nl_len
        body_off = off + _NL_LEN
        off += (nl_len + 3) & ~3  # NLMSG_ALIGN
        if nl_type in (NLMSG_NOOP, NLMSG_ERROR):
            continue
        if body_off + _CN_LEN > msg_end:
            yield None, 0, b""
            continue
        idx, val, _s, _a, cn_len, _f = _CN_MSG.unpack_from(mv, body_off)
        ev_off = body_off + _CN_LEN
        if (idx, val) != (CN_IDX_PROC, CN_VAL_PROC) or ev_off + cn_len > msg_end:
            yield None, 0, b""
            continue
        if cn_len < _HEAD_LEN:
            yield None, 0, b""
            continue
        what, _cpu, ts = _EV_HEAD.unpack_from(mv, ev_off)
        yield what, ts, bytes(mv[ev_off + _HEAD_LEN : ev_off + cn_len])
    if 0 < end - off < _NL_LEN:
        yield None, 0, b""  # trailing bytes too short to be a message


def _decode_event(what: int, ts: int, body: bytes) -> Event | bool | None:
    """The event, ``None`` for a kind we ignore, ``False`` for a body too short."""
    n = len(body)
    try:
        if what == PROC_EVENT_FORK:
            return ForkEvent(ts, *_EV_FORK.unpack_from(body)) if n >= _EV_FORK.size else False
        if what == PROC_EVENT_EXEC:
            return ExecEvent(ts, *_EV_EXEC.unpack_from(body)) if n >= _EV_EXEC.size else False
        if what == PROC_EVENT_COMM:
            if n < _EV_COMM.size:
                return False
            pid, tgid, raw = _EV_COMM.unpack_from(body)
            return CommEvent(ts, pid, tgid, raw.split(b"\0", 1)[0])
        if what == PROC_EVENT_EXIT:
            if n < _EV_EXIT.size:
                return False
            pid, tgid, code, sig = _EV_EXIT.unpack_from(body)
            ppid = ptgid = None
            if n >= _EV_EXIT.size + _EV_EXIT_PARENT.size:
                ppid, ptgid = _EV_EXIT_PARENT.unpack_from(body, _EV_EXIT.size)
            return ExitEvent(ts, pid, tgid, code, sig, ppid, ptgid)
        if what == PROC_EVENT_UID:
            return UidEvent(ts, *_EV_ID.unpack_from(body)) if n >= _EV_ID.size else False
        if what == PROC_EVENT_NONE:
            return AckEvent(*_EV_ACK.unpack_from(body)) if n >= _EV_ACK.size else False
    except struct.error:  # pragma: no cover - sizes are checked above
        return False
    return None


# --- What the events tell: pure state, no I/O but the optional name lookup ----------


class _Known:
    """What the tracker knows of one live process."""

    __slots__ = ("comm", "epoch", "kthread", "ppid", "start_ns", "threads_cpu_ns", "uid")

    def __init__(
        self,
        comm: str,
        ppid: int | None,
        uid: int | None,
        start_ns: int | None,
        kthread: bool,
        epoch: int = -1,
    ) -> None:
        self.comm = comm
        self.ppid = ppid
        self.uid = uid
        self.start_ns = start_ns
        self.kthread = kthread
        #: the tracker's epoch at fork; -1 when we did not see the fork. Its CPU total is
        #: complete only if no event or statistic was lost since (the epoch is unchanged).
        self.epoch = epoch
        self.threads_cpu_ns = 0  # CPU of its threads that exited, from taskstats


class _PendingExit(NamedTuple):
    known: _Known | None
    event: ExitEvent
    exit_ns: int
    stats: TaskExit | None  # the leader's taskstats record, where permitted
    cpu_complete: bool  # every thread's CPU was seen (see _Known.epoch)


class EventTracker:
    """Follows fork/exec/comm/uid/exit events and turns process exits into records.

    ``read_comm(pid)`` returns a live (or zombie) process's name, or ``None``; the
    source passes one that reads ``/proc/PID/comm``, tests pass a dict lookup.
    ``offset_ns`` is added to event timestamps (``CLOCK_MONOTONIC``) to put them on
    the boot-based clock. Not thread-safe: the source holds a lock around it.

    Taskstats records (:meth:`add_task_exits`), where the source gets them, must be
    added before the exit events of the same tasks (the kernel sends them first). They
    give a record its name at exit, its peak RSS and, when the tracker saw the process
    start and lost nothing since, its CPU time: the leader's plus that of every thread
    that exited before it (threads still running when the leader exits are not in it).
    """

    def __init__(
        self, read_comm: Callable[[int], str | None] = lambda pid: None, offset_ns: int = 0
    ) -> None:
        self.read_comm = read_comm
        self.offset_ns = offset_ns
        self.known: dict[int, _Known] = {}
        self._pending: list[_PendingExit] = []
        self._pending_by_pid: dict[int, _PendingExit] = {}
        self._seq = 0
        self.lost = 0  # since the last take_exits()
        self.forks = self.threads_created = self.exits = self.threads_exited = 0
        self.kthreads_created = self.kthreads_exited = 0
        self.events = 0
        #: execs whose new name could not be read (the process was already reaped)
        self.exec_names_missed = 0
        self.epoch = 0  # bumped by every loss of events or statistics
        self._stats: dict[int, TaskExit] = {}
        self._stats_prev: dict[int, TaskExit] = {}  # unclaimed at the previous take

    def counters(self, tasks_created: int | None = None) -> Counters:
        return Counters(
            forks=self.forks,
            threads_created=self.threads_created,
            exits=self.exits,
            threads_exited=self.threads_exited,
            tasks_created=tasks_created,
            kthreads_created=self.kthreads_created,
            kthreads_exited=self.kthreads_exited,
        )

    def take_exits(self) -> tuple[tuple[ExitedProcess, ...], int]:
        """The process exits since the last call, oldest first, and the loss count."""
        pending, self._pending = self._pending, []
        self._pending_by_pid.clear()
        lost, self.lost = self.lost, 0
        self._stats_prev, self._stats = self._stats, {}  # older ones are dropped
        return tuple(self._record(p) for p in pending), lost

    def add_task_exits(self, stats: Iterable[TaskExit]) -> None:
        """Taskstats records, kept until the exit events of their tasks arrive."""
        for te in stats:
            self._stats[te.pid] = te

    def stats_lost(self) -> None:
        """Some taskstats records were dropped: CPU totals in flight are incomplete."""
        self.epoch += 1

    def _take_stats(self, pid: int) -> TaskExit | None:
        te = self._stats.pop(pid, None)
        return te if te is not None else self._stats_prev.pop(pid, None)

    def overflowed(self) -> None:
        """The kernel dropped events (``ENOBUFS``): at least one, maybe an exit."""
        self.lost += 1
        self.epoch += 1

    def resync(self, procs: Iterable[Process], after_loss: bool) -> None:
        """Learn the live processes from a walk; after a loss, forget (and count) the dead."""
        by_pid = {p.pid: p for p in procs}
        if after_loss:
            vanished = [pid for pid in self.known if pid not in by_pid]
            for pid in vanished:
                del self.known[pid]
            self.lost += len(vanished)
        for p in by_pid.values():
            k = self.known.get(p.pid)
            if k is None:
                self.known[p.pid] = _Known(p.comm, p.ppid, p.uid, p.start_ns, p.kthread)
            else:
                k.comm, k.ppid, k.uid, k.kthread = p.comm, p.ppid, p.uid, p.kthread
                if k.start_ns is None:
                    k.start_ns = p.start_ns

    def apply(self, ev: Event) -> None:
        """Update what we know from one event."""
        self.events += 1
        if isinstance(ev, ForkEvent):
            self._fork(ev)
        elif isinstance(ev, ExitEvent):
            self._exit(ev)
        elif isinstance(ev, ExecEvent):
            self._exec(ev)
        elif isinstance(ev, CommEvent):
            if ev.pid == ev.tgid:  # a thread renaming itself leaves the process name
                self._get(ev.tgid).comm = comm_from_bytes(ev.comm)
        elif isinstance(ev, UidEvent) and ev.pid == ev.tgid:
            self._get(ev.tgid).uid = ev.euid

    def _get(self, tgid: int) -> _Known:
        k = self.known.get(tgid)
        if k is None:
            k = self.known[tgid] = _Known(self.read_comm(tgid) or "", None, None, None, False)
        return k

    def _fork(self, ev: ForkEvent) -> None:
        if ev.child_pid != ev.child_tgid:
            self.threads_created += 1
            return
        parent = self.known.get(ev.parent_tgid)
        kthread = ev.parent_tgid == KTHREADD_PID or bool(parent and parent.kthread)
        if kthread:
            self.kthreads_created += 1
        else:
            self.forks += 1
        self._pending_by_pid.pop(ev.child_tgid, None)  # a new process on that PID
        if parent is not None:
            comm, uid = parent.comm, parent.uid
        else:
            comm, uid = self.read_comm(ev.child_tgid) or "", None
        self.known[ev.child_tgid] = _Known(
            comm, ev.parent_tgid, uid, ev.timestamp_ns + self.offset_ns, kthread, self.epoch
        )

    def _exit(self, ev: ExitEvent) -> None:
        te = self._take_stats(ev.pid)
        if ev.pid != ev.tgid:
            self.threads_exited += 1
            if te is not None and (leader := self.known.get(ev.tgid)) is not None:
                leader.threads_cpu_ns += te.cpu_ns
            return
        k = self.known.pop(ev.tgid, None)
        if k is None:
            name = self.read_comm(ev.tgid)  # a zombie still has its name
            if name is not None:
                k = _Known(name, None, None, None, False)
        if k is not None and k.kthread:
            self.kthreads_exited += 1
            return
        self.exits += 1
        complete = k is not None and k.epoch == self.epoch
        p = _PendingExit(k, ev, ev.timestamp_ns + self.offset_ns, te, complete)
        self._pending.append(p)
        self._pending_by_pid[ev.tgid] = p

    def _exec(self, ev: ExecEvent) -> None:
        if ev.pid != ev.tgid:  # pragma: no cover - the kernel reports exec by the tgid
            return
        taken_back = self._pending_by_pid.pop(ev.tgid, None)
        if taken_back is not None:  # a leader killed by its thread's execve
            self._pending.remove(taken_back)
            self.exits -= 1
            if taken_back.known is not None:
                self.known[ev.tgid] = taken_back.known
        name = self.read_comm(ev.tgid)
        if name is None:
            self.exec_names_missed += 1
        k = self.known.get(ev.tgid)
        if k is None:
            self.known[ev.tgid] = _Known(name or "", None, None, None, False)
            return
        if name is not None:
            k.comm = name
        if k.kthread:  # a user-mode helper (modprobe, a core pipe) forked by kthreadd
            k.kthread = False  # is a process from its exec on, and counted as one
            self.kthreads_created -= 1
            self.forks += 1

    def _record(self, p: _PendingExit) -> ExitedProcess:
        ev, k, te = p.event, p.known, p.stats
        code, sig, core = ExitedProcess.decode_wait_status(ev.exit_code)
        ppid = ev.parent_tgid if ev.parent_tgid else (k.ppid if k else None)
        uid = k.uid if k else None
        comm = k.comm if k else ""
        cpu_ns = peak = None
        if te is not None:
            comm = comm_from_bytes(te.comm) or comm  # its name at exit, whatever we missed
            peak = te.peak_rss_bytes
            if ppid is None:
                ppid = te.ppid
            if uid is None:
                uid = te.uid
            if p.cpu_complete and k is not None:
                cpu_ns = te.cpu_ns + k.threads_cpu_ns
        seq = self._seq
        self._seq += 1
        return ExitedProcess(
            seq=seq,
            pid=ev.tgid,
            ppid=ppid,
            uid=uid,
            comm=comm,
            exit_code=code,
            signal=sig,
            start_ns=k.start_ns if k else None,
            exit_ns=p.exit_ns,
            cpu_ns=cpu_ns,
            peak_rss_bytes=peak,
            core_dumped=core,
        )


# --- The source ----------------------------------------------------------------------


class NetlinkSource(Source):
    """Proc connector events on a reader thread, and a ``/proc`` walk per ``read()``."""

    kind = "netlink"
    sees = (
        "every fork, exec, rename and exit as it happens, so even a process that lives "
        "a millisecond is logged with its name, PID, parent, exit status and lifetime"
    )
    cannot_see = (
        "without taskstats (root): the CPU time and peak RSS of exited processes, and "
        "the new name of a program its parent reaps before the reader reads it; events "
        "dropped when the receive buffer overflows (counted as lost, then resynced "
        "from /proc)"
    )
    has_exit_log = True

    #: How long ``open()`` waits for the kernel to acknowledge the subscription.
    ACK_TIMEOUT_S = 2.0

    def __init__(
        self, proc_root: str = "/proc", rcvbuf: int = 8 << 20, taskstats: bool = True
    ) -> None:
        self.proc_root = proc_root
        self.rcvbuf = rcvbuf
        self.want_taskstats = taskstats
        self._taskstats: TaskstatsListener | None = None
        #: why exit records have no CPU time and peak RSS ("" when they do)
        self.taskstats_refused = "" if taskstats else "not asked for"
        self._proc = ProcSource(proc_root)  # used by read() only
        # used by the reader thread only, rarely: no descriptors kept between its walks
        self._resync_proc = ProcSource(proc_root, keep_open=False)
        self._sock: socket.socket | None = None
        self._wake_r = self._wake_w = -1
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._tracker = EventTracker(self._read_comm)
        self._failure: BaseException | None = None
        self.resyncs = 0
        self.bad_messages = 0
        self.rcvbuf_effective = 0

    @property
    def events(self) -> int:
        """Events received since ``open()``."""
        return self._tracker.events

    @property
    def exec_names_missed(self) -> int:
        """Execs whose new name was gone before the reader could read it."""
        return self._tracker.exec_names_missed

    # -- lifecycle --

    def open(self) -> None:
        if self._sock is not None:
            return
        self._proc.open()
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_CONNECTOR)
        except OSError as exc:
            raise SourceUnavailable(
                f"no netlink proc connector here ({exc.strerror or exc}): the kernel needs "
                "CONFIG_CONNECTOR and CONFIG_PROC_EVENTS"
            ) from exc
        try:
            self._set_rcvbuf(sock)
            sock.bind((0, CN_IDX_PROC))
            sock.send(listen_message())
            self._wait_ack(sock)
        except SourceUnavailable:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            if exc.errno in (errno.EPERM, errno.EACCES):
                raise SourceUnavailable(
                    "the proc connector refused to listen (permission denied): "
                    "run as root, or use a kernel >= 6.6"
                ) from exc
            raise SourceUnavailable(f"the proc connector failed: {exc.strerror or exc}") from exc
        self._sock = sock
        self._failure = None
        if self.want_taskstats:
            ts = TaskstatsListener(self.rcvbuf)
            try:
                ts.open()
            except SourceUnavailable as exc:
                self.taskstats_refused = str(exc)
            else:
                self._taskstats, self.taskstats_refused = ts, ""
        self._measure_offset()
        # Subscribed first, walked second: an event for a process the walk also saw
        # just updates what we know, so nothing between the two is missed.
        procs = self._resync_proc.walk()
        with self._lock:
            self._tracker.resync(procs, after_loss=False)
        self._wake_r, self._wake_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run,
            args=(sock, self._wake_r, self._taskstats),
            name="procscope-netlink",
            daemon=True,
        )
        self._thread.start()

    def close(self) -> None:
        """Stop the reader thread, then unsubscribe and close the socket. Safe twice."""
        thread, self._thread = self._thread, None
        if thread is not None:
            self._stop.set()
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"x")
            thread.join()
        for fd in (self._wake_r, self._wake_w):
            if fd >= 0:
                os.close(fd)
        self._wake_r = self._wake_w = -1
        sock, self._sock = self._sock, None
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.send(listen_message(PROC_CN_MCAST_IGNORE))
            sock.close()
        ts, self._taskstats = self._taskstats, None
        if ts is not None:
            ts.close()
        self._proc.close()

    def _set_rcvbuf(self, sock: socket.socket) -> None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, SO_RCVBUFFORCE, self.rcvbuf)
        except OSError:  # needs CAP_NET_ADMIN; the plain one is capped at rmem_max
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        self.rcvbuf_effective = sock.getsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF)

    def _wait_ack(self, sock: socket.socket) -> None:
        """Wait for the kernel's answer to LISTEN; refuse if it says no."""
        deadline = time.monotonic() + self.ACK_TIMEOUT_S
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise SourceUnavailable(
                    "the proc connector never acknowledged the subscription "
                    "(is CONFIG_PROC_EVENTS enabled?)"
                )
            ready, _, _ = select.select([sock], [], [], left)
            if not ready:
                continue
            events, _bad = decode_datagram(sock.recv(65536))
            for ev in events:
                if isinstance(ev, AckEvent):
                    if ev.err:  # a positive errno (some kernels send it negated)
                        err = abs(struct.unpack("=i", struct.pack("=I", ev.err))[0])
                        raise OSError(err, os.strerror(err))
                    return
            # Events before the ack are dropped: the walk that follows covers them.

    def _measure_offset(self) -> None:
        self._tracker.offset_ns = boottime_ns() - time.monotonic_ns()

    # -- reading --

    def read(self) -> Snapshot:
        if self._sock is None:
            raise SourceGone("the netlink source is not open")
        if self._failure is not None:
            raise SourceGone(f"the netlink reader stopped: {self._failure}") from self._failure
        t0 = time.perf_counter_ns()
        now = boottime_ns()
        wall = time.time()
        proc_counters = self._proc.read_counters()
        procs = self._proc.walk()
        with self._lock:
            exited, lost = self._tracker.take_exits()
            counters = self._tracker.counters(proc_counters.tasks_created)
            self._measure_offset()  # follows a suspend, which moves boottime only
        return Snapshot(
            source=self.kind,
            time_ns=now,
            wall_time=wall,
            counters=counters,
            processes=procs,
            exited=exited,
            lost=lost,
            read_cost_ns=time.perf_counter_ns() - t0,
        )

    # -- the reader thread --

    def _run(self, sock: socket.socket, wake_fd: int, ts: TaskstatsListener | None) -> None:
        buf = bytearray(65536)
        view = memoryview(buf)
        poller = select.poll()
        poller.register(sock.fileno(), select.POLLIN)
        poller.register(wake_fd, select.POLLIN)
        if ts is not None:
            poller.register(ts.fileno(), select.POLLIN)
        sock.setblocking(False)
        tracker = self._tracker
        lock = self._lock
        behind = False  # events were dropped and /proc has not been walked since
        try:
            while not self._stop.is_set():
                # Take what is waiting (up to a batch), then apply it under one lock.
                batch: list[Event | None] = []  # None marks an overflow, in its place
                bad = 0
                caught_up = False
                for _ in range(_BATCH):
                    try:
                        n = sock.recv_into(buf)
                    except BlockingIOError:
                        caught_up = True
                        break
                    except OSError as exc:
                        if exc.errno != errno.ENOBUFS:
                            raise
                        batch.append(None)
                        continue
                    events, b = decode_datagram(view[:n])
                    batch.extend(events)
                    bad += b
                # Taskstats after the events: the kernel sends a task's record before its
                # exit event, so every record those events need is queued by now.
                stats: list[TaskExit] = []
                stats_lost = False
                if ts is not None:
                    overflows = ts.overflows
                    stats = ts.drain()
                    stats_lost = ts.overflows != overflows
                with lock:
                    if stats_lost:
                        tracker.stats_lost()
                    tracker.add_task_exits(stats)
                    for ev in batch:
                        if ev is None:
                            self.resyncs += 1
                            behind = True
                            tracker.overflowed()
                        else:
                            tracker.apply(ev)
                    self.bad_messages += bad
                if not caught_up:
                    continue
                if behind:  # one walk covers every overflow before it
                    behind = False
                    procs = self._resync_proc.walk()
                    with lock:
                        tracker.resync(procs, after_loss=True)
                    continue
                poller.poll()
        except BaseException as exc:  # reported by the next read()
            self._failure = exc

    def _read_comm(self, pid: int) -> str | None:
        try:
            fd = os.open(f"{self.proc_root}/{pid}/comm", os.O_RDONLY | os.O_CLOEXEC)
        except OSError:
            return None
        try:
            raw = os.read(fd, 256)
        except OSError:
            return None
        finally:
            os.close(fd)
        if not raw:
            return None
        return comm_from_bytes(raw[:-1] if raw.endswith(b"\n") else raw)
