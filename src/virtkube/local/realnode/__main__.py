"""`python -m virtkube.local.realnode`: one real node (see runner)."""

from virtkube.local.realnode.runner import main

raise SystemExit(main())
