"""Module overhead: fork + exit and thread create + join, module loaded vs unloaded.

Measured inside the VM boot (bench/vm.py), by bench/vm_init.sh before any Python
runs: ``ROUNDS`` rounds, each timing ``spawner forkloop FORK_N`` and ``spawner
threadloop THREAD_N`` once with the module unloaded and once loaded, in ABBA order
(odd rounds unloaded first), each after a 0.5 s pause and a 100-iteration warm-up.
The guest prints ``@@O <fork|thread> <loaded|unloaded> <round> <ns>`` lines; this
module turns them into the section. It has no host part: ``--only
module_overhead`` boots the VM for it alone.
"""

from __future__ import annotations

from common import Context, Section, Stats, Target

TITLE = "5. Module overhead (VM)"
OVERHEAD_TARGET_PCT = 2.0


def render(ctx: Context, lines: list[str], sec: Section, kname: str, env: dict) -> None:
    runs: dict[tuple[str, str], dict[int, int]] = {}
    for line in lines:
        w = line.split()
        if len(w) == 5 and w[0] == "@@O" and w[4].isdigit():
            runs.setdefault((w[1], w[2]), {})[int(w[3])] = int(w[4])
    if not runs:
        sec.add("No overhead figures came out of the guest (see the serial log).", "")
        sec.targets.append(
            Target("module overhead (VM)", "runs", "no figures came out of the guest", False)
        )
        return
    sec.add(
        f"One boot of {kname} under qemu TCG (`-cpu max -smp 2 -m 2048`), before any Python "
        f"runs. Each round times `spawner forkloop {env['FORK_N']}` (fork + _exit + waitpid) "
        f"and `spawner threadloop {env['THREAD_N']}` (pthread_create + join) with the module "
        "unloaded and loaded, in ABBA order (odd rounds unloaded first, even rounds loaded "
        f"first), {env['ROUNDS']} rounds. Overhead = loaded / unloaded − 1, per round; the "
        "figure is the median [min–max] over rounds.",
        "",
    )
    rows = []
    for loop, n in (("fork", int(env["FORK_N"])), ("thread", int(env["THREAD_N"]))):
        off = runs.get((loop, "unloaded"), {})
        on = runs.get((loop, "loaded"), {})
        rounds = sorted(off.keys() & on.keys())
        if not rounds:
            continue
        off_us = Stats.of([off[r] / n / 1e3 for r in rounds])
        on_us = Stats.of([on[r] / n / 1e3 for r in rounds])
        pct = Stats.of([100.0 * (on[r] / off[r] - 1) for r in rounds])
        pooled = 100.0 * (sum(on[r] for r in rounds) / sum(off[r] for r in rounds) - 1)
        rows.append(
            [
                f"{loop} loop",
                len(rounds),
                off_us.fmt(2, " µs"),
                on_us.fmt(2, " µs"),
                pct.fmt(2, " %"),
                f"{pct.q1:.2f} – {pct.q3:.2f} %",
                f"{pooled:.2f} %",
            ]
        )
        if not ctx.smoke:
            # Decided only when the middle half of the rounds is on one side of the goal.
            if pct.q3 <= OVERHEAD_TARGET_PCT:
                met = True
            elif pct.q1 > OVERHEAD_TARGET_PCT:
                met = False
            else:
                met = None
            sec.targets.append(
                Target(
                    f"module overhead, {loop} + exit loop (VM)",
                    f"≤ {OVERHEAD_TARGET_PCT:g} %",
                    f"median {pct.median:.2f} %, IQR {pct.q1:.2f} – {pct.q3:.2f} %"
                    + ("" if met is not None else " (the IQR spans the goal: undecided)"),
                    met,
                )
            )
    sec.table(
        [
            "loop",
            "rounds",
            "unloaded, per iteration",
            "loaded, per iteration",
            "overhead per round",
            "overhead IQR",
            "pooled (Σ loaded / Σ unloaded − 1)",
        ],
        rows,
    )
    if not ctx.smoke and any(t.met is not True for t in sec.targets):
        sec.add(
            "Where the target is missed or undecided: the spread comes from the host (qemu's "
            "vCPU threads share 2 host cores with everything else, see the load average "
            "above), and the added work is the two kprobe handlers "
            "(`wake_up_new_task`, `do_exit`) on every fork and exit; a Python profiler "
            "cannot see inside them, and TCG inflates a kprobe's int3 trap (an emulated "
            "exception) far more than plain code, so this figure is an upper bound for "
            "real hardware.",
            "",
        )
