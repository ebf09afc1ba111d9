"""The parent of one container process: `python -m virtkube.local.node.shim <run-dir>`.

Like conmon for CRI-O, a shim per container is what lets containers outlive the node
process: it runs in its own session (not a PDEATHSIG child of the node), so a node killed
with SIGKILL and restarted finds its containers still running and adopts them from the
files the shim keeps in its run dir:

  spec.json   written by the node: argv, env, cwd, netns, hostname, mounts, cgroups
  state.json  written here: the container's pid and start time, then its exit
  output.log  the container's stdout and stderr in the CRI log format the kubelet uses
              ("<RFC3339Nano> stdout|stderr F <line>"), which the log server reads

The shim enters the pod's netns, makes its own mount and UTS namespaces (the pod's volumes
bind-mounted at their mountPaths, the pod's hostname), joins the container's cgroups, and
only then starts the container, which dies with it (PR_SET_PDEATHSIG). Signals it gets
(SIGTERM from the node at deletion) go on to the container. Its argv names the run dir, which
lies under the cluster's home, so `virtkube down` finds it like every other process.

Standard library only: it starts for every container and must start fast.
"""

from __future__ import annotations

import contextlib
import ctypes
import datetime as dt
import errno
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWNET = 0x40000000
MS_RDONLY = 1
MS_REMOUNT = 32
MS_BIND = 4096
MS_REC = 16384
MS_PRIVATE = 1 << 18
PR_SET_PDEATHSIG = 1

_libc = ctypes.CDLL(None, use_errno=True)


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check(rc: int, what: str) -> None:
    if rc != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def enter_netns(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        _check(_libc.setns(fd, CLONE_NEWNET), f"setns({path})")
    finally:
        os.close(fd)


def mount(source: str, target: str, flags: int) -> None:
    _check(_libc.mount(source.encode(), target.encode(), None, flags, None),
           f"mount {source} on {target}")


def make_namespaces(hostname: str, mounts: list[dict[str, Any]]) -> None:
    _check(_libc.unshare(CLONE_NEWNS | CLONE_NEWUTS), "unshare(mount, uts)")
    # Private from here on: nothing mounted in the pod propagates to the host.
    mount("none", "/", MS_REC | MS_PRIVATE)
    name = hostname.encode()
    _check(_libc.sethostname(name, len(name)), "sethostname")
    mounted: list[str] = []
    for m in mounts:
        _ensure_target(m["source"], m["target"], mounted)
        mount(m["source"], m["target"], MS_BIND | MS_REC)
        if m.get("readonly"):
            mount("none", m["target"], MS_BIND | MS_REMOUNT | MS_RDONLY)
        mounted.append(m["target"])


def _ensure_target(source: str, target: str, mounted: list[str]) -> None:
    """Make a mount target that an earlier mount hid, as runc does: a volume mounted inside
    another (a PVC at /var/run/kubevirt-private/vmi-disks/x inside the emptyDir at
    /var/run/kubevirt-private) needs its folder in that volume. Only there: the stand-in's
    containers share the host's file system, and a target outside the pod's own volumes
    would be made on the host (and left behind)."""
    if os.path.lexists(target):
        return
    if not any(target.startswith(t.rstrip("/") + "/") for t in mounted):
        raise OSError(errno.ENOENT, "mount target is missing and no volume of the pod holds it",
                      target)
    if os.path.isdir(source):
        os.makedirs(target, exist_ok=True)
    else:
        os.makedirs(os.path.dirname(target), exist_ok=True)
        with open(target, "a"):
            pass


def write_state(path: Path, state: dict[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(state) + "\n")
    tmp.replace(path)


def _pdeathsig() -> None:
    _check(_libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0), "prctl")


def _pump(stream: IO[bytes], name: str, out: IO[bytes], lock: threading.Lock) -> None:
    for line in iter(stream.readline, b""):
        tag = b"F" if line.endswith(b"\n") else b"P"
        text = line.rstrip(b"\n")
        with lock:
            out.write(now().encode() + b" " + name.encode() + b" " + tag + b" " + text + b"\n")
            out.flush()


def run(run_dir: Path) -> int:
    spec = json.loads((run_dir / "spec.json").read_text())
    state_path = run_dir / "state.json"
    state: dict[str, Any] = {"shimPid": os.getpid()}
    try:
        enter_netns(spec["netns"])
        make_namespaces(spec["hostname"], spec["mounts"])
        for cg in spec.get("cgroups") or []:
            Path(cg, "cgroup.procs").write_text(f"{os.getpid()}\n")
        out = (run_dir / "output.log").open("ab")
        proc = subprocess.Popen(
            spec["argv"], env=spec["env"], cwd=spec["cwd"], stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=_pdeathsig)
    except (OSError, subprocess.SubprocessError, KeyError, ValueError) as e:
        state.update(exitCode=128, reason="StartError", message=str(e), startedAt=now(),
                     finishedAt=now())
        write_state(state_path, state)
        return 128
    state.update(pid=proc.pid, startedAt=now())
    write_state(state_path, state)

    def forward(signum: int, _frame: object) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signum)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, forward)
    lock = threading.Lock()
    assert proc.stdout is not None and proc.stderr is not None
    pumps = [threading.Thread(target=_pump, args=(s, n, out, lock), daemon=True)
             for s, n in ((proc.stdout, "stdout"), (proc.stderr, "stderr"))]
    for t in pumps:
        t.start()
    code = proc.wait()
    for t in pumps:
        t.join(2.0)
    exit_code = 128 - code if code < 0 else code
    state.update(exitCode=exit_code, finishedAt=now(),
                 reason="Completed" if exit_code == 0 else "Error")
    if code < 0:
        state["signal"] = -code
    write_state(state_path, state)
    return 0


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print("usage: python -m virtkube.local.node.shim <run-dir>", file=sys.stderr)
        return 2
    return run(Path(argv[0]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
