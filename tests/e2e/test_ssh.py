"""virtctl ssh and scp into the tiny guest with a key given through accessCredentials
(issue 21): a Secret holds the public half of a fresh ed25519 key, the VM propagates it
by noCloud (virt-controller mounts the Secret into the launcher pod, the launcher puts the
key into the NoCloud meta-data as KubeVirt does, the guest's cloud-init installs it for
root), and the system ssh/scp reach the guest's dropbear through `virtctl port-forward
--stdio=true` (the portforward subresource of virt-api) as their ProxyCommand.

The guest's user-data is a plain script, so the key can only have come from
accessCredentials; a key the Secret does not hold is refused.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.integration.helpers import wait_for
from virtkube.local.cluster import LocalCluster

pytestmark = pytest.mark.e2e

Obj = dict[str, Any]
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "vm-tiny.yaml"
#: Create -> Running, under TCG on a busy 2-core machine.
BOOT_TIMEOUT = 180.0
#: Running -> the guest's dropbear answers (the rest of the boot).
SSH_TIMEOUT = 120.0
#: One ssh or scp run (a ProxyCommand start is a Python start plus a websocket).
RUN_TIMEOUT = 90.0


def keypair(folder: Path, name: str) -> tuple[Path, str]:
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{name}@e2e",
                    "-f", str(key)], check=True, capture_output=True, timeout=30)
    return key, key.with_suffix(".pub").read_text().strip()


def ssh_vm(name: str, secret: str) -> Obj:
    vm: Obj = yaml.safe_load(EXAMPLE.read_text())
    vm["metadata"] = {"name": name, "namespace": "default", "labels": {"app": name}}
    spec = vm["spec"]["template"]["spec"]
    spec["accessCredentials"] = [{"sshPublicKey": {
        "source": {"secret": {"secretName": secret}},
        "propagationMethod": {"noCloud": {}}}}]
    for volume in spec["volumes"]:
        if "cloudInitNoCloud" in volume:
            volume["cloudInitNoCloud"]["userData"] = "#!/bin/sh\necho no keys in here\n"
    return vm


def vmi_phase(cluster: LocalCluster, name: str) -> str | None:
    got = cluster.kubectl("get", "vmi", name, "-n", "default", "-o", "json", check=False)
    if got.returncode != 0:
        return None
    return str(json.loads(got.stdout).get("status", {}).get("phase") or "") or None


def diagnostics(cluster: LocalCluster, name: str) -> str:
    """The VMI's status, the pods and the namespace's recent events, for a failure."""
    out = []
    for argv in (("get", "vmi", name, "-n", "default", "-o", "jsonpath={.status}"),
                 ("get", "pods", "-A", "-o", "wide"),
                 ("get", "events", "-n", "default", "--sort-by=.lastTimestamp")):
        got = cluster.kubectl(*argv, check=False)
        out.append(f"$ kubectl {' '.join(argv)}\n{got.stdout[-3000:]}{got.stderr[-1000:]}")
    return "\n".join(out)


class Virtctl:
    """virtctl ssh/scp with the test's key, known_hosts and batch mode (no prompts)."""

    def __init__(self, cluster: LocalCluster, folder: Path) -> None:
        self.base = [sys.executable, "-m", "virtkube.virtctl", "--kubeconfig",
                     str(cluster.home.admin_kubeconfig)]
        self.opts = ["--known-hosts", str(folder / "known_hosts"),
                     "-t", "-o StrictHostKeyChecking=accept-new", "-t", "-o BatchMode=yes",
                     "-t", "-o ConnectTimeout=30"]

    def run(self, *argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.base, *argv, *self.opts], capture_output=True, text=True,
                              timeout=RUN_TIMEOUT, stdin=subprocess.DEVNULL)


def test_ssh_and_scp_with_a_key_from_access_credentials(
        cluster: LocalCluster, name: str, tmp_path: Path) -> None:
    key, public = keypair(tmp_path, "id_ed25519")
    stranger, _ = keypair(tmp_path, "stranger")
    secret = f"{name}-ssh"
    cluster.kubectl("create", "secret", "generic", secret, "-n", "default",
                    f"--from-literal=key1={public}")
    try:
        cluster.kubectl("apply", "-f", "-", input=json.dumps(ssh_vm(name, secret)))
        try:
            wait_for(f"VMI {name} Running", lambda: vmi_phase(cluster, name) == "Running",
                     timeout=BOOT_TIMEOUT)
        except AssertionError as e:
            raise AssertionError(f"{e}\n{diagnostics(cluster, name)}") from None
        virtctl = Virtctl(cluster, tmp_path)

        # Running comes before the guest's boot ends: ssh until dropbear answers.
        last: list[str] = []

        def answered() -> subprocess.CompletedProcess[str] | None:
            done = virtctl.run("ssh", f"root@vm/{name}", "-i", str(key),
                               "-c", "echo ok-$((40+2))")
            last[:] = [f"exit {done.returncode}: {done.stderr.strip()[-800:]}"]
            return done if done.returncode == 0 else None

        try:
            done = wait_for("virtctl ssh into the guest", answered, timeout=SSH_TIMEOUT,
                            interval=1.0)
        except AssertionError as e:
            raise AssertionError(f"{e}; last ssh: {last}") from None
        assert done.stdout.strip() == "ok-42", done

        # vm/NAME.NAMESPACE and -l name the same guest; the key came from the Secret.
        keys = virtctl.run("ssh", f"vm/{name}.default", "-l", "root", "-i", str(key),
                           "-c", "cat /root/.ssh/authorized_keys")
        assert keys.returncode == 0, keys.stderr
        assert public in keys.stdout.splitlines()

        refused = virtctl.run("ssh", f"root@vm/{name}", "-i", str(stranger), "-c", "true")
        assert refused.returncode == 255, refused
        assert "Permission denied" in refused.stderr

        # scp a random 1 MiB file in and back out.
        data = os.urandom(1 << 20)
        sent, back = tmp_path / "sent.bin", tmp_path / "back.bin"
        sent.write_bytes(data)
        up = virtctl.run("scp", "-i", str(key), str(sent), f"root@vm/{name}:/tmp/blob")
        assert up.returncode == 0, up.stderr
        inside = virtctl.run("ssh", f"root@vm/{name}", "-i", str(key),
                             "-c", "sha256sum /tmp/blob")
        assert inside.stdout.split()[:1] == [hashlib.sha256(data).hexdigest()], inside
        down = virtctl.run("scp", "-i", str(key), f"root@vm/{name}.default:/tmp/blob",
                           str(back))
        assert down.returncode == 0, down.stderr
        assert hashlib.sha256(back.read_bytes()).hexdigest() == hashlib.sha256(data).hexdigest()
    finally:
        cluster.kubectl("delete", "secret", secret, "-n", "default", "--ignore-not-found",
                        check=False)
