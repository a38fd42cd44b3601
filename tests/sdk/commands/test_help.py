"""Issue 14, scriptability: every command's help is complete and points at documentation a wheel
installs (``python -m pydoc``), never at ``docs/`` files of the repository."""

from __future__ import annotations

import argparse
from collections.abc import Iterator
from typing import Any

import pytest

from modelspan.cli import main


@pytest.mark.parametrize("action", ["setup", "teardown", "roles"])
def test_elastic_actions_describe_themselves(action: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["elastic", action, "--help"])
    lines = capsys.readouterr().out.split("\n\n")
    assert len(lines) > 1 and not lines[1].lstrip().startswith(("options:", "positional"))


def _commands(parser: argparse.ArgumentParser, name: str = "modelspan") -> Iterator[tuple[str, Any, str]]:
    """Every (sub)command below ``parser``: its name, its parser and the help line its parent shows."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            lines = {choice.dest: choice.help or "" for choice in action._choices_actions}
            for command, child in action.choices.items():
                yield f"{name} {command}", child, lines.get(command, "")
                yield from _commands(child, f"{name} {command}")


def test_every_command_has_a_complete_help(capsys: pytest.CaptureFixture[str]) -> None:
    """A help line, a description and help on every option, pointing at nothing a wheel does not install."""
    from modelspan.cli import build_parser

    commands = list(_commands(build_parser()))
    assert len(commands) >= 14
    for name, parser, line in commands:
        assert line and parser.description, name
        undocumented = [a.option_strings or a.dest for a in parser._actions  # sub-commands: checked one by one
                        if not a.help and a.dest != "help" and not isinstance(a, argparse._SubParsersAction)]
        assert not undocumented, (name, undocumented)
        with pytest.raises(SystemExit):
            main([*name.split()[1:], "--help"])
        assert "docs/" not in " ".join(capsys.readouterr().out.split()), name


def test_help_points_at_documentation_a_wheel_has(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["analyze", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "docs/" not in text and "python -m pydoc modelspan.commands.analyze" in text
