"""`python -m virtkube.virtctl` (ssh's ProxyCommand runs virtctl this way)."""

from virtkube.virtctl.cli import main

main()
