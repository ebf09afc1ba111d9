"""The tiny test guest from ``make guest-images`` boots under QEMU (TCG) and behaves.

Checks what later tests rely on: the login prompt with the cloud-init hostname, user-data
output on the serial console, DHCP on a virtio NIC, the boot marker, and a clean power-off
on the ACPI power button (``system_powerdown``). Booted from the raw disk (syslinux) on
virtio and SATA, and directly from the uncompressed kernel with a ConfigDrive.
"""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from images.paths import images_dir

pytestmark = pytest.mark.e2e

QEMU = "qemu-system-x86_64"
#: Generous for a loaded CI machine; a quiet one reaches the prompt in ~8 s (disk) or
#: ~3 s (kernel boot).
BOOT_DEADLINE = 60.0
#: busybox init waits 1 s after SIGTERM and 1 s after SIGKILL before powering off.
POWEROFF_DEADLINE = 15.0
MARKER = re.compile(r"virtkube-tiny-guest booted boot_id=([0-9a-f-]{36})")
USERDATA_LINE = "printed from cloud-init userdata"


def _images() -> Path:
    d = images_dir()
    if not (d / "manifest.json").exists():
        pytest.skip(f"no guest images in {d}: run `make guest-images`")
    if shutil.which(QEMU) is None:
        pytest.skip(f"{QEMU} is not installed (apt package qemu-system-x86)")
    return d


def _iso(path: Path, label: str, files: dict[str, bytes]) -> Path:
    """A read-only config disk (Rock Ridge + Joliet, so names keep their case)."""
    import pycdlib

    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident=label)
    dirs: set[str] = set()
    for name, data in sorted(files.items()):
        parts = name.split("/")
        for i in range(1, len(parts)):
            d = "/".join(parts[:i])
            if d not in dirs:
                dirs.add(d)
                iso.add_directory(
                    "/" + d.upper().replace("-", "_").replace(".", "_"),
                    rr_name=parts[i - 1],
                    joliet_path="/" + d,
                )
        iso_name = "/" + "/".join(p.upper().replace("-", "_").replace(".", "_") for p in parts)
        iso.add_fp(
            io.BytesIO(data),
            len(data),
            iso_name + ".;1",
            rr_name=parts[-1],
            joliet_path="/" + name,
        )
    iso.write(str(path))
    iso.close()
    return path


class Guest:
    """One QEMU process: serial console on stdio, QMP on a unix socket."""

    def __init__(self, argv: list[str], qmp_path: Path) -> None:
        self.argv = argv
        self.qmp_path = qmp_path
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self._out = bytearray()
        self._cond = threading.Condition()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        while chunk := os.read(self.proc.stdout.fileno(), 4096):
            with self._cond:
                self._out += chunk
                self._cond.notify_all()
        with self._cond:
            self._cond.notify_all()

    @property
    def console(self) -> str:
        with self._cond:
            return self._out.decode(errors="replace").replace("\r", "")

    def wait_for(self, pattern: str | re.Pattern[str], timeout: float) -> re.Match[str]:
        """Wait until the console matches ``pattern``; fail with what it showed."""
        rx = re.compile(re.escape(pattern)) if isinstance(pattern, str) else pattern
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                match = rx.search(self._out.decode(errors="replace").replace("\r", ""))
                if match:
                    return match
                left = deadline - time.monotonic()
                if left <= 0 or (self.proc.poll() is not None and not self._reader.is_alive()):
                    break
                self._cond.wait(min(left, 0.5))
        rc = self.proc.poll()
        state = "running" if rc is None else f"exited with {rc}"
        raise AssertionError(
            f"waited {timeout:.0f}s for {rx.pattern!r} on the serial console; qemu {state}"
            f"\nargv: {' '.join(self.argv)}\nlast console output:\n{self.console[-2000:]}"
        )

    def qmp(self, command: str) -> dict[str, Any]:
        with socket.socket(socket.AF_UNIX) as sock:
            sock.settimeout(10)
            sock.connect(str(self.qmp_path))
            f = sock.makefile("rwb")
            json.loads(f.readline())  # greeting
            for cmd in ("qmp_capabilities", command):
                f.write(json.dumps({"execute": cmd}).encode() + b"\n")
                f.flush()
                while True:  # skip asynchronous events
                    reply: dict[str, Any] = json.loads(f.readline())
                    if "return" in reply or "error" in reply:
                        break
                if "error" in reply:
                    raise AssertionError(f"QMP {cmd} failed: {reply['error']}")
            return reply

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError(
                f"qemu still running {timeout:.0f}s after system_powerdown; "
                f"last console output:\n{self.console[-2000:]}"
            ) from None

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        self._reader.join(5)
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream is not None:
                stream.close()


def _base_argv(qmp: Path) -> list[str]:
    return [
        QEMU,
        "-machine", "q35",
        "-accel", "tcg",
        "-m", "256",
        "-smp", "1",
        "-nodefaults",
        "-no-user-config",
        "-display", "none",
        "-serial", "stdio",
        "-qmp", f"unix:{qmp},server=on,wait=off",
        # QEMU's user-mode network: its DHCP answers the guest only, nothing leaves.
        "-nic", "user,model=virtio-net-pci",
    ]  # fmt: skip


@pytest.fixture
def run_guest(tmp_path: Path) -> Iterator[Any]:
    guests: list[Guest] = []

    def start(extra: list[str]) -> Guest:
        qmp = tmp_path / f"qmp{len(guests)}.sock"
        guest = Guest([*_base_argv(qmp), *extra], qmp)
        guests.append(guest)
        return guest

    yield start
    for guest in guests:
        guest.kill()


def _power_off(guest: Guest) -> None:
    guest.qmp("system_powerdown")
    guest.wait_for("power button pressed", POWEROFF_DEADLINE)
    assert guest.wait_exit(POWEROFF_DEADLINE) == 0


@pytest.mark.parametrize("bus", ["virtio", "sata"])
def test_raw_disk_boots_with_nocloud(bus: str, tmp_path: Path, run_guest: Any) -> None:
    images = _images()
    seed = _iso(
        tmp_path / "seed.iso",
        "cidata",
        {
            "meta-data": b"instance-id: iid-tiny-1\nlocal-hostname: tinyvm\n",
            "user-data": f"#!/bin/sh\necho {USERDATA_LINE}\n".encode(),
        },
    )
    disk = f"file={images / 'tiny.raw'},format=raw,snapshot=on"
    cdrom = f"file={seed},format=raw,readonly=on"
    if bus == "virtio":
        drives = ["-drive", f"{disk},if=virtio", "-drive", f"{cdrom},if=virtio"]
    else:  # q35's built-in AHCI controller
        drives = [
            "-drive", f"{disk},if=none,id=d0", "-device", "ide-hd,drive=d0,bus=ide.0",
            "-drive", f"{cdrom},if=none,id=cd", "-device", "ide-cd,drive=cd,bus=ide.1",
        ]  # fmt: skip
    guest = run_guest(drives)

    guest.wait_for(USERDATA_LINE, BOOT_DEADLINE)
    guest.wait_for(MARKER, BOOT_DEADLINE)
    guest.wait_for("tinyvm login:", BOOT_DEADLINE)
    assert "instance-id=iid-tiny-1" in guest.console
    _power_off(guest)


def test_kernel_boot_with_configdrive_and_dhcp(tmp_path: Path, run_guest: Any) -> None:
    images = _images()
    manifest = json.loads((images / "manifest.json").read_text())
    drive = _iso(
        tmp_path / "config-2.iso",
        "config-2",
        {
            "openstack/latest/meta_data.json": json.dumps(
                {"uuid": "c0ffee00-0000-4000-8000-000000000001", "hostname": "kernvm"}
            ).encode(),
            "openstack/latest/user_data": b"#!/bin/sh\necho configdrive says $(hostname)\n",
        },
    )
    kernel_boot = [
        "-kernel", str(images / "tiny-kernel" / "vmlinux"),
        "-initrd", str(images / "tiny-kernel" / "initramfs.gz"),
        "-append", manifest["kernelCmdline"],
        "-drive", f"file={drive},format=raw,if=virtio,readonly=on",
    ]  # fmt: skip
    guest = run_guest(kernel_boot)

    # QEMU's slirp DHCP hands out 10.0.2.15 with the gateway 10.0.2.2.
    guest.wait_for("net: eth0 10.0.2.15/24 router=10.0.2.2", BOOT_DEADLINE)
    guest.wait_for("configdrive says kernvm", BOOT_DEADLINE)
    boot_id = guest.wait_for(MARKER, BOOT_DEADLINE).group(1)
    guest.wait_for("kernvm login:", BOOT_DEADLINE)

    # root has no password; the shell sees the same boot.
    assert guest.proc.stdin is not None
    guest.proc.stdin.write(b"root\n")
    guest.proc.stdin.flush()
    guest.wait_for("kernvm:", BOOT_DEADLINE)
    guest.proc.stdin.write(b"cat /proc/sys/kernel/random/boot_id; which httpd nc wget\n")
    guest.proc.stdin.flush()
    guest.wait_for(re.compile(rf"\n{boot_id}\n"), BOOT_DEADLINE)
    guest.wait_for("/usr/bin/wget", BOOT_DEADLINE)
    _power_off(guest)


def _keypair(folder: Path, name: str) -> tuple[Path, str]:
    key = folder / name
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", name, "-f", str(key)],
                   check=True, capture_output=True, timeout=30)
    return key, key.with_suffix(".pub").read_text().strip()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def test_ssh_keys_from_user_data_and_meta_data(tmp_path: Path) -> None:
    """dropbear on port 22 takes the keys of #cloud-config user-data (top-level and
    users[]) and of the meta-data's public-keys (where KubeVirt puts accessCredentials);
    a key given nowhere is refused; scp works (sftp-server)."""
    images = _images()
    if shutil.which("ssh") is None:
        pytest.skip("ssh is not installed (apt package openssh-client)")
    manifest = json.loads((images / "manifest.json").read_text())
    meta_key, meta_pub = _keypair(tmp_path, "meta")
    top_key, top_pub = _keypair(tmp_path, "top")
    user_key, user_pub = _keypair(tmp_path, "fedora")
    stranger, _ = _keypair(tmp_path, "stranger")
    seed = _iso(tmp_path / "seed.iso", "cidata", {
        "meta-data": f'instance-id: iid-ssh\nlocal-hostname: sshvm\npublic-keys:\n'
                     f'  "0": "{meta_pub}"\n'.encode(),
        "user-data": (f"#cloud-config\nssh_authorized_keys:\n  - {top_pub}\nusers:\n"
                      f"  - default\n  - name: fedora\n    ssh_authorized_keys:\n"
                      f"      - '{user_pub}'\n").encode(),
    })
    port = _free_port()
    qmp = tmp_path / "qmp.sock"
    argv = [a.replace("user,model=virtio-net-pci",
                      f"user,model=virtio-net-pci,hostfwd=tcp:127.0.0.1:{port}-:22")
            for a in _base_argv(qmp)]
    argv += [
        "-kernel", str(images / "tiny-kernel" / "vmlinux"),
        "-initrd", str(images / "tiny-kernel" / "initramfs.gz"),
        "-append", manifest["kernelCmdline"],
        "-drive", f"file={seed},format=raw,if=virtio,readonly=on",
    ]  # fmt: skip
    guest = Guest(argv, qmp)
    try:
        guest.wait_for("ssh keys for root: 2", BOOT_DEADLINE)
        guest.wait_for("ssh keys for fedora: 1", BOOT_DEADLINE)
        guest.wait_for(MARKER, BOOT_DEADLINE)  # rcS waited for port 22 to listen

        def ssh(key: Path, login: str, *command: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                ["ssh", "-p", str(port), "-i", str(key), "-o", "BatchMode=yes",
                 "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                 "-o", "ConnectTimeout=30", f"{login}@127.0.0.1", *command],
                capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)

        for key, login, want in ((meta_key, "root", "0"), (top_key, "root", "0"),
                                 (user_key, "fedora", "1000")):
            done = ssh(key, login, "echo ok-$((40+2)) $(id -u)")
            assert (done.returncode, done.stdout.split()) == (0, ["ok-42", want]), done
        refused = ssh(stranger, "root", "true")
        assert refused.returncode == 255 and "Permission denied" in refused.stderr, refused

        blob = tmp_path / "blob"
        blob.write_bytes(os.urandom(64 * 1024))
        scp = ["scp", "-P", str(port), "-i", str(meta_key), "-o", "BatchMode=yes",
               "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null"]
        up = subprocess.run([*scp, str(blob), "root@127.0.0.1:/tmp/blob"],
                            capture_output=True, text=True, timeout=60)
        assert up.returncode == 0, up.stderr
        down = subprocess.run([*scp, "root@127.0.0.1:/tmp/blob", str(tmp_path / "back")],
                              capture_output=True, text=True, timeout=60)
        assert down.returncode == 0, down.stderr
        assert (tmp_path / "back").read_bytes() == blob.read_bytes()
    finally:
        guest.kill()
