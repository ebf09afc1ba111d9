"""virtkube.apiserver."""
