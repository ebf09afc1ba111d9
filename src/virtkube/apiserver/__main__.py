"""`python -m virtkube.apiserver`: virt-api."""

from virtkube.apiserver.main import main

main()
