"""Per-task exit statistics from the kernel's taskstats interface (generic netlink).

When a task exits, the kernel sends every socket registered for that CPU a
``struct taskstats`` (linux/taskstats.h): its name at exit, exit status, user and
system time and the peak RSS of its memory. The ``netlink`` source uses it, where
permitted, to fill ``cpu_ns`` and ``peak_rss_bytes`` of exit records, and to name a
process whose exec it could not look up in time.

Registering needs ``CAP_NET_ADMIN`` (the command is ``GENL_ADMIN_PERM``); without it
:meth:`TaskstatsListener.open` raises :class:`SourceUnavailable` and the caller goes on
without. The per-thread-group record the kernel sends when a group dies aggregates
only delay accounting, not CPU time, so only the per-task records are used.
"""

from __future__ import annotations

import contextlib
import errno
import os
import socket
import struct
from typing import NamedTuple

from procscope.sources.base import SourceUnavailable

__all__ = ["TaskExit", "TaskstatsListener", "decode_taskstats"]

NETLINK_GENERIC = 16
GENL_ID_CTRL = 0x10
CTRL_CMD_GETFAMILY = 3
CTRL_ATTR_FAMILY_ID = 1
CTRL_ATTR_FAMILY_NAME = 2
NLM_F_REQUEST, NLM_F_ACK = 1, 4
NLMSG_ERROR = 2

TASKSTATS_CMD_GET = 1
TASKSTATS_CMD_NEW = 2
TASKSTATS_CMD_ATTR_REGISTER_CPUMASK = 3
TASKSTATS_CMD_ATTR_DEREGISTER_CPUMASK = 4
TASKSTATS_TYPE_PID = 1
TASKSTATS_TYPE_STATS = 3
TASKSTATS_TYPE_AGGR_PID = 4

_NLMSGHDR = struct.Struct("=IHHII")
_GENLHDR = struct.Struct("=BBH")
_NLATTR = struct.Struct("=HH")
# Offsets in struct taskstats (stable since version 1; checked on 6.18, version 16).
_TS_EXITCODE = struct.Struct("=I")  # at 4
_TS_COMM_OFF, _TS_COMM_LEN = 80, 32
_TS_IDS = struct.Struct("=IIII")  # ac_uid, ac_gid, ac_pid, ac_ppid at 120
_TS_TIMES = struct.Struct("=QQ")  # ac_utime, ac_stime (µs) at 152
_TS_HIWATER = struct.Struct("=Q")  # hiwater_rss (KiB) at 200
_TS_MIN_LEN = 208


class TaskExit(NamedTuple):
    """One task's statistics at exit (a thread or a group leader)."""

    pid: int
    ppid: int
    uid: int
    comm: bytes
    exit_code: int  # wait(2) status
    cpu_ns: int  # user + system time of this task alone
    peak_rss_bytes: int  # of its memory (shared by all threads of the group)


def _attrs(data: memoryview, off: int, end: int):
    """(type, payload offset, payload end) of each netlink attribute in [off, end)."""
    while off + 4 <= end:
        length, typ = _NLATTR.unpack_from(data, off)
        if length < 4 or off + length > end:
            return
        yield typ & 0x3FFF, off + 4, off + length
        off += (length + 3) & ~3


def _stats(mv: memoryview, off: int, end: int, pid: int) -> TaskExit | None:
    if end - off < _TS_MIN_LEN:
        return None
    (code,) = _TS_EXITCODE.unpack_from(mv, off + 4)
    comm = bytes(mv[off + _TS_COMM_OFF : off + _TS_COMM_OFF + _TS_COMM_LEN]).split(b"\0", 1)[0]
    uid, _gid, ac_pid, ppid = _TS_IDS.unpack_from(mv, off + 120)
    utime, stime = _TS_TIMES.unpack_from(mv, off + 152)
    (hiwater,) = _TS_HIWATER.unpack_from(mv, off + 200)
    if ac_pid != pid:
        return None
    return TaskExit(pid, ppid, uid, comm, code, (utime + stime) * 1000, hiwater * 1024)


def decode_taskstats(data: bytes | bytearray | memoryview) -> tuple[list[TaskExit], int]:
    """The per-task exit records in one datagram, and how many messages were malformed.

    Never raises on bad input. Per-group aggregates are skipped (see the module doc).
    """
    mv = memoryview(data)
    end = len(mv)
    off = 0
    out: list[TaskExit] = []
    bad = 0
    while off + _NLMSGHDR.size <= end:
        nl_len, nl_type, _f, _s, _p = _NLMSGHDR.unpack_from(mv, off)
        if nl_len < _NLMSGHDR.size or off + nl_len > end:
            return out, bad + 1
        msg_end = off + nl_len
        body = off + _NLMSGHDR.size
        off += (nl_len + 3) & ~3
        if nl_type == NLMSG_ERROR or nl_type < 0x10:
            continue
        if body + _GENLHDR.size > msg_end:
            bad += 1
            continue
        cmd, _v, _r = _GENLHDR.unpack_from(mv, body)
        if cmd != TASKSTATS_CMD_NEW:
            continue
        found = False
        for typ, a, b in _attrs(mv, body + _GENLHDR.size, msg_end):
            if typ != TASKSTATS_TYPE_AGGR_PID:
                continue  # AGGR_TGID, NULL padding
            pid = None
            for t2, a2, b2 in _attrs(mv, a, b):
                if t2 == TASKSTATS_TYPE_PID and b2 - a2 >= 4:
                    pid = struct.unpack_from("=I", mv, a2)[0]
                elif t2 == TASKSTATS_TYPE_STATS and pid is not None:
                    rec = _stats(mv, a2, b2, pid)
                    if rec is not None:
                        out.append(rec)
                        found = True
        if not found:
            bad += 1
    return out, bad


def _attr(typ: int, payload: bytes) -> bytes:
    n = _NLATTR.size + len(payload)
    return _NLATTR.pack(n, typ) + payload + b"\0" * (-n & 3)


def _genl(family: int, cmd: int, attrs: bytes, flags: int = NLM_F_REQUEST) -> bytes:
    body = _GENLHDR.pack(cmd, 1, 0) + attrs
    return _NLMSGHDR.pack(_NLMSGHDR.size + len(body), family, flags, 1, 0) + body


def _possible_cpus() -> str:
    try:
        with open("/sys/devices/system/cpu/possible") as fh:
            return fh.read().strip()
    except OSError:
        return f"0-{(os.cpu_count() or 1) - 1}"


class TaskstatsListener:
    """A non-blocking socket that receives a :class:`TaskExit` for every exiting task."""

    def __init__(self, rcvbuf: int = 8 << 20) -> None:
        self.rcvbuf = rcvbuf
        self._sock: socket.socket | None = None
        self._family = 0
        self._cpus = ""
        self._buf = bytearray(65536)
        self.bad_messages = 0
        self.overflows = 0

    def fileno(self) -> int:
        return self._sock.fileno() if self._sock is not None else -1

    def open(self) -> None:
        try:
            sock = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, NETLINK_GENERIC)
        except OSError as exc:
            raise SourceUnavailable(f"no generic netlink: {exc.strerror or exc}") from exc
        try:
            sock.settimeout(2.0)
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, 33, self.rcvbuf)  # SO_RCVBUFFORCE
            sock.bind((0, 0))
            self._family = self._resolve(sock)
            self._cpus = _possible_cpus()
            sock.send(
                _genl(
                    self._family,
                    TASKSTATS_CMD_GET,
                    _attr(TASKSTATS_CMD_ATTR_REGISTER_CPUMASK, self._cpus.encode() + b"\0"),
                    NLM_F_REQUEST | NLM_F_ACK,
                )
            )
            err = self._ack(sock)
            if err:
                raise OSError(err, os.strerror(err))
            sock.setblocking(False)
        except SourceUnavailable:
            sock.close()
            raise
        except OSError as exc:
            sock.close()
            why = (
                "needs CAP_NET_ADMIN (run as root)"
                if exc.errno == errno.EPERM
                else (exc.strerror or str(exc))
            )
            raise SourceUnavailable(f"taskstats refused: {why}") from exc
        self._sock = sock

    @staticmethod
    def _resolve(sock: socket.socket) -> int:
        sock.send(
            _genl(GENL_ID_CTRL, CTRL_CMD_GETFAMILY, _attr(CTRL_ATTR_FAMILY_NAME, b"TASKSTATS\0"))
        )
        data = memoryview(sock.recv(65536))
        nl_len, nl_type, _f, _s, _p = _NLMSGHDR.unpack_from(data)
        if nl_type == GENL_ID_CTRL:
            for typ, a, b in _attrs(data, _NLMSGHDR.size + _GENLHDR.size, min(nl_len, len(data))):
                if typ == CTRL_ATTR_FAMILY_ID and b - a >= 2:
                    return struct.unpack_from("=H", data, a)[0]
        raise SourceUnavailable("the kernel has no TASKSTATS family (CONFIG_TASKSTATS)")

    @staticmethod
    def _ack(sock: socket.socket) -> int:
        """The errno the kernel answered the registration with (0 for success)."""
        while True:
            data = sock.recv(65536)
            _l, nl_type, _f, _s, _p = _NLMSGHDR.unpack_from(data)
            if nl_type == NLMSG_ERROR:
                return -struct.unpack_from("=i", data, _NLMSGHDR.size)[0]

    def drain(self) -> list[TaskExit]:
        """Every record waiting on the socket, without blocking."""
        sock = self._sock
        out: list[TaskExit] = []
        if sock is None:
            return out
        while True:
            try:
                n = sock.recv_into(self._buf)
            except BlockingIOError:
                return out
            except OSError as exc:
                if exc.errno != errno.ENOBUFS:
                    raise
                self.overflows += 1
                continue
            recs, bad = decode_taskstats(memoryview(self._buf)[:n])
            out.extend(recs)
            self.bad_messages += bad

    def close(self) -> None:
        sock, self._sock = self._sock, None
        if sock is None:
            return
        with contextlib.suppress(OSError):
            sock.send(
                _genl(
                    self._family,
                    TASKSTATS_CMD_GET,
                    _attr(TASKSTATS_CMD_ATTR_DEREGISTER_CPUMASK, self._cpus.encode() + b"\0"),
                )
            )
        sock.close()
