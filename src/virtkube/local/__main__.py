"""`python -m virtkube.local` is the `virtkube` command."""

from virtkube.local.cli import main

main()
