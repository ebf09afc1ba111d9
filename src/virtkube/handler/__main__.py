"""`python -m virtkube.handler`: virt-handler."""

from virtkube.handler.main import main

main()
