"""Plans -> status.interfaces (handler.network.status)."""

from __future__ import annotations

from tests.unit.handler.network.builders import POD, new_vmi
from virtkube.handler.network.mac import stable_mac
from virtkube.handler.network.plan import plan_interfaces
from virtkube.handler.network.status import status_interfaces


def test_both_bindings_report_the_pod_ip_from_the_domain() -> None:
    for binding in ("masquerade", "bridge"):
        plans = plan_interfaces(new_vmi({"name": "default", binding: {}}), POD)
        assert status_interfaces(plans) == [{
            "name": "default", "mac": stable_mac("prod", "web", "default"),
            "ipAddress": "10.200.1.5", "ipAddresses": ["10.200.1.5"],
            "podInterfaceName": "eth0", "infoSource": "domain", "queueCount": 1,
            "linkState": "up"}]
