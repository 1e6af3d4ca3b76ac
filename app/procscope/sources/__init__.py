"""Interchangeable sources of snapshots. No Qt here.

``open_source(spec)`` turns a ``--source`` spec into an opened :class:`Source`:

=================  ==============================================================
``lkm``            the kernel module's files under ``/proc/procscope/``
``netlink``        the proc connector's fork/exec/comm/exit events, plus a /proc walk
``proc``           plain polling of ``/proc`` (always works; no exit log)
``dir:PATH``       a copy of ``/proc/procscope`` (same parser as ``lkm``)
``replay:PATH``    a recording made by ``procscope record``
``auto``           ``lkm`` if the module is loaded, else ``netlink`` if permitted,
                   else ``proc``; ``source.reason`` says why
=================  ==============================================================
"""

from __future__ import annotations

from procscope.sources.base import (
    ParseError,
    Source,
    SourceError,
    SourceGone,
    SourceUnavailable,
)

__all__ = [
    "AUTO_ORDER",
    "ParseError",
    "Source",
    "SourceError",
    "SourceGone",
    "SourceUnavailable",
    "make_source",
    "open_source",
]

#: What ``auto`` tries, best first.
AUTO_ORDER = ("lkm", "netlink", "proc")
_DESCRIBED = {"lkm": "the kernel module", "netlink": "netlink events", "proc": "/proc polling"}


def make_source(spec: str) -> Source:
    """Build (but do not open) the source a spec names. ``auto`` is not accepted here."""
    kind, _, arg = spec.partition(":")
    if kind == "lkm":
        from procscope.sources.lkm import LkmSource

        return LkmSource(arg or None)
    if kind == "dir":
        from procscope.sources.lkm import DirSource

        if not arg:
            raise SourceUnavailable("dir: needs a path, as in dir:/tmp/capture")
        return DirSource(arg)
    if kind == "netlink":
        from procscope.sources.netlink import NetlinkSource

        return NetlinkSource()
    if kind == "proc":
        from procscope.sources.proc import ProcSource

        return ProcSource(arg or "/proc")
    if kind == "replay":
        from procscope.sources.replay import ReplaySource

        if not arg:
            raise SourceUnavailable("replay: needs a path, as in replay:/tmp/rec.jsonl")
        return ReplaySource(arg)
    raise SourceUnavailable(
        f"unknown source {spec!r}: use auto, lkm, netlink, proc, dir:PATH or replay:PATH"
    )


def open_source(spec: str = "auto", exclude: tuple[str, ...] = ()) -> Source:
    """Open the source ``spec`` names. ``auto`` opens the best that works here.

    ``exclude`` lists kinds that ``auto`` must skip (say, the one that just died).
    The returned source's ``reason`` says why it was chosen.
    """
    if spec != "auto":
        src = make_source(spec)
        src.open()
        src.reason = src.reason or f"{spec} chosen by the user"
        return src
    refusals: list[str] = []  # full texts, for `procscope sources` and the banner
    short: list[str] = []  # first clauses, for the status bar
    for kind in AUTO_ORDER:
        if kind in exclude:
            refusals.append(f"{kind}: stopped")
            short.append(f"{kind} stopped")
            continue
        src = make_source(kind)
        try:
            src.open()
        except SourceUnavailable as exc:
            refusals.append(f"{kind}: {exc}")
            short.append(str(exc).split(": ", 1)[0])
            continue
        if short:
            src.reason = "; ".join(short) + f", so using {_DESCRIBED[kind]}"
        else:
            src.reason = f"using {_DESCRIBED[kind]}, the best source available"
        src.refusals = tuple(refusals)
        return src
    raise SourceUnavailable("no source works here: " + "; ".join(refusals))
