"""The one parent of every process of the local cluster.

`virtkube up` starts this process detached; it starts the components in
order, restarts one that dies (with back-off), and on SIGTERM stops them in
reverse order. Its children die with it (PR_SET_PDEATHSIG), so even a SIGKILL
of the supervisor leaves nothing running. A lock on the pidfile makes it the
only supervisor of its state folder; `virtkube down` waits for that lock.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from virtkube.local import apiclient, registry
from virtkube.local import components as comps
from virtkube.local.certs import ClusterPKI
from virtkube.local.config import ClusterConfig
from virtkube.local.paths import Home, controlplane_binary
from virtkube.local.procs import die_with_parent

log = logging.getLogger("virtkube.supervisor")

#: Restart back-off: doubles from the first value up to the second.
BACKOFF_INITIAL, BACKOFF_MAX = 1.0, 30.0
#: How long a component gets between SIGTERM and SIGKILL at shutdown.
STOP_GRACE = 15.0
#: A component that ran this long before dying gets its back-off reset.
STABLE_AFTER = 60.0


@dataclass
class Child:
    component: comps.Component
    log_path: Path
    proc: subprocess.Popen[bytes] | None = None
    started_at: float = 0.0
    restarts: int = 0
    backoff: float = BACKOFF_INITIAL
    next_start: float = 0.0
    last_exit: int | None = None
    _log: IO[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        if self._log is None:
            self._log = self.log_path.open("ab")
        self._log.write(f"--- virtkube: starting {self.component.name} ---\n".encode())
        self._log.flush()
        self.proc = subprocess.Popen(
            self.component.argv,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )
        self.started_at = time.monotonic()
        log.info("started %s pid %d", self.component.name, self.proc.pid)

    def close(self) -> None:
        if self._log is not None:
            self._log.close()
            self._log = None


def wait_tcp(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def wait_ready(cfg: ClusterConfig, home: Home, timeout: float,
               cancelled: Callable[[], bool]) -> bool:
    pki = ClusterPKI(home.pki)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not cancelled():
        reply = apiclient.readyz(cfg, pki)
        if reply is not None and reply.status == 200:
            return True
        time.sleep(0.1)
    return False


def seed_registry(cfg: ClusterConfig) -> None:
    """Push the images `make images` built into the local registry; quick when they are
    there already (the registry's storage outlives a restart)."""
    url = registry.url(registry.port_of(cfg))
    try:
        registry.wait_ready(url, timeout=30.0)
        started = time.monotonic()
        stats = registry.seed(url, registry.seed_list())
    except registry.RegistryError as e:
        log.error("seeding the local registry failed: %s", e)
        return
    log.info("registry seeded in %.1fs: %s", time.monotonic() - started, stats)


class Supervisor:
    def __init__(self, home: Home, components: list[comps.Component]) -> None:
        self.home = home
        self.children = [Child(c, home.log_for(c.name)) for c in components]
        self.stopping = False

    def write_state(self) -> None:
        state = {
            "supervisor": os.getpid(),
            "components": {
                c.component.name: {
                    "pid": c.proc.pid if c.proc and c.proc.poll() is None else None,
                    "restarts": c.restarts,
                    "lastExit": c.last_exit,
                }
                for c in self.children
            },
        }
        tmp = self.home.supervisor_state.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2) + "\n")
        tmp.replace(self.home.supervisor_state)

    def start_all(self, cfg: ClusterConfig) -> None:
        for child in self.children:
            if self.stopping:
                return
            child.start()
            # The API server retries etcd anyway, but starting it against a
            # listening etcd saves its first back-off.
            if child.component.name == "etcd":
                wait_tcp(cfg.listen_address, cfg.ports.etcd_client, 30.0)
            # Controllers started before the RBAC bootstrap roles exist fail
            # their first authorisation and exit; let them find a ready server.
            if child.component.name == "kube-apiserver":
                wait_ready(cfg, self.home, 120.0, lambda: self.stopping)
            # The nodes' pod sandboxes and every image come from the registry.
            if child.component.name == registry.NAME:
                seed_registry(cfg)
        self.write_state()

    def reap(self) -> None:
        now = time.monotonic()
        changed = False
        for child in self.children:
            proc = child.proc
            if proc is not None and proc.poll() is not None:
                child.last_exit = proc.returncode
                child.proc = None
                if now - child.started_at > STABLE_AFTER:
                    child.backoff = BACKOFF_INITIAL
                child.next_start = now + child.backoff
                log.warning("%s exited with %s; restarting in %.0fs (see %s)",
                            child.component.name, proc.returncode, child.backoff, child.log_path)
                child.backoff = min(child.backoff * 2, BACKOFF_MAX)
                changed = True
            if child.proc is None and child.next_start and now >= child.next_start:
                child.restarts += 1
                child.next_start = 0.0
                child.start()
                changed = True
        if changed:
            self.write_state()

    def stop_all(self) -> None:
        for child in reversed(self.children):
            proc = child.proc
            if proc is None or proc.poll() is not None:
                child.close()
                continue
            log.info("stopping %s pid %d", child.component.name, proc.pid)
            proc.terminate()
            try:
                proc.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                log.warning("%s ignored SIGTERM for %.0fs; killing", child.component.name,
                            STOP_GRACE)
                proc.kill()
                proc.wait()
            child.close()
        self.home.supervisor_state.unlink(missing_ok=True)

    def _on_signal(self, signum: int, _frame: object) -> None:
        log.info("received %s", signal.Signals(signum).name)
        self.stopping = True

    def run(self, cfg: ClusterConfig) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        try:
            self.start_all(cfg)
            while not self.stopping:
                self.reap()
                time.sleep(0.2)
        finally:
            self.stop_all()
        return 0


def lock_pidfile(path: Path) -> IO[str] | None:
    """Take the supervisor lock; None when another supervisor holds it."""
    f = path.open("a+")
    try:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return None
    f.seek(0)
    f.truncate()
    f.write(f"{os.getpid()}\n")
    f.flush()
    return f


def supervisor_pid(home: Home) -> int | None:
    """The pid of the running supervisor of `home`, or None when none holds the lock."""
    path = home.supervisor_pidfile
    if not path.exists():
        return None
    with path.open("r") as f:
        try:
            fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = f.read().strip()
            return int(text) if text.isdigit() else None
        fcntl.flock(f, fcntl.LOCK_UN)
        return None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="virtkube-supervisor")
    parser.add_argument("--home", required=True, type=Path)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    home = Home(args.home.resolve())
    home.ensure()
    lock = lock_pidfile(home.supervisor_pidfile)
    if lock is None:
        log.error("another supervisor already runs for %s", home.root)
        return 1
    cfg = ClusterConfig.load(home.config)
    components = comps.all_components(cfg, home, controlplane_binary(), sys.executable)
    try:
        return Supervisor(home, components).run(cfg)
    finally:
        home.supervisor_pidfile.unlink(missing_ok=True)
        lock.close()


if __name__ == "__main__":
    sys.exit(main())
