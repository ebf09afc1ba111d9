"""virtkube.virtctl."""
