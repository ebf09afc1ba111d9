"""virt-controller: the cluster-wide reconcilers (VM -> VMI -> launcher Pod).

Leader-elected on a Lease: one replica acts, a second one waits. Pure
decisions (`*state.py`, `launcherpod.py`) are kept apart from the glue that
reads caches and writes to the API server (`vm.py`, `vmi.py`).
"""
