"""The delta model: per-interval CPU, rates, top RSS, new/gone, exit log. No Qt."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from procscope.model import Counters, DeltaModel, ExitedProcess, Process, Snapshot
from procscope.model.delta import cpu_percent

S = 1_000_000_000


def proc(pid, cpu_ns=0, *, start_ns=1000, threads=1, rss=4096, ppid=1, comm=None, kthread=False):
    return Process(pid, ppid, 1000, "S", threads, cpu_ns, rss, start_ns, kthread, comm or f"p{pid}")


NO_COUNTERS = Counters()


def snap(t_s, procs, counters=NO_COUNTERS, exited=(), lost=0):
    return Snapshot("test", int(t_s * S), 0.0, counters, tuple(procs), tuple(exited), lost)


def ex(seq, pid=100, code=0):
    return ExitedProcess(seq, pid, 1, 1000, "gone", code, None, 0, S, 5, 4096)


@pytest.mark.parametrize(
    ("prev_cpu", "cur_cpu", "interval", "threads", "expected"),
    [
        (0, S // 2, S, 1, 50.0),  # half a CPU
        (0, S, S, 1, 100.0),
        (0, 3 * S, S, 4, 300.0),  # threads may exceed one CPU
        (0, 9 * S, S, 4, 400.0),  # but never more than 100 x threads
        (0, 2 * S, S, 1, 100.0),  # a single thread caps at 100
        (5 * S, 4 * S, S, 1, 0.0),  # a counter that went back is never negative
        (0, S, 0, 1, 0.0),  # empty interval
        (0, S, -S, 1, 0.0),
    ],
)
def test_cpu_percent_table(prev_cpu, cur_cpu, interval, threads, expected):
    prev = proc(1, prev_cpu, threads=threads)
    cur = proc(1, cur_cpu, threads=threads)
    assert cpu_percent(prev, cur, interval) == pytest.approx(expected)


def test_cpu_percent_zero_on_first_sight():
    assert cpu_percent(None, proc(1, 10 * S), S) == 0.0


def test_reused_pid_is_a_new_process():
    m = DeltaModel()
    m.update(snap(0, [proc(7, 5 * S, start_ns=100)]))
    t = m.update(snap(1, [proc(7, 5 * S + S // 10, start_ns=999)]))  # same PID, new start
    assert t.new_pids == frozenset({7})
    assert t.cpu_percent[7] == 0.0
    assert 7 in t.gone and t.gone[7].start_ns == 100


def test_cpu_over_interval_and_new_and_gone():
    m = DeltaModel()
    t0 = m.update(snap(10, [proc(1, 0), proc(2, S)]))
    assert t0.interval_ns == 0
    assert t0.new_pids == {1, 2}
    assert set(t0.cpu_percent.values()) == {0.0}

    t1 = m.update(snap(12, [proc(1, S // 2), proc(3, 0)]))
    assert t1.interval_ns == 2 * S
    assert t1.cpu_percent[1] == pytest.approx(25.0)
    assert t1.new_pids == {3}
    assert set(t1.gone) == {2}
    assert t1.cpu_percent[3] == 0.0


@given(
    st.lists(
        st.tuples(st.integers(0, 10**12), st.integers(0, 10**12), st.integers(1, 64)),
        min_size=1,
        max_size=20,
    ),
    st.integers(1, 10**10),
)
def test_cpu_percent_bounds(samples, interval):
    for a, b, threads in samples:
        pct = cpu_percent(proc(1, a, threads=threads), proc(1, b, threads=threads), interval)
        assert 0.0 <= pct <= 100.0 * threads


def test_rates_split_processes_and_threads():
    m = DeltaModel()
    m.update(snap(0, [], Counters(forks=10, threads_created=100, exits=5, threads_exited=50)))
    t = m.update(snap(2, [], Counters(forks=30, threads_created=104, exits=25, threads_exited=60)))
    assert t.rates.forks == pytest.approx(10.0)
    assert t.rates.threads_created == pytest.approx(2.0)
    assert t.rates.exits == pytest.approx(10.0)
    assert t.rates.threads_exited == pytest.approx(5.0)
    assert t.rates.tasks_created is None  # this source did not give it


def test_rates_unknown_on_first_snapshot_and_after_counter_reset():
    m = DeltaModel()
    t0 = m.update(snap(0, [], Counters(forks=10)))
    assert t0.rates.forks is None
    t1 = m.update(snap(1, [], Counters(forks=3)))  # module reloaded: counter restarted
    assert t1.rates.forks is None
    t2 = m.update(snap(2, [], Counters(forks=7)))
    assert t2.rates.forks == pytest.approx(4.0)


def test_proc_source_rate_from_tasks_created():
    m = DeltaModel()
    m.update(snap(0, [], Counters(tasks_created=1000)))
    t = m.update(snap(0.5, [], Counters(tasks_created=1100)))
    assert t.rates.tasks_created == pytest.approx(200.0)
    assert t.rates.forks is None and t.rates.exits is None


def test_top_rss_largest_first_and_bounded():
    m = DeltaModel(top_n=3)
    procs = [proc(pid, rss=pid * 1000) for pid in range(1, 50)]
    t = m.update(snap(0, procs))
    assert [p.pid for p in t.top_rss] == [49, 48, 47]


def test_exit_log_newest_first_and_lost_counted():
    m = DeltaModel(exit_log_capacity=3)
    t0 = m.update(snap(0, [], exited=[ex(0), ex(1)], lost=0))
    assert [e.seq for e in t0.exited] == [1, 0]
    t1 = m.update(snap(1, [], exited=[ex(5), ex(6)], lost=3))
    assert t1.lost_total == 3
    assert [e.seq for e in m.exit_log] == [6, 5, 1]
    assert m.exit_log.evicted == 1
    assert m.exit_log.seen == 4
    assert m.exit_log.lost == 3


def test_clock_going_backwards_resets_instead_of_negative_interval():
    m = DeltaModel()
    m.update(snap(10, [proc(1, 0)], Counters(forks=1)))
    t = m.update(snap(5, [proc(1, S)], Counters(forks=2)))
    assert t.interval_ns == 0
    assert t.cpu_percent[1] == 0.0
    assert t.rates.forks is None


def test_tick_is_read_only():
    m = DeltaModel()
    t = m.update(snap(0, [proc(1)]))
    with pytest.raises(TypeError):
        t.processes[2] = proc(2)  # type: ignore[index]
    with pytest.raises(TypeError):
        t.cpu_percent[1] = 5.0  # type: ignore[index]


def test_rows_sorted_by_pid_with_cpu():
    m = DeltaModel()
    m.update(snap(0, [proc(3, 0), proc(1, 0)]))
    t = m.update(snap(1, [proc(3, S // 4), proc(1, 0)]))
    rows = t.rows()
    assert [r.proc.pid for r in rows] == [1, 3]
    assert rows[1].cpu_percent == pytest.approx(25.0)


def test_reset_forgets_previous_snapshot_but_keeps_exit_log():
    m = DeltaModel()
    m.update(snap(0, [proc(1)], exited=[ex(0)]))
    m.reset()
    t = m.update(snap(1, [proc(1, S)]))
    assert t.new_pids == {1}
    assert len(m.exit_log) == 1
