"""The pure-Python model: records, the delta model and filters. Never imports Qt."""

from procscope.model.delta import DeltaModel, ProcessRow, Rates, Tick
from procscope.model.exitlog import ExitLog
from procscope.model.records import (
    Counters,
    ExitedProcess,
    Process,
    Snapshot,
    boottime_ns,
    comm_bytes,
    comm_from_bytes,
    user_name,
)

__all__ = [
    "Counters",
    "DeltaModel",
    "ExitLog",
    "ExitedProcess",
    "Process",
    "ProcessRow",
    "Rates",
    "Snapshot",
    "Tick",
    "boottime_ns",
    "comm_bytes",
    "comm_from_bytes",
    "user_name",
]
