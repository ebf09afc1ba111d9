"""`virtkube kubectl` hands kubectl its arguments verbatim, `--` included."""

from __future__ import annotations

from virtkube.local.cli import kubectl_args


def test_the_double_dash_reaches_kubectl() -> None:
    argv = ["/x/virtkube", "kubectl", "exec", "u1", "--", "wget", "-O", "-", "http://a"]
    assert kubectl_args(argv, ["exec", "u1", "wget", "-O", "-", "http://a"]) == [
        "exec", "u1", "--", "wget", "-O", "-", "http://a"]


def test_called_as_a_function_the_parsed_arguments_are_used() -> None:
    assert kubectl_args(["pytest"], ["get", "pods"]) == ["get", "pods"]
