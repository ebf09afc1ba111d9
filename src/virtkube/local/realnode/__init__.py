"""Real local nodes: the upstream kubelet and containerd (issue 12), beside the stand-in."""
