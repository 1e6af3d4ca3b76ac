"""The guest side of the VM benchmarks: runs in the chroot of the host's userland.

    vm_guest.py --spawner PATH [--smoke] PART...      PART: capture snapshot_cost selfcpu

Started by bench/vm_init.sh with the procscope module loaded. Prints one
``@@R PART JSON`` line per part for bench/vm.py; figures are raw, the host side
lays them out.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import Context, Hold, count_processes

VM_OBSERVERS = [("lkm @1 s", "lkm", 1.0), ("netlink @1 s", "netlink", 1.0)]


def emit(part: str, data: object) -> None:
    print(f"@@R {part} {json.dumps(data)}", flush=True)


def log(msg: str) -> None:
    print(f"guest: {msg}", flush=True)


def capture(ctx: Context) -> dict:
    import capture as cap

    out = []
    configs = cap.configs(ctx)
    if ctx.smoke:  # one small spawn is enough to prove the path works
        configs = configs[:1]
    for label, mode, n, burst in configs:
        log(f"capture {label}")
        expected, results, spawn_s = cap.spawn_round(ctx, mode, n, burst, VM_OBSERVERS, mode)
        scores = {}
        for lbl, res in results.items():
            s = cap.score(expected, res)
            scores[lbl] = {
                "named": s.named,
                "wrong_name": s.wrong_name,
                "exit_logged": s.exit_logged,
                "lost": s.lost,
                "error": s.error,
            }
        out.append(
            {
                "label": label,
                "n": n,
                "spawned": len(expected),
                "rate": n / spawn_s,
                "scores": scores,
            }
        )
    return {"configs": out}


def _time_ns(fn) -> int:
    t0 = time.perf_counter_ns()
    fn()
    return time.perf_counter_ns() - t0


def _raw_read(path: str) -> int:
    fd = os.open(path, os.O_RDONLY)
    total = 0
    try:
        while chunk := os.read(fd, 256 * 1024):
            total += len(chunk)
    finally:
        os.close(fd)
    return total


def snapshot_cost(ctx: Context) -> dict:
    from procscope.sources.lkm import LkmSource
    from procscope.sources.proc import ProcSource

    sizes = [100] if ctx.smoke else [100, 1000, 10000]
    repeats = 3 if ctx.smoke else 5
    rows = []
    lkm, proc = LkmSource(), ProcSource()
    lkm.open()
    proc.open()
    for target in sizes:
        with Hold(ctx.spawner, max(0, target - count_processes())):
            log(f"snapshot cost at {target}")
            lkm.read()
            proc.read()
            t_lkm, t_raw, t_proc, counts = [], [], [], []
            for _ in range(repeats):
                snaps = []
                t_lkm.append(_time_ns(lambda s=snaps: s.append(lkm.read())))
                t_raw.append(_time_ns(lambda: _raw_read("/proc/procscope/processes")))
                t_proc.append(_time_ns(lambda s=snaps: s.append(proc.read())))
                counts.append((len(snaps[0].processes), len(snaps[1].processes)))
            rows.append(
                {
                    "target": target,
                    "counts": counts,
                    "lkm_ns": t_lkm,
                    "raw_ns": t_raw,
                    "proc_ns": t_proc,
                }
            )
    lkm.close()
    proc.close()
    return {"rows": rows, "repeats": repeats}


def selfcpu(ctx: Context) -> dict:
    import selfcpu as sc

    held, window, slice_s, warm = 2000, 30.0, 5.0, 5.0
    sources = ["lkm"]  # one app: two apps + htop overload 2 TCG vCPUs
    with Hold(ctx.spawner, held), sc.Htop() as htop:
        total = count_processes()
        log(f"selfcpu with {total} processes")
        apps = [sc.AppRun(s) for s in sources]
        try:
            for a in apps:
                a.wait_ready()
            time.sleep(warm)
            pids = {"htop -d 10": htop.pid, "tmux server (htop's terminal)": htop.server_pid}
            pids.update({f"app, {a.spec}": a.pid for a in apps})
            ticks0 = {a.spec: a.ticks for a in apps}
            pct = sc.sample_cpu(pids, window, slice_s)
            ticks = {a.spec: a.ticks - ticks0[a.spec] for a in apps}
        finally:
            for a in apps:
                a.stop()
    return {
        "processes": total,
        "held": held,
        "window": window,
        "slice": slice_s,
        "pct": pct,
        "ticks": ticks,
        "how": apps[0].how,
    }


PARTS = {"capture": capture, "snapshot_cost": snapshot_cost, "selfcpu": selfcpu}


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--spawner", type=Path, required=True)
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("parts", nargs="+", choices=sorted(PARTS))
    args = ap.parse_args()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        ctx = Context(smoke=args.smoke, work=Path(tmp), spawner=args.spawner, log=log)
        for part in args.parts:
            try:
                t = time.perf_counter()
                data = PARTS[part](ctx)
                data["seconds"] = time.perf_counter() - t
                emit(part, data)
            except Exception as exc:
                traceback.print_exc(file=sys.stdout)
                emit(part, {"error": f"{type(exc).__name__}: {exc}"})
    log(f"all parts in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
