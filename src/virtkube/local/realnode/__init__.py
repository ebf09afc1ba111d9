"""The local nodes: the upstream kubelet and containerd, one mount namespace per node."""
