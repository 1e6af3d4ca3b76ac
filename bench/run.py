"""Run the benchmarks of issue #5 and write docs/benchmarks.md.

    python bench/run.py --out docs/benchmarks.md     # make bench (under 30 min)
    python bench/run.py --smoke                      # make bench-smoke (under 2 min)
    python bench/run.py --only capture,gui_tick      # some measures only

Two phases. First the host measures, one after another, so none disturbs another:
capture, snapshot cost, GUI tick, self-CPU. Then the VM measures (lkm capture, lkm
read, module overhead: one qemu boot per kernel) while the memory run (10 min of
the app at 1 s) goes on beside them: the guest has its own kernel and the app at
1 s takes a few % of one core, so neither disturbs the other's figures, which are
ratios taken inside one run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import os
import pickle
import platform
import shlex
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    BUILD_DIR,
    ROOT,
    BenchError,
    Context,
    Section,
    Target,
    build_spawner,
    count_processes,
)

HOST = ["capture", "snapshot_cost", "gui_tick", "selfcpu"]
BESIDE_VM = "memory"
ALL = [*HOST, "module_overhead", BESIDE_VM]


def machine() -> list[str]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as fh:
        for line in fh:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    with open("/proc/meminfo") as fh:
        mem_kib = int(fh.readline().split()[1])
    try:
        import psutil

        psv = psutil.__version__
    except ImportError:
        psv = "missing"
    versions = [f"Python {platform.python_version()}", f"psutil {psv}"]
    from importlib import metadata

    for dist in ("PySide6-Essentials", "pyqtgraph", "numpy"):
        try:
            versions.append(f"{dist} {metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{dist} missing")
    htop = _first_line("htop", "--version").split()
    qemu = _first_line("qemu-system-x86_64", "--version")
    return [
        f"- Date: {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC}",
        f"- CPU: {cpu}, {os.cpu_count()} cores (`nproc`), RAM {mem_kib / 1024 / 1024:.1f} GiB",
        f"- Kernel: {platform.release()} ({platform.version()})",
        f"- OS: {_os_release()}",
        f"- Software: {', '.join(versions)}, htop {htop[1] if len(htop) > 1 else '?'}, "
        f"{qemu or 'qemu not installed'}",
        f"- Processes on the host at the start: {count_processes()}; load average at the "
        f"start: {_loadavg()}",
    ]


def _first_line(tool: str, *args: str) -> str:
    """The first line ``tool args`` prints, or '' when the tool is not installed."""
    exe = shutil.which(tool)
    if exe is None:
        return ""
    out = subprocess.run([exe, *args], capture_output=True, text=True).stdout
    return out.splitlines()[0].strip() if out else ""


def _loadavg() -> str:
    with open("/proc/loadavg") as fh:
        return " ".join(fh.read().split()[:3])


def _os_release() -> str:
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                return line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    return "unknown"


def run_one(name: str, ctx: Context, sections: dict[str, Section]) -> None:
    """Run one measure in a child process, so a crash in Qt (or anything) costs only it."""
    mod_title = name
    result = ctx.work / f"result-{name}.pickle"
    cmd = [sys.executable, __file__, "--child", name, "--result", str(result)]
    if ctx.smoke:
        cmd.append("--smoke")
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    if result.exists():
        sec = pickle.loads(result.read_bytes())
        if proc.returncode != 0:
            ctx.log(f"{name}: the child exited {proc.returncode} after writing its result")
            sec.add(f"*(The measuring process then exited with status {proc.returncode}.)*", "")
    else:
        ctx.log(f"{name}: FAILED: the child exited {proc.returncode} with no result")
        sec = Section(name, mod_title)
        sec.add(
            f"**Did not run**: the measuring process exited {proc.returncode} "
            "with no result (its error output is in the log of the run).",
            "",
        )
        sec.targets.append(Target(name, "runs", f"exit status {proc.returncode}", False))
    sec.seconds = time.perf_counter() - t0
    sections[name] = sec
    ctx.log(f"{name}: done in {sec.seconds:.0f} s")


def child(name: str, ctx: Context, result: Path) -> int:
    """The child side of :func:`run_one`: run the measure, pickle its Section."""
    mod = importlib.import_module(name)
    try:
        sec = mod.run(ctx)
    except Exception as exc:
        ctx.log(f"{name}: FAILED: {exc}")
        traceback.print_exc()
        sec = Section(name, getattr(mod, "TITLE", name))
        sec.add(f"**Did not run**: `{type(exc).__name__}: {exc}`", "")
        sec.targets.append(Target(name, "runs", f"failed: {exc}", False))
    result.write_bytes(pickle.dumps(sec))
    sys.stdout.flush()
    sys.stderr.flush()
    # Qt objects are left to die with the process: PySide6 6.12's refcount bugs can
    # abort the interpreter's final garbage collection, after the result is safe.
    os._exit(0)


def run_vm_parts(ctx: Context, names: list[str], sections: dict[str, Section]) -> None:
    import vm

    t0 = time.perf_counter()
    vsec = Section("vm", "7. The VM boot")
    try:
        vm.run(ctx, names, sections, vsec)
    except Exception as exc:
        ctx.log(f"vm: FAILED: {exc}")
        traceback.print_exc()
        vsec.add(f"**The VM part did not run**: `{type(exc).__name__}: {exc}`", "")
        vsec.targets.append(Target("VM part", "runs", f"failed: {exc}", False))
    vsec.seconds = time.perf_counter() - t0
    sections["vm"] = vsec
    ctx.log(f"vm: done in {vsec.seconds:.0f} s")


def render(
    info: list[str],
    sections: dict[str, Section],
    order: list[str],
    argv: list[str],
    wall: float,
    smoke: bool,
) -> str:
    cmd = "make bench-smoke" if smoke else "make bench"
    out = [
        "# Benchmarks",
        "",
        "Generated by `bench/run.py`; do not edit by hand. Every figure below comes from one "
        "run of",
        "",
        "```",
        f"{cmd}    # = .venv/bin/python bench/run.py {shlex.join(argv)}",
        "```",
        "",
        "Figures are medians with [min–max] over repeats unless a row says otherwise; ratios "
        "are taken between figures measured side by side in the same run. One measure "
        "alone: `.venv/bin/python bench/run.py --only NAME` (names: "
        + ", ".join(f"`{n}`" for n in ALL)
        + "); add `--no-vm` to leave qemu out. The scripts are in `bench/` (one module per "
        "measure, `bench/spawner.c` for the processes, `bench/vm.py` + `bench/vm_init.sh` + "
        "`bench/vm_guest.py` for the guest).",
        "",
        "Order of the run: the host measures one after another (capture, snapshot cost, GUI "
        "tick, self-CPU), then one qemu boot for the lkm measures while the 10-minute memory "
        "run goes on beside it.",
        "",
        "## Machine",
        "",
        *info,
        f"- Load average at the end: {_loadavg()} (1, 5, 15 min; other work on the machine "
        "shows here)",
        f"- Wall time of the whole run: {wall / 60:.1f} min",
        "",
        "## Targets",
        "",
        "| target | goal | measured | met |",
        "|---|---|---|---|",
    ]
    for name in order:
        sec = sections.get(name)
        if sec is None:
            continue
        for t in sec.targets:
            met = {True: "yes", False: "**no**", None: "undecided"}[t.met]
            out.append(f"| {t.name} | {t.goal} | {t.measured} | {met} |")
    out.append("")
    for name in order:
        sec = sections.get(name)
        if sec is None:
            continue
        took = [f"*Took {sec.seconds:.0f} s.*", ""] if sec.seconds else []
        out += [f"## {sec.title}", "", *took, *sec.body, ""]
    return "\n".join(out).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny sizes, for CI")
    ap.add_argument("--out", type=Path, help="write the report here (else print it)")
    ap.add_argument("--only", help="comma-separated measures: " + ",".join(ALL))
    ap.add_argument("--no-vm", action="store_true", help="skip every qemu part")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--result", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    names = ALL if not args.only else [n.strip() for n in args.only.split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL]
    if unknown:
        ap.error(f"unknown measure(s) {', '.join(unknown)}; choose from {', '.join(ALL)}")

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    t_start = float(os.environ.setdefault("PROCSCOPE_BENCH_T0", str(time.time())))

    def log(msg: str) -> None:
        print(f"[{time.time() - t_start:6.1f} s] {msg}", file=sys.stderr, flush=True)

    if args.child:
        tmp = os.environ["PROCSCOPE_BENCH_TMP"]
        ctx = Context(smoke=args.smoke, work=Path(tmp), spawner=build_spawner(BUILD_DIR), log=log)
        return child(args.child, ctx, args.result)

    BUILD_DIR.mkdir(parents=True, exist_ok=True)
    info = machine()
    with tempfile.TemporaryDirectory(prefix="procscope-bench-") as tmp:
        try:
            spawner = build_spawner(BUILD_DIR)
        except BenchError as exc:
            print(f"bench: {exc}", file=sys.stderr)
            return 1
        ctx = Context(smoke=args.smoke, work=Path(tmp), spawner=spawner, log=log)
        os.environ["PROCSCOPE_BENCH_TMP"] = tmp  # private app settings live here
        sections: dict[str, Section] = {}
        for name in HOST:
            if name in names:
                run_one(name, ctx, sections)
        vm_names = [
            n for n in ("capture", "snapshot_cost", "selfcpu", "module_overhead") if n in names
        ]
        side = None
        if BESIDE_VM in names:
            side = threading.Thread(target=run_one, args=(BESIDE_VM, ctx, sections))
            side.start()
        if vm_names and not args.no_vm:
            run_vm_parts(ctx, vm_names, sections)
        elif vm_names:
            log("vm: skipped (--no-vm)")
        if side is not None:
            side.join()
    wall = time.time() - t_start
    order = ["capture", "selfcpu", "snapshot_cost", "gui_tick", "module_overhead", BESIDE_VM, "vm"]
    argv_shown = sys.argv[1:] if argv is None else argv
    text = render(info, sections, order, argv_shown, wall, args.smoke)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text)
        log(f"wrote {args.out}")
    else:
        smoke_out = BUILD_DIR / ("smoke.md" if args.smoke else "bench.md")
        smoke_out.write_text(text)
        print(text)
        log(f"also written to {smoke_out.relative_to(ROOT)}")
    log(f"total {wall:.0f} s")
    failed = [t for s in sections.values() for t in s.targets if t.goal == "runs" and not t.met]
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
