"""``procscope`` options for the window."""

from __future__ import annotations

import pytest

from procscope.ui.app import parse_args


@pytest.mark.parametrize(
    ("argv", "source", "interval"),
    [([], "auto", None), (["--source", "proc"], "proc", None),
     (["--interval", "2.5", "--source", "dir:/tmp/x"], "dir:/tmp/x", 2.5)],
)
def test_options(argv, source, interval):
    args = parse_args(argv)
    assert (args.source, args.interval) == (source, interval)


@pytest.mark.parametrize(("value", "message"), [("0.1", "0.5 to 10"), ("soon", "not a number")])
def test_a_bad_interval_is_refused_with_a_reason(value, message, capsys):
    with pytest.raises(SystemExit) as exc:
        parse_args(["--interval", value])
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
