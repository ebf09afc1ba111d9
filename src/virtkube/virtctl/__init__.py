"""virtctl: the CLI for VMs, talking to the Kubernetes API server only (also `kubectl virt`)."""
