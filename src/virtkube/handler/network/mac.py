"""The MAC address of a guest NIC: the spec's, or one derived from the VMI's name.

KubeVirt leaves an unset MAC to libvirt (random per start) unless kubemacpool
is installed; a VM whose MAC changes on each start gets a new DHCP identity
and a new IPv6 SLAAC address in the guest. Deriving it from namespace, VMI name
and interface name keeps it across restarts of the VM (a new VMI with a new
uid) without any allocator state.
"""

from __future__ import annotations

import hashlib
import re

#: Locally administered (bit 1) unicast (bit 0 clear) first octet: never a vendor's MAC.
LOCAL_UNICAST_PREFIX = 0x02
_MAC = re.compile(r"^[0-9a-f]{2}(:[0-9a-f]{2}){5}$")


def stable_mac(namespace: str, vmi_name: str, interface: str) -> str:
    digest = hashlib.sha256(f"{namespace}/{vmi_name}/{interface}".encode()).digest()
    return ":".join(f"{b:02x}" for b in (LOCAL_UNICAST_PREFIX, *digest[:5]))


def normalize_mac(mac: str) -> str | None:
    """`mac` in lower-case colon form, or None when it is not a MAC-48 address."""
    candidate = mac.strip().lower().replace("-", ":")
    return candidate if _MAC.match(candidate) else None
