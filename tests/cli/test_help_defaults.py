"""Every command's ``--help`` shows the default of every option that has one (issue 26)."""

from __future__ import annotations

import argparse

import pytest

from ran_edge.cli.common import render_default, shows_default
from ran_edge.cli.main import COMMANDS, build_parser


def _subparsers(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_every_command_is_walked():
    assert set(_subparsers(build_parser())) == set(COMMANDS)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_shows_every_non_none_default(command, monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")  # one line per option: a default is never split by wrapping
    sub = _subparsers(build_parser())[command]
    text = " ".join(sub.format_help().split())
    for action in sub._actions:
        if not shows_default(action):
            continue
        block = " ".join(sub._get_formatter()._format_action(action).split())  # this option's lines of --help
        value = render_default(action.default)
        assert "default" in block.lower() and value in block, f"{command}: default {value!r} not shown in {block!r}"
        assert block in text


def test_bench_out_default_is_visible(monkeypatch):
    monkeypatch.setenv("COLUMNS", "400")
    text = _subparsers(build_parser())["bench"].format_help()
    assert "(default: bench-out)" in text and "--force" in text
