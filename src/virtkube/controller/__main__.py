"""`python -m virtkube.controller`: virt-controller."""

from virtkube.controller.main import main

main()
