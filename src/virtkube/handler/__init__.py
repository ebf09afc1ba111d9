"""virt-handler: the node agent that runs every VMI on its node through its launcher.

It takes VMIs whose `kubevirt.io/nodeName` label is its node, sends them to
their launcher (Sync), and writes the runtime state (phase Running, Paused,
Ready False when the guest pauses or stops, ...) back. It owns runtime facts
only; scheduling, and Ready from the launcher pod's readiness, are the
controller's.
"""
