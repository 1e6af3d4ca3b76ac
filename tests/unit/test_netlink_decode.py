"""The proc connector wire format, decoded from packed bytes."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st

from procscope.sources.netlink import (
    PROC_CN_MCAST_IGNORE,
    AckEvent,
    CommEvent,
    ExecEvent,
    ExitEvent,
    ForkEvent,
    UidEvent,
    decode_datagram,
    listen_message,
)

FORK, EXEC, UID, GID, COMM, COREDUMP, EXIT = (
    0x1, 0x2, 0x4, 0x40, 0x200, 0x40000000, 0x80000000,
)


def message(what: int, body: bytes, ts: int = 123_456_789, *, union_size: int = 24,
            idx: int = 1, val: int = 1, nl_type: int = 3) -> bytes:
    """One datagram as the kernel sends it: nlmsghdr, cn_msg, struct proc_event."""
    body = body.ljust(union_size, b"\0")
    event = struct.pack("=IIQ", what, 1, ts) + body
    cn = struct.pack("=IIIIHH", idx, val, 7, 0, len(event), 0) + event
    return struct.pack("=IHHII", 16 + len(cn), nl_type, 0, 0, 0) + cn


def test_fork_exec_comm_uid_exit_ack() -> None:
    data = b"".join([
        message(FORK, struct.pack("=iiii", 10, 10, 11, 11), ts=5),
        message(EXEC, struct.pack("=ii", 11, 11), ts=6),
        message(COMM, struct.pack("=ii16s", 11, 11, b"we)ird\nname"), ts=7),
        message(UID, struct.pack("=iiII", 11, 11, 1000, 1001), ts=8),
        message(EXIT, struct.pack("=iiIIii", 11, 11, 0x0900, 17, 10, 10), ts=9),
        message(0, struct.pack("=I", 0), ts=10),
    ])
    events, bad = decode_datagram(data)
    assert bad == 0
    assert events == [
        ForkEvent(5, 10, 10, 11, 11),
        ExecEvent(6, 11, 11),
        CommEvent(7, 11, 11, b"we)ird\nname"),
        UidEvent(8, 11, 11, 1000, 1001),
        ExitEvent(9, 11, 11, 0x0900, 17, 10, 10),
        AckEvent(0),
    ]


def test_comm_of_full_length_has_no_terminator() -> None:
    events, _ = decode_datagram(message(COMM, struct.pack("=ii16s", 3, 3, b"0123456789abcdef")))
    assert events == [CommEvent(123_456_789, 3, 3, b"0123456789abcdef")]


def test_old_kernel_exit_without_parent_fields() -> None:
    events, bad = decode_datagram(
        message(EXIT, struct.pack("=iiII", 5, 5, 9, 17), union_size=16)
    )
    assert bad == 0
    assert events == [ExitEvent(123_456_789, 5, 5, 9, 17, None, None)]


def test_unused_kinds_are_skipped_not_counted() -> None:
    data = message(GID, b"\1" * 16) + message(COREDUMP, b"\2" * 16) + message(0x100, b"")
    assert decode_datagram(data) == ([], 0)


def test_foreign_connector_and_error_messages() -> None:
    foreign = message(FORK, struct.pack("=iiii", 1, 1, 2, 2), idx=4, val=1)
    nl_error = message(FORK, struct.pack("=iiii", 1, 1, 2, 2), nl_type=2)
    events, bad = decode_datagram(foreign + nl_error)
    assert events == [] and bad == 1  # the foreign one is bad; NLMSG_ERROR is skipped


def test_truncated_event_bodies_are_counted() -> None:
    short_fork = message(FORK, struct.pack("=ii", 1, 1), union_size=8)
    short_exit = message(EXIT, struct.pack("=ii", 1, 1), union_size=8)
    good = message(EXEC, struct.pack("=ii", 9, 9))
    events, bad = decode_datagram(short_fork + short_exit + good)
    assert events == [ExecEvent(123_456_789, 9, 9)]
    assert bad == 2


def test_broken_framing_stops_the_datagram() -> None:
    good = message(EXEC, struct.pack("=ii", 9, 9))
    too_long = bytearray(message(EXEC, struct.pack("=ii", 8, 8)))
    struct.pack_into("=I", too_long, 0, 10_000)
    events, bad = decode_datagram(good + bytes(too_long) + good)
    assert events == [ExecEvent(123_456_789, 9, 9)] and bad == 1
    events, bad = decode_datagram(good + b"\1\2\3\4\5")
    assert events == [ExecEvent(123_456_789, 9, 9)] and bad == 1


def test_listen_message_layout() -> None:
    msg = listen_message()
    nl_len, nl_type, _, _, _ = struct.unpack_from("=IHHII", msg)
    idx, val, _, _, cn_len, _ = struct.unpack_from("=IIIIHH", msg, 16)
    assert (nl_len, nl_type, idx, val, cn_len) == (len(msg), 3, 1, 1, 4)
    assert struct.unpack_from("=I", msg, 36) == (1,)
    assert struct.unpack_from("=I", listen_message(PROC_CN_MCAST_IGNORE), 36) == (2,)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_garbage_never_crashes(data: bytes) -> None:
    events, bad = decode_datagram(data)
    assert bad >= 0
    assert all(
        isinstance(e, AckEvent | ForkEvent | ExecEvent | UidEvent | CommEvent | ExitEvent)
        for e in events
    )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([FORK, EXEC, UID, COMM, EXIT, 0, GID, 0xDEAD]),
            st.binary(max_size=40),
            st.integers(0, 2**64 - 1),
        ),
        max_size=6,
    ),
    st.integers(0, 40),
)
def test_well_framed_messages_with_garbage_bodies(msgs, cut: int) -> None:
    """Valid framing around any body: each message yields at most one event or one bad."""
    data = b"".join(message(w, b, ts, union_size=len(b)) for w, b, ts in msgs)
    events, bad = decode_datagram(data)
    assert len(events) + bad <= len(msgs)
    # and cutting the datagram anywhere still never raises
    decode_datagram(data[: max(0, len(data) - cut)])
