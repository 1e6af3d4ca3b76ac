"""Capture: of N short-lived processes, how many does each observer name correctly?

The spawner (bench/spawner.c) forks N children back to back (``seq``) or in bursts
(``burst``); each child names itself ``ps%05d`` and exits at once, and the spawner
logs every child's pid. Observers run side by side during the same spawn, each in
its own process so none slows another through the GIL:

* ``netlink``: the netlink source, read every 1 s (the app's refresh);
* ``proc``: the proc source polling every 2 s and every 0.5 s;
* ``psutil``: ``psutil.process_iter`` with the same fields, at the same intervals;
* ``lkm``: the kernel module, inside the VM (see bench/vm.py).

An observer *names* a child when it reports that pid with that name, in a snapshot
or in its exit log. "Lost" is what the observer itself says it missed
(``Snapshot.lost``); pollers have no exit log, so they cannot know.

Run one observer by hand: ``python bench/capture.py observe proc 0.5 out.json``.
"""

from __future__ import annotations

import json
import select
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    PSUTIL_FIELDS,
    PY,
    BenchError,
    Context,
    Section,
    Stats,
    Target,
    env_with_app,
)

TITLE = "1. Capture of short-lived processes"

#: (label, kind, interval in s)
HOST_OBSERVERS = [
    ("netlink @1 s", "netlink", 1.0),
    ("proc @2 s", "proc", 2.0),
    ("proc @0.5 s", "proc", 0.5),
    ("psutil @2 s", "psutil", 2.0),
    ("psutil @0.5 s", "psutil", 0.5),
]
#: After the spawner ends, before "stop": every poller gets at least one more regular
#: read. (Each observer also makes one last read after "stop".)
SETTLE_S = 2.5
SETTLE_SMOKE_S = 1.0


# --------------------------------------------------------------------------- observer



#: The capture table's columns, shared with the VM part (bench/vm.py).
CAPTURE_COLUMNS = [
    "spawn",
    "spawn rate",
    "observer",
    "named",
    "named %",
    "wrong name",
    "in exit log",
    "lost (reported)",
]

def _open_reader(kind: str):
    """A zero-argument function returning (pairs, exited_pairs, lost) for one read."""
    if kind == "psutil":
        import psutil

        def read_psutil():
            pairs = set()
            for p in psutil.process_iter(PSUTIL_FIELDS):
                pairs.add((p.info["pid"], p.info["name"]))
            return pairs, set(), 0

        return read_psutil, lambda: None
    from procscope.sources import open_source

    src = open_source(kind)

    def read_source():
        snap = src.read()
        pairs = {(p.pid, p.comm) for p in snap.processes}
        exited = {(e.pid, e.comm) for e in snap.exited}
        return pairs, exited, snap.lost

    return read_source, src.close


def observe(kind: str, interval: float, out: str) -> int:
    """Read ``kind`` every ``interval`` s until stdin says stop; dump what was seen."""
    result: dict = {"kind": kind, "interval": interval}
    try:
        read, close = _open_reader(kind)
        read()  # the first read (netlink subscribes, pollers warm up)
    except Exception as exc:
        result["error"] = f"{type(exc).__name__}: {exc}"
        Path(out).write_text(json.dumps(result))
        print("ready", flush=True)
        sys.stdin.readline()
        return 0
    seen: set = set()
    exited: set = set()
    lost = reads = 0
    read_ns: list[int] = []
    print("ready", flush=True)
    stop = False
    next_t = time.monotonic()
    while True:
        t0 = time.perf_counter_ns()
        pairs, ex, n_lost = read()
        read_ns.append(time.perf_counter_ns() - t0)
        reads += 1
        seen |= pairs
        exited |= ex
        lost += n_lost
        if stop:
            break
        next_t += interval
        wait = max(0.0, next_t - time.monotonic())
        ready, _, _ = select.select([sys.stdin], [], [], wait)
        if ready:
            sys.stdin.readline()
            stop = True  # one last read, then out
    close()
    result.update(
        seen=sorted(seen | exited),
        exited=sorted(exited),
        lost=lost,
        reads=reads,
        read_ms_median=sorted(read_ns)[len(read_ns) // 2] / 1e6,
    )
    Path(out).write_text(json.dumps(result))
    return 0


# --------------------------------------------------------------------------- scoring


@dataclass
class Score:
    named: int  # (pid, comm) right
    wrong_name: int  # the pid was seen, under another name
    exit_logged: int  # named in the exit log
    lost: int | None  # what the observer reported missing
    error: str = ""


def read_log(path: Path) -> set[tuple[int, str]]:
    out = set()
    for line in path.read_text().splitlines():
        pid, comm = line.split()
        out.add((int(pid), comm))
    return out


def score(expected: set[tuple[int, str]], result: dict) -> Score:
    if "error" in result:
        return Score(0, 0, 0, None, result["error"])
    seen = {(int(p), c) for p, c in result["seen"]}
    exited = {(int(p), c) for p, c in result["exited"]}
    named = expected & seen
    seen_pids = {pid for pid, _ in seen}
    # a pid missed under its own name but reported under another (say, the
    # spawner's name, read before the child renamed itself)
    wrong = {pid for pid, _ in expected - named if pid in seen_pids}
    lost = result["lost"] if result["kind"] in ("netlink", "lkm") else None
    return Score(len(named), len(wrong), len(expected & exited), lost)


# --------------------------------------------------------------------------- one run


def spawn_round(
    ctx: Context, mode: str, n: int, burst: int, observers: list[tuple[str, str, float]], tag: str
) -> tuple[set[tuple[int, str]], dict[str, dict], float]:
    """Start the observers, run the spawner once, stop them; their raw results."""
    env = env_with_app()
    procs = []
    outs = {}
    try:
        for label, kind, interval in observers:
            out = ctx.work / f"capture-{tag}-{kind}-{interval}.json"
            outs[label] = out
            p = subprocess.Popen(
                [PY, __file__, "observe", kind, str(interval), str(out)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
                env=env,
            )
            procs.append(p)
        for p in procs:
            assert p.stdout is not None
            if p.stdout.readline().strip() != "ready":
                raise BenchError(f"observer {p.args} did not start")
        log = ctx.work / f"capture-{tag}.log"
        cmd = [str(ctx.spawner), mode, str(n)]
        if mode == "burst":
            cmd.append(str(burst))
        cmd.append(str(log))
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        spawn_s = time.perf_counter() - t0
        time.sleep(SETTLE_SMOKE_S if ctx.smoke else SETTLE_S)
        for p in procs:
            assert p.stdin is not None
            p.stdin.write("stop\n")
            p.stdin.flush()
        for p in procs:
            p.wait(timeout=120)
    finally:
        for p in procs:
            if p.poll() is None:
                p.kill()
                p.wait()
    results = {label: json.loads(out.read_text()) for label, out in outs.items()}
    return read_log(log), results, spawn_s


# --------------------------------------------------------------------------- section


def configs(ctx: Context) -> list[tuple[str, str, int, int]]:
    """(label, spawner mode, N, burst size)."""
    if ctx.smoke:
        return [("seq 300", "seq", 300, 1), ("burst 300×50", "burst", 300, 50)]
    return [
        ("seq 5,000", "seq", 5000, 1),
        ("seq 20,000", "seq", 20000, 1),
        ("burst 20,000 (bursts of 100)", "burst", 20000, 100),
    ]


def run(ctx: Context) -> Section:
    sec = Section("capture", TITLE)
    repeats = 1 if ctx.smoke else 3
    sec.add(
        "Each child of `bench/spawner.c` names itself `ps%05d` (prctl) and exits at once; "
        "the spawner logs every pid. All host observers run at the same time, each in its "
        f"own process, during the same spawn. {repeats} repeat(s) per row: the figures are "
        "the median [min–max] over repeats. *Named* = the observer reported that pid "
        "with that name (snapshot or exit log); *wrong name* = it saw the pid under "
        "another name; *lost* = what the observer itself reported missing (pollers have "
        "no exit log, so they cannot know: n/a).",
        "",
    )
    rows = []
    target_rows: dict[str, list[float]] = {}
    for label, mode, n, burst in configs(ctx):
        per_obs: dict[str, list[Score]] = {lbl: [] for lbl, _, _ in HOST_OBSERVERS}
        spawn_rates = []
        for r in range(repeats):
            tag = f"{mode}{n}-{r}"
            ctx.log(f"capture: {label}, repeat {r + 1}/{repeats}")
            expected, results, spawn_s = spawn_round(ctx, mode, n, burst, HOST_OBSERVERS, tag)
            if len(expected) != n:
                raise BenchError(f"spawner logged {len(expected)} children, expected {n}")
            spawn_rates.append(n / spawn_s)
            for lbl, res in results.items():
                per_obs[lbl].append(score(expected, res))
        rate = Stats.of(spawn_rates)
        for lbl, scores in per_obs.items():
            errors = {s.error for s in scores if s.error}
            if errors:
                rows.append(
                    [
                        label,
                        f"{rate.median:,.0f}/s",
                        lbl,
                        "unavailable: " + "; ".join(sorted(errors)),
                        "",
                        "",
                        "",
                        "",
                    ]
                )
                continue
            named = Stats.of([s.named for s in scores])
            pct = Stats.of([100.0 * s.named / n for s in scores])
            wrong = Stats.of([s.wrong_name for s in scores])
            exit_logged = Stats.of([s.exit_logged for s in scores])
            lost = (
                Stats.of([s.lost for s in scores]).fmt(0) if scores[0].lost is not None else "n/a"
            )
            rows.append(
                [
                    label,
                    f"{rate.median:,.0f}/s",
                    lbl,
                    named.fmt(0),
                    pct.fmt(2, " %"),
                    wrong.fmt(0),
                    exit_logged.fmt(0),
                    lost,
                ]
            )
            if lbl.startswith("netlink") and n >= 20000:
                target_rows.setdefault(f"netlink, {label}", []).extend(
                    100.0 * s.named / n for s in scores
                )
    sec.table(
        CAPTURE_COLUMNS,
        rows,
    )
    if ctx.smoke:
        return sec
    for what, pcts in target_rows.items():
        worst = min(pcts)
        sec.targets.append(
            Target(
                f"capture at 20,000 ({what})",
                "100 %",
                f"{Stats.of(pcts).fmt(2, ' %')}",
                worst >= 100.0,
            )
        )
    if not target_rows:
        sec.targets.append(
            Target("capture at 20,000 (netlink)", "100 %", "netlink source unavailable", None)
        )
    return sec


if __name__ == "__main__":
    if len(sys.argv) == 5 and sys.argv[1] == "observe":
        sys.exit(observe(sys.argv[2], float(sys.argv[3]), sys.argv[4]))
    print(__doc__, file=sys.stderr)
    sys.exit(2)
