"""virt-handler's half of VM networking: wiring each VMI interface inside its launcher pod.

KubeVirt's split, kept here: virt-handler (privileged, on the node) plans the
guest's network from the VMI spec and the pod's own interface, builds the
in-pod bridge, TAP and nftables table, and hands the DHCP answers to the
launcher with the Sync; the launcher serves them (virtkube.launcher.dhcp).

Modules, pure first:
- podfacts: the pod interface as `ip -j` and resolv.conf describe it (parsing only)
- mac:      the stable MAC of a guest NIC
- plan:     VMI spec + pod facts -> one InterfacePlan per guest NIC
- render:   plan -> `ip -batch` lines and the nftables ruleset
- status:   plan -> status.interfaces[]
- netns:    running commands in the launcher's netns (the impure part)
- wiring:   the idempotent set-up and tear-down virt-handler calls
"""
