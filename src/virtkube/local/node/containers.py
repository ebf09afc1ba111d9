"""Starting container shims and watching them, whether this node process started them or
adopted them after a restart (see shim.py for what a shim does and why it exists).

A container attempt is a run dir, `pods/<uid>/containers/<name>/<attempt>/`, so the restart
count, the previous attempt's log and exit, and the current process are all on disk.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from virtkube.local.procs import alive, cmdline


@dataclass(frozen=True)
class Mount:
    source: str
    target: str
    readonly: bool = False


@dataclass(frozen=True)
class ContainerSpec:
    """What the shim needs; written as spec.json in the run dir."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    netns: str
    hostname: str
    mounts: list[Mount] = field(default_factory=list)
    cgroups: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"argv": self.argv, "env": self.env, "cwd": self.cwd, "netns": self.netns,
                "hostname": self.hostname, "cgroups": self.cgroups,
                "mounts": [{"source": m.source, "target": m.target, "readonly": m.readonly}
                           for m in self.mounts]}


def container_dir(pod_dir: Path, name: str) -> Path:
    return pod_dir / "containers" / name


def attempts(pod_dir: Path, name: str) -> list[int]:
    """The attempt numbers of a container so far, ascending (0 is the first start)."""
    d = container_dir(pod_dir, name)
    if not d.is_dir():
        return []
    return sorted(int(p.name) for p in d.iterdir() if p.name.isdigit())


def read_state(run_dir: Path) -> dict[str, Any]:
    try:
        state: dict[str, Any] = json.loads((run_dir / "state.json").read_text())
        return state
    except (OSError, ValueError):
        return {}


class ContainerProcess:
    """One attempt of one container: its shim (a child of ours, or adopted) and its files."""

    def __init__(self, run_dir: Path, shim_pid: int,
                 popen: subprocess.Popen[bytes] | None = None) -> None:
        self.run_dir = run_dir
        self.shim_pid = shim_pid
        self._popen = popen

    @property
    def attempt(self) -> int:
        return int(self.run_dir.name)

    @property
    def log_path(self) -> Path:
        return self.run_dir / "output.log"

    def state(self) -> dict[str, Any]:
        return read_state(self.run_dir)

    def shim_alive(self) -> bool:
        if self._popen is not None:
            return self._popen.poll() is None
        return alive(self.shim_pid) and str(self.run_dir) in cmdline(self.shim_pid)

    def exit_state(self) -> dict[str, Any] | None:
        """None while running; else the shim's record of the exit (or an unknown exit when
        the shim itself was killed before it could write one)."""
        if self.shim_alive():
            return None
        state = self.state()
        if "exitCode" in state:
            return state
        return {**state, "exitCode": 137, "reason": "ContainerStatusUnknown",
                "message": "The container could not be located when the pod was terminated",
                "finishedAt": state.get("startedAt")}

    def signal(self, sig: int) -> None:
        if self.shim_alive():
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.shim_pid, sig)

    def kill(self) -> None:
        """SIGKILL the shim's whole process group (the container is in it, and dies with
        the shim anyway through PDEATHSIG)."""
        if self.shim_alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.shim_pid, signal.SIGKILL)


def start(pod_dir: Path, name: str, attempt: int, spec: ContainerSpec) -> ContainerProcess:
    run_dir = container_dir(pod_dir, name) / str(attempt)
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "spec.json").write_text(json.dumps(spec.to_json()) + "\n")
    with (run_dir / "shim.log").open("ab") as log:
        popen = subprocess.Popen(
            [sys.executable, "-m", "virtkube.local.node.shim", str(run_dir)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True, close_fds=True)
    (run_dir / "shim.pid").write_text(f"{popen.pid}\n")
    return ContainerProcess(run_dir, popen.pid, popen)


def adopt(run_dir: Path) -> ContainerProcess | None:
    """The attempt at `run_dir` as a handle, if its shim ever started."""
    try:
        pid = int((run_dir / "shim.pid").read_text())
    except (OSError, ValueError):
        return None
    return ContainerProcess(run_dir, pid)
