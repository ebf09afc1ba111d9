"""virtctl ssh / scp: KubeVirt's targets and flags in, the system ssh/scp argv out
(--local-ssh: ProxyCommand `virtctl port-forward --stdio=true KIND/NAME.NS PORT`)."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from virtkube.virtctl import ssh, tunnels
from virtkube.virtctl.cli import app, go_bools
from virtkube.virtctl.session import VirtctlError

VIRTCTL = ["/venv/bin/python", "-m", "virtkube.virtctl"]


@pytest.mark.parametrize(("value", "want"), [
    ("vm/web", ssh.Target("vm", "web")),
    ("vm/web.prod", ssh.Target("vm", "web", "prod")),
    ("vmi/web.prod", ssh.Target("vmi", "web", "prod")),
    ("web", ssh.Target("vmi", "web")),
    ("web.prod", ssh.Target("vmi", "web", "prod")),
    ("VirtualMachine/web", ssh.Target("vm", "web")),
    ("virtualmachineinstances/web.x", ssh.Target("vmi", "web", "x")),
    ("vm/web/prod", ssh.Target("vm", "web", "prod")),  # the older form
    ("root@vm/web.prod", ssh.Target("vm", "web", "prod", "root")),
    ("fedora@web", ssh.Target("vmi", "web", None, "fedora")),
])  # fmt: skip
def test_targets(value: str, want: ssh.Target) -> None:
    assert ssh.parse_target(value, with_user=True) == want


@pytest.mark.parametrize(("value", "message"), [
    ("pod/web", "unknown kind 'pod'"),
    ("vm/", "expected [KIND/]NAME[.NAMESPACE]"),
    ("/web", "expected [KIND/]NAME[.NAMESPACE]"),
    ("vm/a/b/c", "expected [KIND/]NAME[.NAMESPACE]"),
    ("vm/web.", "expected [KIND/]NAME[.NAMESPACE]"),
    ("vm/.prod", "expected [KIND/]NAME[.NAMESPACE]"),
    ("vm/web.prod/other", "expected [KIND/]NAME[.NAMESPACE]"),
    ("@vm/web", "expected a user name before '@'"),
    ("", "expected a name"),
])  # fmt: skip
def test_bad_targets(value: str, message: str) -> None:
    with pytest.raises(ssh.TargetError, match=message.replace("[", r"\[").replace(".", r"\.")):
        ssh.parse_target(value, with_user=True)


def test_port_forward_reads_the_same_targets() -> None:
    assert tunnels.target("vm/web.prod", "default") == ("virtualmachines", "web", "prod")
    assert tunnels.target("vm/web/prod", "default") == ("virtualmachines", "web", "prod")
    assert tunnels.target("web", "ns") == ("virtualmachineinstances", "web", "ns")
    with pytest.raises(VirtctlError) as info:
        tunnels.target("pod/x", "default")
    assert info.value.code == 2


def test_scp_locations() -> None:
    up = ssh.parse_scp_args("f.bin", "root@vm/web.prod:/tmp/f")
    assert up == ssh.ScpArgs("f.bin", ssh.Target("vm", "web", "prod", "root"), "/tmp/f", True)
    down = ssh.parse_scp_args("vmi/web:/tmp/f", "./back")
    assert down == ssh.ScpArgs("./back", ssh.Target("vmi", "web"), "/tmp/f", False)
    with pytest.raises(ssh.TargetError, match="another remote location"):
        ssh.parse_scp_args("vm/a:/x", "vm/b:/y")
    with pytest.raises(ssh.TargetError, match="none of the two provided locations"):
        ssh.parse_scp_args("a", "b")


def test_proxy_command_is_quoted_for_the_shell_and_ssh_tokens() -> None:
    target = ssh.Target("vm", "web", "prod")
    cmd = ssh.proxy_command(["/opt/my venv/python", "-m", "virtkube.virtctl", "--kubeconfig",
                             "/home/u/100%.yaml"], target, 2222)
    assert cmd.startswith("ProxyCommand=")
    body = cmd.removeprefix("ProxyCommand=").replace("%%", "%")
    assert shlex.split(body) == ["/opt/my venv/python", "-m", "virtkube.virtctl",
                                 "--kubeconfig", "/home/u/100%.yaml", "port-forward",
                                 "--stdio=true", "vm/web.prod", "2222"]
    assert "100%%.yaml" in cmd


def test_ssh_argv_as_kubevirts_local_client() -> None:
    target = ssh.Target("vm", "web", "prod", "root")
    opts = ssh.SshOptions(identity_file="/k/id", port=22, known_hosts="/k/hosts",
                          local_ssh_opts=("-o StrictHostKeyChecking=no",))
    argv = ssh.ssh_argv("/usr/bin/ssh", VIRTCTL, target, opts, "echo ok-$((40+2))")
    assert argv == [
        "/usr/bin/ssh", "-o", ssh.proxy_command(VIRTCTL, target, 22),
        "-o StrictHostKeyChecking=no", "-i", "/k/id", "-o", "UserKnownHostsFile=/k/hosts",
        "root@vm/web.prod", "echo ok-$((40+2))"]
    # -l/--username when the target names no user; none at all leaves it to ssh.
    plain = ssh.Target("vmi", "web", "ns")
    assert ssh.ssh_argv("ssh", VIRTCTL, plain, ssh.SshOptions(username="cirros"))[-1] == (
        "cirros@vmi/web.ns")
    assert ssh.ssh_argv("ssh", VIRTCTL, plain, ssh.SshOptions())[-1] == "vmi/web.ns"


def test_scp_argv_both_ways() -> None:
    opts = ssh.SshOptions(identity_file="/k/id", port=2200)
    target = ssh.Target("vm", "web", "prod", "root")
    up = ssh.scp_argv("scp", VIRTCTL, ssh.ScpArgs("f", target, "/tmp/f", True), opts,
                      recursive=True, preserve=True)
    assert up == ["scp", "-o", ssh.proxy_command(VIRTCTL, target, 2200), "-i", "/k/id",
                  "-r", "-p", "f", "root@vm.web.prod:/tmp/f"]
    down = ssh.scp_argv("scp", VIRTCTL, ssh.ScpArgs("back", target, "/tmp/f", False), opts)
    assert down[-2:] == ["root@vm.web.prod:/tmp/f", "back"]
    assert "vm/web.prod" in down[2]  # port-forward still gets KIND/NAME.NAMESPACE


def test_go_style_booleans() -> None:
    assert go_bools(["port-forward", "--stdio=true", "vm/a.b", "22"]) == [
        "port-forward", "--stdio", "vm/a.b", "22"]
    assert go_bools(["ssh", "--local-ssh=false", "vm/a"]) == ["ssh", "--no-local-ssh", "vm/a"]
    assert go_bools(["scp", "--recursive=False", "a", "vm/a:b"]) == ["scp", "a", "vm/a:b"]
    assert go_bools(["ssh", "vm/a", "--", "--stdio=true"]) == ["ssh", "vm/a", "--",
                                                               "--stdio=true"]


@pytest.fixture
def ran(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The argv virtctl would run (ssh and scp 'installed' at /usr/bin)."""
    calls: list[list[str]] = []

    def call(argv: list[str], **_: Any) -> int:
        calls.append(argv)
        return 0

    monkeypatch.setattr("shutil.which", lambda name: f"/usr/bin/{name}")
    monkeypatch.setattr("subprocess.call", call)
    monkeypatch.setattr("sys.executable", "/venv/bin/python")
    return calls


def invoke(*argv: str) -> Result:
    return CliRunner().invoke(app, list(argv), prog_name="virtctl")


def test_ssh_command_line(ran: list[list[str]], tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kc"
    kubeconfig.write_text("current-context: c\ncontexts: [{name: c, context: {namespace: "
                          "team}}]\n")
    result = invoke("--kubeconfig", str(kubeconfig), "ssh", "vm/web", "-i", "/k/id", "-l",
                    "root", "-p", "2222", "-t", "-o StrictHostKeyChecking=no",
                    "--local-ssh-opts", "-v", "--known-hosts", "/k/h", "-c", "uname -a")
    assert result.exit_code == 0, result.output
    (argv,) = ran
    virtctl = ["/venv/bin/python", "-m", "virtkube.virtctl", "--kubeconfig", str(kubeconfig)]
    target = ssh.Target("vm", "web", "team", None)
    assert argv == ["/usr/bin/ssh", "-o", ssh.proxy_command(virtctl, target, 2222),
                    "-o StrictHostKeyChecking=no", "-v", "-i", "/k/id",
                    "-o", "UserKnownHostsFile=/k/h", "root@vm/web.team", "uname -a"]


def test_scp_command_line(ran: list[list[str]]) -> None:
    result = invoke("-n", "prod", "scp", "-i", "/k/id", "--recursive", "dir",
                    "root@vmi/web:/tmp/")
    assert result.exit_code == 0, result.output
    (argv,) = ran
    assert argv[0] == "/usr/bin/scp" and "vmi/web.prod" in argv[2]
    assert argv[3:] == ["-i", "/k/id", "-r", "dir", "root@vmi.web.prod:/tmp/"]


@pytest.mark.parametrize(("argv", "code", "message"), [
    (["ssh", "pod/x"], 2, "unknown kind 'pod'"),
    (["scp", "a", "b"], 2, "none of the two provided locations"),
    (["ssh", "--no-local-ssh", "vm/x"], 1, "--local-ssh=false (KubeVirt's built-in SSH client)"),
])  # fmt: skip
def test_usage_errors_in_one_line(ran: list[list[str]], argv: list[str], code: int,
                                  message: str) -> None:
    result = invoke(*argv)
    assert result.exit_code == code
    assert message in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert ran == []


def test_missing_client_says_how_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("shutil.which", lambda name: None)
    result = invoke("ssh", "vm/x.y")
    assert result.exit_code == 1
    assert "ssh is not installed" in result.stderr
