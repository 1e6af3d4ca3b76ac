"""``open_source("auto")``: the best source that opens, and why, with fake sources."""

from __future__ import annotations

import pytest

import procscope.sources as sources
from procscope.model.records import Counters, Snapshot
from procscope.sources import Source, SourceUnavailable, open_source


class Fake(Source):
    def __init__(self, kind: str, refusal: str | None) -> None:
        self.kind = kind
        self.refusal = refusal
        self.opened = False

    def open(self) -> None:
        if self.refusal is not None:
            raise SourceUnavailable(self.refusal)
        self.opened = True

    def read(self) -> Snapshot:
        return Snapshot(self.kind, 0, 0.0, Counters(), ())


NO_MODULE = "module not loaded (/proc/procscope missing)"
NO_NETLINK = "the proc connector refused to listen (permission denied): run as root"


@pytest.fixture
def refusals(monkeypatch) -> dict[str, str | None]:
    """Which kinds refuse, and with what message; make_source builds fakes."""
    table: dict[str, str | None] = {"lkm": NO_MODULE, "netlink": None, "proc": None}
    monkeypatch.setattr(sources, "make_source", lambda spec: Fake(spec, table[spec]))
    return table


def test_netlink_is_chosen_without_the_module(refusals) -> None:
    src = open_source("auto")
    assert src.kind == "netlink" and src.opened
    assert src.reason == f"{NO_MODULE}, so using netlink events"
    assert src.refusals == (f"lkm: {NO_MODULE}",)


def test_proc_when_netlink_is_refused_too(refusals) -> None:
    refusals["netlink"] = NO_NETLINK
    src = open_source("auto")
    assert src.kind == "proc"
    assert src.reason == (
        "module not loaded (/proc/procscope missing); the proc connector refused to listen"
        " (permission denied), so using /proc polling"
    )
    assert src.refusals == (f"lkm: {NO_MODULE}", f"netlink: {NO_NETLINK}")


def test_module_first_when_loaded(refusals) -> None:
    refusals["lkm"] = None
    src = open_source("auto")
    assert src.kind == "lkm"
    assert src.reason == "using the kernel module, the best source available"


def test_excluded_kind_is_skipped(refusals) -> None:
    refusals["lkm"] = None
    src = open_source("auto", exclude=("lkm",))
    assert src.kind == "netlink"
    assert src.reason == "lkm stopped, so using netlink events"


def test_nothing_works(refusals) -> None:
    refusals.update(netlink=NO_NETLINK, proc="cannot read /proc/stat")
    with pytest.raises(SourceUnavailable) as info:
        open_source("auto")
    for kind, why in refusals.items():
        assert f"{kind}: {why}" in str(info.value)


def test_explicit_spec_says_the_user_chose_it(refusals) -> None:
    src = open_source("proc")
    assert src.kind == "proc" and src.reason == "proc chosen by the user"
