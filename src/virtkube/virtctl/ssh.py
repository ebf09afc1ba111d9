"""`virtctl ssh` and `virtctl scp` as KubeVirt's (pkg/virtctl/ssh, scp) with `--local-ssh`:
the system's ssh or scp, reaching the guest through a ProxyCommand that runs `virtctl
port-forward --stdio=true KIND/NAME.NAMESPACE PORT` (the `portforward` subresource of
virt-api). The functions here are pure: targets in, argv out.

Targets are KubeVirt's: `[USER@][KIND/]NAME[.NAMESPACE]`, KIND `vmi` (the default) or
`vm` (or their long and plural names); the older `KIND/NAME/NAMESPACE` is read too. The
argv follows KubeVirt's RunLocalClient: `-o ProxyCommand=...`, the `--local-ssh-opts`, `-i`,
then the client's own arguments. The ssh destination is `USER@KIND/NAME.NAMESPACE`; scp's
is `USER@KIND.NAME.NAMESPACE:PATH`, since scp reads a `/` before the `:` as a local path.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field

#: KubeVirt's kind names (templates.ParseTarget) -> the short kind.
KINDS = {
    "vmi": "vmi", "vmis": "vmi", "virtualmachineinstance": "vmi",
    "virtualmachineinstances": "vmi",
    "vm": "vm", "vms": "vm", "virtualmachine": "vm", "virtualmachines": "vm",
}  # fmt: skip
PLURALS = {"vm": "virtualmachines", "vmi": "virtualmachineinstances"}


class TargetError(ValueError):
    """A target or scp location virtctl cannot read (a usage error: exit code 2)."""


@dataclass(frozen=True)
class Target:
    kind: str  # "vm" or "vmi"
    name: str
    namespace: str | None = None  # None: -n, else the kubeconfig context's
    user: str | None = None

    @property
    def plural(self) -> str:
        return PLURALS[self.kind]

    def in_namespace(self, namespace: str) -> Target:
        return Target(self.kind, self.name, self.namespace or namespace, self.user)

    def spec(self) -> str:
        """`KIND/NAME.NAMESPACE` (what port-forward reads back); the namespace must be known."""
        return f"{self.kind}/{self.name}.{self.namespace}"


def parse_target(value: str, *, with_user: bool = False) -> Target:
    """`[KIND/]NAME[.NAMESPACE]` or `KIND/NAME/NAMESPACE`; `USER@` in front if `with_user`."""
    user = None
    rest = value
    if with_user and "@" in value:
        user, _, rest = value.rpartition("@")
        if not user:
            raise TargetError(f"target {value!r}: expected a user name before '@'")
    if not rest:
        raise TargetError(f"target {value!r}: expected a name")
    parts = rest.split("/")
    if len(parts) == 1:
        kind, body, legacy_ns = "vmi", parts[0], None
    elif len(parts) in (2, 3) and all(parts):
        if parts[0].lower() not in KINDS:
            raise TargetError(f"target {value!r}: unknown kind {parts[0]!r}, use vm or vmi")
        kind, body = KINDS[parts[0].lower()], parts[1]
        legacy_ns = parts[2] if len(parts) == 3 else None
    else:
        raise TargetError(f"target {value!r}: expected [KIND/]NAME[.NAMESPACE] "
                          "with KIND vm or vmi")
    name, dot, namespace = body.partition(".")
    if not name or (dot and not namespace) or (dot and legacy_ns):
        raise TargetError(f"target {value!r}: expected [KIND/]NAME[.NAMESPACE] "
                          "with KIND vm or vmi")
    return Target(kind, name, namespace or legacy_ns, user)


@dataclass(frozen=True)
class ScpArgs:
    """Which side of an scp is the guest: the local path, the remote one and the way."""

    local: str
    remote: Target
    remote_path: str
    to_remote: bool


def parse_scp_args(source: str, destination: str) -> ScpArgs:
    """KubeVirt's rule: the location with a `:` is the guest's, and only one of them."""
    src_remote, dst_remote = ":" in source, ":" in destination
    if src_remote and dst_remote:
        raise TargetError("copying from a remote location to another remote location "
                          "is not supported")
    if not src_remote and not dst_remote:
        raise TargetError(f"none of the two provided locations seems to be a remote "
                          f"location: {source!r} to {destination!r}")
    remote, local = (destination, source) if dst_remote else (source, destination)
    target, _, path = remote.partition(":")
    return ScpArgs(local, parse_target(target, with_user=True), path, dst_remote)


@dataclass(frozen=True)
class SshOptions:
    """The flags KubeVirt's ssh and scp share (ssh.AddCommandlineArgs)."""

    username: str | None = None
    identity_file: str | None = None
    port: int = 22
    known_hosts: str | None = None
    local_ssh_opts: tuple[str, ...] = field(default_factory=tuple)


def proxy_command(virtctl: list[str], target: Target, port: int) -> str:
    """`ProxyCommand=<virtctl> port-forward --stdio=true KIND/NAME.NS PORT`, quoted for the
    shell ssh runs it with, `%` doubled (ssh expands %-tokens there)."""
    argv = [*virtctl, "port-forward", "--stdio=true", target.spec(), str(port)]
    return "ProxyCommand=" + " ".join(shlex.quote(a) for a in argv).replace("%", "%%")


def _common(virtctl: list[str], target: Target, opts: SshOptions) -> list[str]:
    argv = ["-o", proxy_command(virtctl, target, opts.port), *opts.local_ssh_opts]
    if opts.identity_file:
        argv += ["-i", opts.identity_file]
    if opts.known_hosts:
        argv += ["-o", f"UserKnownHostsFile={opts.known_hosts}"]
    return argv


def _login(target: Target, opts: SshOptions) -> str:
    user = target.user or opts.username
    return f"{user}@" if user else ""


def ssh_argv(binary: str, virtctl: list[str], target: Target, opts: SshOptions,
             command: str | None = None, extra: tuple[str, ...] = ()) -> list[str]:
    """ssh ... [USER@]KIND/NAME.NAMESPACE [COMMAND]; `target` has its namespace."""
    argv = [binary, *_common(virtctl, target, opts), *extra,
            f"{_login(target, opts)}{target.spec()}"]
    return [*argv, command] if command else argv


def scp_argv(binary: str, virtctl: list[str], args: ScpArgs, opts: SshOptions, *,
             recursive: bool = False, preserve: bool = False,
             extra: tuple[str, ...] = ()) -> list[str]:
    """scp ... [-r] [-p] LOCAL [USER@]KIND.NAME.NAMESPACE:PATH (or the other way); scp's
    `-P` takes the port nowhere: the ProxyCommand carries it."""
    target = args.remote
    remote = f"{_login(target, opts)}{target.kind}.{target.name}.{target.namespace}:" \
             f"{args.remote_path}"
    argv = [binary, *_common(virtctl, target, opts), *extra]
    argv += (["-r"] if recursive else []) + (["-p"] if preserve else [])
    return [*argv, args.local, remote] if args.to_remote else [*argv, remote, args.local]
