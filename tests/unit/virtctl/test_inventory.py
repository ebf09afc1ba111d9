"""Every command of the virtctl table in the shared KubeVirt API inventory exists in virtctl.

The table is read at test time from the shared inventory (never copied into the repo), so
a command added to the inventory fails here until virtctl has it, implemented or answering
that virtkube does not support it yet.
"""

from __future__ import annotations

import re

import pytest
import typer

from tests.shared import api_inventory
from virtkube.virtctl.cli import app

INVENTORY = api_inventory()
#: Words that are a positional TYPE argument in the table, not a subcommand (`pause vm|vmi
#: NAME`), unless nothing follows them (`create vm`).
KIND_WORDS = {"vm", "vmi", "vmirs", "node"}
WORDS = re.compile(r"^[a-z][a-z-]*(\|[a-z][a-z-]*)*$")


def table_rows(text: str) -> list[str]:
    """The first cells of the table under the `virtctl subcommands` heading."""
    section = text.split("virtctl subcommands", 1)[1].split("\n---", 1)[0]
    return [re.split(r"(?<!\\)\|", line)[1] for line in section.splitlines()
            if line.startswith("| `")]


def command_paths(text: str) -> set[tuple[str, ...]]:
    """(command,) or (command, subcommand) for every backquoted usage in the table."""
    paths: set[tuple[str, ...]] = set()
    for cell in table_rows(text):
        group = None  # `credentials add-ssh-key` / `remove-ssh-key`: siblings of the first
        for usage in re.findall(r"`([^`]+)`", cell):
            tokens = usage.replace("\\|", "|").split()
            if group and len(tokens) == 1:
                paths.add((group, tokens[0]))
                continue
            if len(tokens) > 1 and WORDS.match(tokens[1]):
                alternatives = tokens[1].split("|")
                if not (set(alternatives) <= KIND_WORDS and len(tokens) > 2):
                    paths.update((tokens[0], a) for a in alternatives)
                    group = group or tokens[0]
                    continue
            paths.add((tokens[0],))
    return paths


def test_the_table_parser_reads_kubevirt_usages() -> None:
    text = ("## 3. virtctl subcommands [V]\n\n| command | one line |\n|---|---|\n"
            "| `pause vm\\|vmi NAME` / `unpause vm\\|vmi NAME` | x |\n"
            "| `memory-dump get\\|download\\|remove VM` | x |\n"
            "| `create vm` | x |\n| `vnc screenshot VMI` | x |\n"
            "| `ssh (VM\\|VMI)` / `scp` | x |\n"
            "| `credentials add-ssh-key` / `set-password` | x |\n"
            "| `port-forward type/name[/ns] [proto/]local[:target]…` | x |\n"
            "| `evacuate-cancel (vm\\|vmi NAME \\| node)` | x |\n\n---\n")
    assert command_paths(text) == {
        ("pause",), ("unpause",), ("memory-dump", "get"), ("memory-dump", "download"),
        ("memory-dump", "remove"), ("create", "vm"), ("vnc", "screenshot"),
        ("port-forward",), ("evacuate-cancel",), ("ssh",), ("scp",),
        ("credentials", "add-ssh-key"), ("credentials", "set-password")}


def test_every_inventory_command_exists() -> None:
    if not INVENTORY.exists():
        pytest.skip(f"{INVENTORY} is not on this machine")
    paths = command_paths(INVENTORY.read_text())
    assert len(paths) > 35, sorted(paths)
    root = typer.main.get_command(app)
    missing = []
    for path in sorted(paths):
        command = root
        for word in path:
            command = (getattr(command, "commands", None) or {}).get(word)
            if command is None:
                missing.append(" ".join(path))
                break
    assert not missing, missing
