"""The JSON shape of snapshots and exits, shared by the CLI, ``record`` and ``replay:``.

Documented in docs/cli.md. One snapshot is one JSON object::

    {"source": "lkm", "reason": "...", "time": 1764170000.123, "time_ns": 93000000000,
     "read_cost_ns": 41000, "counters": {...}, "processes": [...], "exited": [...],
     "lost": 0}

``time`` is Unix time in seconds (a float); every ``*_ns`` time is on the boot-based
clock, like the records. A name (``comm``) is a JSON string; bytes that are not UTF-8
are kept as lone surrogates U+DC80..U+DCFF (Python's ``surrogateescape``), which
:func:`dumps` writes as ``\\udcXX`` escapes, so reading it back gives the exact bytes.
No Qt here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from procscope.model.records import (
    Counters,
    ExitedProcess,
    Process,
    Snapshot,
    comm_bytes,
    user_name,
)

__all__ = [
    "RECORDING_VERSION",
    "counters_from_json",
    "counters_to_json",
    "dumps",
    "exited_from_json",
    "exited_to_json",
    "process_from_json",
    "process_to_json",
    "snapshot_from_json",
    "snapshot_to_json",
]

#: The version of the ``procscope record`` file format (its header line says which).
RECORDING_VERSION = 1


def dumps(obj: Any) -> str:
    """One line of ASCII JSON. Lone surrogates and control bytes become ``\\uXXXX``."""
    return json.dumps(obj, ensure_ascii=True, separators=(",", ":"), allow_nan=False)


# -- to JSON -----------------------------------------------------------------------


def counters_to_json(counters: Counters) -> dict[str, int | None]:
    return counters._asdict()


def process_to_json(p: Process, cpu_percent: float = 0.0) -> dict[str, Any]:
    return {
        "pid": p.pid,
        "ppid": p.ppid,
        "uid": p.uid,
        "user": user_name(p.uid),
        "state": p.state,
        "threads": p.threads,
        "cpu_ns": p.cpu_ns,
        "cpu_percent": round(cpu_percent, 2),
        "rss_bytes": p.rss_bytes,
        "start_ns": p.start_ns,
        "kthread": p.kthread,
        "comm": p.comm,
    }


def exited_to_json(e: ExitedProcess) -> dict[str, Any]:
    return {
        "seq": e.seq,
        "pid": e.pid,
        "ppid": e.ppid,
        "uid": e.uid,
        "user": user_name(e.uid) if e.uid is not None else None,
        "comm": e.comm,
        "exit_code": e.exit_code,
        "signal": e.signal,
        "core_dumped": e.core_dumped,
        "start_ns": e.start_ns,
        "exit_ns": e.exit_ns,
        "lifetime_ns": e.lifetime_ns,
        "cpu_ns": e.cpu_ns,
        "peak_rss_bytes": e.peak_rss_bytes,
    }


def snapshot_to_json(
    snap: Snapshot, cpu_percent: Mapping[int, float] | None = None, reason: str = ""
) -> dict[str, Any]:
    """The snapshot, with each process's CPU % from ``cpu_percent`` (0 where absent)."""
    cpu = cpu_percent or {}
    return {
        "source": snap.source,
        "reason": reason,
        "time": snap.wall_time,
        "time_ns": snap.time_ns,
        "read_cost_ns": snap.read_cost_ns,
        "counters": counters_to_json(snap.counters),
        "processes": [process_to_json(p, cpu.get(p.pid, 0.0)) for p in snap.processes],
        "exited": [exited_to_json(e) for e in snap.exited],
        "lost": snap.lost,
    }


# -- from JSON ---------------------------------------------------------------------
# Strict: a wrong type or a missing key raises ValueError saying which. Derived fields
# (user, cpu_percent, lifetime_ns) are ignored: they are recomputed.


def _field(obj: Mapping[str, Any], key: str, kind: type, optional: bool = False) -> Any:
    try:
        value = obj[key]
    except KeyError:
        raise ValueError(f"missing key {key!r}") from None
    if value is None and optional:
        return None
    # bool is an int in Python; a count must not be true/false.
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        want = kind.__name__ + (" or null" if optional else "")
        raise ValueError(f"{key!r} must be {want}, not {value!r}")
    if kind is int and value < 0:
        raise ValueError(f"{key!r} must not be negative, not {value}")
    return value


def _comm(obj: Mapping[str, Any]) -> str:
    comm = _field(obj, "comm", str)
    if not comm:
        raise ValueError("'comm' must not be empty")
    try:
        comm_bytes(comm)
    except UnicodeEncodeError:
        raise ValueError(f"'comm' holds a surrogate that stands for no byte: {comm!r}") from None
    return comm


def _object(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise ValueError(f"{what} must be an object, not {type(value).__name__}")
    return value


def counters_from_json(obj: Any) -> Counters:
    obj = _object(obj, "counters")
    return Counters(
        *(_field(obj, k, int, optional=True) if k in obj else None for k in Counters._fields)
    )


def process_from_json(obj: Any) -> Process:
    obj = _object(obj, "a process")
    state = _field(obj, "state", str)
    if len(state) != 1:
        raise ValueError(f"'state' must be one letter, not {state!r}")
    comm = _comm(obj)
    return Process(
        pid=_field(obj, "pid", int),
        ppid=_field(obj, "ppid", int),
        uid=_field(obj, "uid", int),
        state=state,
        threads=_field(obj, "threads", int),
        cpu_ns=_field(obj, "cpu_ns", int),
        rss_bytes=_field(obj, "rss_bytes", int),
        start_ns=_field(obj, "start_ns", int),
        kthread=_field(obj, "kthread", bool),
        comm=comm,
    )


def exited_from_json(obj: Any) -> ExitedProcess:
    obj = _object(obj, "an exited process")
    return ExitedProcess(
        seq=_field(obj, "seq", int),
        pid=_field(obj, "pid", int),
        ppid=_field(obj, "ppid", int, optional=True),
        uid=_field(obj, "uid", int, optional=True),
        comm=_comm(obj),
        exit_code=_field(obj, "exit_code", int, optional=True),
        signal=_field(obj, "signal", int, optional=True),
        start_ns=_field(obj, "start_ns", int, optional=True),
        exit_ns=_field(obj, "exit_ns", int, optional=True),
        cpu_ns=_field(obj, "cpu_ns", int, optional=True),
        peak_rss_bytes=_field(obj, "peak_rss_bytes", int, optional=True),
        core_dumped=_field(obj, "core_dumped", bool),
    )


def _items(obj: Mapping[str, Any], key: str, parse: Any) -> tuple[Any, ...]:
    items = _field(obj, key, list)
    out = []
    for i, item in enumerate(items):
        try:
            out.append(parse(item))
        except ValueError as exc:
            raise ValueError(f"{key}[{i}]: {exc}") from None
    return tuple(out)


def snapshot_from_json(obj: Any, source: str | None = None) -> Snapshot:
    """A :class:`Snapshot` from :func:`snapshot_to_json`'s shape; ValueError if malformed.

    ``source`` overrides the recorded source name (``replay:`` passes ``"replay"``).
    """
    obj = _object(obj, "a snapshot")
    wall = obj.get("time")
    if not isinstance(wall, (int, float)) or isinstance(wall, bool):
        raise ValueError(f"'time' must be a number, not {wall!r}")
    return Snapshot(
        source=source if source is not None else _field(obj, "source", str),
        time_ns=_field(obj, "time_ns", int),
        wall_time=float(wall),
        counters=counters_from_json(obj.get("counters", {})),
        processes=_items(obj, "processes", process_from_json),
        exited=_items(obj, "exited", exited_from_json),
        lost=_field(obj, "lost", int),
        read_cost_ns=_field(obj, "read_cost_ns", int) if "read_cost_ns" in obj else 0,
    )
