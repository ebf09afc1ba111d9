"""Plans -> the commands that build them: `ip -batch` lines, sysctls, an nftables ruleset.

Pure text, so the exact kernel objects a VMI gets are pinned by table tests
and readable in a review, and the impure side only pipes them into `ip` and
`nft` inside the launcher's netns.
"""

from __future__ import annotations

from collections.abc import Sequence

from virtkube.handler.network.plan import InterfacePlan

#: The nftables table each VMI owns in its pod's netns (one VMI per launcher pod).
NFT_TABLE = "virtkube_vmi"


def link_commands(plans: Sequence[InterfacePlan], *, tap_owner: int) -> list[str]:
    """`ip -batch` lines that build the bridges and TAPs of `plans` in a clean netns.

    The TAP is persistent and owned by the launcher's uid, so QEMU (unprivileged on a
    real cluster) opens it by name without CAP_NET_ADMIN.
    """
    lines: list[str] = []
    for p in plans:
        lines += [f"link add {p.bridge} type bridge",
                  f"link set dev {p.bridge} mtu {p.mtu}"]
        if p.binding == "bridge":
            # The address moves to the guest (DHCP); the pod interface becomes a bridge port.
            # No learning on the pod side: the cluster's bridge may hairpin the guest's own
            # broadcasts back through it, which would teach this bridge that the guest's
            # MAC lives behind the pod interface and strand every reply to the guest.
            lines += [f"addr flush dev {p.pod_interface} scope global",
                      f"link set dev {p.pod_interface} master {p.bridge}",
                      f"link set dev {p.pod_interface} type bridge_slave learning off"]
        lines += [f"addr add {p.bridge_address} dev {p.bridge}",
                  f"tuntap add dev {p.tap} mode tap user {tap_owner}",
                  f"link set dev {p.tap} mtu {p.mtu} master {p.bridge}",
                  f"link set dev {p.tap} up",
                  f"link set dev {p.bridge} up"]
    return lines


def undo_link_commands(plans: Sequence[InterfacePlan]) -> list[str]:
    """Lines (for `ip -force -batch`: each may fail) that remove what link_commands made."""
    return [line for p in plans for line in (f"link del {p.tap}", f"link del {p.bridge}")]


def sysctls(plans: Sequence[InterfacePlan]) -> list[str]:
    """Masquerade routes between the bridge and the pod interface."""
    return ["net.ipv4.ip_forward=1"] if any(p.binding == "masquerade" for p in plans) else []


def nft_ruleset(plans: Sequence[InterfacePlan]) -> str:
    """The VMI's table: DNAT of the pod IP's ports to the guest, masquerade of its traffic.

    Empty when no interface masquerades. The first two lines make it replace a
    previous version atomically (nft -f applies the file as one transaction).
    """
    masq = [p for p in plans if p.binding == "masquerade"]
    if not masq:
        return ""
    pre, post, chains = [], [], []
    for p in masq:
        chain = f"inbound_{p.tap}"
        pre.append(f'iifname "{p.pod_interface}" ip daddr {p.pod_ip} jump {chain}')
        post.append(f'oifname "{p.pod_interface}" ip saddr {p.guest_ip} masquerade')
        body = [f"dnat ip to {p.guest_ip}"]
        if p.ports:
            by_proto = {proto: ", ".join(str(x.port) for x in p.ports if x.protocol == proto)
                        for proto in ("tcp", "udp")}
            body = [f"{proto} dport {{ {ports} }} dnat ip to {p.guest_ip}"
                    for proto, ports in by_proto.items() if ports]
        chains.append(f"    chain {chain} {{\n" + "".join(f"        {b}\n" for b in body) + "    }")
    return (f"table ip {NFT_TABLE}\ndelete table ip {NFT_TABLE}\n"
            f"table ip {NFT_TABLE} {{\n"
            "    chain prerouting {\n"
            "        type nat hook prerouting priority dstnat; policy accept;\n"
            + "".join(f"        {r}\n" for r in pre) + "    }\n"
            "    chain postrouting {\n"
            "        type nat hook postrouting priority srcnat; policy accept;\n"
            + "".join(f"        {r}\n" for r in post) + "    }\n"
            + "\n".join(chains) + "\n}\n")


def undo_nft() -> str:
    return f"table ip {NFT_TABLE}\ndelete table ip {NFT_TABLE}\n"
