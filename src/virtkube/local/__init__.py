"""virtkube.local."""
