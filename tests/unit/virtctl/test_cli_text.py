"""virtctl's answers as text: commands virtkube lacks say so in one line (exit 1), user
text is printed literally (never read as rich markup), and the shell helpers answer.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner, Result

from virtkube.virtctl import expose
from virtkube.virtctl.cli import app, prog_name
from virtkube.virtctl.commands import unsupported
from virtkube.virtctl.commands.base import fail, new_app
from virtkube.virtctl.session import context_namespace

MARKUP = ["[/NS]", "[bold]x", "[red]y[/red]", "vm/NAME[/NS]"]


def invoke(*argv: str) -> Result:
    return CliRunner().invoke(app, list(argv), prog_name="virtctl")


def one_line_error(result: Result, code: int = 1) -> str:
    """The single stderr line of a failed command (stdout empty, no traceback)."""
    assert result.exit_code == code, (result.exit_code, result.output)
    assert result.exception is None or isinstance(result.exception, SystemExit), (
        repr(result.exception))
    assert result.stdout == "", result.stdout
    assert "Traceback" not in result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _argv(spec: unsupported.Unsupported) -> list[str]:
    return [*spec.path.split(), *(f"x{i}" for i, a in enumerate(spec.args)
                                  if not a.endswith("?"))]


@pytest.mark.parametrize("spec", unsupported.COMMANDS, ids=[s.path for s in unsupported.COMMANDS])
def test_unsupported_commands_answer_in_one_line(spec: unsupported.Unsupported) -> None:
    line = one_line_error(invoke(*_argv(spec)))
    assert line == f"Error: virtctl {spec.path} is not supported by virtkube yet ({spec.topic})"


@pytest.mark.parametrize("spec", unsupported.COMMANDS, ids=[s.path for s in unsupported.COMMANDS])
def test_unsupported_commands_take_kubevirts_flags(spec: unsupported.Unsupported) -> None:
    """Every flag parses (a KubeVirt script gets past the parser to the one-line answer)."""
    argv = _argv(spec)
    for flag in spec.flags:
        argv.append(flag.names[-1])
        if flag.kind is not bool:
            argv.append("1")
    assert "not supported by virtkube yet" in one_line_error(invoke(*argv))


def test_unsupported_through_the_real_entry_point() -> None:
    done = subprocess.run([sys.executable, "-m", "virtkube.virtctl", "memory-dump", "get",
                           "vm1", "--claim-name", "c"], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and "issue 15" in done.stderr, done.stderr


@pytest.mark.parametrize("text", MARKUP)
def test_markup_in_arguments_is_printed_literally(text: str) -> None:
    assert one_line_error(invoke("pause", text, "x"), 2) == (
        f"Error: unknown kind {text!r}: use vm or vmi")
    assert text in one_line_error(invoke("ssh", f"vm/a/b/{text}"), 2)
    assert one_line_error(invoke("--kubeconfig", f"/nonexistent/{text}", "start", text)) == (
        f"Error: kubeconfig /nonexistent/{text} does not exist")


@pytest.mark.parametrize("text", MARKUP)
def test_markup_in_usage_errors_is_printed_literally(text: str) -> None:
    result = invoke(text)
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"No such command '{text}'" in result.output


@pytest.mark.parametrize("text", MARKUP)
def test_markup_in_help_and_errors_is_printed_literally(text: str) -> None:
    """A help text or error message (e.g. the API server's) with brackets: literal."""
    sub = new_app()

    @sub.command(help=f"Help with {text} inside.")
    def cmd(arg: str = typer.Argument(..., help=text)) -> None:
        fail(f"the server said {text}")

    @sub.command()
    def other() -> None:
        """Needed so that `cmd` stays a subcommand."""

    help_text = CliRunner().invoke(sub, ["cmd", "--help"])
    assert help_text.exit_code == 0 and f"Help with {text} inside." in help_text.output
    assert text in help_text.output.split("Arguments:")[1]
    assert one_line_error(CliRunner().invoke(sub, ["cmd", "x"])) == (
        f"Error: the server said {text}")


def test_options_lists_the_global_flags() -> None:
    result = invoke("options")
    assert result.exit_code == 0
    assert result.output.startswith("The following options can be passed to any command:")
    for flag in ("--kubeconfig=''", "-n, --namespace=''", "--context=''"):
        assert flag in result.output


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish", "powershell"])
def test_completion_prints_a_script(shell: str) -> None:
    result = invoke("completion", shell)
    assert result.exit_code == 0, result.output
    assert "_VIRTCTL_COMPLETE" in result.output and "virtctl" in result.output


def test_completion_of_an_unknown_shell_is_a_usage_error() -> None:
    assert one_line_error(invoke("completion", "tcsh"), 2).startswith("Error: unknown shell")


def test_completion_answers_through_the_entry_point() -> None:
    """The script's request: virtctl lists its commands (typer's bash protocol)."""
    done = subprocess.run([sys.executable, "-m", "virtkube.virtctl"], capture_output=True,
                          text=True, timeout=60,
                          env={"_VIRTCTL_COMPLETE": "complete_bash",
                               "COMP_WORDS": "virtctl port", "COMP_CWORD": "1",
                               "PATH": "/usr/bin:/bin"})
    assert "port-forward" in done.stdout, (done.stdout, done.stderr)


def test_vnc_takes_a_vmi_or_screenshot() -> None:
    """`vnc VMI` reaches `vnc connect` (its flags in either order); `vnc screenshot` is its
    own subcommand."""
    for argv in (["vnc", "my-vmi", "--proxy-only"], ["vnc", "--proxy-only", "my-vmi"]):
        line = one_line_error(invoke("--kubeconfig", "/nonexistent/k", *argv))
        assert line == "Error: kubeconfig /nonexistent/k does not exist"
    assert "vnc/screenshot" in one_line_error(invoke("vnc", "screenshot", "my-vmi", "-f", "-"))
    assert "Commands:" in invoke("vnc", "--help").output


def test_kubectl_plugin_program_name() -> None:
    assert prog_name("/usr/local/bin/kubectl-virt") == "kubectl virt"
    assert prog_name("virtctl") == "virtctl"


def test_expose_flags_make_kubevirts_service() -> None:
    spec = expose.optional_spec(cluster_ip="None", external_ip="1.2.3.4",
                                load_balancer_ip=None, ip_family="IPv6",
                                ip_family_policy="preferdualstack")
    svc = expose.service_manifest(name="s", namespace="ns", selector={"a": "b"}, port=80,
                                  target_port="http", protocol="UDP", service_type="NodePort",
                                  node_port=30080, spec=spec)
    assert svc["spec"]["ports"] == [{"port": 80, "protocol": "UDP", "targetPort": "http",
                                     "nodePort": 30080}]
    assert svc["spec"]["clusterIP"] == "None" and svc["spec"]["externalIPs"] == ["1.2.3.4"]
    assert svc["spec"]["ipFamilies"] == ["IPv6"]
    assert svc["spec"]["ipFamilyPolicy"] == "PreferDualStack"
    assert "loadBalancerIP" not in svc["spec"]
    assert expose.service_manifest(name="s", namespace="ns", selector={"a": "b"}, port=80,
                                   target_port="8080", protocol="TCP",
                                   service_type="ClusterIP")["spec"]["ports"][0][
                                       "targetPort"] == 8080
    rs = {"metadata": {"name": "rs"}, "spec": {"selector": {"matchLabels": {"app": "x"}}}}
    assert expose.selector_of(expose.kind_of("VirtualMachineInstanceReplicaSets"), rs) == {
        "app": "x"}
    with pytest.raises(expose.ExposeError, match="match expressions"):
        expose.selector_of("vmirs", {"spec": {"selector": {"matchExpressions": [{}]}}})
    with pytest.raises(expose.ExposeError, match="vm, vmi or vmirs"):
        expose.kind_of("pod")


def test_an_unforeseen_failure_is_one_line(monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """main's last resort: an exception nobody handled ends in one line and exit code 1."""
    from virtkube.virtctl import cli

    def broken(**_: object) -> None:
        raise RuntimeError("boom [/NS]\nsecond line")

    monkeypatch.setattr(cli, "app", broken)
    with pytest.raises(SystemExit) as exit_info:
        cli.main()
    assert exit_info.value.code == 1
    assert capsys.readouterr().err == "Error: RuntimeError: boom [/NS] second line\n"


def test_context_flag_picks_that_contexts_namespace(tmp_path: Path) -> None:
    path = tmp_path / "config"
    path.write_text("current-context: a\ncontexts:\n- name: a\n  context: {namespace: one}\n"
                    "- name: b\n  context: {namespace: two}\n")
    assert context_namespace(str(path)) == "one"
    assert context_namespace(str(path), "b") == "two"
