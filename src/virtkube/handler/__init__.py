"""virtkube.handler."""
