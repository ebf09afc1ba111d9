"""`virtctl --help` and every command's --help answer, with exit code 0 and no traceback.

Help once went through rich markup, where a bracket such as `[/NS]` is a closing tag
(issue 21): a help text that trips anything fails here, not in a user's shell. The tree is
walked from the typer app itself, so a command added later is covered without a list.
"""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from virtkube.virtctl.cli import app


def _paths(command: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command path of the click tree typer builds (a group has `commands`)."""
    found = [prefix]
    for name, sub in sorted((getattr(command, "commands", None) or {}).items()):
        found += _paths(sub, (*prefix, name))
    return found


PATHS = _paths(typer.main.get_command(app))


def test_every_verb_group_is_there() -> None:
    names = {p[0] for p in PATHS if p}
    assert {"start", "stop", "restart", "migrate", "pause", "unpause", "soft-reboot",
            "softreboot", "guestosinfo", "console", "vnc", "port-forward", "ssh", "scp",
            "expose", "version", "create", "options", "completion", "adm"} <= names
    assert {("create", "vm"), ("vnc", "screenshot"), ("adm", "log-verbosity")} <= set(PATHS)


@pytest.mark.parametrize("path", PATHS, ids=[" ".join(p) or "virtctl" for p in PATHS])
def test_help_answers(path: tuple[str, ...]) -> None:
    result = CliRunner().invoke(app, [*path, "--help"], prog_name="virtctl")
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        f"{result.exception!r}\n{result.output}")
    assert result.exit_code == 0, result.output
    assert "Traceback" not in result.output, result.output
    usage = result.output.splitlines()[0]
    assert usage.startswith(" ".join(("Usage: virtctl", *path))), usage


def test_bare_virtctl_prints_help_through_the_real_entry_point() -> None:
    """What a new user types first, run the way the installed script runs it."""
    done = subprocess.run([sys.executable, "-m", "virtkube.virtctl"], capture_output=True,
                          text=True, timeout=60)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    assert "Usage: virtctl" in done.stdout + done.stderr
    assert "port-forward" in done.stdout + done.stderr
