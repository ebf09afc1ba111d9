"""virtkube.launcher."""
