"""Recordings: :class:`RecordingWriter` writes them, :class:`ReplaySource` plays them back.

A recording is JSON lines (docs/cli.md). The first line is a header::

    {"procscope_recording": 1, "source": "lkm", "reason": "...", "created": 1764170000.5,
     "interval_s": 1.0, "has_exit_log": true, "procscope_version": "0.1.0"}

and every other line is one snapshot in the shape of ``procscope snapshot --json``
(:func:`procscope.jsonio.snapshot_to_json`). No Qt here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import IO, Any

from procscope import __version__
from procscope.jsonio import RECORDING_VERSION, dumps, snapshot_from_json, snapshot_to_json
from procscope.model.records import Snapshot
from procscope.sources.base import ParseError, Source, SourceGone, SourceUnavailable

__all__ = ["RecordingWriter", "ReplaySource"]

_HEADER_KEY = "procscope_recording"


class RecordingWriter:
    """Writes a recording, one flushed line per snapshot, so a crash loses one line at most.

    Refuses to overwrite an existing file unless ``overwrite`` is true
    (``FileExistsError``).
    """

    def __init__(
        self,
        path: str,
        source: Source,
        interval_s: float | None = None,
        overwrite: bool = False,
    ) -> None:
        self.path = path
        self.reason = source.reason
        self.count = 0
        self._file: IO[str] | None = open(  # noqa: SIM115 - closed by close()
            path, "w" if overwrite else "x", encoding="ascii", newline="\n"
        )
        header = {
            _HEADER_KEY: RECORDING_VERSION,
            "source": source.name,
            "reason": source.reason,
            "created": time.time(),
            "interval_s": interval_s,
            "has_exit_log": source.has_exit_log,
            "procscope_version": __version__,
        }
        self._write(dumps(header))

    def _write(self, line: str) -> None:
        if self._file is None:
            raise ValueError(f"recording {self.path} is closed")
        self._file.write(line + "\n")
        self._file.flush()

    def write(self, snap: Snapshot, cpu_percent: Mapping[int, float] | None = None) -> None:
        """Append one snapshot (with the CPU % the delta model computed, if given)."""
        self._write(dumps(snapshot_to_json(snap, cpu_percent, self.reason)))
        self.count += 1

    def close(self) -> None:
        f, self._file = self._file, None
        if f is not None:
            f.close()

    def __enter__(self) -> RecordingWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class ReplaySource(Source):
    """Plays a recording back, one snapshot per ``read()``, then raises SourceGone.

    Snapshots keep their recorded ``time_ns`` and ``wall_time``; ``source`` is
    ``"replay"`` and the recorded source's name is in ``recorded_source``. A malformed
    line raises :class:`ParseError` (file and line); the next ``read()`` goes on with the
    line after it, so one bad line loses nothing else.
    """

    kind = "replay"
    has_exit_log = True
    sees = "exactly what the recorded source saw, snapshot by snapshot"
    cannot_see = "anything the recorded source could not see, or after the recording ended"

    def __init__(self, path: str) -> None:
        self.path = path
        self.header: dict[str, Any] = {}
        self.recorded_source: str | None = None
        #: The interval the recording was made with, when it says.
        self.interval_s: float | None = None
        self.played = 0
        self._file: IO[bytes] | None = None
        self._lineno = 0

    @property
    def name(self) -> str:
        return f"replay:{self.path}"

    def open(self) -> None:
        if self._file is not None:
            return
        try:
            f = open(self.path, "rb")  # noqa: SIM115 - closed by close()
        except OSError as exc:
            raise SourceUnavailable(
                f"cannot open recording {self.path}: {exc.strerror or exc}"
            ) from exc
        try:
            self.header = self._read_header(f.readline())
        except SourceUnavailable:
            f.close()
            raise
        self.recorded_source = str(self.header.get("source", "unknown"))
        interval = self.header.get("interval_s")
        self.interval_s = float(interval) if isinstance(interval, (int, float)) else None
        if self.header.get("has_exit_log") is False:
            self.has_exit_log = False
        self._file = f
        self._lineno = 1

    def _read_header(self, line: bytes) -> dict[str, Any]:
        not_one = f"{self.path} is not a procscope recording"
        if not line.strip():
            raise SourceUnavailable(f"{not_one}: it is empty")
        try:
            header = json.loads(line)
        except (ValueError, UnicodeDecodeError):
            raise SourceUnavailable(f"{not_one}: its first line is not JSON") from None
        if not isinstance(header, dict) or _HEADER_KEY not in header:
            raise SourceUnavailable(f"{not_one}: its first line has no {_HEADER_KEY!r} key")
        version = header[_HEADER_KEY]
        if version != RECORDING_VERSION:
            raise SourceUnavailable(
                f"{self.path} is a recording in format version {version!r}, but this "
                f"procscope reads only version {RECORDING_VERSION}"
            )
        return header

    def read(self) -> Snapshot:
        if self._file is None:
            self.open()
        assert self._file is not None
        line = self._file.readline()
        if not line:
            raise SourceGone(f"recording ended ({self.path}: {self.played} snapshots)")
        self._lineno += 1
        try:
            snap = snapshot_from_json(json.loads(line), source=self.kind)
        except (ValueError, UnicodeDecodeError) as exc:
            hint = "" if line.endswith(b"\n") else " (the last line is cut short)"
            raise ParseError(self.path, self._lineno, f"{exc}{hint}") from None
        self.played += 1
        return snap

    def close(self) -> None:
        f, self._file = self._file, None
        if f is not None:
            f.close()
