"""Issue 24 class 2: every count and size option has a documented bound (docs/bounds.md), checked at parse time.

The walker is built from the argparse parsers themselves: a new integer or number option without a row in
``ran_edge/bounds.py`` fails :func:`test_every_numeric_option_has_a_bound`, and every row is tried with absurd
values, each of which must exit 1 with one line naming the option, before any work.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Dict, List, Tuple

import pytest

from ran_edge import bounds
from ran_edge.bounds import Kind
from tests.hostile.helpers import assert_one_line_failure, run_cli

ROOT = Path(__file__).resolve().parents[2]


def _subparsers() -> Dict[str, argparse.ArgumentParser]:
    from ran_edge.cli.main import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(sub.choices)


def _options() -> List[Tuple[str, argparse.Action]]:
    return [(name, a) for name, p in _subparsers().items() for a in p._actions
            if a.option_strings and a.nargs != 0 and not isinstance(a, (argparse._HelpAction, argparse._VersionAction))]


def _inner(action: argparse.Action):
    return getattr(action.type, "inner", action.type)


def test_every_numeric_option_has_a_bound():
    missing = [f"{c} {a.option_strings[-1]}" for c, a in _options()
               if _inner(a) in (int, float) and not hasattr(a.type, "bound")]
    assert not missing, f"options without a row in ran_edge/bounds.py: {missing}"


def test_every_row_names_an_existing_option():
    flags = {(c, f) for c, a in _options() for f in a.option_strings}
    stale = [k for k in bounds.bounded_options() if k not in flags]
    assert not stale, stale


def test_docs_table_is_the_code_table():
    text = (ROOT / "docs" / "bounds.md").read_text()
    assert bounds.markdown_table() in text, "docs/bounds.md is out of date: paste ran_edge.bounds.markdown_table()"


def _absurd(bound: bounds.Bound) -> List[str]:
    hi, lo = int(bound.high), int(bound.low)
    if bound.kind is Kind.INT:
        return [str(hi + 1), str(lo - 1), "1000000000000", "-1000000000000"]
    if bound.kind is Kind.FLOAT:
        out = [repr(bound.high * 10 + 1), "1e300", "nan", "inf", "-inf", "-1"]
        return out + (["0"] if bound.low_open else [])
    if bound.kind is Kind.INT_LIST:
        return [f"1,{hi + 1}", "1,8,1000000000000", "0", "-4"]
    return ["synthetic:n_train=1000000000000", "synthetic:n_test=0", "synthetic:size=100000", "synthetic:seed=99999999999"]


CASES = [(c, o, v) for (c, o), b in bounds.bounded_options().items() for v in _absurd(b)]


@pytest.mark.parametrize("command,option,value", CASES, ids=[f"{c} {o} {v}" for c, o, v in CASES])
def test_absurd_value_exits_1_with_one_line(command, option, value, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # nothing may be written anywhere: checked below
    code, err = run_cli([command, f"{option}={value}"], capsys)
    assert_one_line_failure(code, err, option)
    assert re.search(r"expected", err[0]), err
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("command,option", [(c, o) for (c, o), b in bounds.bounded_options().items()])
def test_bounds_themselves_are_accepted(command, option):
    """The ends of each range parse (a bound must not refuse the documented values)."""
    bound = bounds.BOUNDS[command][option]
    p = _subparsers()[command]
    action = next(a for a in p._actions if option in a.option_strings)
    if bound.kind is Kind.DATA:
        values = ["synthetic", "synthetic:n_train=1000000,size=8"]
    elif bound.kind is Kind.INT_LIST:
        values = [f"{int(bound.low)},{int(bound.high)}"]
    elif bound.kind is Kind.INT:
        values = [str(int(bound.low)), str(int(bound.high))]
    else:
        values = [repr(bound.high)] + ([] if bound.low_open else [repr(bound.low)])
    for v in values:
        if option == "--batch" and command == "build-engine":
            v = f"{int(bound.low)},{int(bound.low)},{int(bound.high)}"
        action.type(v)


def test_synthetic_spec_bounds_hold_for_library_callers():
    from ran_edge.data.spec import parse_data_spec
    from ran_edge.errors import RanEdgeError

    with pytest.raises(RanEdgeError, match="n_train"):
        parse_data_spec("synthetic:n_train=1000000000000")
    assert parse_data_spec("synthetic:n_train=8,size=32").options["n_train"] == "8"
